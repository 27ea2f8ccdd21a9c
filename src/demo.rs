//! `takt demo`: central with the demo plant, one PLC simulator per station and the three stations of
//! line L1 on this terminal (F12 walks the line), all on loopback, with every file under one folder.
//! A newcomer logs in and runs a work order within a minute, and follows a caliper down the line.

use crate::config::StationConfig;
use crate::sim::SimConfig;
use anyhow::Context;
use std::net::SocketAddr;
use std::path::Path;

/// The line the demo runs, with each station's simulated cycle (DEMO_PLANT.md, in demo time).
pub const DEMO_LINE: [(&str, u64); 3] = [("L1-S1", 4500), ("L1-S2", 3800), ("L1-S3", 3000)];

/// The demo's keys on top of the shipped keymap (F12: next station).
pub const DEMO_KEYMAP: &str = include_str!("../keymaps/demo.toml");

/// Where the demo's central listens when the port is free, so `takt trace` finds it by default.
pub const DEMO_CENTRAL: &str = "127.0.0.1:8080";

/// What the login screen of each station lists, so nobody has to look codes up. Labels are given in
/// the bracketed GS1 form a person can type; a scanner sends the same data.
pub fn login_hints_for(station: &str) -> Vec<String> {
    let operation = match station {
        "L1-S1" => "OP10 machining",
        "L1-S2" => "OP20 assembly",
        _ => "OP30 leak test and pack",
    };
    let mut hints = vec![
        format!("DEMO {station} {operation}. F12: next station; all keep running."),
        "Operators EMP-1001 EMP-1002, inspector EMP-2001, line lead EMP-3001.".into(),
        "PIN: the badge's number (EMP-1001: 1001). Scan the badge, type the PIN, Enter.".into(),
        "Orders: WO-24001 (BC-200 x120) WO-24002 (BC-210 x60) WO-24003 (BC-200 x200)".into(),
        "WO-24004 is planned, not released: scanning it is refused.".into(),
    ];
    hints.extend(match station {
        "L1-S1" => vec![
            "Casting lot:    (01)00401234500012(10)C24-1107(30)400".to_owned(),
            "Wrong material: (01)00401234500029(10)C24-2210(30)300".into(),
            "Held lot:       (01)00401234500012(10)C24-1031(30)120".into(),
            "First part = first article: inspector EMP-2001, Shift+F2 Inspect.".into(),
        ],
        "L1-S2" => vec![
            "The OP10 tote: scan its id (shown in the queue under Waiting).".to_owned(),
            "Pistons: (01)00401234500111(10)P24-2201(30)500".into(),
            "Seals:   (01)00401234500210(10)S24-0815(30)500".into(),
            "Grease:  (01)00401234500319(10)G24-0101(30)5".into(),
            "Expired seals: (01)00401234500210(10)S23-0912(30)200".into(),
        ],
        _ => vec![
            "The OP20 tote: scan its id (shown in the queue under Waiting).".to_owned(),
            "Boxes: (01)00401234500418(10)B24-0007(30)1000".into(),
            "Every good unit gets a serial; F4 traces it back to its lots.".into(),
        ],
    });
    hints.push("Then @START. @PAUSE @RESUME @COMPLETE (closes the tote) @LOGOUT".into());
    hints
}

/// The first station's hints (kept for the single-station screens and tests).
pub fn login_hints() -> Vec<String> {
    login_hints_for(DEMO_LINE[0].0)
}

/// The station.toml the demo writes for each station (so a user can see and reuse a real config).
pub fn station_config_text(
    station: &str,
    plc: SocketAddr,
    central_url: &str,
    token: &str,
) -> String {
    let hints = login_hints_for(station)
        .iter()
        .map(|hint| format!("  {hint:?},"))
        .collect::<Vec<_>>()
        .join("\n");
    // The leak tester's reading, which OP30's plan takes from the PLC (the simulator's gauge).
    let values = if station == "L1-S3" {
        "[plc.map.values.leak_rate]\naddress = 48\nscale = 0.001\nunit = \"ml/min\"\n\n"
    } else {
        ""
    };
    format!(
        "# Written by `takt demo`; ports change at every start.\n\
         station = \"{station}\"\n\
         data_dir = \"{station}\"\n\n\
         [plc]\naddress = \"{plc}\"\n\n\
         {values}\
         [central]\nurl = \"{central_url}\"\ntoken = \"{token}\"\npull_interval_ms = 1000\n\n\
         [ui]\nkeymap = \"demo-keys.toml\"\nlogin_hints = [\n{hints}\n]\n\n\
         [printer]\nkind = \"file\"\npath = \"labels-{station}.zpl\"\n\n\
         [machine.stop_reasons]\n\"1\" = \"R-11\"\n\"2\" = \"R-12\"\n\"3\" = \"R-20\"\n\
         \"4\" = \"R-51\"\n\"5\" = \"R-31\"\n"
    )
}

