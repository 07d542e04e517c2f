//! `kill -USR1 PID`: the node logs marker lines, so an operator (or a test)
//! can check the whole log path (terminal, file, configd, `monit-cli logs`)
//! end to end. `MONIT_LOG_MARKERS` (read at each signal, default 3) says
//! how many; they cycle through error, warn and info and read
//! `log marker I/N (LEVEL)`.

use tokio::signal::unix::{signal, SignalKind};

/// Starts the SIGUSR1 listener (needs a running tokio runtime).
pub fn on_sigusr1() -> std::io::Result<()> {
    let mut usr1 = signal(SignalKind::user_defined1())?;
    tokio::spawn(async move {
        while usr1.recv().await.is_some() {
            let count = std::env::var("MONIT_LOG_MARKERS")
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(3)
                .min(10_000_000);
            log_markers(count).await;
        }
    });
    Ok(())
}

/// Logs `count` markers, yielding now and then so other tasks run.
pub async fn log_markers(count: u64) {
    for i in 1..=count {
        match i % 3 {
            1 => tracing::error!("log marker {i}/{count} (error)"),
            2 => tracing::warn!("log marker {i}/{count} (warn)"),
            _ => tracing::info!("log marker {i}/{count} (info)"),
        }
        if i % 256 == 0 {
            tokio::task::yield_now().await;
        }
    }
}
