//! Inventory kinds as declared in configd.toml (`[inventory.zone]`), and
//! the check every item write goes through: the key and each attribute
//! against its declared type, unknown attributes refused, defaults filled.

use std::collections::BTreeMap;

use super::values::{shown, ValueType};

/// One kind of inventory item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryKind {
    pub key: ValueType,
    pub attributes: BTreeMap<String, ValueType>,
    /// Values set when an item is added without them; `{key}` is replaced
    /// by the item's key (a zone's merge group defaults to its number).
    pub defaults: BTreeMap<String, String>,
}

/// The declared kinds, by name.
pub type Kinds = BTreeMap<String, InventoryKind>;

/// An item as stored: canonical key and attribute values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub kind: String,
    pub key: String,
    pub node: String,
    pub attrs: BTreeMap<String, String>,
}

impl InventoryKind {
    /// Builds a kind from its config text, checking the defaults.
    pub fn new(
        key: &str,
        attributes: &BTreeMap<String, String>,
        defaults: &BTreeMap<String, String>,
    ) -> Result<InventoryKind, String> {
        let key = ValueType::parse(key).map_err(|e| format!("key: {e}"))?;
        let mut attrs = BTreeMap::new();
        for (name, ty) in attributes {
            if matches!(name.as_str(), "kind" | "key" | "node") {
                return Err(format!(
                    "attribute `{name}` clashes with the item field of that name"
                ));
            }
            crate::names::check_name(name).map_err(|e| format!("attribute: {e}"))?;
            attrs.insert(
                name.clone(),
                ValueType::parse(ty).map_err(|e| format!("attribute `{name}`: {e}"))?,
            );
        }
        for name in defaults.keys() {
            if !attrs.contains_key(name) {
                return Err(format!("default for unknown attribute `{name}`"));
            }
        }
        Ok(InventoryKind {
            key,
            attributes: attrs,
            defaults: defaults.clone(),
        })
    }

    /// Checks one attribute value; returns it canonical.
    pub fn check_attr(&self, kind: &str, name: &str, value: &str) -> Result<String, String> {
        let Some(ty) = self.attributes.get(name) else {
            let known: Vec<&str> = self.attributes.keys().map(String::as_str).collect();
            return Err(format!(
                "field `{name}`: {kind} has no attribute `{name}`; its attributes are {}",
                known.join(", ")
            ));
        };
        ty.check(value)
            .map_err(|e| format!("field `{name}`: {e} (type {})", ty.describe()))
    }

    /// Checks a key; returns it canonical.
    pub fn check_key(&self, kind: &str, key: &str) -> Result<String, String> {
        self.key
            .check(key)
            .map_err(|e| format!("field `key`: {kind} key {e} (type {})", self.key.describe()))
    }
}

/// Looks up `kind`, with an error listing the declared ones.
pub fn kind<'a>(kinds: &'a Kinds, name: &str) -> Result<&'a InventoryKind, String> {
    kinds.get(name).ok_or_else(|| {
        let name = shown(name);
        if kinds.is_empty() {
            format!(
                "unknown kind `{name}`: configd.toml declares no inventory kinds (add [inventory.{name}])"
            )
        } else {
            let names: Vec<&str> = kinds.keys().map(String::as_str).collect();
            format!("unknown kind `{name}`: configd.toml declares {}", names.join(", "))
        }
    })
}

/// Checks a new item, filling defaults.
pub fn check_new(
    kinds: &Kinds,
    kind_name: &str,
    key: &str,
    node: &str,
    attrs: &BTreeMap<String, String>,
) -> Result<Item, String> {
    let k = kind(kinds, kind_name)?;
    let key = k.check_key(kind_name, key)?;
    crate::names::check_name(node).map_err(|e| format!("field `node`: {e}"))?;
    let mut out = BTreeMap::new();
    for (name, value) in attrs {
        out.insert(name.clone(), k.check_attr(kind_name, name, value)?);
    }
    for (name, template) in &k.defaults {
        if !out.contains_key(name) {
            let value = template.replace("{key}", &key);
            out.insert(name.clone(), k.check_attr(kind_name, name, &value)?);
        }
    }
    Ok(Item {
        kind: kind_name.to_string(),
        key,
        node: node.to_string(),
        attrs: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds() -> Kinds {
        let attrs: BTreeMap<String, String> = [
            ("domain", "string"),
            ("group", "int"),
            ("state", "new|live|archived"),
            ("db", "ip"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let defaults = [("group".to_string(), "{key}".to_string())].into();
        [(
            "zone".to_string(),
            InventoryKind::new("int", &attrs, &defaults).unwrap(),
        )]
        .into()
    }

    fn a(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn items_check() {
        let k = kinds();
        let item = check_new(&k, "zone", "0218", "web-3", &a(&[("state", "new")])).unwrap();
        assert_eq!(item.key, "218");
        assert_eq!(item.attrs["group"], "218");
        let table: &[(&str, &str, &str, &[(&str, &str)], &str)] = &[
            (
                "zon",
                "1",
                "n",
                &[],
                "unknown kind `zon`: configd.toml declares zone",
            ),
            ("zone", "x", "n", &[], "field `key`"),
            ("zone", "1", "a b", &[], "field `node`"),
            ("zone", "1", "n", &[("stat", "new")], "no attribute `stat`"),
            ("zone", "1", "n", &[("state", "open")], "field `state`"),
            ("zone", "1", "n", &[("db", "10.0.0")], "field `db`"),
        ];
        for (kind, key, node, attrs, want) in table {
            let e = check_new(&k, kind, key, node, &a(attrs)).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
        assert!(InventoryKind::new("int", &a(&[("node", "string")]), &BTreeMap::new()).is_err());
    }
}
