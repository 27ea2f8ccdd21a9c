//! The `takt` binary as a user meets it: help, version, config checks, bad input on stderr before any
//! terminal is taken over, station registration, and `audit verify` naming a tampered event.

use crate::support::station_id;
use std::path::Path;
use std::process::{Command, Output};
use takt::store::Store;

fn takt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_takt"))
        .args(args)
        .output()
        .expect("run takt")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_subcommand_has_help_and_there_is_a_version() {
    let version = takt(&["--version"]);
    assert!(version.status.success());
    assert!(text(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
    for args in [
        vec!["--help"],
        vec!["station", "--help"],
        vec!["central", "--help"],
        vec!["central", "station", "add", "--help"],
        vec!["plc-sim", "--help"],
        vec!["demo", "--help"],
        vec!["audit", "verify", "--help"],
        vec!["scan", "decode", "--help"],
        vec!["label", "zpl", "--help"],
        vec!["label", "print", "--help"],
        vec!["trace", "--help"],
        vec!["central", "lot", "hold", "--help"],
        vec!["central", "lot", "release", "--help"],
        vec!["aql", "--help"],
        vec!["quality", "pareto", "--help"],
        vec!["quality", "holds", "--help"],
        vec!["quality", "ncrs", "--help"],
        vec!["quality", "yield", "--help"],
    ] {
        let out = takt(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("Usage"), "{args:?}");
    }
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write file");
    path.display().to_string()
}

#[test]
fn the_printed_default_config_checks_clean() {
    let dir = tempfile::tempdir().expect("temp dir");
    let printed = takt(&["station", "--print-default-config"]);
    assert!(printed.status.success());
    let config = write(dir.path(), "station.toml", &text(&printed.stdout));
    let check = takt(&["station", "--config", &config, "--check-config"]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(text(&check.stdout).contains("valid"));
    let keymap = takt(&["station", "--config", &config, "--print-keymap"]);
    assert!(keymap.status.success());
    assert!(text(&keymap.stdout).contains("start"));
}

#[test]
fn check_config_shows_the_part_record_fifo_in_the_read_plan() {
    let dir = tempfile::tempdir().expect("temp dir");
    let off = write(dir.path(), "off.toml", "station = \"L1-S1\"\n");
    let out = takt(&["station", "--config", &off, "--check-config"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("holding register 0..23 (24 registers)"),
        "{stdout}"
    );
    assert!(stdout.contains("Part records: off"), "{stdout}");

    let on = write(
        dir.path(),
        "on.toml",
        "station = \"L1-S1\"\n[plc]\npart_records = true\n",
    );
    let out = takt(&["station", "--config", &on, "--check-config"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("holding register 0..47 (48 registers)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("record_seq at holding register 32, serial at holding register 38")
            && stdout.contains("ack written to holding register 104"),
        "{stdout}"
    );

    let moved = write(
        dir.path(),
        "moved.toml",
        "station = \"L1-S1\"\n[plc]\npart_records = true\n\
         [plc.map.fields.record_serial]\naddress = 20\n",
    );
    let out = takt(&["station", "--config", &moved, "--check-config"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("moved.toml") && stderr.contains("overlap"),
        "{stderr}"
    );
}

#[test]
fn bad_configs_and_keymaps_are_clear_errors_on_stderr() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        (
            "unknown.toml",
            "station = \"L1-S1\"\nstaton_name = \"x\"\n",
            "staton_name",
        ),
        ("broken.toml", "station = \"L1-S1\n", "broken.toml"),
        (
            "address.toml",
            "station = \"L1-S1\"\n[plc]\naddress = \"plc\"\n",
            "host:port",
        ),
        ("missing.toml", "[plc]\n", "station"),
    ];
    for (name, body, expected) in cases {
        let config = write(dir.path(), name, body);
        // Even without --check-config, a bad file must fail before the terminal is taken over.
        let out = takt(&["station", "--config", &config]);
        assert!(!out.status.success(), "{name} was accepted");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(expected) && stderr.contains(name),
            "{name}: {stderr}"
        );
        assert!(text(&out.stdout).is_empty(), "nothing drawn for {name}");
    }
    write(
        dir.path(),
        "site-keys.toml",
        "[run]\nkeymap = [\n  { on = \"f5\", run = \"launch\" },\n]\n",
    );
    let config = write(
        dir.path(),
        "station.toml",
        "station = \"L1-S1\"\n[ui]\nkeymap = \"site-keys.toml\"\n",
    );
    let out = takt(&["station", "--config", &config, "--check-config"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("site-keys.toml:3") && stderr.contains("launch"),
        "{stderr}"
    );
    let out = takt(&[
        "station",
        "--config",
        &dir.path().join("nowhere.toml").display().to_string(),
    ]);
    assert!(text(&out.stderr).contains("cannot read config file"));
}

#[test]
fn station_registration_prints_a_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("central.db").display().to_string();
    let out = takt(&["central", "station", "add", "L1-S1", "--db", &db]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    assert_eq!(token.len(), 64, "{token}");
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn audit_verify_names_the_first_broken_link() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("station.db");
    {
        let mut store = Store::open(&db, &station_id()).expect("store");
        let mut state = store.load_state().expect("state");
        let now = chrono::Utc::now();
        let events = (0..5)
            .map(|i| takt::domain::NewEvent {
                at: now,
                actor: takt::domain::Actor::Station,
                kind: takt::domain::EventKind::ScanRefused {
                    scanned: format!("X{i}"),
                    reason: "test".into(),
                    entry: None,
                },
            })
            .collect();
        store.append(&mut state, events).expect("append");
    }
    let path = db.display().to_string();
    let out = takt(&["audit", "verify", "--db", &path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("OK: 5 events"));

    // The log refuses edits; someone with the sqlite shell drops the trigger and edits event 3.
    let conn = rusqlite::Connection::open(&db).expect("open");
    let refused = conn.execute("UPDATE event_log SET actor = 'x' WHERE seq = 3", []);
    assert!(
        refused.is_err(),
        "the append-only trigger must refuse updates"
    );
    assert!(
        conn.execute("DELETE FROM event_log WHERE seq = 5", [])
            .is_err()
    );
    conn.execute_batch(
        "DROP TRIGGER event_log_no_update;
         UPDATE event_log SET body = replace(body, 'X2', 'X9') WHERE seq = 3;",
    )
    .expect("tamper");
    drop(conn);
    let out = takt(&["audit", "verify", "--db", &path]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("BROKEN at event 3"), "{stdout}");
}

#[test]
fn scan_decode_reads_gs1_labels_and_refuses_broken_ones() {
    let out = takt(&["scan", "decode", "]C1010040123450001210C24-1107<GS>30400"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let line = |ai: &str| {
        stdout
            .lines()
            .find(|line| line.trim_start().starts_with(ai))
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    assert_eq!(line("(10)"), "(10) BATCH/LOT C24-1107", "{stdout}");
    assert_eq!(line("(30)"), "(30) VAR. COUNT 400", "{stdout}");

    let out = takt(&["scan", "decode", "--json", "0100401234500012\\x1d"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["kind"], "gs1");
    assert_eq!(json["elements"][0]["raw"], "00401234500012");

    let out = takt(&["scan", "decode", "(10)ABC(17)261301"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stdout).trim(),
        "refused: (10) BATCH/LOT ABC (17) USE BY 261301: invalid month 13"
    );
}

#[test]
fn aql_prints_the_plan_and_refuses_values_the_standard_does_not_have() {
    let out = takt(&["aql", "--lot-size", "1000", "--level", "II", "--aql", "2.5"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "Code letter:  J",
        "Sample size:  80 units",
        "Accept (Ac):  5",
        "Reject (Re):  6",
    ] {
        assert!(stdout.contains(expected), "{expected}: {stdout}");
    }

    let out = takt(&[
        "aql",
        "--lot-size",
        "1000",
        "--aql",
        "2.5",
        "--reduced",
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["code_letter"], "J");
    assert_eq!(json["sample_size"], 32);
    assert_eq!(
        (json["accept"].as_u64(), json["reject"].as_u64()),
        (Some(2), Some(5))
    );
    assert_eq!(json["severity"], "reduced");

    let out = takt(&[
        "aql",
        "--lot-size",
        "1000",
        "--aql",
        "2.5",
        "--tightened",
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (json["accept"].as_u64(), json["reject"].as_u64()),
        (Some(3), Some(4))
    );

    // An arrow: Table I gives F, the plan is E's.
    let out = takt(&["aql", "--lot-size", "100", "--aql", "1.0"]);
    assert!(text(&out.stdout).contains("Code letter:  E (Table I gives F"));

    let out = takt(&["aql", "--lot-size", "1000", "--aql", "2.4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("AQL 2.4 is not one of the standard's values"));
    let out = takt(&["aql", "--lot-size", "1000", "--aql", "2.5", "--level", "IV"]);
    assert!(text(&out.stderr).contains("inspection level IV is not one of"));
    let out = takt(&["aql", "--lot-size", "0", "--aql", "2.5"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("at least 1 unit"));
}

#[test]
fn label_zpl_previews_and_label_print_writes_a_file() {
    let wip = [
        "--lot",
        "L1-S1-261125-000001",
        "--material",
        "BC-200-M",
        "--qty",
        "20",
    ];
    let out = takt(&[&["label", "zpl"][..], &wip].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let zpl = text(&out.stdout);
    assert!(zpl.starts_with("^XA") && zpl.ends_with("^XZ\n"), "{zpl}");
    assert!(
        zpl.contains("^FD>;>8240BC-200-M>810L1-S1-261125-000001>83020>811"),
        "{zpl}"
    );
    assert!(
        text(&out.stderr).contains("GS1 data: 240BC-200-M<GS>10L1-S1-261125-000001<GS>3020<GS>11")
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("labels.zpl");
    let to = format!("file:{}", file.display());
    let out = takt(&[&["label", "print", "--to", &to][..], &wip].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        format!(
            "lot L1-S1-261125-000001 sent to label file {}",
            file.display()
        )
    );
    assert!(
        std::fs::read_to_string(&file)
            .expect("file")
            .starts_with("^XA")
    );

    let out = takt(&["label", "zpl", "--lot", "LOT 1", "--material", "M"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("character ' ' is not allowed"),
        "{}",
        text(&out.stderr)
    );
    let out = takt(&[&["label", "print", "--to", "lpt1"][..], &wip].concat());
    assert!(text(&out.stderr).contains("expected file:PATH or tcp:HOST:PORT"));
}

#[test]
fn plc_sim_help_explains_scenarios_and_a_bad_spec_is_refused() {
    let help = takt(&["plc-sim", "--help"]);
    assert!(help.status.success());
    let help = text(&help.stdout);
    for expected in [
        "--scenario <SPEC>",
        "fault-every=30s|50units[,reason=1][,clear-after=10s]",
        "blocked-every=60s,for=5s",
        "slow-replies=1500ms",
        "drop-every=20s",
        "restart-at=45s",
        "--counter-width",
        "takt plc-sim --cycle-ms 500 --scenario fault-every=30s",
    ] {
        assert!(help.contains(expected), "help lacks {expected:?}:\n{help}");
    }

    for (args, says) in [
        (
            vec!["plc-sim", "--scenario", "fault-every=30"],
            "give a whole number with ms, s or m",
        ),
        (
            vec!["plc-sim", "--scenario", "meteor-strike=1s"],
            "unknown scenario",
        ),
        (
            vec!["plc-sim", "--scenario", "blocked-every=5s"],
            "needs for=",
        ),
        (
            vec!["plc-sim", "--counter-width", "24"],
            "possible values: 16, 32",
        ),
        (
            vec![
                "plc-sim",
                "--counter-width",
                "16",
                "--start-processed",
                "70000",
            ],
            "16-bit counter",
        ),
    ] {
        let out = takt(&args);
        assert!(!out.status.success(), "{args:?} was accepted");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
