//! `takt demo`: central with the demo plant, a PLC simulator and the station TUI for L1-S1, all on
//! loopback ephemeral ports, with every file under one folder. A newcomer logs in and runs a work
//! order within a minute.

use crate::config::StationConfig;
use crate::sim::SimConfig;
use anyhow::Context;
use std::net::SocketAddr;
use std::path::Path;

pub const DEMO_STATION: &str = "L1-S1";

/// What the login screen lists, so nobody has to look codes up.
pub fn login_hints() -> Vec<String> {
    vec![
        "DEMO - badges: EMP-1001 (Operator A)  EMP-1002 (Operator B)  EMP-3001 (Line Lead)".into(),
        "Work orders: WO-24001 (BC-200 x120)  WO-24002 (BC-210 x60)  WO-24003 (BC-200 x200)".into(),
        "             WO-24004 is planned, not released: scanning it is refused.".into(),
        "Commands: @START  @PAUSE  @RESUME  @COMPLETE  @LOGOUT".into(),
        "Try: type EMP-1001 Enter, WO-24001 Enter, @START Enter; watch the counts rise.".into(),
    ]
}

/// The station.toml the demo writes (so a user can see and reuse a real config).
pub fn station_config_text(plc: SocketAddr, central_url: &str, token: &str) -> String {
    let hints = login_hints()
        .iter()
        .map(|hint| format!("  {hint:?},"))
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        "# Written by `takt demo`; ports change at every start.\n\
         station = \"{DEMO_STATION}\"\n\
         data_dir = \"{DEMO_STATION}\"\n\n\
         [plc]\naddress = \"{plc}\"\n\n\
         [central]\nurl = \"{central_url}\"\ntoken = \"{token}\"\npull_interval_ms = 2000\n\n\
         [ui]\nlogin_hints = [\n{hints}\n]\n"
    )
}

pub fn run(dir: &Path, sim: SimConfig) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create demo folder {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve demo folder {}", dir.display()))?;
    let _log = crate::logging::to_file(&dir.join("logs"))?;
    let central_db = dir.join("central.db");
    crate::central::seed_demo(&central_db, chrono::Utc::now().date_naive())?;
    let token = crate::central::add_station(&central_db, DEMO_STATION)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
        let central = crate::central::spawn(loopback, central_db.clone()).await?;
        let plc = crate::sim::spawn(loopback, sim)
            .await
            .context("cannot start the PLC simulator")?;
        tracing::info!(central = %central.url(), plc = %plc.local_addr(), "demo started");

        let config_path = dir.join("station.toml");
        std::fs::write(
            &config_path,
            station_config_text(plc.local_addr(), &central.url(), &token),
        )
        .with_context(|| format!("cannot write {}", config_path.display()))?;
        let config = StationConfig::load(&config_path)?;
        let keymap = crate::launch::load_keymap(&config)?;
        let result = crate::launch::run_station(config, keymap).await;

        plc.shutdown().await;
        central.shutdown().await;
        result
    })?;
    println!(
        "Demo stopped. Its data stays in {} (run `takt demo` again to carry on, or delete the folder to start afresh).",
        dir.display()
    );
    Ok(())
}
