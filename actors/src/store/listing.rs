//! A vault's listing of one kind of object, indexed by name.

use std::collections::HashMap;
use std::sync::Arc;

use crate::remote::RemoteItem;

/// Every object of one kind in a vault, with its entries by name (Key Vault names ignore case).
#[derive(Debug)]
pub struct Listing {
    items: Arc<Vec<RemoteItem>>,
    by_name: HashMap<String, usize>,
}

impl Listing {
    pub fn new(items: Vec<RemoteItem>) -> Self {
        let by_name = items
            .iter()
            .enumerate()
            .map(|(index, item)| (item.name.to_ascii_lowercase(), index))
            .collect();
        Self {
            items: Arc::new(items),
            by_name,
        }
    }

    pub fn items(&self) -> &Arc<Vec<RemoteItem>> {
        &self.items
    }

    /// The entry named `name`, whatever its case.
    pub fn get(&self, name: &str) -> Option<&RemoteItem> {
        let index = self.by_name.get(&name.to_ascii_lowercase())?;
        self.items.get(*index)
    }

    /// Approximate heap size, to bound the cache by weight.
    pub fn weight(&self) -> u32 {
        let names: usize = self
            .items
            .iter()
            .map(|item| {
                let tags: usize = item.tags.iter().map(|(k, v)| k.len() + v.len()).sum();
                2 * item.name.len() + tags + 96
            })
            .sum();
        u32::try_from(names).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn item(name: &str) -> RemoteItem {
        RemoteItem {
            name: name.to_owned(),
            tags: BTreeMap::new(),
            enabled: true,
            managed: false,
            updated: Some(1),
        }
    }

    #[test]
    fn entries_are_found_by_name_whatever_the_case() {
        let listing = Listing::new(vec![item("Db-Password"), item("api-key")]);
        assert_eq!(
            listing.get("db-password").map(|i| i.name.as_str()),
            Some("Db-Password")
        );
        assert_eq!(
            listing.get("API-KEY").map(|i| i.name.as_str()),
            Some("api-key")
        );
        assert!(listing.get("other").is_none());
        assert_eq!(listing.items().len(), 2);
    }
}
