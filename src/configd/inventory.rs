//! The inventory as configd stores it (table `inventory`): checked writes
//! (all-or-nothing, each change an event with who, before and after),
//! queries, and the look-ups commands need (an item's node, its
//! preconditions, its effects). Its SQL is in `store::inventory` and runs
//! on the store thread.

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::store::inventory::{delete, event, every_item, get, put};
use super::store::{Store, StoreError};
use crate::net::proto::{InventoryItem, InventoryOp};
use crate::ops::kinds::{check_new, kind, Item, Kinds};
use crate::ops::values::ValueType;
use crate::timefmt::now_ms;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// A write that breaks a rule: nothing was changed.
    #[error("{0}")]
    Rejected(String),
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn rejected<T>(msg: String) -> Result<T, InventoryError> {
    Err(InventoryError::Rejected(msg))
}

/// Applies `ops` in one transaction; returns how many items changed.
/// Every item's node must be one of `known` (the nodes configd has ever
/// registered): a typo never places an item on a node that does not exist.
pub async fn write_known(
    store: &Store,
    kinds: &Kinds,
    known: Vec<String>,
    who: &str,
    ops: Vec<InventoryOp>,
) -> Result<u64, InventoryError> {
    let kinds = kinds.clone();
    let who = who.to_string();
    store
        .call(move |conn| apply_ops(conn, &kinds, &known, &who, ops))
        .await?
}

/// `Err` naming the closest known nodes when `node` is not one of them.
fn known_node(known: &[String], node: &str) -> Result<(), String> {
    if known.iter().any(|k| k == node) {
        return Ok(());
    }
    let close = crate::names::similar(node, known.iter().map(String::as_str));
    let hint = if !close.is_empty() {
        format!("did you mean {}?", close.join(", "))
    } else if known.is_empty() {
        "no node has registered yet".to_string()
    } else {
        let mut names: Vec<&str> = known.iter().map(String::as_str).collect();
        names.sort();
        let more = if names.len() > 5 { ", ..." } else { "" };
        names.truncate(5);
        format!("known nodes: {}{more}", names.join(", "))
    };
    Err(format!(
        "node `{}` is not known to configd (it never registered); {hint}",
        crate::ops::values::shown(node)
    ))
}

fn apply_ops(
    conn: &Connection,
    kinds: &Kinds,
    known: &[String],
    who: &str,
    ops: Vec<InventoryOp>,
) -> Result<u64, InventoryError> {
    let mut changed = 0;
    let now = now_ms();
    for (i, op) in ops.into_iter().enumerate() {
        let at = |line: Option<u64>, item: &str| match line {
            Some(l) => format!("line {l}: "),
            None if i > 0 => format!("item {} ({item}): ", i + 1),
            None => String::new(),
        };
        match op {
            InventoryOp::Add {
                kind: k,
                key,
                node,
                attrs,
                replace,
                line,
            } => {
                let here = at(line, &format!("{k}={key}"));
                let item = check_new(kinds, &k, &key, &node, &attrs)
                    .and_then(|item| known_node(known, &item.node).map(|()| item))
                    .or_else(|e| rejected(format!("{here}{e}")))?;
                let before = get(conn, &item.kind, &item.key)?;
                if before.is_some() && !replace {
                    return rejected(format!(
                        "{here}{} {} exists already; change it with `monit-cli inventory update {} {} ATTR=VALUE`",
                        item.kind,
                        item.key,
                        item.kind,
                        item.key
                    ));
                }
                put(conn, &item)?;
                event(conn, now, who, "add", before.as_ref(), Some(&item))?;
                changed += 1;
            }
            InventoryOp::Update {
                kind: k,
                key,
                mut attrs,
            } => {
                let declared = kind(kinds, &k).map_err(InventoryError::Rejected)?;
                let key = declared
                    .check_key(&k, &key)
                    .map_err(InventoryError::Rejected)?;
                let Some(before) = get(conn, &k, &key)? else {
                    return rejected(format!(
                        "{}no {k} {key} in the inventory; add it with `monit-cli inventory add {k} {key} node=NODE`",
                        at(None, &format!("{k}={key}"))
                    ));
                };
                let mut after = before.clone();
                if let Some(node) = attrs.remove("node") {
                    crate::names::check_name(&node)
                        .map_err(|e| InventoryError::Rejected(format!("field `node`: {e}")))?;
                    known_node(known, &node).map_err(|e| {
                        InventoryError::Rejected(format!("{}{e}", at(None, &format!("{k}={key}"))))
                    })?;
                    after.node = node;
                }
                if attrs.is_empty() && after.node == before.node {
                    return rejected("nothing to update: give ATTR=VALUE pairs".into());
                }
                for (name, value) in attrs {
                    let v = declared
                        .check_attr(&k, &name, &value)
                        .map_err(InventoryError::Rejected)?;
                    after.attrs.insert(name, v);
                }
                put(conn, &after)?;
                event(conn, now, who, "update", Some(&before), Some(&after))?;
                changed += 1;
            }
            InventoryOp::Delete { kind: k, key } => {
                let declared = kind(kinds, &k).map_err(InventoryError::Rejected)?;
                let key = declared
                    .check_key(&k, &key)
                    .map_err(InventoryError::Rejected)?;
                let Some(before) = get(conn, &k, &key)? else {
                    return rejected(format!("no {k} {key} in the inventory"));
                };
                delete(conn, &k, &key)?;
                event(conn, now, who, "delete", Some(&before), None)?;
                changed += 1;
            }
        }
    }
    Ok(changed)
}

