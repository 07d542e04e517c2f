//! `monit-tui`, the operator's terminal UI (DESIGN section 7).
//!
//! The shape follows STYLE.md: [`app::App`] is plain data;
//! [`action::Action`] is everything that can happen (keys and network
//! news); [`update::update`] is pure and returns [`action::Effect`]s;
//! [`ui`] draws `&App` (frame, dialogs, help) and [`views`] the body: one
//! file per view behind [`views::ViewSpec`], listed in tab order in one
//! table (a new view starts there); [`event`] runs the loop; [`net`] owns the
//! connection; [`terminal`] restores the terminal whatever happens;
//! [`demo`] runs a whole fleet in-process.

pub mod action;
pub mod app;
pub mod args;
pub mod command;
pub mod demo;
pub mod event;
pub mod logbuf;
pub mod logfile;
pub mod net;
pub mod rows;
pub mod terminal;
pub mod ui;
pub mod update;
pub mod viewfilter;
pub mod views;

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::exit::CliError;
use crate::net::dial::Endpoint;
use args::TuiCli;

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    /// Cannot resolve where to connect (exit status 2 or 3).
    #[error("{message}")]
    Target { exit: u8, message: String },
    #[error("demo: {0}")]
    Demo(String),
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

impl TuiError {
    /// The exit status (DESIGN section 7 codes).
    pub fn exit_code(&self) -> u8 {
        match self {
            TuiError::Target { exit, .. } => *exit,
            _ => 1,
        }
    }
}

impl From<CliError> for TuiError {
    fn from(e: CliError) -> Self {
        TuiError::Target {
            exit: e.exit as u8,
            message: format!("{:#}", e.error).replace('\n', " "),
        }
    }
}

/// Runs the UI as the command line asks.
pub async fn run(cli: TuiCli) -> Result<(), TuiError> {
    if cli.demo {
        // One process holds configd and the three nodes: its log lines
        // are theirs together, and the Logs view says so.
        crate::logs::hub::set_own_log_node(demo::LOG_NODE);
    }
    let log = logfile::init(cli.demo);
    if cli.demo {
        let demo = demo::Demo::start().await?;
        println!(
            "monit demo: configd on {}, three nodes, data in {} (removed on quit); log: {}",
            demo.server,
            demo.dir.display(),
            log.as_ref()
                .map_or("none".into(), |p| p.display().to_string())
        );
        let endpoint = demo.endpoint();
        wait_until_up(&endpoint, demo::NODES.len()).await;
        let result = run_ui(endpoint).await;
        demo.stop().await;
        return result;
    }
    let endpoint = crate::config::client::endpoint(crate::config::client::ClientFlags {
        server: cli.server.clone(),
        token_file: cli.token_file.clone(),
        fingerprint: cli.fingerprint.clone(),
    })
    .map_err(CliError::from)?;
    run_ui(endpoint).await
}

/// Waits (up to 5 s) until `n` nodes are registered, so the nodes' start-up
/// lines are printed before the screen is taken over.
async fn wait_until_up(endpoint: &Endpoint, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if let Ok(client) = crate::net::client::Client::connect(endpoint, "monit-tui").await {
            if let Ok(nodes) = client.query_nodes(Vec::new()).await {
                if nodes.len() >= n {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens the terminal, starts the network task, runs the loop, and puts
/// everything back.
pub async fn run_ui(endpoint: Endpoint) -> Result<(), TuiError> {
    let mut app = app::App::new(&endpoint.server, crate::timefmt::now_ms());
    app.no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let (action_tx, action_rx) = mpsc::channel(1024);
    let (effect_tx, effect_rx) = mpsc::channel(16);
    let stop = CancellationToken::new();
    let net = tokio::spawn(
        net::NetTask {
            endpoint,
            poll: net::POLL,
        }
        .run(action_tx, effect_rx, stop.clone()),
    );
    let result = {
        let mut guard = terminal::TerminalGuard::enter()?;
        event::run(&mut guard.terminal, &mut app, action_rx, effect_tx).await
    };
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(2), net).await;
    tracing::info!("monit-tui stopped");
    Ok(result?)
}
