//! Daemon logging: every line goes to up to three sinks, each with its own
//! level (the `[log]` section):
//!
//! - the terminal (stderr): `debug` mode logs at debug, coloured (unless
//!   `NO_COLOR`); `run` at `level`, as `format` says (`text` or `json`);
//! - a rotating file (`file`, `file_level`, `rotation`, `max_size`, `keep`),
//!   written by a background thread so a slow disk never blocks;
//! - the log pipe (`remote_level`): noded ships it to configd, configd keeps
//!   it in its hub as node `configd`. Never blocks: a full queue drops.
//!
//! `MONIT_LOG` (or `RUST_LOG`), e.g. `MONIT_LOG=monit=trace`, overrides the
//! terminal and file levels. Timestamps are UTC (a local offset cannot be
//! read safely in threads).

use std::sync::Arc;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, LogSettings};
use crate::logs::layer::PipeLayer;
use crate::logs::rotate::RotatingFile;
use crate::logs::Pipe;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Run,
    Debug,
}

/// Keeps the file sink's writer thread alive; drop it last (it flushes).
/// Also holds what a reload needs to change the sinks' levels.
pub struct LogGuard {
    _file: Option<tracing_appender::non_blocking::WorkerGuard>,
    levels: LogLevels,
}

impl LogGuard {
    /// A handle that applies the levels of a reloaded `[log]` section.
    pub fn levels(&self) -> LogLevels {
        self.levels.clone()
    }
}

type LevelSetter = Arc<dyn Fn(&LogSettings) + Send + Sync>;

/// Applies new `[log]` levels to the running sinks (SIGHUP). The sinks
/// themselves (file path, format, rotation) stay until a restart.
#[derive(Clone, Default)]
pub struct LogLevels {
    setters: Vec<LevelSetter>,
}

impl LogLevels {
    pub fn apply(&self, settings: &LogSettings) {
        for set in &self.setters {
            set(settings);
        }
    }
}

fn env_filter(default: tracing::Level) -> EnvFilter {
    std::env::var("MONIT_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(default.as_str()))
}

/// Sets up the three sinks. A log file that cannot be opened is an error
/// (the daemon should not start half-blind).
pub fn init_sinks(mode: Mode, settings: &LogSettings) -> std::io::Result<LogGuard> {
    let term_level = match mode {
        Mode::Debug => tracing::Level::DEBUG,
        Mode::Run => settings.level.unwrap_or(tracing::Level::INFO),
    };
    let colour = mode == Mode::Debug && std::env::var_os("NO_COLOR").is_none();
    let mut levels: Vec<LevelSetter> = Vec::new();
    let terminal = if mode == Mode::Run && settings.format == LogFormat::Json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(colour)
            .with_target(mode == Mode::Debug)
            .boxed()
    }
    .with_filter({
        let (filter, handle) = reload::Layer::new(env_filter(term_level));
        if mode == Mode::Run {
            levels.push(Arc::new(move |s: &LogSettings| {
                let level = s.level.unwrap_or(tracing::Level::INFO);
                let _ = handle.reload(env_filter(level));
            }));
        }
        filter
    });

    let mut guard = LogGuard {
        _file: None,
        levels: LogLevels::default(),
    };
    let file = match &settings.file {
        Some(path) => {
            let writer =
                RotatingFile::open(path, settings.rotation, settings.max_size, settings.keep)
                    .map_err(|e| {
                        std::io::Error::new(
                            e.kind(),
                            format!("cannot open log file {}: {e}", path.display()),
                        )
                    })?;
            let (writer, g) = tracing_appender::non_blocking(writer);
            guard._file = Some(g);
            let layer = if settings.format == LogFormat::Json {
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(writer)
                    .boxed()
            } else {
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_ansi(false)
                    .boxed()
            };
            let (filter, handle) = reload::Layer::new(env_filter(settings.file_level));
            levels.push(Arc::new(move |s: &LogSettings| {
                let _ = handle.reload(env_filter(s.file_level));
            }));
            Some(layer.with_filter(filter))
        }
        None => None,
    };
    let (remote_filter, remote_handle) =
        reload::Layer::new(LevelFilter::from_level(settings.remote_level));
    levels.push(Arc::new(move |s: &LogSettings| {
        let _ = remote_handle.reload(LevelFilter::from_level(s.remote_level));
    }));
    let remote = PipeLayer::new(Pipe::global()).with_filter(remote_filter);
    let _ = tracing_subscriber::registry()
        .with(terminal)
        .with(file)
        .with(remote)
        .try_init();
    guard.levels = LogLevels { setters: levels };
    Ok(guard)
}
