//! sprig defaults, JSON and reflection: `default empty coalesce all any compact mustCompact
//! fromJson toJson toPrettyJson toRawJson mustFromJson mustToJson mustToPrettyJson mustToRawJson
//! ternary deepCopy mustDeepCopy typeOf typeIs typeIsLike kindOf kindIs deepEqual`.

use super::args::{boolean, bytes, list_arg, text};
use super::json::marshal;
use super::{FuncResult, Registry};
use crate::value::Value;

/// sprig `empty`: Go zero values and empty containers.
pub fn is_empty(v: &Value) -> bool {
    !v.is_true()
}

pub fn register(r: &mut Registry<'_>) {
    r.range("default", 1, None, |a| {
        Ok(match a.get(1) {
            Some(given) if !is_empty(given) => given.clone(),
            _ => a[0].clone(),
        })
    });
    r.fixed("empty", 1, |a| Ok(Value::Bool(is_empty(&a[0]))));
    r.range("coalesce", 0, None, |a| {
        Ok(a.iter().find(|v| !is_empty(v)).cloned().unwrap_or_default())
    });
    r.range("all", 0, None, |a| {
        Ok(Value::Bool(a.iter().all(|v| !is_empty(v))))
    });
    r.range("any", 0, None, |a| {
        Ok(Value::Bool(a.iter().any(|v| !is_empty(v))))
    });
    r.fixed("compact", 1, compact);
    r.fixed("mustCompact", 1, compact);
    r.fixed("fromJson", 1, |a| {
        Ok(from_json(bytes(a, 0)?).unwrap_or_default())
    });
    r.fixed("mustFromJson", 1, |a| from_json(bytes(a, 0)?));
    let to_json: fn(&[Value]) -> FuncResult =
        |a| Ok(Value::str(marshal(&a[0], true, None).unwrap_or_default()));
    r.fixed("toJson", 1, to_json);
    r.fixed("toPrettyJson", 1, |a| {
        Ok(Value::str(
            marshal(&a[0], true, Some("  ")).unwrap_or_default(),
        ))
    });
    r.fixed("toRawJson", 1, |a| {
        Ok(Value::str(marshal(&a[0], false, None).unwrap_or_default()))
    });
    r.fixed("mustToJson", 1, |a| {
        marshal(&a[0], true, None).map(Value::str)
    });
    r.fixed("mustToPrettyJson", 1, |a| {
        marshal(&a[0], true, Some("  ")).map(Value::str)
    });
    r.fixed("mustToRawJson", 1, |a| {
        marshal(&a[0], false, None).map(Value::str)
    });
    r.fixed("ternary", 3, |a| {
        Ok(if boolean(a, 2)? {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });
    r.fixed("deepCopy", 1, |a| Ok(a[0].deep_copy()));
    r.fixed("mustDeepCopy", 1, |a| Ok(a[0].deep_copy()));
    r.fixed("typeOf", 1, |a| Ok(Value::str(a[0].type_name())));
    r.fixed("typeIs", 2, |a| {
        Ok(Value::Bool(text(a, 0)? == a[1].type_name()))
    });
    r.fixed("typeIsLike", 2, |a| {
        let target = text(a, 0)?;
        let t = a[1].type_name();
        Ok(Value::Bool(target == t || format!("*{target}") == t))
    });
    r.fixed("kindOf", 1, |a| Ok(Value::str(a[0].kind_name())));
    r.fixed("kindIs", 2, |a| {
        Ok(Value::Bool(text(a, 0)? == a[1].kind_name()))
    });
    r.fixed("deepEqual", 2, |a| Ok(Value::Bool(a[0].deep_equal(&a[1]))));
}

fn compact(a: &[Value]) -> FuncResult {
    let items = list_arg(a, 0, "compact")?;
    Ok(Value::list(
        items.into_iter().filter(|v| !is_empty(v)).collect(),
    ))
}

/// `json.Unmarshal` into `interface{}`.
pub fn from_json(input: &[u8]) -> FuncResult {
    let parsed: serde_json::Value = serde_json::from_slice(input)
        .map_err(|e| format!("invalid JSON at line {} column {}", e.line(), e.column()))?;
    Ok(Value::from_json(&parsed))
}
