//! The node registry: every node configd knows, its state and what it last
//! said about itself. Loaded from the store at start (all `pending`), kept
//! in memory, written through to the store on registration.
//!
//! Heartbeats touch an atomic, so 10,000 nodes beating every second take no
//! lock; the registry map is locked only to add a node or to list them.

use crate::sync::lock;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use super::store::NodeRow;
use crate::net::bulk::{EncodedNode, NodeRef, Writer};
use crate::net::link::LinkHandle;
use crate::net::node_ref::{Pairs, Strs};
use crate::net::proto::{CheckCounts, NodeState, NodeView, Registration};

struct SlotInner {
    state: NodeState,
    hostname: String,
    version: String,
    labels: BTreeMap<String, String>,
    addrs: Vec<String>,
    addr: String,
    first_seen_ms: i64,
    /// The fields above that a `Nodes` answer carries, encoded.
    encoded: EncodedNode,
    /// The connection that currently speaks for this node.
    session: Option<(u64, LinkHandle)>,
}

pub struct NodeSlot {
    pub name: String,
    inner: Mutex<SlotInner>,
    last_seen_ms: AtomicI64,
    /// last_seen as of the last flush to the store.
    flushed_ms: AtomicI64,
}

impl SlotInner {
    /// Re-encodes the fields a `Nodes` answer carries, after they changed.
    fn encode(&mut self, name: &str) {
        self.encoded = EncodedNode::new(&NodeRef {
            name,
            state: self.state,
            addr: &self.addr,
            first_seen_ms: self.first_seen_ms,
            last_seen_ms: 0,
            version: &self.version,
            hostname: &self.hostname,
            addrs: Strs::Slice(&self.addrs),
            labels: Pairs::Map(&self.labels),
            checks: CheckCounts::default(),
        });
    }
}

impl NodeSlot {
    /// The link to the node while it is connected (to send it requests).
    pub fn link(&self) -> Option<LinkHandle> {
        lock(&self.inner).session.as_ref().map(|(_, l)| l.clone())
    }

    pub fn state(&self) -> NodeState {
        lock(&self.inner).state
    }

    pub fn labels(&self) -> BTreeMap<String, String> {
        lock(&self.inner).labels.clone()
    }

    /// Records that the node was heard from now.
    pub fn touch(&self, now_ms: i64) {
        self.last_seen_ms.fetch_max(now_ms, Ordering::Relaxed);
    }

    /// Appends the node's entry of a `Nodes` answer if `keep` takes the
    /// node (its fields, with `checks`); whether it did.
    pub fn write_node_if(
        &self,
        out: &mut Vec<u8>,
        checks: &CheckCounts,
        keep: impl Fn(&NodeRef) -> bool,
    ) -> bool {
        let inner = lock(&self.inner);
        let last_seen_ms = self.last_seen_ms.load(Ordering::Relaxed);
        let fields = NodeRef {
            name: &self.name,
            state: inner.state,
            addr: &inner.addr,
            first_seen_ms: inner.first_seen_ms,
            last_seen_ms,
            version: &inner.version,
            hostname: &inner.hostname,
            addrs: Strs::Slice(&inner.addrs),
            labels: inner.encoded.labels(),
            checks: *checks,
        };
        if !keep(&fields) {
            return false;
        }
        Writer(out).encoded_node(&inner.encoded, inner.state, last_seen_ms, checks);
        true
    }

    fn view(&self) -> NodeView {
        let inner = lock(&self.inner);
        NodeView {
            name: self.name.clone(),
            state: inner.state,
            addr: inner.addr.clone(),
            first_seen_ms: inner.first_seen_ms,
            last_seen_ms: self.last_seen_ms.load(Ordering::Relaxed),
            version: inner.version.clone(),
            hostname: inner.hostname.clone(),
            addrs: inner.addrs.clone(),
            labels: inner.labels.clone(),
            checks: CheckCounts::default(),
        }
    }
}

