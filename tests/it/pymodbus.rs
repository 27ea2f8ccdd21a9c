//! Interop: the station against a Modbus TCP server nobody on the team wrote, pymodbus from PyPI
//! (tests/peers/modbus_server.py serves pymodbus's stock datastore and runs no logic of its own).
//!
//! The station is configured from a `station.toml` whose `[plc.map]` moves every status signal off
//! its default address, keeps the counters as u32 low word first, puts the state and stop reason in
//! input registers and the interlock bit in a discrete input, numbers states with the PLC's own
//! codes, and writes its permit to a coil and its heartbeat and work order to moved holding
//! registers. This test plays the PLC program over Modbus (tokio-modbus): it moves the counters
//! across 65535, changes the state code, and reads back what the station wrote.
//!
//! pymodbus comes from PyPI: when `python3` does not already have the pinned version, the test makes
//! a venv in the target dir (`target/tmp/pymodbus-VERSION-venv`) and pip-installs it once; later
//! runs reuse it. No Python, no venv or no PyPI the first time is a failure saying so, never a skip.

use crate::support::{CASTING_C24_1107, wait_view};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};
use takt::config::StationConfig;
use takt::domain::machine::MachineCategory;
use takt::domain::{EventKind, PackMlState};
use takt::station::view::{PlcLink, View};
use takt::station::{CoreInput, Station};
use tokio_modbus::client::{Context, Reader, Writer};

/// The pymodbus release the peer is written against; the peer checks its addressing at start.
const PYMODBUS_VERSION: &str = "3.11.4";

/// Where the test (the PLC program) sets input register A and discrete input A: the peer serves
/// them as holding register / coil `MIRROR + A`.
const MIRROR: u16 = 10_000;

// The PLC's map, as the station config below describes it.
const HR_HEARTBEAT: u16 = 300;
const HR_EPOCH: u16 = 301;
const HR_UNIT_MODE: u16 = 302;
const HR_PROCESSED: u16 = 320;
const IR_STATE: u16 = 40;
const DI_INTERLOCK: u16 = 7;
const COIL_PERMIT: u16 = 20;
const HR_WORK_ORDER: u16 = 500;
const HR_STATION_HEARTBEAT: u16 = 502;
const HR_ANDON: u16 = 503;

// The PLC's own state codes.
const READY: u16 = 1;
const RUNNING: u16 = 10;
const FAULT: u16 = 20;
const WAITING: u16 = 30;
const PAUSED: u16 = 40;
/// PackML TR88's number for Execute; this PLC's table does not name it.
const TR88_EXECUTE: u16 = 6;

fn station_toml(port: u16) -> String {
    format!(
        r#"station = "L1-S1"
data_dir = "data"

[plc]
address = "127.0.0.1:{port}"
unit_id = 1
poll_interval_ms = 50
request_timeout_ms = 1000
connect_timeout_ms = 1000

# No status signal at its default address.
[plc.map.fields.heartbeat]
address = {HR_HEARTBEAT}
[plc.map.fields.epoch]
address = {HR_EPOCH}
[plc.map.fields.unit_mode]
address = {HR_UNIT_MODE}
[plc.map.fields.warning]
address = 303
[plc.map.fields.map_version]
address = 304
[plc.map.fields.stacklight_bits]
address = 305
[plc.map.fields.speed_x100]
address = 306
word_order = "low_first"
[plc.map.fields.last_cycle_ms]
address = 308
word_order = "low_first"
[plc.map.fields.recipe]
address = 310
word_order = "low_first"
# Counters: u32, low word first.
[plc.map.fields.processed]
address = {HR_PROCESSED}
width = "u32"
word_order = "low_first"
[plc.map.fields.defective]
address = 322
width = "u32"
word_order = "low_first"
[plc.map.fields.consumed]
address = 324
width = "u32"
word_order = "low_first"
[plc.map.fields.cycles]
address = 326
width = "u32"
word_order = "low_first"
# State and stop reason in input registers, the blocked bit a discrete input.
[plc.map.fields.state]
kind = "input"
address = {IR_STATE}
[plc.map.fields.stop_reason]
kind = "input"
address = 41
[plc.map.fields.interlock_bits]
kind = "discrete"
address = {DI_INTERLOCK}

# The PLC's own state codes.
[plc.map.states]
"{READY}" = "idle"
"{RUNNING}" = "execute"
"{FAULT}" = "aborted"
"{WAITING}" = "suspended"
"{PAUSED}" = "held"

[plc.map.commands.permit]
kind = "coil"
address = {COIL_PERMIT}
[plc.map.commands.work_order_numeric]
address = {HR_WORK_ORDER}
word_order = "low_first"
[plc.map.commands.station_heartbeat]
address = {HR_STATION_HEARTBEAT}
[plc.map.commands.andon_call]
address = {HR_ANDON}

[machine.categories]
held = "planned_downtime"

[central]
url = ""
"#
    )
}

