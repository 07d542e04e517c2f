//! Sending central checks: each node gets its whole set (`SetChecks`)
//! when it registers and, where it changed, after a reload; its answer
//! goes into the `CentralBook`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::central_book::matching;
use super::state::Shared;
use crate::net::proto::{RequestBody, ResponseBody, SetChecks};

/// How long a node has to answer a `SetChecks`.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Nodes sent their set at once after a reload.
const PUSHES_IN_FLIGHT: usize = 512;

/// Sends `node` its central checks if they differ from what it last
/// answered for (always with `force`), and records its answer.
pub async fn push(shared: Arc<Shared>, node: String, force: bool) {
    let gate = shared.central().gate(&node);
    let _one = gate.lock().await;
    let Some(slot) = shared.registry().get(&node) else {
        return;
    };
    let Some(link) = slot.link() else { return };
    let labels = slot.labels();
    let rules = shared.live().central_checks.clone();
    let set = matching(&rules, &node, &labels);
    if !shared.central().should_send(&node, &set, force) {
        return;
    }
    let asked = async {
        let mut answers = link
            .request(RequestBody::SetChecks(SetChecks {
                checks: set.clone(),
            }))
            .await
            .map_err(|e| e.to_string())?;
        match answers.next().await {
            Some(Ok(ResponseBody::ChecksSet(a))) => Ok(a),
            Some(Ok(ResponseBody::Error(e))) => Err(format!("the node answered: {e}")),
            Some(Ok(other)) => Err(format!("unexpected answer {other:?}")),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("no answer".into()),
        }
    };
    let answer = match tokio::time::timeout(ANSWER_TIMEOUT, asked).await {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            tracing::warn!(%node, "cannot send the node its central checks: {e}");
            return;
        }
        Err(_) => {
            tracing::warn!(%node, "the node did not answer its central checks within 10s");
            return;
        }
    };
    let decls = shared.central().answered(&node, &set, &answer);
    tracing::debug!(%node, accepted = answer.accepted.len(), refused = answer.refused.len(), "central checks set");
    let fx = shared
        .checks()
        .declare(&node, &decls, labels, crate::timefmt::now_ms());
    if let Err(e) = super::check_api::apply(&shared, fx, false).await {
        tracing::error!("cannot store the node's checks: {e}");
    }
}

/// After a reload: every connected node whose set changed gets it.
pub async fn push_all(shared: Arc<Shared>) {
    let started = Instant::now();
    let slots = shared.registry().slots();
    let permits = Arc::new(tokio::sync::Semaphore::new(PUSHES_IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    for slot in slots {
        if slot.link().is_none() {
            continue;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let shared = shared.clone();
        let node = slot.name.clone();
        tasks.spawn(async move {
            push(shared, node, false).await;
            drop(permit);
        });
    }
    let nodes = tasks.len();
    while tasks.join_next().await.is_some() {}
    tracing::info!(
        nodes,
        "central checks sent where they changed ({} ms)",
        started.elapsed().as_millis()
    );
}