/// Every item, by kind then key (numerically for int keys).
pub async fn all(store: &Store, kinds: &Kinds) -> Result<Vec<Item>, InventoryError> {
    let mut items = store
        .call(|conn| -> Result<Vec<Item>, InventoryError> { Ok(every_item(conn)?) })
        .await??;
    items.sort_by(|a, b| {
        let numeric = kinds.get(&a.kind).is_some_and(|k| k.key == ValueType::Int);
        a.kind.cmp(&b.kind).then_with(|| {
            if numeric && a.kind == b.kind {
                let n = |s: &str| s.parse::<i64>().unwrap_or(i64::MAX);
                n(&a.key).cmp(&n(&b.key))
            } else {
                a.key.cmp(&b.key)
            }
        })
    });
    Ok(items)
}

/// Looks up one item by kind and key as typed (checked, canonicalised).
pub async fn find(
    store: &Store,
    kinds: &Kinds,
    kind_name: &str,
    key: &str,
) -> Result<Option<Item>, InventoryError> {
    let declared = kind(kinds, kind_name).map_err(InventoryError::Rejected)?;
    let key = declared
        .check_key(kind_name, key)
        .map_err(InventoryError::Rejected)?;
    let kind_name = kind_name.to_string();
    store
        .call(move |conn| -> Result<_, InventoryError> { Ok(get(conn, &kind_name, &key)?) })
        .await?
}

/// Sets `effects` on the item in one transaction, after checking that
/// `requires` still holds; records the change as an event by `who`.
pub async fn apply_effects(
    store: &Store,
    kinds: &Kinds,
    who: &str,
    item: &Item,
    requires: BTreeMap<String, String>,
    effects: BTreeMap<String, String>,
) -> Result<(), InventoryError> {
    let declared = kind(kinds, &item.kind)
        .map_err(InventoryError::Rejected)?
        .clone();
    let (kind_name, key, who) = (item.kind.clone(), item.key.clone(), who.to_string());
    store
        .call(move |conn| -> Result<(), InventoryError> {
            let Some(before) = get(conn, &kind_name, &key)? else {
                return rejected(format!("{kind_name} {key} was deleted meanwhile"));
            };
            if let Some(why) = unmet(&before, &requires) {
                return rejected(why);
            }
            let mut after = before.clone();
            for (name, value) in &effects {
                let v = declared
                    .check_attr(&kind_name, name, value)
                    .map_err(InventoryError::Rejected)?;
                after.attrs.insert(name.clone(), v);
            }
            put(conn, &after)?;
            event(conn, now_ms(), &who, "update", Some(&before), Some(&after))
                .map_err(InventoryError::from)
        })
        .await?
}

/// Applies a runbook step's `changes` in one transaction (or, with
/// `revert`, puts their `from` values back): every attribute must still
/// hold the value the plan saw, else nothing changes and the error names
/// the first that moved. Values were checked when the plan was made.
pub async fn apply_changes(
    store: &Store,
    who: &str,
    changes: Vec<crate::net::proto::InventoryChange>,
    revert: bool,
) -> Result<(), InventoryError> {
    let who = who.to_string();
    store
        .call(move |conn| -> Result<(), InventoryError> {
            // `call` runs this in a savepoint: an error undoes every write.
            let mut touched: BTreeMap<(String, String), (Item, Item)> = BTreeMap::new();
            for c in &changes {
                let id = (c.kind.clone(), c.key.clone());
                if !touched.contains_key(&id) {
                    let Some(item) = get(conn, &c.kind, &c.key)? else {
                        return rejected(format!("{} {} was deleted meanwhile", c.kind, c.key));
                    };
                    touched.insert(id.clone(), (item.clone(), item));
                }
                let Some((_, after)) = touched.get_mut(&id) else {
                    continue;
                };
                let (expect, set) = if revert {
                    (Some(c.to.clone()), c.from.clone())
                } else {
                    (c.from.clone(), Some(c.to.clone()))
                };
                let have = if c.attr == "node" {
                    Some(after.node.clone())
                } else {
                    after.attrs.get(&c.attr).cloned()
                };
                if have != expect {
                    return rejected(format!(
                        "{} {} has {}={} now, not {}: the inventory changed meanwhile",
                        c.kind,
                        c.key,
                        c.attr,
                        have.as_deref().unwrap_or("(unset)"),
                        expect.as_deref().unwrap_or("(unset)")
                    ));
                }
                match (c.attr.as_str(), set) {
                    ("node", Some(v)) => after.node = v,
                    ("node", None) => {}
                    (_, Some(v)) => {
                        after.attrs.insert(c.attr.clone(), v);
                    }
                    (_, None) => {
                        after.attrs.remove(&c.attr);
                    }
                }
            }
            let now = now_ms();
            for (before, after) in touched.values() {
                put(conn, after)?;
                event(conn, now, &who, "update", Some(before), Some(after))?;
            }
            Ok(())
        })
        .await?
}

