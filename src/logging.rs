//! Logging with `tracing`. The station logs to a daily-rotated file (stdout is the screen, and the log
//! of a crash must survive the restart that follows it); servers log to stderr.

use std::path::Path;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

const FILTER_ENV: &str = "TAKT_LOG";

fn filter() -> EnvFilter {
    EnvFilter::try_from_env(FILTER_ENV).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Logs to `dir/takt.log.YYYY-MM-DD`, appending. Keep the guard alive until exit.
pub fn to_file(dir: &Path) -> anyhow::Result<WorkerGuard> {
    // Usually inside the station's data folder, which holds the event log too: created owner-only.
    crate::owner_only::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create log folder {}: {e}", dir.display()))?;
    let appender = tracing_appender::rolling::daily(dir, "takt.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot start logging: {e}"))?;
    Ok(guard)
}

/// Logs to stderr, for the servers.
pub fn to_stderr() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .try_init();
}
