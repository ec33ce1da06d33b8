//! Controller classes, as ESO has them: a store whose `spec.controller` names another class
//! belongs to another operator, and so does every resource that references it.

use std::collections::{BTreeMap, HashMap};

use akvsync_crds::StoreKind;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::StoreId;
use super::registry::selected;

/// ESO's default `--controller-class`.
pub const DEFAULT_CONTROLLER_CLASS: &str = "default";

/// Which stores this operator serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerClass {
    pub name: String,
    /// Leave stores without `spec.controller` to another operator; ESO serves them in every
    /// class, so two operators beside each other would both take them.
    pub skip_classless: bool,
}

impl Default for ControllerClass {
    fn default() -> Self {
        Self {
            name: DEFAULT_CONTROLLER_CLASS.to_owned(),
            skip_classless: false,
        }
    }
}

impl ControllerClass {
    /// Whether a store with `spec.controller` = `controller` is this operator's.
    pub fn serves(&self, controller: Option<&str>) -> bool {
        match controller.filter(|class| !class.is_empty()) {
            Some(class) => class == self.name,
            None => !self.skip_classless,
        }
    }
}

/// The stores of other classes, with their labels (a PushSecret's selector may match them).
#[derive(Default)]
pub struct ForeignStores(HashMap<StoreId, BTreeMap<String, String>>);

impl ForeignStores {
    /// Records a store of another class; `true` when it was not one before.
    pub fn insert(&mut self, id: StoreId, labels: BTreeMap<String, String>) -> bool {
        self.0.insert(id, labels).is_none()
    }

    /// Forgets a store (deleted, or now this operator's); `true` when it was foreign.
    pub fn remove(&mut self, id: &StoreId) -> bool {
        self.0.remove(id).is_some()
    }

    pub fn contains(&self, kind: StoreKind, name: &str, namespace: &str) -> bool {
        self.0
            .contains_key(&StoreId::referenced(kind, name, namespace))
    }

    /// Whether a store of `kind` (in `namespace` for SecretStores) matching `selector` is foreign.
    pub fn any_matching(&self, kind: StoreKind, namespace: &str, selector: &LabelSelector) -> bool {
        self.0
            .iter()
            .any(|(id, labels)| selected(id, labels, kind, namespace, selector))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_is_served_by_its_class_and_a_classless_one_by_every_class_unless_skipped() {
        let ours = ControllerClass {
            name: "akvsync".into(),
            skip_classless: false,
        };
        assert!(ours.serves(Some("akvsync")));
        assert!(!ours.serves(Some("default")));
        assert!(ours.serves(None));
        assert!(ours.serves(Some("")), "ESO treats an empty class as none");
        let beside_eso = ControllerClass {
            skip_classless: true,
            ..ours
        };
        assert!(beside_eso.serves(Some("akvsync")));
        assert!(!beside_eso.serves(None));
        assert!(!beside_eso.serves(Some("")));
        assert!(ControllerClass::default().serves(Some("default")));
    }
}
