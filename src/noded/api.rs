//! What a node does with requests from configd. Each runs in its own task
//! with a cancellation token (see `net::link`).

use std::sync::{Arc, RwLock};

use super::commands::CommandRunner;
use crate::config::NodedConfig;
use crate::net::link::{Handler, Incoming};
use crate::net::proto::ErrorCode;

pub struct NodeApi {
    pub config: NodedConfig,
    /// Replaced on a reload that changes `[[command]]`; jobs already
    /// running keep the runner they started with.
    runner: RwLock<Arc<CommandRunner>>,
}

impl NodeApi {
    pub fn new(config: NodedConfig) -> NodeApi {
        let runner = Arc::new(CommandRunner::new(&config.name, &config.commands));
        NodeApi {
            config,
            runner: RwLock::new(runner),
        }
    }

    /// Takes the commands of a reloaded configuration.
    pub fn set_commands(&self, config: &NodedConfig) {
        let runner = Arc::new(CommandRunner::new(&config.name, &config.commands));
        match self.runner.write() {
            Ok(mut g) => *g = runner,
            Err(p) => *p.into_inner() = runner,
        }
    }

    fn runner(&self) -> Arc<CommandRunner> {
        match self.runner.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

impl Handler for NodeApi {
    async fn handle(self: Arc<Self>, req: Incoming) {
        if let crate::net::proto::RequestBody::RunCommand(run) = req.body {
            self.runner().run(run, req.reply, req.cancel).await;
            return;
        }
        let what = format!("{:?}", req.body);
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
