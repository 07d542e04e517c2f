//! What a node does with requests from configd. Each runs in its own task
//! with a cancellation token (see `net::link`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use tokio_util::sync::CancellationToken;

use super::commands::CommandRunner;
use crate::config::NodedConfig;
use crate::net::link::{Handler, Incoming};
use crate::net::proto::ErrorCode;

pub struct NodeApi {
    pub config: NodedConfig,
    /// Checks configd sends (`SetChecks`).
    central: Arc<super::central_checks::CentralChecks>,
    /// Replaced on a reload that changes `[[command]]`; jobs already
    /// running keep the runner they started with.
    runner: RwLock<Arc<CommandRunner>>,
    /// Commands running now (a graceful stop waits for them).
    running: Arc<AtomicUsize>,
    /// Fired when the node begins to stop: no new commands then.
    stopping: CancellationToken,
    /// File transfers in and out of `transfer_dir` (read at start).
    transfers: super::transfer::Transfers,
}

/// Counts one running command for as long as it lives.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn new(count: &Arc<AtomicUsize>) -> Running {
        count.fetch_add(1, Ordering::SeqCst);
        Running(count.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl NodeApi {
    pub fn new(
        config: NodedConfig,
        stopping: CancellationToken,
        central: Arc<super::central_checks::CentralChecks>,
    ) -> NodeApi {
        let runner = Arc::new(CommandRunner::new(&config));
        // Removes temporary files of transfers a previous noded left.
        let transfers = super::transfer::Transfers::new(config.transfer_dir.as_deref());
        NodeApi {
            transfers,
            config,
            central,
            runner: RwLock::new(runner),
            running: Arc::new(AtomicUsize::new(0)),
            stopping,
        }
    }

    /// Commands running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Takes the commands of a reloaded configuration.
    pub fn set_commands(&self, config: &NodedConfig) {
        let runner = Arc::new(CommandRunner::new(config));
        *self.runner.write().unwrap_or_else(PoisonError::into_inner) = runner;
    }

    fn runner(&self) -> Arc<CommandRunner> {
        let runner = self.runner.read().unwrap_or_else(PoisonError::into_inner);
        runner.clone()
    }
}

impl Handler for NodeApi {
    async fn handle(self: Arc<Self>, req: Incoming) {
        use crate::net::proto::{RequestBody as R, ResponseBody};
        let body = match req.body {
            R::SetChecks(set) => {
                let answer = ResponseBody::ChecksSet(self.central.apply(set));
                let _ = req.reply.send(answer).await;
                return;
            }
            R::RunCommand(_) | R::ReadFile(_) | R::WriteFile(_) if self.stopping.is_cancelled() => {
                let _ = req
                    .reply
                    .error(
                        ErrorCode::ShuttingDown,
                        format!("node `{}` is stopping", self.config.name),
                    )
                    .await;
                return;
            }
            R::RunCommand(run) => {
                let _running = Running::new(&self.running);
                return self.runner().run(run, req.reply, req.cancel).await;
            }
            R::ReadFile(r) => return self.transfers.read(r, req.reply, req.cancel).await,
            R::WriteFile(w) => return self.transfers.write(w, req.reply, req.cancel).await,
            R::WriteChunk(c) => return self.transfers.chunk(c, req.reply, req.cancel).await,
            R::WriteCommit(c) => return self.transfers.commit(c, req.reply, req.cancel).await,
            other => other,
        };
        let what = format!("{body:?}");
        let what = what
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or("request")
            .to_string();
        tracing::warn!("configd sent a request this node does not serve: {what}");
        let _ = req
            .reply
            .error(
                ErrorCode::NotFound,
                format!("node `{}` does not serve {what}", self.config.name),
            )
            .await;
    }
}
