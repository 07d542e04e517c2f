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
use crate::net::proto::{CheckCounts, NodeState, NodeView, Registration};

struct SlotInner {
    /// What a `Nodes` answer says of the node, but `last_seen_ms` (in
    /// `NodeSlot`) and `checks` (configd's check book).
    node: NodeView,
    /// The fields of `node` that a `Nodes` answer carries, encoded.
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
    fn new(node: NodeView) -> SlotInner {
        let mut inner = SlotInner {
            node,
            encoded: EncodedNode::default(),
            session: None,
        };
        inner.encode();
        inner
    }

    /// Re-encodes the fields a `Nodes` answer carries, after they changed.
    fn encode(&mut self) {
        self.encoded = EncodedNode::new(&NodeRef::from(&self.node));
    }
}

impl NodeSlot {
    /// The link to the node while it is connected (to send it requests).
    pub fn link(&self) -> Option<LinkHandle> {
        lock(&self.inner).session.as_ref().map(|(_, l)| l.clone())
    }

    pub fn state(&self) -> NodeState {
        lock(&self.inner).node.state
    }

    pub fn labels(&self) -> BTreeMap<String, String> {
        lock(&self.inner).node.labels.clone()
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
        let node = NodeRef {
            last_seen_ms: self.last_seen_ms.load(Ordering::Relaxed),
            checks: *checks,
            ..inner.encoded.with_maps(NodeRef::from(&inner.node))
        };
        if !keep(&node) {
            return false;
        }
        Writer(out).encoded_node(&inner.encoded, &node);
        true
    }

    fn view(&self) -> NodeView {
        NodeView {
            last_seen_ms: self.last_seen_ms.load(Ordering::Relaxed),
            ..lock(&self.inner).node.clone()
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
                let inner = SlotInner::new(NodeView {
                    name: r.name.clone(),
                    state: NodeState::Pending,
                    hostname: r.hostname,
                    version: r.version,
                    labels: r.labels,
                    addrs: r.addrs,
                    addr: r.addr,
                    first_seen_ms: r.first_seen_ms,
                    ..NodeView::default()
                });
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
                        inner: Mutex::new(SlotInner::new(NodeView {
                            name: name.to_string(),
                            first_seen_ms: now_ms,
                            ..NodeView::default()
                        })),
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
        let previous = (!is_new).then_some(inner.node.state);
        let changed = is_new || inner.node.state != NodeState::Up;
        let node = &mut inner.node;
        node.state = NodeState::Up;
        node.hostname = reg.hostname;
        node.version = reg.version;
        node.labels = reg.labels;
        node.addrs = reg.addrs;
        node.addr = peer.ip().to_string();
        inner.encode();
        let replaced = inner
            .session
            .replace(session)
            .filter(|(old, _)| *old != session_id)
            .map(|(_, link)| link);
        let node = &inner.node;
        let row = NodeRow {
            name: name.to_string(),
            hostname: node.hostname.clone(),
            version: node.version.clone(),
            labels: node.labels.clone(),
            addrs: node.addrs.clone(),
            addr: node.addr.clone(),
            first_seen_ms: node.first_seen_ms,
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
                let previous = inner.node.state;
                inner.node.state = NodeState::Down;
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
                if inner.node.state != NodeState::Pending || inner.session.is_some() {
                    return None;
                }
                inner.node.state = NodeState::Down;
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

    /// Every node's name, sorted.
    pub fn names(&self) -> Vec<String> {
        lock(&self.nodes).keys().cloned().collect()
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
