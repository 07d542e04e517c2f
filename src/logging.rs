//! Daemon logging to the terminal (stderr). `run` logs at the configured
//! level, plain; `debug` logs at debug, coloured. `MONIT_LOG` (or
//! `RUST_LOG`) overrides either, e.g. `MONIT_LOG=monit=trace`.
//! Timestamps are UTC (a local offset cannot be read safely in threads).

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Run,
    Debug,
}

pub fn init(mode: Mode, level: Option<tracing::Level>) {
    let default = match mode {
        Mode::Debug => tracing::Level::DEBUG,
        Mode::Run => level.unwrap_or(tracing::Level::INFO),
    };
    let from_env = std::env::var("MONIT_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok());
    let filter = from_env.unwrap_or_else(|| EnvFilter::new(default.as_str()));
    let colour = mode == Mode::Debug && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(mode == Mode::Debug)
        .try_init();
}
