//! A node: its wire form (`NodeView`, in `Nodes` pages), its `-o json`
//! form (`NodeJson`, DESIGN section 7) and the fields a filter may name.
//!
//! `FIELDS` is the one list of a node's fields that the hand-written
//! paths (`net::bulk`'s MessagePack, `json_out`'s JSON, configd's
//! pre-encoded `EncodedNode`, the filters) walk; they are kept for speed
//! (see `net::bulk`). A field added to `NodeView` goes, in this file, in
//! `NodeJson`, `NodeRef` (and its `values` and `from_values`) and `FIELDS`
//! (the compiler and the tests say where); then in the registry if configd
//! fills it, docs/PROTOCOL.md and the golden bytes of tests/proto.rs.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::filter::{Field, Filter};
use crate::net::msgpack::Reader;
use crate::timefmt::rfc3339;
use std::collections::btree_map;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodesPage {
    pub nodes: Vec<NodeView>,
    /// True on the last page of the answer.
    pub done: bool,
}

crate::model::named_enum! {
    /// Node state as operators see it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
    pub enum NodeState {
        Up = "up",
        Down = "down",
        /// Known, but not heard from since configd started.
        #[default]
        Pending = "pending",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CheckCounts {
    pub ok: u32,
    pub warning: u32,
    pub critical: u32,
    pub unknown: u32,
    pub pending: u32,
}

impl CheckCounts {
    /// The counts by name, in wire and JSON order.
    pub fn named(&self) -> [(&'static str, u32); 5] {
        [
            ("ok", self.ok),
            ("warning", self.warning),
            ("critical", self.critical),
            ("unknown", self.unknown),
            ("pending", self.pending),
        ]
    }

    /// The count called `name`.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.named()
            .into_iter()
            .find_map(|(k, v)| (k == name).then_some(v))
    }

    /// Counts from `named` order; `None` if one is missing.
    pub fn from_named(c: [Option<u32>; 5]) -> Option<CheckCounts> {
        Some(CheckCounts {
            ok: c[0]?,
            warning: c[1]?,
            critical: c[2]?,
            unknown: c[3]?,
            pending: c[4]?,
        })
    }
}

/// One node, on the wire (times in epoch milliseconds). `Default` so a
/// test's node need not name a field added later.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NodeView {
    pub name: String,
    pub state: NodeState,
    /// Address configd last saw the node connect from.
    pub addr: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub version: String,
    pub hostname: String,
    pub addrs: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub checks: CheckCounts,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NodeJson {
    pub name: String,
    /// `up`, `down` or `pending`.
    pub state: String,
    pub addr: String,
    pub first_seen: String,
    pub last_seen: String,
    pub version: String,
    pub labels: BTreeMap<String, String>,
    pub checks: CheckCounts,
}

impl From<&NodeView> for NodeJson {
    fn from(n: &NodeView) -> Self {
        NodeJson {
            name: n.name.clone(),
            state: n.state.as_str().to_string(),
            addr: n.addr.clone(),
            first_seen: rfc3339(n.first_seen_ms),
            last_seen: rfc3339(n.last_seen_ms),
            version: n.version.clone(),
            labels: n.labels.clone(),
            checks: n.checks,
        }
    }
}

/// The field of a node's `NodeJson` at `path`, without building it.
pub fn node_field<'a>(n: &NodeRef<'a>, path: &[String]) -> Field<'a> {
    let text = |s: &'a str| Field::Text(Cow::Borrowed(s));
    let Some((first, rest)) = path.split_first() else {
        return Field::Missing;
    };
    let Some(i) = FIELDS.iter().position(|f| f.json == Some(first)) else {
        return Field::Missing;
    };
    match (n.values()[i], rest) {
        (Value::Str(s), []) => text(s),
        (Value::State(s), []) => text(s.as_str()),
        (Value::Time(ms), []) => Field::Text(Cow::Owned(rfc3339(ms))),
        (Value::Pairs(_) | Value::Counts(_), []) => Field::Object,
        // Keys compared as bytes: only the value found is read as text.
        (Value::Pairs(pairs), [key]) => pairs
            .iter_bytes()
            .find(|(k, _)| *k == key.as_bytes())
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
            .map_or(Field::Missing, text),
        (Value::Counts(c), [key]) => c
            .get(key)
            .map_or(Field::Missing, |v| Field::Text(Cow::Owned(v.to_string()))),
        _ => Field::Missing,
    }
}