// ---------------------------------------------------------------------------------------------
// pymodbus: found or installed once per target dir.

/// A Python that imports the pinned pymodbus: `python3` itself when it has that version, else the
/// venv in the target dir, made (once, under a lock) when missing. Panics saying what failed.
fn python() -> &'static Path {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PYTHON.get_or_init(find_or_install_pymodbus) {
        Ok(python) => python,
        Err(why) => {
            panic!("the pymodbus interop test cannot get pymodbus {PYMODBUS_VERSION}: {why}")
        }
    }
}

/// The pymodbus version `python` imports, if it imports one.
fn pymodbus_version(python: &Path) -> Option<String> {
    let out = Command::new(python)
        .args(["-c", "import pymodbus; print(pymodbus.__version__)"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn find_or_install_pymodbus() -> Result<PathBuf, String> {
    let system = PathBuf::from("python3");
    if pymodbus_version(&system).as_deref() == Some(PYMODBUS_VERSION) {
        return Ok(system);
    }
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let venv = tmp.join(format!("pymodbus-{PYMODBUS_VERSION}-venv"));
    let python = venv.join("bin").join("python");
    if pymodbus_version(&python).as_deref() == Some(PYMODBUS_VERSION) {
        return Ok(python);
    }
    fs::create_dir_all(tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let _lock = InstallLock::take(&tmp.join(format!("pymodbus-{PYMODBUS_VERSION}.lock")))?;
    // Another test run may have installed it while this one waited for the lock.
    if pymodbus_version(&python).as_deref() == Some(PYMODBUS_VERSION) {
        return Ok(python);
    }
    if venv.exists() {
        fs::remove_dir_all(&venv)
            .map_err(|e| format!("cannot remove the broken venv {}: {e}", venv.display()))?;
    }
    eprintln!(
        "pymodbus interop test: installing pymodbus {PYMODBUS_VERSION} from PyPI into {}",
        venv.display()
    );
    run(
        Command::new(&system).arg("-m").arg("venv").arg(&venv),
        "python3 -m venv (needs python3 3.10+ with venv; on Debian: apt-get install python3-venv)",
    )?;
    run(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            &format!("pymodbus=={PYMODBUS_VERSION}"),
        ]),
        "pip install from PyPI (PyPI must be reachable the first time)",
    )?;
    match pymodbus_version(&python) {
        Some(version) if version == PYMODBUS_VERSION => Ok(python),
        other => Err(format!(
            "after pip install, {} imports pymodbus {other:?}",
            python.display()
        )),
    }
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: cannot run {command:?}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let tail = |bytes: &[u8]| -> String {
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    };
    Err(format!(
        "{what} failed ({}):\n{}\n{}",
        out.status,
        tail(&out.stdout),
        tail(&out.stderr)
    ))
}

/// A lock file held while the venv is made, so two test runs sharing a target dir do not install
/// into the same venv at once. A lock older than [`InstallLock::STALE`] was left by a run that died.
struct InstallLock(PathBuf);

impl InstallLock {
    const STALE: Duration = Duration::from_secs(600);

    fn take(path: &Path) -> Result<InstallLock, String> {
        let deadline = Instant::now() + Self::STALE + Duration::from_secs(60);
        loop {
            match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(_) => return Ok(InstallLock(path.to_owned())),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|at| SystemTime::now().duration_since(at).ok());
                    if age.is_some_and(|age| age > Self::STALE) {
                        let _ = fs::remove_file(path);
                        continue;
                    }
                    if Instant::now() > deadline {
                        return Err(format!("{} stays locked", path.display()));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// The peer process.

/// The running pymodbus server; killed when dropped, whether the test passed or panicked.
struct Peer {
    child: Child,
    /// Held open: the peer ends by itself when it closes (if this process dies without dropping).
    stdin: Option<ChildStdin>,
    port: u16,
    stderr: PathBuf,
}

impl Peer {
    fn start(python: &Path, dir: &Path) -> Peer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/modbus_server.py");
        let stderr = dir.join("pymodbus.stderr");
        let log = File::create(&stderr).expect("peer log file");
        let mut child = Command::new(python)
            .arg(&script)
            .args(["127.0.0.1", "0"])
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} {}: {e}",
                    python.display(),
                    script.display()
                )
            });
        let stdout = child.stdout.take().expect("peer stdout");
        let stdin = child.stdin.take();
        // From here on the guard owns the process: any panic below kills it.
        let mut peer = Peer {
            child,
            stdin,
            port: 0,
            stderr,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep draining so the peer never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(Ok(line))) => line,
            other => panic!("the pymodbus peer did not say READY within 30 s: {other:?}"),
        };
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some("READY"), "peer said {line:?}");
        peer.port = words
            .next()
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        assert!(
            line.ends_with(&format!("pymodbus {PYMODBUS_VERSION}")),
            "the peer runs another pymodbus: {line:?}"
        );
        peer
    }

    fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let text = fs::read_to_string(&self.stderr).unwrap_or_default();
            eprintln!("--- pymodbus peer stderr ---\n{text}--- end ---");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The test playing the PLC program, over Modbus.

