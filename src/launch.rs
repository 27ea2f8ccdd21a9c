//! Starting a station from its configuration: keymap, channels, tasks, terminal. Shared by
//! `takt station` and `takt demo`.

use crate::clock::SystemClock;
use crate::config::StationConfig;
use crate::domain::StationId;
use crate::plc::PollerConfig;
use crate::station::{Station, StationOptions, StationSetup};
use crate::sync::SyncConfig;
use crate::tui::keymap::Keymap;
use crate::tui::run::Exit;
use crate::tui::terminal::{TerminalGuard, ring_bell};
use crate::tui::{App, UiLinks, UiOptions};
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;

/// Loads the shipped keymap plus the site file the config names. Errors name file, line and key.
pub fn load_keymap(config: &StationConfig) -> anyhow::Result<Keymap> {
    let site = match &config.ui.keymap {
        Some(path) => Some((
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read keymap file {}", path.display()))?,
            path.display().to_string(),
        )),
        None => None,
    };
    Ok(Keymap::load(
        crate::tui::keymap::DEFAULT_KEYMAP,
        crate::tui::keymap::DEFAULT_KEYMAP_NAME,
        site.as_ref()
            .map(|(text, name)| (text.as_str(), name.as_str())),
    )?)
}

/// The station set-up a configuration describes.
pub fn setup_from_config(config: &StationConfig) -> anyhow::Result<StationSetup> {
    let station = StationId::new(config.station.clone());
    let layout = config
        .plc
        .status_layout()
        .map_err(|error| anyhow::anyhow!("config: {error}"))?;
    let counter_bits = layout.counter_bits();
    let commands = config
        .plc
        .command_layout()
        .map_err(|error| anyhow::anyhow!("config: {error}"))?;
    let plc = PollerConfig {
        layout,
        commands,
        address: config.plc.address.clone(),
        unit_id: config.plc.unit_id,
        poll_interval: config.poll_interval(),
        request_timeout: Duration::from_millis(config.plc.request_timeout_ms),
        connect_timeout: Duration::from_millis(config.plc.connect_timeout_ms),
        ..PollerConfig::default()
    };
    let sync = if config.central.url.trim().is_empty() {
        None
    } else {
        Some(SyncConfig {
            pull_interval: Duration::from_millis(config.central.pull_interval_ms),
            request_timeout: Duration::from_millis(config.central.request_timeout_ms),
            trusted_ca: config.central_ca()?,
            ..SyncConfig::new(
                config.central.url.trim().trim_end_matches('/').to_owned(),
                config.central_token()?,
                station.clone(),
                config.db_path(),
            )
        })
    };
    Ok(StationSetup {
        station,
        db_path: config.db_path(),
        plc: Some(plc),
        sync,
        clock: Arc::new(SystemClock),
        options: StationOptions {
            patterns: config.codes.patterns(),
            output_id_pattern: config.output.id_pattern.clone(),
            duplicate_window: chrono::Duration::milliseconds(
                i64::try_from(config.output.duplicate_scan_window_ms).unwrap_or(1500),
            ),
            printer: Some(crate::label::PrinterSettings::from_config(&config.printer)),
            counter_bits,
            categories: config
                .machine
                .table()
                .map_err(|error| anyhow::anyhow!("config: {error}"))?,
            stop_reasons: config
                .machine
                .stop_reasons()
                .map_err(|error| anyhow::anyhow!("config: {error}"))?,
            calendar: config
                .calendar
                .calendar()
                .map_err(|error| anyhow::anyhow!("config: {error}"))?,
            spc_rules: config
                .quality
                .rules()
                .map_err(|error| anyhow::anyhow!("config: {error}"))?,
        },
    })
}

/// Runs the station with its TUI on the real terminal until the operator quits.
pub async fn run_station(config: StationConfig, keymap: Keymap) -> anyhow::Result<()> {
    run_stations(vec![config], keymap).await
}

/// One station of those a terminal runs, with its screen state kept while another is shown.
struct Shown {
    station: Station,
    app: App,
    links: UiLinks,
}

/// Runs several stations on one terminal (the demo walks a whole line): every station keeps working
/// in the background; the next-station key shows the next one as it was left.
pub async fn run_stations(configs: Vec<StationConfig>, keymap: Keymap) -> anyhow::Result<()> {
    // Every config checked before any station starts, so a bad one leaves nothing running.
    let scanners = configs
        .iter()
        .map(|config| {
            config
                .scanner
                .settings()
                .map_err(|message| anyhow::anyhow!("config: {message}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut shown: Vec<Shown> = Vec::new();
    for (config, scanner) in configs.iter().zip(scanners) {
        let started = match setup_from_config(config) {
            Ok(setup) => Station::start(setup).await,
            Err(error) => Err(error),
        };
        let mut station = match started {
            Ok(station) => station,
            Err(error) => {
                stop_all(shown).await;
                return Err(error);
            }
        };
        let notices = std::mem::replace(
            &mut station.notices,
            tokio::sync::mpsc::unbounded_channel().1,
        );
        let links = UiLinks {
            core: station.inputs.clone(),
            view: station.view.clone(),
            notices,
            bell: Box::new(ring_bell),
            frames: None,
            tracer: Some(station.tracer.clone()),
        };
        let options = UiOptions {
            bell: config.ui.bell,
            color: std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty()),
            login_hints: config.ui.login_hints.clone(),
        };
        let app =
            App::new(keymap.clone(), station.view.borrow().clone(), options).with_scanner(scanner);
        shown.push(Shown {
            station,
            app,
            links,
        });
    }
    let result = match TerminalGuard::enter().context("cannot take over the terminal") {
        Ok(mut guard) => {
            let mut input = crossterm::event::EventStream::new();
            let mut current = 0;
            loop {
                let Some(Shown { app, links, .. }) = shown.get_mut(current) else {
                    break Ok(());
                };
                match crate::tui::run(&mut guard.terminal, &mut input, app, links).await {
                    // The next station's first frame is drawn as a diff over this one's: nothing
                    // to clear.
                    Ok(Exit::NextStation) => current = (current + 1) % shown.len(),
                    Ok(Exit::Quit) => break Ok(()),
                    Err(error) => break Err(error),
                }
            }
        }
        Err(error) => Err(error),
    };
    stop_all(shown).await;
    result
}

async fn stop_all(shown: Vec<Shown>) {
    for Shown {
        station,
        app,
        links,
    } in shown
    {
        // The links hold a sender to the core: let go first, so the core can stop.
        drop((app, links));
        station.shutdown().await;
    }
}
