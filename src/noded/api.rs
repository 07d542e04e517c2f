//! What a node does with requests from configd. Each runs in its own task
//! with a cancellation token (see `net::link`).

use std::sync::Arc;

use crate::config::NodedConfig;
use crate::net::link::{Handler, Incoming};
use crate::net::proto::ErrorCode;

pub struct NodeApi {
    pub config: NodedConfig,
    pub runner: super::commands::CommandRunner,
}

impl Handler for NodeApi {
    async fn handle(self: Arc<Self>, req: Incoming) {
        if let crate::net::proto::RequestBody::RunCommand(run) = req.body {
            self.runner.run(run, req.reply, req.cancel).await;
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
