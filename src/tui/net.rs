//! The network task: owns the connection to configd, reconnects with
//! backoff, polls what the views show and carries out Effects. This is
//! the one place where network data becomes Actions.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::action::{Action, Effect};
use crate::auth::Token;
use crate::net::backoff::Backoff;
use crate::net::client::Client;
use crate::views::NodeJson;

/// How often the views' data is fetched.
pub const POLL: Duration = Duration::from_secs(1);

pub struct NetTask {
    pub server: String,
    pub token: Token,
    pub poll: Duration,
}

impl NetTask {
    /// Runs until `stop`, sending Actions on `tx` and taking Effects from
    /// `effects`.
    pub async fn run(
        self,
        tx: mpsc::Sender<Action>,
        mut effects: mpsc::Receiver<Effect>,
        stop: CancellationToken,
    ) {
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(10));
        let _ = tx.send(Action::Connecting).await;
        loop {
            let client = tokio::select! {
                _ = stop.cancelled() => return,
                c = Client::connect(&self.server, &self.token, "monit-tui") => c,
            };
            let reason = match client {
                Ok(client) => {
                    tracing::info!(server = %self.server, "connected");
                    backoff.reset();
                    if tx.send(Action::Connected).await.is_err() {
                        return;
                    }
                    match self.serve(&client, &tx, &mut effects, &stop).await {
                        Ok(()) => return,
                        Err(reason) => reason,
                    }
                }
                Err(e) => e.to_string(),
            };
            let retry_in = backoff.next_delay();
            tracing::warn!(server = %self.server, %reason, ?retry_in, "connection lost");
            if tx
                .send(Action::Disconnected {
                    reason: reason.clone(),
                    retry_in,
                })
                .await
                .is_err()
            {
                return;
            }
            let wake = tokio::time::sleep(retry_in);
            tokio::pin!(wake);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = &mut wake => break,
                    e = effects.recv() => match e {
                        None => return,
                        Some(_) => {
                            let _ = tx.send(Action::Notice("not connected to configd: try again once the banner is gone".into())).await;
                        }
                    },
                }
            }
        }
    }

    /// One connection's life: Ok when stopped, Err(reason) when it broke.
    async fn serve(
        &self,
        client: &Client,
        tx: &mpsc::Sender<Action>,
        effects: &mut mpsc::Receiver<Effect>,
        stop: &CancellationToken,
    ) -> Result<(), String> {
        let mut poll = tokio::time::interval(self.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = poll.tick() => {
                    for action in fetch(client).await? {
                        if tx.send(action).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                e = effects.recv() => {
                    let Some(effect) = e else { return Ok(()) };
                    if let Some(action) = carry_out(client, effect).await {
                        if tx.send(action).await.is_err() {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
}

/// Everything the views poll. Checks, jobs, inventory, events and logs
/// join here as configd learns to serve them.
async fn fetch(client: &Client) -> Result<Vec<Action>, String> {
    let nodes = client
        .query_nodes(Vec::new())
        .await
        .map_err(|e| e.to_string())?;
    Ok(vec![Action::Nodes(
        nodes.iter().map(NodeJson::from).collect(),
    )])
}

/// Carries out what the user asked for; the answer is a Notice.
async fn carry_out(_client: &Client, effect: Effect) -> Option<Action> {
    let what = match effect {
        Effect::Quit => return None,
        Effect::Run { command, .. } => format!("run {command}"),
        Effect::Ack { .. } => "ack".to_string(),
        Effect::JobOutput { .. } => return None,
    };
    Some(Action::Notice(format!(
        "{what}: this configd does not serve that request yet"
    )))
}