struct Plc {
    ctx: Context,
}

fn low_first(value: u32) -> [u16; 2] {
    [value as u16, (value >> 16) as u16]
}

impl Plc {
    async fn connect(address: SocketAddr) -> Plc {
        let ctx = tokio_modbus::client::tcp::connect_slave(address, tokio_modbus::Slave(1))
            .await
            .expect("connect to the pymodbus peer");
        Plc { ctx }
    }

    async fn write(&mut self, address: u16, words: &[u16]) {
        self.ctx
            .write_multiple_registers(address, words)
            .await
            .expect("transport")
            .unwrap_or_else(|e| panic!("pymodbus refused HR{address} = {words:?}: {e}"));
    }

    async fn write_bit(&mut self, address: u16, on: bool) {
        self.ctx
            .write_single_coil(address, on)
            .await
            .expect("transport")
            .unwrap_or_else(|e| panic!("pymodbus refused coil {address}: {e}"));
    }

    async fn holding(&mut self, address: u16, count: u16) -> Vec<u16> {
        self.ctx
            .read_holding_registers(address, count)
            .await
            .expect("transport")
            .expect("pymodbus answers")
    }

    async fn coils(&mut self, address: u16, count: u16) -> Vec<bool> {
        let mut bits = self
            .ctx
            .read_coils(address, count)
            .await
            .expect("transport")
            .expect("pymodbus answers");
        bits.truncate(usize::from(count));
        bits
    }

    /// The processed and defective counters, in one request (never half a value), low word first.
    async fn counters(&mut self, processed: u32, defective: u32) {
        let [p0, p1] = low_first(processed);
        let [d0, d1] = low_first(defective);
        self.write(HR_PROCESSED, &[p0, p1, d0, d1]).await;
    }

    /// The state code and stop reason (input registers 40, 41), in one request.
    async fn state(&mut self, code: u16, stop_reason: u16) {
        self.write(MIRROR + IR_STATE, &[code, stop_reason]).await;
    }

    async fn blocked(&mut self, on: bool) {
        self.write_bit(MIRROR + DI_INTERLOCK, on).await;
    }
}

/// A machine transition as the station records it: (PackML code, stop reason, blocked, category).
type Reading = (u16, u16, bool, MachineCategory);

/// What the PLC program changes in one step of the state walk.
#[derive(Clone, Copy)]
enum Change {
    /// Its state code and stop reason.
    State(u16, u16),
    /// Its blocked bit (the discrete input).
    Blocked(bool),
}

/// The machine transitions the station recorded.
fn machine_log(db: &Path) -> Vec<Reading> {
    let conn = takt::store::connect(db, true).expect("read the station log");
    takt::store::read_events_after(&conn, 0, u64::MAX)
        .expect("events")
        .into_iter()
        .filter_map(|event| match event.kind {
            EventKind::MachineStateChanged {
                packml,
                stop_reason,
                blocked,
                category,
                ..
            } => Some((packml, stop_reason, blocked, category)),
            _ => None,
        })
        .collect()
}