/// Whether a node passes every filter, as `matches_all` on its `NodeJson`.
pub fn node_matches(filters: &[Filter], n: &NodeRef) -> bool {
    filters
        .iter()
        .all(|f| f.matches_field(node_field(n, f.path())))
}

/// The fields a `query nodes` filter may name (`crate::filter::check_fields`).
pub const NODE_FIELDS: &[&str] = &[
    "name",
    "state",
    "addr",
    "first_seen",
    "last_seen",
    "version",
    "labels.*",
    "checks.ok",
    "checks.warning",
    "checks.critical",
    "checks.unknown",
    "checks.pending",
];

// ---------------------------------------------------------- read in place

/// A node's fields, borrowed: from a `NodeView`, from configd's registry
/// while the node's entry is locked, or straight from the bytes of a
/// `Nodes` page. One shape for all three, so the MessagePack writer and the
/// JSON writer take any of them without a copy.
///
/// Kept with `net::bulk` (issue 12): see there for the benchmark.
#[derive(Clone, Copy)]
pub struct NodeRef<'a> {
    pub name: &'a str,
    pub state: NodeState,
    pub addr: &'a str,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub version: &'a str,
    pub hostname: &'a str,
    pub addrs: Strs<'a>,
    pub labels: Pairs<'a>,
    pub checks: CheckCounts,
}

impl<'a> From<&'a NodeView> for NodeRef<'a> {
    fn from(n: &'a NodeView) -> Self {
        NodeRef {
            name: &n.name,
            state: n.state,
            addr: &n.addr,
            first_seen_ms: n.first_seen_ms,
            last_seen_ms: n.last_seen_ms,
            version: &n.version,
            hostname: &n.hostname,
            addrs: Strs::Slice(&n.addrs),
            labels: Pairs::Map(&n.labels),
            checks: n.checks,
        }
    }
}

impl NodeRef<'_> {
    pub fn to_view(&self) -> NodeView {
        NodeView {
            name: self.name.to_owned(),
            state: self.state,
            addr: self.addr.to_owned(),
            first_seen_ms: self.first_seen_ms,
            last_seen_ms: self.last_seen_ms,
            version: self.version.to_owned(),
            hostname: self.hostname.to_owned(),
            addrs: self.addrs.iter().map(str::to_owned).collect(),
            labels: self
                .labels
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            checks: self.checks,
        }
    }
}

/// What a field holds, and so how the hand-written paths write and read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    State,
    /// Epoch milliseconds; RFC 3339 seconds in JSON.
    Time,
    Strs,
    Pairs,
    Counts,
}

/// One field of a node.
pub struct FieldSpec {
    /// Its name on the wire (the `NodeView` field).
    pub wire: &'static str,
    /// Its name in `NodeJson`; `None`: not shown.
    pub json: Option<&'static str>,
    pub kind: Kind,
    /// Changes between registrations: configd writes it afresh for every
    /// answer instead of keeping it encoded (`net::bulk::EncodedNode`).
    pub changes: bool,
}

const fn field(wire: &'static str, json: Option<&'static str>, kind: Kind) -> FieldSpec {
    FieldSpec {
        wire,
        json,
        kind,
        changes: false,
    }
}

const fn changing(spec: FieldSpec) -> FieldSpec {
    FieldSpec {
        changes: true,
        ..spec
    }
}

/// A node's fields in `NodeView` order (which is the wire order), as
/// `NodeRef::values` gives them.
pub const FIELDS: [FieldSpec; 10] = [
    field("name", Some("name"), Kind::Str),
    changing(field("state", Some("state"), Kind::State)),
    field("addr", Some("addr"), Kind::Str),
    field("first_seen_ms", Some("first_seen"), Kind::Time),
    changing(field("last_seen_ms", Some("last_seen"), Kind::Time)),
    field("version", Some("version"), Kind::Str),
    field("hostname", None, Kind::Str),
    field("addrs", None, Kind::Strs),
    field("labels", Some("labels"), Kind::Pairs),
    changing(field("checks", Some("checks"), Kind::Counts)),
];

