//! The inventory table's SQL; `configd::inventory` holds the rules and
//! runs these inside its store calls.

use rusqlite::{params, Connection, OptionalExtension};

use crate::ops::kinds::Item;

pub fn put(conn: &Connection, item: &Item) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO inventory (kind, key, node, attrs) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(kind, key) DO UPDATE SET node = excluded.node, attrs = excluded.attrs",
    )?
    .execute(params![
        item.kind,
        item.key,
        item.node,
        serde_json::to_string(&item.attrs).unwrap_or_default()
    ])?;
    Ok(())
}

fn item_json(item: &Item) -> serde_json::Value {
    serde_json::json!({"node": item.node, "attrs": item.attrs})
}

/// Records a change as an event: who, before and after (JSON in the
/// message, so `query events` shows it).
pub fn event(
    conn: &Connection,
    now: i64,
    who: &str,
    op: &str,
    before: Option<&Item>,
    after: Option<&Item>,
) -> rusqlite::Result<()> {
    let Some(item) = after.or(before) else {
        return Ok(());
    };
    let message = serde_json::json!({
        "op": op,
        "item": format!("{}={}", item.kind, item.key),
        "before": before.map(item_json),
        "after": after.map(item_json),
    })
    .to_string();
    let event = super::event_row(now, "inventory", Some(&item.node), None, message);
    let who = Some(who.to_string());
    super::insert_event(conn, &super::EventRow { who, ..event })
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    let attrs: String = r.get(3)?;
    Ok(Item {
        kind: r.get(0)?,
        key: r.get(1)?,
        node: r.get(2)?,
        attrs: serde_json::from_str(&attrs).unwrap_or_default(),
    })
}

/// The item `kind`/`key` (canonical key), if stored.
pub fn get(conn: &Connection, kind: &str, key: &str) -> rusqlite::Result<Option<Item>> {
    conn.prepare_cached(
        "SELECT kind, key, node, attrs FROM inventory WHERE kind = ?1 AND key = ?2",
    )?
    .query_row(params![kind, key], row)
    .optional()
}

pub fn delete(conn: &Connection, kind: &str, key: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM inventory WHERE kind = ?1 AND key = ?2")?
        .execute(params![kind, key])?;
    Ok(())
}

/// Every item, in no order.
pub fn every_item(conn: &Connection) -> rusqlite::Result<Vec<Item>> {
    let mut stmt = conn.prepare_cached("SELECT kind, key, node, attrs FROM inventory")?;
    let rows = stmt.query_map([], row)?;
    rows.collect()
}
