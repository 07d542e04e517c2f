//! What configd keeps in memory for commands: each node's advertised
//! commands, the inventory items a job acts on, and the running jobs
//! (their output for followers, and what stops them).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use crate::net::proto::JobOutput;
use crate::ops::spec::{CommandSpec, InventoryLink};
use crate::sync::lock;

/// Output events buffered between target tasks and the client.
pub const MERGE: usize = 1024;

/// What configd keeps in memory for commands.
#[derive(Default)]
pub struct OpsState {
    /// The commands each node advertised at its last registration.
    catalog: Mutex<HashMap<String, Arc<Vec<CommandSpec>>>>,
    /// Inventory items a running job acts on (one job per item at a time).
    busy: Mutex<HashSet<(String, String)>>,
    /// Running jobs: their output so far and live (`job show -f`), and
    /// what stops them (`job cancel`, Ctrl-C in `run`).
    live: Mutex<HashMap<u64, LiveJob>>,
}

/// Output of a running job kept for followers, at most (oldest dropped).
const SO_FAR_KEPT: usize = 4 * 1024 * 1024;

/// A job while it runs. It belongs to configd, not to the client that
/// started it: that client going away only stops the streaming to it.
struct LiveJob {
    tx: tokio::sync::broadcast::Sender<JobOutput>,
    /// Output so far (the newest `SO_FAR_KEPT` bytes), so a follower gets
    /// it first, then live chunks, with no gap and no repeat.
    so_far: std::collections::VecDeque<JobOutput>,
    so_far_bytes: usize,
    dropped: bool,
    stop: CancellationToken,
}

/// How a follower catches up with a running job.
pub struct Following {
    pub so_far: Vec<JobOutput>,
    /// Output dropped before `so_far` (it was over the kept size).
    pub dropped: bool,
    pub live: tokio::sync::broadcast::Receiver<JobOutput>,
}

impl OpsState {
    pub fn set_commands(&self, node: &str, commands: Vec<CommandSpec>) {
        lock(&self.catalog).insert(node.to_string(), Arc::new(commands));
    }

    /// Output of job `id` so far, then from now on, while it runs
    /// (`None`: not running).
    pub fn follow(&self, id: u64) -> Option<Following> {
        lock(&self.live).get(&id).map(|j| Following {
            so_far: j.so_far.iter().cloned().collect(),
            dropped: j.dropped,
            live: j.tx.subscribe(),
        })
    }

    /// Stops running job `id` on every node; false when it is not running.
    pub fn cancel(&self, id: u64) -> bool {
        lock(&self.live).get(&id).map(|j| j.stop.cancel()).is_some()
    }

    /// Keeps `out` for followers and sends it to those there are.
    pub(crate) fn publish(&self, id: u64, out: JobOutput) {
        let mut live = lock(&self.live);
        let Some(j) = live.get_mut(&id) else {
            return;
        };
        j.so_far_bytes += out.data.len();
        if j.tx.receiver_count() > 0 {
            let _ = j.tx.send(out.clone());
        }
        j.so_far.push_back(out);
        while j.so_far_bytes > SO_FAR_KEPT {
            match j.so_far.pop_front() {
                Some(old) => {
                    j.so_far_bytes -= old.data.len();
                    j.dropped = true;
                }
                None => break,
            }
        }
    }

    /// Registers job `id` as running (followers, `job cancel`); the token
    /// stops it. [`OpsState::end_live`] when it ends.
    pub(crate) fn start_live(&self, id: u64, stop: CancellationToken) {
        lock(&self.live).insert(
            id,
            LiveJob {
                tx: tokio::sync::broadcast::channel(MERGE).0,
                so_far: Default::default(),
                so_far_bytes: 0,
                dropped: false,
                stop,
            },
        );
    }

    pub(crate) fn end_live(&self, id: u64) {
        lock(&self.live).remove(&id);
    }

    /// Marks every item busy, or none: Err names the first already busy.
    pub fn mark_busy(&self, keys: &[(String, String)]) -> Result<BusyMarks<'_>, (String, String)> {
        let mut busy = lock(&self.busy);
        if let Some(taken) = keys.iter().find(|k| busy.contains(*k)) {
            return Err(taken.clone());
        }
        busy.extend(keys.iter().cloned());
        Ok(BusyMarks {
            ops: self,
            keys: keys.to_vec(),
        })
    }

    /// Every command name some node advertised, sorted, each once.
    pub fn command_names(&self) -> Vec<String> {
        let names: std::collections::BTreeSet<String> = lock(&self.catalog)
            .values()
            .flat_map(|c| c.iter().map(|s| s.name.clone()))
            .collect();
        names.into_iter().collect()
    }

    /// Every command offered (of `node`, or of all nodes), by name, each
    /// distinct definition with the nodes that offer it, sorted.
    pub fn offers(&self, node: Option<&str>) -> Vec<crate::net::proto::CommandOffer> {
        let catalog = lock(&self.catalog);
        let mut nodes: Vec<(&String, &Arc<Vec<CommandSpec>>)> = catalog
            .iter()
            .filter(|(n, _)| node.is_none_or(|want| want == n.as_str()))
            .collect();
        nodes.sort_by(|a, b| a.0.cmp(b.0));
        let mut offers: Vec<crate::net::proto::CommandOffer> = Vec::new();
        for (name, specs) in nodes {
            for spec in specs.iter() {
                match offers.iter_mut().find(|o| &o.spec == spec) {
                    Some(o) => o.nodes.push(name.clone()),
                    None => offers.push(crate::net::proto::CommandOffer {
                        spec: spec.clone(),
                        nodes: vec![name.clone()],
                    }),
                }
            }
        }
        offers.sort_by(|a, b| a.spec.name.cmp(&b.spec.name).then(a.nodes.cmp(&b.nodes)));
        offers
    }

    /// The definitions of `name` bound to an inventory item, from every
    /// node offering it (the item's node then checks its own).
    pub fn bound_specs(&self, name: &str) -> Vec<(CommandSpec, InventoryLink)> {
        let catalog = lock(&self.catalog);
        let mut nodes: Vec<&String> = catalog.keys().collect();
        nodes.sort();
        let mut out: Vec<(CommandSpec, InventoryLink)> = Vec::new();
        for n in nodes {
            for c in catalog[n].iter().filter(|c| c.name == name) {
                if let Some(link) = &c.inventory {
                    if !out.iter().any(|(s, _)| s == c) {
                        out.push((c.clone(), link.clone()));
                    }
                }
            }
        }
        out
    }

    pub(crate) fn commands(&self, node: &str) -> Arc<Vec<CommandSpec>> {
        lock(&self.catalog).get(node).cloned().unwrap_or_default()
    }
}

/// Busy marks on several items, released when dropped.
pub struct BusyMarks<'a> {
    ops: &'a OpsState,
    keys: Vec<(String, String)>,
}

impl Drop for BusyMarks<'_> {
    fn drop(&mut self) {
        let mut busy = lock(&self.ops.busy);
        for k in &self.keys {
            busy.remove(k);
        }
    }
}