/// Runs the demo: central, one simulated PLC per station, and the three stations of line L1 on this
/// terminal. `cycle` overrides every station's simulated cycle time.
pub fn run(dir: &Path, sim: SimConfig, cycle: Option<std::time::Duration>) -> anyhow::Result<()> {
    // It will hold central's database and the stations' configs with their tokens.
    crate::owner_only::create_dir_all(dir)
        .with_context(|| format!("cannot create demo folder {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve demo folder {}", dir.display()))?;
    let _log = crate::logging::to_file(&dir.join("logs"))?;
    let central_db = dir.join("central.db");
    crate::central::seed_demo(&central_db, chrono::Utc::now().date_naive())?;
    let keymap_path = dir.join("demo-keys.toml");
    std::fs::write(&keymap_path, DEMO_KEYMAP)
        .with_context(|| format!("cannot write {}", keymap_path.display()))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let central_url = runtime.block_on(async {
        let preferred: SocketAddr = DEMO_CENTRAL.parse().context("demo central address")?;
        // Port 8080 lets `takt trace` work without --central; if it is taken, any free port.
        let central = match crate::central::spawn(preferred, central_db.clone()).await {
            Ok(central) => central,
            Err(_) => crate::central::spawn(([127, 0, 0, 1], 0).into(), central_db.clone()).await?,
        };
        let url = central.url();
        let mut sims = Vec::new();
        let mut configs = Vec::new();
        for (station, cycle_ms) in DEMO_LINE {
            let token = crate::central::add_station(&central_db, station)?;
            let plc = crate::sim::spawn(
                ([127, 0, 0, 1], 0).into(),
                SimConfig {
                    cycle_time: cycle.unwrap_or(std::time::Duration::from_millis(cycle_ms)),
                    ..sim.clone()
                },
            )
            .await
            .with_context(|| format!("cannot start the PLC simulator of {station}"))?;
            let config_path = dir.join(format!("{station}.toml"));
            // It holds the station's token.
            crate::owner_only::write(
                &config_path,
                station_config_text(station, plc.local_addr(), &url, &token),
            )
            .with_context(|| format!("cannot write {}", config_path.display()))?;
            configs.push(StationConfig::load(&config_path)?);
            sims.push(plc);
        }
        tracing::info!(central = %url, "demo started");
        let keymap = crate::launch::load_keymap(&configs[0])?;
        let result = crate::launch::run_stations(configs, keymap).await;
        for plc in sims {
            plc.shutdown().await;
        }
        central.shutdown().await;
        result.map(|()| url)
    })?;
    println!(
        "Demo stopped. Its data stays in {} (run `takt demo` again to carry on, or delete the folder to start afresh).",
        dir.display()
    );
    println!(
        "Central ran at {central_url}; while the demo runs, `takt trace SERIAL --central {central_url}` shows a unit's genealogy."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every config the demo writes is one a station accepts; the leak tester's names its gauge.
    #[test]
    fn the_demo_station_configs_parse_and_the_leak_tester_reads_its_gauge() {
        for (station, _) in DEMO_LINE {
            let text = station_config_text(
                station,
                ([127, 0, 0, 1], 5020).into(),
                "http://127.0.0.1:8080",
                "token",
            );
            let config = StationConfig::parse(&text, Path::new("demo.toml"))
                .unwrap_or_else(|e| panic!("{station}: {e}"));
            let layout = config.plc.status_layout().expect("layout");
            assert_eq!(layout.reads_values(), station == "L1-S3", "{station}");
        }
    }
}
