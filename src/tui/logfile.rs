//! The UI logs to a file, never to the screen: `$MONIT_TUI_LOG`, else
//! `monit-tui.log` in the user's data dir. `MONIT_LOG` sets the level
//! (default info).

use std::path::PathBuf;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Where the log goes.
pub fn log_path() -> PathBuf {
    if let Some(p) = std::env::var_os("MONIT_TUI_LOG").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    directories::ProjectDirs::from("", "", "monit")
        .map(|d| d.data_local_dir().to_path_buf())
        .unwrap_or_else(std::env::temp_dir)
        .join("monit-tui.log")
}

/// Starts logging to the file; returns its path, or None when it cannot
/// be opened (then nothing is logged: the screen must stay clean). With
/// `to_pipe` (the demo), info lines also go to the process's log pipe, so
/// the in-process configd serves them to the Logs view.
pub fn init(to_pipe: bool) -> Option<PathBuf> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let path = log_path();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    let filter = std::env::var("MONIT_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let file_layer = tracing_subscriber::fmt::layer()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_filter(filter);
    let pipe = to_pipe.then(|| {
        crate::logs::layer::PipeLayer::new(crate::logs::Pipe::global())
            .with_filter(tracing_subscriber::filter::LevelFilter::INFO)
    });
    tracing_subscriber::registry()
        .with(file_layer)
        .with(pipe)
        .try_init()
        .ok()?;
    Some(path)
}