/// What a registration changed.
pub struct Registered {
    pub slot: Arc<NodeSlot>,
    /// The state before (`None`: a node never seen before).
    pub previous: Option<NodeState>,
    /// Whether the node's state changed (new, or not up before).
    pub changed: bool,
    pub row: NodeRow,
    /// The connection this one replaced, to be told and closed.
    pub replaced: Option<LinkHandle>,
}

#[derive(Default)]
pub struct NodeRegistry {
    nodes: Mutex<BTreeMap<String, Arc<NodeSlot>>>,
}

impl NodeRegistry {
    /// A registry of the stored nodes, all `pending`.
    pub fn from_rows(rows: Vec<NodeRow>) -> NodeRegistry {
        let nodes = rows
            .into_iter()
            .map(|r| {
                let mut inner = SlotInner {
                    state: NodeState::Pending,
                    hostname: r.hostname,
                    version: r.version,
                    labels: r.labels,
                    addrs: r.addrs,
                    addr: r.addr,
                    first_seen_ms: r.first_seen_ms,
                    encoded: EncodedNode::default(),
                    session: None,
                };
                inner.encode(&r.name);
                let slot = NodeSlot {
                    name: r.name.clone(),
                    inner: Mutex::new(inner),
                    last_seen_ms: AtomicI64::new(r.last_seen_ms),
                    flushed_ms: AtomicI64::new(r.last_seen_ms),
                };
                (r.name, Arc::new(slot))
            })
            .collect();
        NodeRegistry {
            nodes: Mutex::new(nodes),
        }
    }

    pub fn len(&self) -> usize {
        lock(&self.nodes).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Marks `name` up, speaking through `session`.
    pub fn register(
        &self,
        name: &str,
        reg: Registration,
        peer: SocketAddr,
        session: (u64, LinkHandle),
        now_ms: i64,
    ) -> Registered {
        let slot = {
            let mut nodes = lock(&self.nodes);
            nodes
                .entry(name.to_string())
                .or_insert_with(|| {
                    Arc::new(NodeSlot {
                        name: name.to_string(),
                        inner: Mutex::new(SlotInner {
                            state: NodeState::Pending,
                            hostname: String::new(),
                            version: String::new(),
                            labels: BTreeMap::new(),
                            addrs: Vec::new(),
                            addr: String::new(),
                            first_seen_ms: now_ms,
                            encoded: EncodedNode::default(),
                            session: None,
                        }),
                        last_seen_ms: AtomicI64::new(now_ms),
                        flushed_ms: AtomicI64::new(0),
                    })
                })
                .clone()
        };
        let session_id = session.0;
        let is_new = slot.flushed_ms.load(Ordering::Relaxed) == 0;
        slot.touch(now_ms);
        let mut inner = lock(&slot.inner);
        let previous = (!is_new).then_some(inner.state);
        let changed = is_new || inner.state != NodeState::Up;
        inner.state = NodeState::Up;
        inner.hostname = reg.hostname;
        inner.version = reg.version;
        inner.labels = reg.labels;
        inner.addrs = reg.addrs;
        inner.addr = peer.ip().to_string();
        inner.encode(name);
        let replaced = inner
            .session
            .replace(session)
            .filter(|(old, _)| *old != session_id)
            .map(|(_, link)| link);
        let row = NodeRow {
            name: name.to_string(),
            hostname: inner.hostname.clone(),
            version: inner.version.clone(),
            labels: inner.labels.clone(),
            addrs: inner.addrs.clone(),
            addr: inner.addr.clone(),
            first_seen_ms: inner.first_seen_ms,
            last_seen_ms: now_ms,
        };
        drop(inner);
        slot.flushed_ms.store(now_ms, Ordering::Relaxed);
        Registered {
            slot,
            previous,
            changed,
            row,
            replaced,
        }
    }

    /// The connection `session` of `slot` ended: the node is down, unless a
    /// newer connection already speaks for it. Returns the state it left.
    pub fn disconnect(&self, slot: &NodeSlot, session: u64) -> Option<NodeState> {
        let mut inner = lock(&slot.inner);
        match &inner.session {
            Some((current, _)) if *current == session => {
                inner.session = None;
                let previous = inner.state;
                inner.state = NodeState::Down;
                (previous != NodeState::Down).then_some(previous)
            }
            _ => None,
        }
    }

    /// Nodes still `pending` (known from the store, not heard from since
    /// configd started) become `down`; their names.
    pub fn expire_pending(&self) -> Vec<String> {
        self.slots()
            .iter()
            .filter_map(|slot| {
                let mut inner = lock(&slot.inner);
                if inner.state != NodeState::Pending || inner.session.is_some() {
                    return None;
                }
                inner.state = NodeState::Down;
                inner.encode(&slot.name);
                Some(slot.name.clone())
            })
            .collect()
    }

    /// The node called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<NodeSlot>> {
        lock(&self.nodes).get(name).cloned()
    }

