//! Inventory search: any attribute, per kind, with the filter syntax of
//! `monit-cli query inventory` (a bare name matches an attribute).

use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use serde::Deserialize;

use super::status::tally;
use super::{filters, html, listed, query_string, split_filters, Chrome, Paging};
use crate::net::proto::InventoryItem;
use crate::web::session::Authed;

#[derive(Deserialize, Default)]
pub struct InventoryQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    q: String,
    page: Option<usize>,
}

pub struct KindTab {
    pub name: String,
    pub count: usize,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "inventory.html")]
struct InventoryPage<'a> {
    chrome: Option<Chrome>,
    kind: String,
    q: String,
    error: String,
    kinds: Vec<KindTab>,
    rows: Vec<&'a InventoryItem>,
    paging: Paging,
}

pub async fn search(
    Authed(s, _): Authed,
    Query(q): Query<InventoryQuery>,
) -> Result<Response, Response> {
    let asked = s.client.query_inventory(split_filters(&q.q)).await;
    let (items, error) = listed(&s, "inventory", asked)?;
    let kinds = tally(items.iter().map(|i| i.kind.as_str()))
        .into_iter()
        .map(|(name, count)| KindTab {
            href: format!(
                "/inventory?{}",
                query_string(&[("kind", name), ("q", &q.q)])
            ),
            current: name == q.kind,
            name: name.to_string(),
            count,
        })
        .collect();
    let mut shown: Vec<_> = items
        .iter()
        .filter(|i| q.kind.is_empty() || i.kind == q.kind)
        .collect();
    // Numeric keys in numeric order.
    shown.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then_with(|| match (a.key.parse::<i64>(), b.key.parse::<i64>()) {
                (Ok(x), Ok(y)) => x.cmp(&y),
                _ => a.key.cmp(&b.key),
            })
    });
    let paging = Paging::new(
        shown.len(),
        q.page,
        query_string(&[("kind", &q.kind), ("q", &q.q)]),
    );
    Ok(html(&InventoryPage {
        chrome: Some(s.chrome("inventory")),
        kind: q.kind,
        q: q.q,
        error,
        kinds,
        rows: shown[paging.range()].to_vec(),
        paging,
    }))
}