/// A field's value, borrowed.
#[derive(Clone, Copy)]
pub enum Value<'a> {
    Str(&'a str),
    State(NodeState),
    Time(i64),
    Strs(Strs<'a>),
    Pairs(Pairs<'a>),
    Counts(CheckCounts),
}

impl<'a> NodeRef<'a> {
    /// The values, in `FIELDS` order.
    pub fn values(&self) -> [Value<'a>; FIELDS.len()] {
        [
            Value::Str(self.name),
            Value::State(self.state),
            Value::Str(self.addr),
            Value::Time(self.first_seen_ms),
            Value::Time(self.last_seen_ms),
            Value::Str(self.version),
            Value::Str(self.hostname),
            Value::Strs(self.addrs),
            Value::Pairs(self.labels),
            Value::Counts(self.checks),
        ]
    }

    /// A node from values in `FIELDS` order; `None` if one is missing or
    /// of another kind.
    #[rustfmt::skip] // it would put the pattern on one line of 200 columns
    pub fn from_values(values: [Option<Value<'a>>; FIELDS.len()]) -> Option<NodeRef<'a>> {
        use Value as V;
        let [
            Some(V::Str(name)),
            Some(V::State(state)),
            Some(V::Str(addr)),
            Some(V::Time(first_seen_ms)),
            Some(V::Time(last_seen_ms)),
            Some(V::Str(version)),
            Some(V::Str(hostname)),
            Some(V::Strs(addrs)),
            Some(V::Pairs(labels)),
            Some(V::Counts(checks)),
        ] = values else {
            return None;
        };
        Some(NodeRef {
            name, state, addr, first_seen_ms, last_seen_ms, version, hostname, addrs, labels,
            checks,
        })
    }
}

/// A list of strings: owned ones, or a MessagePack array already checked
/// (every item a valid string).
#[derive(Clone, Copy)]
pub enum Strs<'a> {
    Slice(&'a [String]),
    Wire { len: usize, bytes: &'a [u8] },
}

impl<'a> Strs<'a> {
    pub fn len(&self) -> usize {
        match self {
            Strs::Slice(s) => s.len(),
            Strs::Wire { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let (slice, mut wire, n): (&[String], _, _) = match *self {
            Strs::Slice(s) => (s, Reader::new(&[]), 0),
            Strs::Wire { len, bytes } => (&[], Reader::new(bytes), len),
        };
        slice
            .iter()
            .map(String::as_str)
            .chain((0..n).map_while(move |_| wire.str()))
    }
}

/// String pairs in key order, keys unique: a map, or a MessagePack map
/// already checked to be so.
#[derive(Clone, Copy)]
pub enum Pairs<'a> {
    Map(&'a BTreeMap<String, String>),
    Wire { len: usize, bytes: &'a [u8] },
}

impl<'a> Pairs<'a> {
    pub fn len(&self) -> usize {
        match self {
            Pairs::Map(m) => m.len(),
            Pairs::Wire { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pairs as bytes: what a writer of already-checked text needs
    /// (the wire form is not checked for UTF-8 a second time).
    pub fn iter_bytes(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let (map, mut wire, n) = match *self {
            Pairs::Map(m) => (Some(m.iter()), Reader::new(&[]), 0),
            Pairs::Wire { len, bytes } => (None, Reader::new(bytes), len),
        };
        map.into_iter()
            .flatten()
            .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
            .chain((0..n).map_while(move |_| Some((wire.name()?, wire.name()?))))
    }

    pub fn iter(&self) -> PairsIter<'a> {
        match *self {
            Pairs::Map(m) => PairsIter(Walk::Map(m.iter())),
            Pairs::Wire { len, bytes } => PairsIter(Walk::Wire(Reader::new(bytes), len)),
        }
    }
}

pub struct PairsIter<'a>(Walk<'a>);

enum Walk<'a> {
    Map(btree_map::Iter<'a, String, String>),
    Wire(Reader<'a>, usize),
}

impl<'a> Iterator for PairsIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            Walk::Map(it) => it.next().map(|(k, v)| (k.as_str(), v.as_str())),
            Walk::Wire(r, left) => {
                *left = left.checked_sub(1)?;
                Some((r.str()?, r.str()?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{assert_fields_match, matches_all};

    fn nodes() -> Vec<NodeView> {
        (0..4)
            .map(|i| NodeView {
                name: format!("web-{i}"),
                state: [NodeState::Up, NodeState::Down, NodeState::Pending][i % 3],
                addr: "127.0.0.1".into(),
                first_seen_ms: 1_764_042_600_123 + i as i64 * 86_400_000,
                last_seen_ms: 1_764_042_700_999,
                version: format!("0.{i}.0"),
                hostname: "h".into(),
                addrs: vec!["10.0.0.1".into()],
                labels: if i % 2 == 0 {
                    BTreeMap::from([
                        ("role".to_string(), "web".to_string()),
                        ("zone".to_string(), i.to_string()),
                    ])
                } else {
                    BTreeMap::new()
                },
                checks: CheckCounts {
                    ok: i as u32,
                    critical: 1,
                    ..CheckCounts::default()
                },
            })
            .collect()
    }

    /// The field list names exactly what the JSON holds, and the JSON
    /// holds every wire field but the ones it leaves out on purpose.
    #[test]
    fn fields_match_the_json_and_the_wire() {
        let node = nodes().remove(0);
        let json = serde_json::to_value(NodeJson::from(&node)).unwrap();
        assert_fields_match(&json, NODE_FIELDS);
        let wire = serde_json::to_value(&node).unwrap();
        crate::model::assert_wire_shown(
            &wire,
            &json,
            &[
                ("first_seen_ms", "first_seen"),
                ("last_seen_ms", "last_seen"),
                ("hostname", ""),
                ("addrs", ""),
            ],
        );
    }

    /// `FIELDS` is `NodeView` in wire order and `NodeJson` in JSON order,
    /// and `NodeRef::values` gives each field's kind.
    #[test]
    fn the_field_list_is_the_wire_and_the_json() {
        let node = nodes().remove(0);
        let bytes = rmp_serde::to_vec_named(&node).unwrap();
        let mut r = Reader::new(&bytes);
        let mut wire = Vec::new();
        for _ in 0..r.map().unwrap() {
            wire.push(String::from_utf8(r.name().unwrap().to_vec()).unwrap());
            r.skip().unwrap();
        }
        let listed: Vec<&str> = FIELDS.iter().map(|f| f.wire).collect();
        assert_eq!(wire, listed);

        let json = serde_json::to_string(&NodeJson::from(&node)).unwrap();
        let at = |key: &str| json.find(&format!("\"{key}\":"));
        let shown: Vec<usize> = FIELDS
            .iter()
            .filter_map(|f| f.json)
            .map(|k| at(k).unwrap_or_else(|| panic!("{k} not in {json}")))
            .collect();
        assert!(shown.windows(2).all(|w| w[0] < w[1]), "order: {json}");
        let top_level = serde_json::to_value(NodeJson::from(&node)).unwrap();
        assert_eq!(top_level.as_object().unwrap().len(), shown.len());

        for (f, v) in FIELDS.iter().zip(NodeRef::from(&node).values()) {
            let kind = match v {
                Value::Str(_) => Kind::Str,
                Value::State(_) => Kind::State,
                Value::Time(_) => Kind::Time,
                Value::Strs(_) => Kind::Strs,
                Value::Pairs(_) => Kind::Pairs,
                Value::Counts(_) => Kind::Counts,
            };
            assert_eq!(f.kind, kind, "{}", f.wire);
        }
        let values = NodeRef::from(&node).values().map(Some);
        assert_eq!(NodeRef::from_values(values).unwrap().to_view(), node);
    }

    /// Filters on a node's fields decide as filters on its JSON.
    #[test]
    fn node_filters_match_as_on_the_json() {
        let exprs = [
            "name=web-1",
            "name!=web-1",
            "name~^web-[02]$",
            "state=up",
            "state!=down",
            "addr=127.0.0.1",
            "version~^0\\.[12]",
            "first_seen~2025-11-2[56]",
            "last_seen=2025-11-25T03:51:40Z",
            "labels.role=web",
            "labels.role!=web",
            "labels.zone~[13]",
            "labels.nosuch=x",
            "labels.nosuch!=x",
            "labels=x",
            "labels!=x",
            "checks.ok=2",
            "checks.critical!=1",
            "checks.warning=0",
            "checks.nosuch!=1",
            "checks=x",
            "checks!=x",
            "checks.ok.x!=1",
            "name.x=web-1",
            "name.x!=web-1",
            "hostname=h",
            "hostname!=h",
            "addrs~10",
            "nosuch!=y",
        ];
        for expr in exprs {
            let filters = Filter::parse_all(&[expr]).unwrap();
            for n in &nodes() {
                let json = serde_json::to_value(NodeJson::from(n)).unwrap();
                assert_eq!(
                    node_matches(&filters, &NodeRef::from(n)),
                    matches_all(&filters, &json, None),
                    "{expr} on {}",
                    n.name
                );
            }
        }
    }
}