    /// Every node's slot, sorted by name.
    pub fn slots(&self) -> Vec<Arc<NodeSlot>> {
        lock(&self.nodes).values().cloned().collect()
    }

    /// Every node, sorted by name.
    pub fn views(&self) -> Vec<NodeView> {
        self.slots().iter().map(|s| s.view()).collect()
    }

    /// Nodes whose last-seen time moved since the last call.
    pub fn take_seen(&self) -> Vec<(String, i64)> {
        self.slots()
            .iter()
            .filter_map(|s| {
                let seen = s.last_seen_ms.load(Ordering::Relaxed);
                let before = s.flushed_ms.swap(seen, Ordering::Relaxed);
                (seen > before).then(|| (s.name.clone(), seen))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg() -> Registration {
        Registration {
            hostname: "h".into(),
            version: "v".into(),
            labels: BTreeMap::new(),
            addrs: vec![],
            checks: vec![],
            commands: vec![],
            takes_checks: false,
        }
    }

    #[test]
    fn states_follow_sessions() {
        let r = NodeRegistry::from_rows(vec![]);
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let a = r.register("n", reg(), peer, (1, LinkHandle::new(1024).0), 10);
        assert_eq!(a.previous, None);
        assert!(a.changed);
        assert_eq!(r.views()[0].state, NodeState::Up);
        // A second connection for the same node replaces the first.
        let b = r.register("n", reg(), peer, (2, LinkHandle::new(1024).0), 20);
        assert!(b.replaced.is_some());
        assert_eq!(b.previous, Some(NodeState::Up));
        assert!(!b.changed);
        assert_eq!(b.row.first_seen_ms, 10);
        // The old connection ending does not take the node down.
        assert_eq!(r.disconnect(&a.slot, 1), None);
        assert_eq!(r.views()[0].state, NodeState::Up);
        assert_eq!(r.disconnect(&b.slot, 2), Some(NodeState::Up));
        assert_eq!(r.views()[0].state, NodeState::Down);
        let c = r.register("n", reg(), peer, (3, LinkHandle::new(1024).0), 30);
        assert_eq!(c.previous, Some(NodeState::Down));
        assert!(c.changed);
        b.slot.touch(40);
        assert_eq!(r.take_seen(), vec![("n".to_string(), 40)]);
        assert!(r.take_seen().is_empty());
        // Only nodes never heard from since start expire.
        assert!(r.expire_pending().is_empty());
        let stored = NodeRow {
            name: "old".into(),
            hostname: "h".into(),
            version: "v".into(),
            labels: BTreeMap::new(),
            addrs: vec![],
            addr: String::new(),
            first_seen_ms: 1,
            last_seen_ms: 2,
        };
        let r = NodeRegistry::from_rows(vec![stored]);
        assert_eq!(r.views()[0].state, NodeState::Pending);
        assert_eq!(r.expire_pending(), ["old"]);
        assert_eq!(r.views()[0].state, NodeState::Down);
        assert!(r.expire_pending().is_empty());
    }
}