/// Waits until the station's latest recorded machine transition is `expected`.
async fn wait_machine(db: &Path, what: &str, expected: Reading) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = machine_log(db);
        if log.last() == Some(&expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after 10 s waiting for: {what}: {expected:?} recorded last; recorded:\n{log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls `check` until it holds, or fails the test after ten seconds naming what it waited for.
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "timed out after 10 s waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn scan(station: &Station, text: &str) {
    station
        .send(CoreInput::Scan(text.into()))
        .await
        .expect("core running");
}

/// (produced, rejected, good) of the running order.
fn counts(view: &View) -> (u64, u64, u64) {
    view.active
        .as_ref()
        .map_or((0, 0, 0), |a| (a.produced, a.rejected, a.good))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_station_reads_and_writes_a_foreign_map_on_a_pymodbus_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let peer = {
        let dir = dir.path().to_owned();
        tokio::task::spawn_blocking(move || Peer::start(python(), &dir))
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
    };

    // The PLC's image before the station first looks: counters just below the 16-bit boundary.
    const PROCESSED_0: u32 = 65_450;
    const DEFECTIVE_0: u32 = 65_530;
    let mut plc = Plc::connect(peer.address()).await;
    plc.write(HR_EPOCH, &[7, 1]).await; // epoch, unit mode
    plc.counters(PROCESSED_0, DEFECTIVE_0).await;
    plc.state(READY, 0).await;
    // The PLC program's heartbeat, on its own connection.
    let beating = {
        let mut plc = Plc::connect(peer.address()).await;
        tokio::spawn(async move {
            let mut beat: u16 = 0;
            loop {
                beat = beat.wrapping_add(1);
                plc.write(HR_HEARTBEAT, &[beat]).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    // The station, from its config file, as `takt station --config` starts it.
    let config_path = dir.path().join("station.toml");
    fs::write(&config_path, station_toml(peer.port)).expect("write station.toml");
    let check = Command::new(env!("CARGO_BIN_EXE_takt"))
        .args(["station", "--config"])
        .arg(&config_path)
        .arg("--check-config")
        .output()
        .expect("takt station --check-config");
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        said.contains(
            "PLC reads per poll: holding register 300..327 (28 registers), input register 40..41 \
             (2 registers), discrete input 7..7 (1 bits); counters wrap at 32 bits."
        ),
        "{said}"
    );
    let config = StationConfig::load(&config_path).expect("config");
    fs::create_dir_all(&config.data_dir).expect("data dir");
    let db = config.db_path();
    drop(crate::support::station_store_with_demo_master(&db).await);
    let setup = takt::launch::setup_from_config(&config).expect("setup");
    assert_eq!(setup.options.counter_bits, 32);
    let mut station = Station::start(setup).await.expect("station");

    // First contact: the PLC's own code 1 is Idle; the counters are a baseline, not production.
    let view = wait_view(&mut station.view, "online and idle by code 1", |v| {
        v.plc.link == PlcLink::Online && v.plc.state == Some(PackMlState::Idle)
    })
    .await;
    assert_eq!(view.unassigned_produced, 0, "a baseline is not units");
    assert!(!view.plc.permit);
    wait_machine(
        &db,
        "the idle reading recorded",
        (4, 0, false, MachineCategory::Idle),
    )
    .await;

    for text in ["EMP-1001", "1001", "WO-24001", CASTING_C24_1107, "@START"] {
        scan(&station, text).await;
    }
    wait_view(&mut station.view, "permit to run", |v| v.plc.permit).await;

    // The station's writes land where the map says: the permit on coil 20, the work order low
    // word first in HR500-501, its heartbeat moving in HR502; nothing in the default block.
    let mut reader = Plc::connect(peer.address()).await;
    let mut first_beat = None;
    until(
        "permit, work order and a moving station heartbeat at the mapped addresses",
        async || {
            let permit = reader.coils(COIL_PERMIT, 1).await == [true];
            let block = reader.holding(HR_WORK_ORDER, 4).await;
            let beat = *first_beat.get_or_insert(block[2]);
            permit && block[..2] == [24_001, 0] && block[2] != beat && block[3] == 0
        },
    )
    .await;
    assert_eq!(
        reader.holding(100, 12).await,
        [0; 12],
        "nothing written to the default command block"
    );
    assert_eq!(
        reader.coils(0, 40).await,
        (0..40).map(|a| a == COIL_PERMIT).collect::<Vec<_>>(),
        "the permit is the only coil set"
    );

    // The PLC runs on the permit: its code 10 is Execute.
    plc.state(RUNNING, 0).await;
    wait_view(&mut station.view, "Execute by code 10", |v| {
        v.plc.state == Some(PackMlState::Execute)
    })
    .await;

    // Counts, each step booked exactly. The second step takes both counters across 65535 into the
    // high word, the third counts on above it. Read in the wrong word order the low word is taken
    // for the high one (65 530, words FFFA 0000, reads 0xFFFA_0000): the first step then books
    // 4 294 574 080 units (tried), not 80.
    for (processed, defective) in [(65_530, 65_533), (65_600, 65_537), (65_700, 65_545)] {
        plc.counters(processed, defective).await;
        let produced = u64::from(processed - PROCESSED_0);
        let rejected = u64::from(defective - DEFECTIVE_0);
        let view = wait_view(
            &mut station.view,
            &format!("{produced} units booked"),
            |v| counts(v).0 >= produced,
        )
        .await;
        assert_eq!(
            counts(&view),
            (produced, rejected, produced - rejected),
            "booked (produced, rejected, good) after the PLC counted {processed}/{defective}"
        );
        assert_eq!(view.unassigned_produced, 0);
    }

    // The custom state table, reading by reading (each waited for in the station's log).
    use MachineCategory as C;
    let steps: [(&str, Change, PackMlState, Reading); 7] = [
        (
            "fault: code 20 with stop reason 3 is Aborted",
            Change::State(FAULT, 3),
            PackMlState::Aborted,
            (9, 3, false, C::UnplannedDowntime),
        ),
        (
            "code 40 is Held, planned downtime by [machine.categories]",
            Change::State(PAUSED, 0),
            PackMlState::Held,
            (11, 0, false, C::PlannedDowntime),
        ),
        (
            "the blocked discrete input while held",
            Change::Blocked(true),
            PackMlState::Held,
            (11, 0, true, C::PlannedDowntime),
        ),
        (
            "code 30 is Suspended, and blocked",
            Change::State(WAITING, 0),
            PackMlState::Suspended,
            (5, 0, true, C::Blocked),
        ),
        (
            "code 6 is not in the PLC's table: no PackML state, not TR88's Execute",
            Change::State(TR88_EXECUTE, 0),
            PackMlState::Other(TR88_EXECUTE),
            (0, 0, true, C::Idle),
        ),
        (
            "unblocked, still the unknown code",
            Change::Blocked(false),
            PackMlState::Other(TR88_EXECUTE),
            (0, 0, false, C::Idle),
        ),
        (
            "code 10 runs again",
            Change::State(RUNNING, 0),
            PackMlState::Execute,
            (6, 0, false, C::Running),
        ),
    ];
    for (what, change, state, recorded) in steps {
        match change {
            Change::State(code, stop_reason) => plc.state(code, stop_reason).await,
            Change::Blocked(on) => plc.blocked(on).await,
        }
        let view = wait_view(&mut station.view, what, |v| v.plc.state == Some(state)).await;
        assert_eq!(view.plc.stop_reason, recorded.1, "{what}");
        wait_machine(&db, what, recorded).await;
    }

    // The andon call goes to HR503.
    scan(&station, "@ANDON-HELP").await;
    until("andon call in HR503", async || {
        reader.holding(HR_ANDON, 1).await == [1]
    })
    .await;

    // Paused: the permit coil drops, the heartbeat goes on; the PLC goes back to its code 1.
    scan(&station, "@PAUSE").await;
    until("permit coil off", async || {
        reader.coils(COIL_PERMIT, 1).await == [false]
    })
    .await;
    let beat = reader.holding(HR_STATION_HEARTBEAT, 1).await;
    until("station heartbeat still moving", async || {
        reader.holding(HR_STATION_HEARTBEAT, 1).await != beat
    })
    .await;
    plc.state(READY, 0).await;
    let view = wait_view(&mut station.view, "idle again", |v| {
        v.plc.state == Some(PackMlState::Idle)
    })
    .await;
    assert_eq!(counts(&view), (250, 15, 235), "nothing booked since");
    assert!(!view.plc.stale, "the PLC heartbeat was moving");
    assert_eq!(
        view.plc.alarm, None,
        "pymodbus accepted every read and write"
    );
    wait_machine(
        &db,
        "the idle reading recorded",
        (4, 0, false, MachineCategory::Idle),
    )
    .await;

    // The whole recorded story, no reading more or less.
    assert_eq!(
        machine_log(&db),
        [
            (4, 0, false, C::Idle),
            (6, 0, false, C::Running),
            (9, 3, false, C::UnplannedDowntime),
            (11, 0, false, C::PlannedDowntime),
            (11, 0, true, C::PlannedDowntime),
            (5, 0, true, C::Blocked),
            (0, 0, true, C::Idle),
            (0, 0, false, C::Idle),
            (6, 0, false, C::Running),
            (4, 0, false, C::Idle),
        ]
    );

    beating.abort();
    station.shutdown().await;
    drop(peer);
}
