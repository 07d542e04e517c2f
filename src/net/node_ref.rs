//! A node's fields, borrowed: from a `NodeView`, from configd's registry
//! while the node's entry is locked, or straight from the bytes of a
//! `Nodes` page. One shape for all three, so the MessagePack writer and the
//! JSON writer take any of them without a copy.
//!
//! Kept with `net::bulk` (issue 12): see there for the benchmark.

use std::collections::btree_map;
use std::collections::BTreeMap;

use super::bulk::Reader;
use super::proto::{CheckCounts, NodeState, NodeView};

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
