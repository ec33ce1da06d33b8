//! ClusterSecretStore `spec.conditions`: which namespaces may use a cluster store.

use std::collections::BTreeMap;

use akvsync_crds::ClusterSecretStoreCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use regex::Regex;

/// Whether `namespace` (with `labels`) may use a store with `conditions`: no conditions allow
/// every namespace; otherwise any selector, name or (unanchored) regex of any condition.
pub fn namespace_allowed(
    conditions: &[ClusterSecretStoreCondition],
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> Result<bool, String> {
    if conditions.is_empty() {
        return Ok(true);
    }
    for (index, condition) in conditions.iter().enumerate() {
        let selectors = condition
            .namespace_selector
            .iter()
            .chain(condition.namespace_selectors.iter().flatten());
        for selector in selectors {
            if selector_matches(selector, labels) {
                return Ok(true);
            }
        }
        if condition
            .namespaces
            .iter()
            .flatten()
            .any(|name| name == namespace)
        {
            return Ok(true);
        }
        for (regex_index, pattern) in condition.namespace_regexes.iter().flatten().enumerate() {
            let regex = Regex::new(pattern).map_err(|error| {
                format!("failed to compile {regex_index}th namespace regex in {index}th condition: {error}")
            })?;
            if regex.is_match(namespace) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Kubernetes label-selector semantics: every matchLabels pair and every expression must hold.
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_match = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    labels_match
        && selector
            .match_expressions
            .iter()
            .flatten()
            .all(|expression| expression_matches(expression, labels))
}

/// A label selector in the `key=value,key in (a,b)` form list calls take.
pub fn label_selector_string(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    for expression in selector.match_expressions.iter().flatten() {
        let values = expression.values.clone().unwrap_or_default().join(",");
        parts.push(match expression.operator.as_str() {
            "In" => format!("{} in ({values})", expression.key),
            "NotIn" => format!("{} notin ({values})", expression.key),
            "Exists" => expression.key.clone(),
            _ => format!("!{}", expression.key),
        });
    }
    parts.join(",")
}

fn expression_matches(
    expression: &LabelSelectorRequirement,
    labels: &BTreeMap<String, String>,
) -> bool {
    let value = labels.get(&expression.key);
    let values = expression.values.as_deref().unwrap_or_default();
    match expression.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(json: serde_json::Value) -> ClusterSecretStoreCondition {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn conditions_allow_by_name_selector_or_unanchored_regex() {
        let conditions = [
            condition(serde_json::json!({"namespaces": ["team-a"]})),
            condition(
                serde_json::json!({"namespaceSelector": {"matchLabels": {"tier": "prod"}}, "namespaceRegexes": ["^dev-"]}),
            ),
        ];
        let none = BTreeMap::new();
        let prod = BTreeMap::from([("tier".to_owned(), "prod".to_owned())]);
        assert!(namespace_allowed(&conditions, "team-a", &none).unwrap());
        assert!(namespace_allowed(&conditions, "anything", &prod).unwrap());
        assert!(namespace_allowed(&conditions, "dev-42", &none).unwrap());
        assert!(!namespace_allowed(&conditions, "team-b", &none).unwrap());
        assert!(namespace_allowed(&[], "team-b", &none).unwrap());
    }

    #[test]
    fn an_invalid_regex_is_reported_with_its_position() {
        let conditions = [condition(serde_json::json!({"namespaceRegexes": ["("]}))];
        let error = namespace_allowed(&conditions, "x", &BTreeMap::new()).unwrap_err();
        assert!(
            error.starts_with("failed to compile 0th namespace regex in 0th condition"),
            "{error}"
        );
    }

    #[test]
    fn selector_expressions_follow_kubernetes_semantics() {
        let selector: LabelSelector =
            serde_json::from_value(serde_json::json!({"matchExpressions": [
                {"key": "env", "operator": "In", "values": ["a", "b"]},
                {"key": "legacy", "operator": "DoesNotExist"}
            ]}))
            .unwrap();
        let labels = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(selector_matches(&selector, &labels(&[("env", "a")])));
        assert!(!selector_matches(&selector, &labels(&[("env", "c")])));
        assert!(!selector_matches(
            &selector,
            &labels(&[("env", "a"), ("legacy", "1")])
        ));
    }
}