/// Why `item` does not meet `requires`, if it does not.
pub fn unmet(item: &Item, requires: &BTreeMap<String, String>) -> Option<String> {
    for (name, want) in requires {
        let have = if name == "node" {
            Some(&item.node)
        } else {
            item.attrs.get(name)
        };
        if have != Some(want) {
            return Some(format!(
                "{} {} has {name}={}, but {name}={want} is required",
                item.kind,
                item.key,
                have.map(String::as_str).unwrap_or("(unset)")
            ));
        }
    }
    None
}

/// An item on the wire.
pub fn to_wire(kinds: &Kinds, item: Item) -> InventoryItem {
    let mut ints = Vec::new();
    if let Some(k) = kinds.get(&item.kind) {
        if k.key == ValueType::Int {
            ints.push("key".to_string());
        }
        for name in item.attrs.keys() {
            if k.attributes.get(name) == Some(&ValueType::Int) {
                ints.push(name.clone());
            }
        }
    }
    InventoryItem {
        kind: item.kind,
        key: item.key,
        node: item.node,
        attrs: item.attrs,
        ints,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::kinds::InventoryKind;

    fn kinds() -> Kinds {
        let attrs = [("state".to_string(), "new|live".to_string())].into();
        [(
            "zone".to_string(),
            InventoryKind::new("int", &attrs, &BTreeMap::new()).unwrap(),
        )]
        .into()
    }

    async fn write(
        store: &Store,
        kinds: &Kinds,
        who: &str,
        ops: Vec<InventoryOp>,
    ) -> Result<u64, InventoryError> {
        write_known(store, kinds, vec!["web-1".into()], who, ops).await
    }

    fn add(key: &str, state: &str) -> InventoryOp {
        InventoryOp::Add {
            kind: "zone".into(),
            key: key.into(),
            node: "web-1".into(),
            attrs: [("state".to_string(), state.to_string())].into(),
            replace: false,
            line: Some(key.parse::<u64>().unwrap() + 1),
        }
    }

    #[tokio::test]
    async fn writes_are_all_or_nothing_and_audited() {
        let dir = tempfile::tempdir().unwrap();
        let opened = Store::open(&dir.path().join("monit.db")).unwrap();
        let store = opened.store;
        let k = kinds();
        // The second item is bad: neither is written.
        let e = write(&store, &k, "root", vec![add("1", "new"), add("2", "gone")])
            .await
            .unwrap_err();
        assert!(e.to_string().starts_with("line 3: field `state`"), "{e}");
        assert!(all(&store, &k).await.unwrap().is_empty());
        assert_eq!(
            write(
                &store,
                &k,
                "root",
                vec![add("1", "new"), add("10", "new"), add("2", "new")]
            )
            .await
            .unwrap(),
            3
        );
        let keys: Vec<String> = all(&store, &k)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.key)
            .collect();
        assert_eq!(keys, ["1", "2", "10"], "int keys sort numerically");
        let update = InventoryOp::Update {
            kind: "zone".into(),
            key: "01".into(),
            attrs: [("state".to_string(), "live".to_string())].into(),
        };
        write(&store, &k, "root", vec![update]).await.unwrap();
        let ev = store.recent_events(1).await.unwrap().remove(0);
        assert_eq!(ev.kind, "inventory");
        assert_eq!(ev.who.as_deref(), Some("root"));
        let msg: serde_json::Value = serde_json::from_str(&ev.message).unwrap();
        assert_eq!(msg["before"]["attrs"]["state"], "new");
        assert_eq!(msg["after"]["attrs"]["state"], "live");
        // Effects re-check the precondition inside their transaction.
        let item = find(&store, &k, "zone", "1").await.unwrap().unwrap();
        let requires: BTreeMap<String, String> = [("state".to_string(), "new".to_string())].into();
        let e = apply_effects(&store, &k, "ops", &item, requires, BTreeMap::new())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("state=live"), "{e}");
    }
}
