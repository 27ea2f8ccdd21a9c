//! `takt`: thin entry point. Parse the command line, set up logging, validate configuration (loudly,
//! before the terminal is taken over), then run the chosen subcommand.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use takt::config::{DEFAULT_STATION_CONFIG, StationConfig};

#[derive(Parser)]
#[command(
    name = "takt",
    version,
    about = "Takt: a shop-floor Manufacturing Execution System"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run the workstation terminal UI (talks to its PLC and to central).
    Station(StationArgs),
    /// Run the central backend, or administer it.
    Central(CentralArgs),
    /// Run a PLC simulator speaking Modbus TCP with Takt's default register map.
    #[command(after_help = SIM_EXAMPLE)]
    PlcSim(SimArgs),
    /// Start central, three PLC simulators and the three stations of demo line L1 on this
    /// terminal (F12 walks the line), with demo data.
    Demo(DemoArgs),
    /// Check the tamper-evident event log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Look at barcode data as the station reads it.
    Scan {
        #[command(subcommand)]
        command: ScanCommand,
    },
    /// Output labels: preview their ZPL or print one.
    Label {
        #[command(subcommand)]
        command: LabelCommand,
    },
    /// Show a lot's or serial's genealogy from central: what it was made from, or with --forward
    /// everything made from it and the finished units that contain it (the recall list). Exits 2
    /// when central does not know the lot.
    Trace(TraceArgs),
    /// Quality figures from central.
    Quality {
        #[command(subcommand)]
        command: QualityCommand,
    },
    /// The ISO 2859-1 / ANSI Z1.4 single sampling plan for a lot: code letter, sample size, Ac, Re.
    #[command(after_help = AQL_EXAMPLE)]
    Aql(AqlArgs),
    /// ISO 22400-2 KPIs from central.
    Kpi {
        #[command(subcommand)]
        command: KpiCommand,
    },
}

#[derive(Subcommand)]
enum QualityCommand {
    /// The defect Pareto: defects found at inspection, largest first, by defect code, product,
    /// station or operation, over a window (default: the last 7 days).
    #[command(after_help = PARETO_EXAMPLE)]
    Pareto(ParetoArgs),
    /// Every lot on hold plant-wide now: who held it, where, when and why, its open NCR and
    /// whether rework is pending.
    Holds(HoldsArgs),
    /// Nonconformance reports: the open ones (default), or --closed, or --all.
    Ncrs(NcrsArgs),
    /// First-pass yield per operation of a line, rolled throughput yield, scrap and rework rates
    /// over a window (default: the last 7 days).
    #[command(after_help = YIELD_EXAMPLE)]
    Yield(YieldArgs),
}

const YIELD_EXAMPLE: &str = "\
Examples:
  takt quality yield --line L1                          # the last 7 days
  takt quality yield --line L1 --from 2026-11-25T06:00:00Z --to 2026-11-26T06:00:00Z --json";

#[derive(Args)]
struct HoldsArgs {
    /// Print central's JSON instead of words.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    to_central: CentralQuery,
}

#[derive(Args)]
struct NcrsArgs {
    /// Closed NCRs instead of open ones.
    #[arg(long, conflicts_with = "all")]
    closed: bool,
    /// Open and closed NCRs.
    #[arg(long)]
    all: bool,
    /// Print central's JSON instead of words.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    to_central: CentralQuery,
}

#[derive(Args)]
struct YieldArgs {
    /// The line; may be left out when central knows one line only.
    #[arg(long)]
    line: Option<String>,
    /// Start of the window, RFC 3339.
    #[arg(long, value_parser = parse_instant)]
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// End of the window (exclusive), RFC 3339; default now.
    #[arg(long, value_parser = parse_instant)]
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// Print central's JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    to_central: CentralQuery,
}

const PARETO_EXAMPLE: &str = "\
Examples:
  takt quality pareto                                   # by defect code, the last 7 days
  takt quality pareto --by station --json
  takt quality pareto --by product --from 2026-11-25T06:00:00Z --to 2026-11-26T06:00:00Z";

#[derive(Args)]
struct ParetoArgs {
    /// Group by code, product, station or operation.
    #[arg(long, default_value = "code", value_parser = parse_pareto_by)]
    by: takt::central::ParetoBy,
    /// Start of the window, RFC 3339.
    #[arg(long, value_parser = parse_instant)]
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// End of the window (exclusive), RFC 3339; default now.
    #[arg(long, value_parser = parse_instant)]
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// Print central's JSON instead of bars.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    to_central: CentralQuery,
}

/// Where a query goes: central's address, its plant CA, and how long to wait.
#[derive(Args)]
struct CentralQuery {
    /// Central's address.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    central: String,
    /// For an https:// central with a certificate from the plant's own CA: that CA's certificate
    /// (PEM), trusted in addition to the system's CAs.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Seconds to wait for central.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    timeout: u64,
}

fn parse_pareto_by(text: &str) -> Result<takt::central::ParetoBy, String> {
    takt::central::ParetoBy::parse(text)
        .ok_or_else(|| format!("group by code, product, station or operation, not {text:?}"))
}

const AQL_EXAMPLE: &str = "\
Examples:
  takt aql --lot-size 1000 --level II --aql 2.5             # J, n = 80, Ac 5, Re 6
  takt aql --lot-size 1000 --level II --aql 2.5 --tightened
  takt aql --lot-size 400 --level S-3 --aql 1.0 --reduced --json";

#[derive(Args)]
struct AqlArgs {
    /// Units in the lot.
    #[arg(long)]
    lot_size: u32,
    /// Inspection level: S-1, S-2, S-3, S-4, I, II or III.
    #[arg(long, default_value = "II")]
    level: takt::domain::aql::InspectionLevel,
    /// Acceptance quality limit, one of the standard's values (0.010 ... 1000), e.g. 2.5.
    #[arg(long)]
    aql: takt::domain::aql::Aql,
    /// Tightened inspection (Table II-B).
    #[arg(long, conflicts_with = "reduced")]
    tightened: bool,
    /// Reduced inspection (Table II-C).
    #[arg(long)]
    reduced: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum KpiCommand {
    /// OEE and the other ISO 22400-2 KPIs of a station or a line over a shift, a day or a time
    /// window, with the time elements and quantities behind them. Without a period: the shift
    /// running now. Exits 2 when central does not know the station or line, 1 on other errors.
    #[command(after_help = KPI_EXAMPLE)]
    Oee(OeeArgs),
}

const KPI_EXAMPLE: &str = "\
Examples:
  takt kpi oee --station L1-S1                                  # the shift running now
  takt kpi oee --line L1 --shift Early --date 2026-11-25
  takt kpi oee --line L1 --day 2026-11-25 --json
  takt kpi oee --station L1-S2 --from 2026-11-25T06:00:00Z --to 2026-11-25T10:00:00Z";

#[derive(Args)]
struct OeeArgs {
    #[command(flatten)]
    whose: OeeTarget,
    /// A shift of central's calendar (e.g. Early), with --date.
    #[arg(long, requires = "date", conflicts_with_all = ["day", "from", "to"])]
    shift: Option<String>,
    /// The plant-local day the shift starts on, YYYY-MM-DD.
    #[arg(long, requires = "shift")]
    date: Option<chrono::NaiveDate>,
    /// A production day, YYYY-MM-DD: every shift that starts on it.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    day: Option<chrono::NaiveDate>,
    /// Start of a time window, RFC 3339 (2026-11-25T06:00:00Z); only shift time inside it counts.
    #[arg(long, requires = "to", value_parser = parse_instant)]
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// End of the time window, RFC 3339.
    #[arg(long, requires = "from", value_parser = parse_instant)]
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// Print central's JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    to_central: CentralQuery,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct OeeTarget {
    /// One station, e.g. L1-S1.
    #[arg(long)]
    station: Option<String>,
    /// Every station of a line, with the line's total, e.g. L1.
    #[arg(long)]
    line: Option<String>,
}

fn parse_instant(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{e}: give an RFC 3339 time like 2026-11-25T06:00:00Z"))
}

#[derive(Subcommand)]
enum LabelCommand {
    /// Print a label's ZPL (and its GS1 data) on stdout.
    Zpl(LabelArgs),
    /// Send one label to a file or a network printer's raw port.
    Print {
        /// file:PATH (appended) or tcp:HOST[:PORT] (port 9100 when left out).
        #[arg(long)]
        to: String,
        #[command(flatten)]
        label: LabelArgs,
    },
}

#[derive(Args)]
struct LabelArgs {
    /// The lot (or, with --serial, the serial) id.
    #[arg(long)]
    lot: String,
    /// The plant's material code, e.g. BC-200-M.
    #[arg(long)]
    material: String,
    /// Quantity in the material's unit.
    #[arg(long, default_value = "1")]
    qty: String,
    /// The GTIN of the material or product (14 digits).
    #[arg(long)]
    gtin: Option<String>,
    /// A finished unit's serial instead of a lot.
    #[arg(long)]
    serial: bool,
    /// The material's name, printed on the label.
    #[arg(long, default_value = "")]
    name: String,
    #[arg(long, default_value = "pc")]
    unit: String,
    #[arg(long, default_value = "-")]
    work_order: String,
    #[arg(long, default_value = "-")]
    operation: String,
    #[arg(long, default_value = "-")]
    station: String,
    /// The printer's resolution in dots per inch.
    #[arg(long, default_value_t = 203)]
    dpi: u32,
}

impl LabelArgs {
    fn render(&self) -> anyhow::Result<(takt::label::LabelData, String)> {
        use takt::domain::{LotId, MaterialId, OperationId, OutputForm, StationId, WorkOrderId};
        let quantity = takt::domain::Quantity::parse(&self.qty)
            .with_context(|| format!("--qty {:?} is not a quantity", self.qty))?;
        let data = takt::label::LabelData {
            output: LotId::new(self.lot.clone()),
            form: if self.serial {
                OutputForm::Serial
            } else {
                OutputForm::Lot
            },
            material: MaterialId::new(self.material.clone()),
            material_name: self.name.clone(),
            quantity,
            unit: self.unit.clone(),
            work_order: WorkOrderId::new(self.work_order.clone()),
            operation: OperationId::new(self.operation.clone()),
            station: StationId::new(self.station.clone()),
            created_at: chrono::Utc::now(),
            gtin: self.gtin.clone(),
        };
        let zpl = takt::label::zpl::render(&data, takt::label::zpl::Layout { dpi: self.dpi })?;
        Ok((data, zpl))
    }
}

#[derive(Args)]
struct TraceArgs {
    /// The lot or serial, as printed on its label (e.g. C24-1107).
    lot: String,
    /// Follow the lot forward, to what was made from it, and list the finished units.
    #[arg(long)]
    forward: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Central's address.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    central: String,
    /// For an https:// central with a certificate from the plant's own CA: that CA's certificate
    /// (PEM), trusted in addition to the system's CAs.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Follow at most this many links (1 to 20; default 20).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=20))]
    depth: Option<u32>,
    /// Seconds to wait for central.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    timeout: u64,
}

#[derive(Subcommand)]
enum ScanCommand {
    /// Print what the station makes of a label's text. Write control bytes as \x1d or <GS>,
    /// <RS>, <EOT>; e.g. ']C1010040123450001210C24-1107<GS>30400'. Exits 2 when it is refused.
    Decode {
        /// The label text.
        text: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct StationArgs {
    /// The station configuration file.
    #[arg(long, default_value = "station.toml")]
    config: PathBuf,
    /// Print a commented configuration to start from, and exit.
    #[arg(long)]
    print_default_config: bool,
    /// Validate the configuration and keymap, and exit.
    #[arg(long)]
    check_config: bool,
    /// Print the effective keymap, and exit.
    #[arg(long)]
    print_keymap: bool,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct CentralArgs {
    #[command(subcommand)]
    admin: Option<CentralAdmin>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Central's database file.
    #[arg(long, default_value = "central.db")]
    db: PathBuf,
    /// Load the demo plant (DEMO_PLANT.md) if the database has no master data yet.
    #[arg(long)]
    demo_data: bool,
    /// The plant's shifts for KPIs: a TOML file with a [calendar] section as in station.toml (a
    /// station.toml itself will do). Default: the demo plant's Early 06-14, Late 14-22, Night
    /// 22-06 (UTC), each with a 30-minute break mid-shift.
    #[arg(long, value_name = "FILE")]
    calendar: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM: the server certificate first, then any
    /// intermediates); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[derive(Subcommand)]
enum CentralAdmin {
    /// Manage stations.
    Station {
        #[command(subcommand)]
        command: StationAdmin,
    },
    /// Hold or release lots: stations learn it at their next pull.
    Lot {
        #[command(subcommand)]
        command: LotAdmin,
    },
    /// Work orders: list them, hold, release, cancel, close, or dispatch them to stations.
    /// Stations learn each change at their next pull.
    #[command(name = "work-order")]
    WorkOrder {
        #[command(subcommand)]
        command: WorkOrderAdmin,
    },
    /// Operators: list them, set a PIN (read from the terminal or stdin, never an argument), or
    /// revoke a badge. Stations learn each change at their next pull.
    Operator {
        #[command(subcommand)]
        command: OperatorAdmin,
    },
    /// Admin tokens for imports, holds and other admin endpoints.
    Admin {
        #[command(subcommand)]
        command: AdminTokenCommand,
    },
    /// Import master data from an ERP export (CSV or JSON), all or nothing: every row is checked
    /// first (with its line in errors) and one bad row imports nothing. Re-importing the same file
    /// changes nothing. Columns per kind: see the README (ERP import).
    #[command(after_help = IMPORT_HELP)]
    Import {
        /// What the file holds: products, materials, work-orders, routings, boms, operators, codes.
        #[arg(value_parser = parse_import_kind)]
        kind: takt::central::import::ImportKind,
        /// The CSV or JSON file.
        file: PathBuf,
        /// csv or json; by default from the file's extension.
        #[arg(long, value_parser = parse_import_format)]
        format: Option<takt::central::import::Format>,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
    /// Events central stored but set aside instead of applying, and why (newest first).
    Quarantine {
        /// Only this station's.
        #[arg(long)]
        station: Option<String>,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
}

const IMPORT_HELP: &str = "\
Columns (CSV header line; JSON: an array of objects with these keys), * = required:
  products     id*,name*,gtin
  materials    id*,name*,unit*,gtin,other_gtins,shelf_life_days
  work-orders  id*,product*,quantity*,due*,stations*,status,priority,numeric_id,line
  routings     product*,step*,operation*,name*,stations*,output_material*,output*,ideal_cycle_ms
  boms         product*,operation*,material*,quantity_per_unit*,tolerance_pct,consumption
  operators    badge*,name*,roles*,active
  codes        code*,text*,kind*,class_or_planned*
Lists (stations, roles, other_gtins) are separated by ';'. Exit code 1 when anything is refused.";

fn parse_import_kind(text: &str) -> Result<takt::central::import::ImportKind, String> {
    use takt::central::import::ImportKind;
    ImportKind::parse(text).ok_or_else(|| {
        let kinds: Vec<&str> = ImportKind::ALL.iter().map(|kind| kind.name()).collect();
        format!("{text:?} is not one of {}", kinds.join(", "))
    })
}

fn parse_import_format(text: &str) -> Result<takt::central::import::Format, String> {
    takt::central::import::Format::parse(text).ok_or_else(|| format!("{text:?}: csv or json"))
}

#[derive(Subcommand)]
enum OperatorAdmin {
    /// Every operator: badge, name, roles, whether a PIN is set, validity and revocation.
    List {
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
    /// Set BADGE's PIN: typed twice without echo on a terminal, or one line on stdin
    /// (`printf '4711\n' | takt central operator set-pin EMP-1001`). Only an Argon2id verifier is
    /// kept.
    #[command(name = "set-pin")]
    SetPin {
        badge: String,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
    /// Revoke BADGE from now: no more logins once stations learn it, and central quarantines what
    /// the badge does after this moment. Facts made before it still count.
    Revoke {
        badge: String,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
}

/// A new PIN, from the terminal without echo (twice, to catch a typo) or as one line of stdin.
fn read_new_pin(badge: &str) -> anyhow::Result<takt::credential::Pin> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the PIN from stdin")?;
        return Ok(takt::credential::Pin::new(
            line.trim_end_matches(['\r', '\n']),
        ));
    }
    let first = read_hidden(&format!("New PIN for {badge}: "))?;
    let second = read_hidden("Again: ")?;
    anyhow::ensure!(first == second, "the two PINs differ; nothing was changed");
    Ok(first)
}

/// One line typed on the terminal with echo off (raw mode), ended by Enter.
fn read_hidden(prompt: &str) -> anyhow::Result<takt::credential::Pin> {
    use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers, read};
    eprint!("{prompt}");
    crossterm::terminal::enable_raw_mode().context("terminal raw mode")?;
    let mut text = String::new();
    let outcome = loop {
        match read() {
            Ok(Event::Key(key)) if key.kind == KeyEventKind::Press => match key.code {
                KeyCode::Enter => break Ok(()),
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    break Err(anyhow::anyhow!("cancelled"));
                }
                KeyCode::Esc => break Err(anyhow::anyhow!("cancelled")),
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) => text.push(c),
                _ => {}
            },
            Ok(_) => {}
            Err(e) => break Err(anyhow::Error::from(e).context("reading the terminal")),
        }
    };
    let _ = crossterm::terminal::disable_raw_mode();
    eprintln!();
    outcome.map(|()| takt::credential::Pin::new(text))
}

#[derive(Subcommand)]
enum AdminTokenCommand {
    /// Create (or replace) the admin token NAME and print it; only its hash is kept.
    Add {
        /// Who or what uses it, e.g. erp-import.
        name: String,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
    /// Revoke the admin token NAME.
    Revoke {
        name: String,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
}

#[derive(Subcommand)]
enum WorkOrderAdmin {
    /// Every work order central has, most urgent first, with progress and flagged facts.
    List {
        /// Only those of this status: planned, released, on_hold, cancelled, closed.
        #[arg(long, value_parser = parse_work_order_status)]
        status: Option<takt::domain::WorkOrderStatus>,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
    /// Hold an order: its stations stop it (the machine's permit drops) at their next pull.
    Hold {
        /// The work order, e.g. WO-24001.
        id: String,
        /// Why, in the planner's words (operators see it).
        #[arg(long)]
        reason: String,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
    /// Release a planned or held order: its stations may run it.
    Release {
        /// The work order, e.g. WO-24001.
        id: String,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
    /// Cancel an order for good: its stations stop it and drop it from their queues.
    Cancel {
        /// The work order, e.g. WO-24001.
        id: String,
        /// Why, in the planner's words.
        #[arg(long)]
        reason: String,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
    /// Close a finished order: nothing more is built on it.
    Close {
        /// The work order, e.g. WO-24001.
        id: String,
        /// Why, if it closes short of its quantity.
        #[arg(long)]
        reason: Option<String>,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
    /// Say which stations build an order and how urgent it is (1 most).
    Dispatch {
        /// The work order, e.g. WO-24001.
        id: String,
        /// The stations, e.g. --stations L1-S1,L1-S2.
        #[arg(long, value_delimiter = ',', required = true)]
        stations: Vec<String>,
        /// 1 (most urgent) to 255; unchanged when not given.
        #[arg(long)]
        priority: Option<u8>,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
}

fn parse_work_order_status(text: &str) -> Result<takt::domain::WorkOrderStatus, String> {
    takt::domain::WorkOrderStatus::parse(text).ok_or_else(|| {
        format!("{text:?} is not one of planned, released, on_hold, cancelled, closed")
    })
}

#[derive(Subcommand)]
enum LotAdmin {
    /// Put a lot on hold: every station refuses it after its next pull.
    Hold {
        /// The lot or serial, e.g. C24-1107.
        lot: String,
        /// Why, in the quality engineer's words (operators see it when the lot is refused).
        #[arg(long)]
        reason: String,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
    /// Release a held lot.
    Release {
        /// The lot or serial, e.g. C24-1107.
        lot: String,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
}

#[derive(Subcommand)]
enum StationAdmin {
    /// Register a station (or rotate its token) and print its token.
    Add {
        /// Station id, e.g. L1-S1.
        id: String,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
    /// Set a station's settings; it learns them at its next pull.
    #[command(group(clap::ArgGroup::new("setting").required(true).multiple(true)))]
    Config {
        /// Station id, e.g. L1-S1.
        id: String,
        /// How long it may go on with work orders it already has while central is out of reach
        /// (default 480, a night shift); after that its machine stops until central answers.
        /// 0: no limit.
        #[arg(long, value_name = "MINUTES", group = "setting")]
        offline_grace_minutes: Option<u32>,
        /// Events that waited longer than this at the station before they were sent are marked
        /// historical at central (default 10).
        #[arg(long, value_name = "MINUTES", group = "setting")]
        historical_after_minutes: Option<u32>,
        /// How long a badge stays locked after 5 wrong PINs in a row (default 15).
        #[arg(long, value_name = "MINUTES", group = "setting")]
        login_lockout_minutes: Option<u32>,
        /// Minutes without a scan, a key or a unit made before the station logs the operator out
        /// (default 30). 0: never.
        #[arg(long, value_name = "MINUTES", group = "setting")]
        idle_logout_minutes: Option<u32>,
        /// Signature-grade actions that need a second person's signature at this station,
        /// comma-separated: release_hold, correct; "none" for none.
        #[arg(long, value_name = "ACTIONS", value_delimiter = ',', group = "setting")]
        second_signer: Option<Vec<String>>,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
    /// Give a registered station a new token and print it; the old one stops working at once.
    Rotate {
        /// Station id, e.g. L1-S1.
        id: String,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
    /// Revoke a station's token: its requests are refused from now on; its events are kept.
    Revoke {
        /// Station id, e.g. L1-S1.
        id: String,
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
    /// List the registered stations: token, last event taken, last heard.
    List {
        /// Central's database file.
        #[arg(long, default_value = "central.db")]
        db: PathBuf,
    },
}

const SIM_EXAMPLE: &str = "\
Example, a PLC that faults, jams, answers slowly, loses its link, reboots and counts in 16 bits:
  takt plc-sim --cycle-ms 500 --scenario fault-every=30s,reason=1,clear-after=10s \\
      --scenario blocked-every=60s,for=5s --scenario slow-replies=1500ms,every=20s,for=3s \\
      --scenario drop-every=20s --scenario restart-at=45s --counter-width 16 --start-processed 65500";

#[derive(Args)]
struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5020")]
    listen: SocketAddr,
    /// Cycle time per unit, in milliseconds.
    #[arg(long, default_value_t = 4500)]
    cycle_ms: u64,
    /// Share of units that come out defective (0.0 to 1.0).
    #[arg(long, default_value_t = 0.02)]
    defect_rate: f64,
    /// Boot epoch to report (default: a new one at every start).
    #[arg(long)]
    epoch: Option<u16>,
    /// Stage a fault; repeat for several. SPEC is key=value[,key=value…], durations like 500ms,
    /// 30s or 2m:
    ///   fault-every=30s|50units[,reason=1][,clear-after=10s]  stop with stop reason (HR5; 1
    ///     spindle overload, 2 fixture clamp, 3 coolant low, 4 guard door, 5 infeed empty) after
    ///     that much running time or that many units; cleared by Reset/Clear or after clear-after
    ///   blocked-every=60s,for=5s  outfeed blocked (HR7 bit 0): no units, Suspended, amber
    ///   starved-every=60s,for=5s  infeed starved (HR7 bit 1), likewise
    ///   slow-replies=1500ms[,every=10s,for=3s]  answer Modbus requests late (always, or in windows)
    ///   drop-every=20s  close every client connection at that interval
    ///   restart-at=45s  reboot once: boot epoch (HR2) + 1, counters and command block to zero
    #[arg(long = "scenario", value_name = "SPEC", value_parser = check_scenario, verbatim_doc_comment)]
    scenario: Vec<String>,
    /// Counter width in bits: with 16, processed, defective, consumed and cycles wrap at 65535 to 0
    /// (still in two registers, high word 0).
    #[arg(long, default_value = "32", value_parser = ["16", "32"])]
    counter_width: String,
    /// Start value of the processed, consumed and cycle counters, e.g. just below a wrap.
    #[arg(long, default_value_t = 0)]
    start_processed: u32,
    /// Keep a per-part record FIFO: every unit pushes a record (serial, good/reject, cycle time)
    /// shown at HR32-47 until the station writes its record_seq to HR104-105. A full ring blocks
    /// the machine (HR7 bit 0, Suspended) until records are acknowledged. For stations with
    /// `[plc] part_records = true`.
    #[arg(long)]
    part_records: bool,
    /// Records the FIFO keeps unacknowledged before the machine blocks (with --part-records).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1000))]
    part_ring: u16,
}

/// Checks one `--scenario` spec while clap parses, so a bad one is reported like any bad argument.
fn check_scenario(spec: &str) -> Result<String, takt::sim::ScenarioError> {
    takt::sim::Scenario::default().add(spec)?;
    Ok(spec.to_owned())
}

#[derive(Args)]
struct DemoArgs {
    /// Folder for the demo's data (central db, station db, logs, config).
    #[arg(long, default_value = "takt-demo")]
    dir: PathBuf,
    /// Simulated cycle time per unit for every station, in milliseconds. Without it each station
    /// runs at its plant ideal (OP10 4.5 s, OP20 3.8 s, OP30 3.0 s).
    #[arg(long)]
    cycle_ms: Option<u64>,
    /// Faults the simulated machines stage, as for `takt plc-sim --scenario` (repeatable), e.g.
    /// `--scenario fault-every=60s,reason=1,clear-after=20s` stops each machine with a spindle
    /// overload after every minute of running, for 20 s.
    #[arg(long = "scenario", value_name = "SPEC", value_parser = check_scenario)]
    scenario: Vec<String>,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk a hash chain and name the first broken link; when the chain holds, name every
    /// electronic signature that does not (missing, made on another record, not by its signer).
    /// Exits 2 for either.
    Verify {
        /// A station database (or, with --station, central's database).
        #[arg(long)]
        db: PathBuf,
        /// Verify this station's chain as stored at central.
        #[arg(long)]
        station: Option<String>,
    },
    /// Who did what, when, where and why: the events of a station's database or central's, in
    /// words, with the hash of each and a check of the chains they stand in. Filters combine;
    /// times are station time. Exits 2 when a chain is broken, 1 on other errors.
    #[command(after_help = AUDIT_REPORT_EXAMPLE)]
    Report(AuditReportArgs),
}

const AUDIT_REPORT_EXAMPLE: &str = "\
Examples:
  takt audit report --db takt-data/station.db --lot C24-1107
  takt audit report --db central.db --work-order WO-24001 --csv > wo-24001.csv
  takt audit report --db central.db --station L1-S1 --operator EMP-1001 --from 2026-11-25 --to 2026-11-25
  takt audit report --db central.db --from 2026-11-25T06:00:00Z --to 2026-11-25T14:00:00Z --json";

#[derive(Args)]
struct AuditReportArgs {
    /// A station's database or central's (the report tells them apart by their tables).
    #[arg(long)]
    db: PathBuf,
    /// At central: only this station's events (otherwise every station's, by time).
    #[arg(long)]
    station: Option<String>,
    /// Events that name this lot or serial: registered, loaded, drawn from, made, an input of
    /// an output, refused at a scan, held, released, corrected; with the signatures on them.
    #[arg(long)]
    lot: Option<String>,
    /// Events that name this work order.
    #[arg(long, value_name = "WO")]
    work_order: Option<String>,
    /// Events done by this badge, or that name it.
    #[arg(long, value_name = "BADGE")]
    operator: Option<String>,
    /// From this time: RFC 3339 (2026-11-25T06:00:00Z), or a day (2026-11-25: from 00:00 UTC).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Up to this time, inclusive: RFC 3339, or a day (2026-11-25: to its end, UTC).
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// An array of JSON objects on stdout; the summary and chain check go to stderr.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// CSV (RFC 4180, header row) on stdout; the summary and chain check go to stderr.
    #[arg(long)]
    csv: bool,
}

impl AuditReportArgs {
    fn filters(&self) -> anyhow::Result<takt::audit::Filters> {
        Ok(takt::audit::Filters {
            station: self.station.as_deref().map(takt::domain::StationId::from),
            lot: self.lot.as_deref().map(takt::domain::LotId::from),
            work_order: self
                .work_order
                .as_deref()
                .map(takt::domain::WorkOrderId::from),
            operator: self.operator.as_deref().map(takt::domain::Badge::from),
            window: takt::audit::Window::parse(self.from.as_deref(), self.to.as_deref())?,
        })
    }

    fn format(&self) -> takt::audit::Format {
        match (self.json, self.csv) {
            (true, _) => takt::audit::Format::Json,
            (false, true) => takt::audit::Format::Csv,
            (false, false) => takt::audit::Format::Text,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("takt: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Commands::Station(args) => station(args),
        Commands::Central(args) => central(args),
        Commands::PlcSim(args) => {
            takt::logging::to_stderr();
            let mut config = sim_config(args.cycle_ms, args.defect_rate, args.epoch)?;
            let mut scenario =
                takt::sim::Scenario::parse(args.scenario.iter().map(String::as_str))?;
            scenario.counter_width = if args.counter_width == "16" {
                takt::sim::CounterWidth::Bits16
            } else {
                takt::sim::CounterWidth::Bits32
            };
            if scenario.counter_width == takt::sim::CounterWidth::Bits16
                && args.start_processed > u32::from(u16::MAX)
            {
                anyhow::bail!(
                    "--start-processed {}: a 16-bit counter goes up to 65535",
                    args.start_processed
                );
            }
            config.scenario = scenario;
            config.start_processed = args.start_processed;
            config.part_records = args.part_records.then_some(usize::from(args.part_ring));
            runtime()?.block_on(takt::sim::run_cli(args.listen, config))?;
            Ok(ExitCode::SUCCESS)
        }
        Commands::Demo(args) => {
            let mut config = sim_config(args.cycle_ms.unwrap_or(4500), 0.02, None)?;
            config.scenario = takt::sim::Scenario::parse(args.scenario.iter().map(String::as_str))?;
            let cycle = args.cycle_ms.map(std::time::Duration::from_millis);
            takt::demo::run(&args.dir, config, cycle)?;
            Ok(ExitCode::SUCCESS)
        }
        Commands::Audit {
            command: AuditCommand::Verify { db, station },
        } => takt::audit::verify(&db, station.as_deref()),
        Commands::Audit {
            command: AuditCommand::Report(args),
        } => takt::audit::print_report(&args.db, &args.filters()?, args.format()),
        Commands::Label {
            command: LabelCommand::Zpl(args),
        } => {
            let (data, zpl) = args.render()?;
            let code = data.element_string()?;
            eprintln!("GS1 data: {}", takt::scan::decode::show_controls(&code.raw));
            print!("{zpl}");
            Ok(ExitCode::SUCCESS)
        }
        Commands::Label {
            command: LabelCommand::Print { to, label },
        } => {
            let sink = takt::label::Sink::parse(&to).map_err(anyhow::Error::msg)?;
            let (data, zpl) = label.render()?;
            let settings = takt::label::PrinterSettings::new(sink);
            runtime()?
                .block_on(takt::label::printer::send_once(&settings, &zpl))
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("{} was not printed", data.output))?;
            println!(
                "{} {} sent to {}",
                data.form_word().to_lowercase(),
                data.output,
                settings.sink.describe()
            );
            Ok(ExitCode::SUCCESS)
        }
        Commands::Scan {
            command: ScanCommand::Decode { text, json },
        } => {
            use takt::scan::decode::{Decoded, decode, unescape};
            let decoded = decode(&unescape(&text), chrono::Utc::now().date_naive());
            if json {
                println!("{}", serde_json::to_string_pretty(&decoded)?);
            } else {
                print!("{decoded}");
            }
            Ok(if matches!(decoded, Decoded::Refused { .. }) {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Commands::Trace(args) => trace(args),
        Commands::Aql(args) => aql(args),
        Commands::Quality {
            command: QualityCommand::Pareto(args),
        } => quality_pareto(args),
        Commands::Quality {
            command: QualityCommand::Holds(args),
        } => {
            let url = takt::quality_client::holds_url(&args.to_central.central)?;
            quality_query(
                &args.to_central,
                url,
                args.json,
                takt::quality_client::render_holds,
            )
        }
        Commands::Quality {
            command: QualityCommand::Ncrs(args),
        } => {
            let status = if args.all {
                takt::central::NcrStatus::All
            } else if args.closed {
                takt::central::NcrStatus::Closed
            } else {
                takt::central::NcrStatus::Open
            };
            let url = takt::quality_client::ncrs_url(&args.to_central.central, status)?;
            quality_query(
                &args.to_central,
                url,
                args.json,
                takt::quality_client::render_ncrs,
            )
        }
        Commands::Quality {
            command: QualityCommand::Yield(args),
        } => {
            let url = takt::quality_client::yield_url(
                &args.to_central.central,
                args.line.as_deref(),
                args.from,
                args.to,
            )?;
            quality_query(
                &args.to_central,
                url,
                args.json,
                takt::quality_client::render_yield,
            )
        }
        Commands::Kpi {
            command: KpiCommand::Oee(args),
        } => kpi_oee(args),
    }
}

fn quality_pareto(args: ParetoArgs) -> anyhow::Result<ExitCode> {
    use takt::quality_client::{fetch_pareto, pareto_url, render};
    let central = &args.to_central;
    let url = pareto_url(&central.central, args.by, args.from, args.to)?;
    let trusted_ca = trusted_ca(central.ca_file.as_deref())?;
    let timeout = Duration::from_secs(central.timeout);
    let (pareto, json) = runtime()?.block_on(fetch_pareto(
        &central.central,
        url,
        timeout,
        trusted_ca.as_ref(),
    ))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", render(&pareto));
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks central at `url` and prints its JSON (`json`) or its answer rendered in words.
fn quality_query<T: serde::de::DeserializeOwned>(
    central: &CentralQuery,
    url: reqwest::Url,
    json: bool,
    render: fn(&T) -> String,
) -> anyhow::Result<ExitCode> {
    let trusted_ca = trusted_ca(central.ca_file.as_deref())?;
    let timeout = Duration::from_secs(central.timeout);
    let (answer, raw): (T, serde_json::Value) = runtime()?.block_on(
        takt::quality_client::fetch(&central.central, url, timeout, trusted_ca.as_ref()),
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&raw)?);
    } else {
        print!("{}", render(&answer));
    }
    Ok(ExitCode::SUCCESS)
}

fn aql(args: AqlArgs) -> anyhow::Result<ExitCode> {
    use takt::domain::aql::{Severity, plan};
    let severity = if args.tightened {
        Severity::Tightened
    } else if args.reduced {
        Severity::Reduced
    } else {
        Severity::Normal
    };
    let plan = plan(args.lot_size, args.level, args.aql, severity)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        print!("{}", takt::domain::aql::describe(&plan));
    }
    Ok(ExitCode::SUCCESS)
}

fn kpi_oee(args: OeeArgs) -> anyhow::Result<ExitCode> {
    use takt::central::kpi::{OeeRequest, Period, Target};
    use takt::kpi_client::{KpiClientError, fetch, render};
    let target = match (args.whose.station, args.whose.line) {
        (Some(station), _) => Target::Station(takt::domain::StationId::new(station)),
        (None, Some(line)) => Target::Line(line),
        (None, None) => anyhow::bail!("say whose KPIs: --station S or --line L"),
    };
    let period = match (args.shift, args.date, args.day, args.from, args.to) {
        (Some(name), Some(date), ..) => Period::Shift { name, date },
        (_, _, Some(day), ..) => Period::Day(day),
        (_, _, _, Some(from), Some(to)) => Period::Range { from, to },
        _ => Period::Current,
    };
    let request = OeeRequest { target, period };
    let central = &args.to_central;
    let timeout = Duration::from_secs(central.timeout);
    let trusted_ca = trusted_ca(central.ca_file.as_deref())?;
    match runtime()?.block_on(fetch(
        &central.central,
        &request,
        timeout,
        trusted_ca.as_ref(),
    )) {
        Ok(fetched) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&fetched.json)?);
            } else {
                print!("{}", render(&fetched.report));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error @ KpiClientError::NotFound { .. }) => {
            eprintln!("takt: {error}");
            Ok(ExitCode::from(2))
        }
        Err(error) => Err(error.into()),
    }
}

/// `--ca-file`: a plant CA to trust for an `https://` central, besides the system's.
fn trusted_ca(path: Option<&Path>) -> anyhow::Result<Option<takt::tls_trust::TrustedCa>> {
    path.map(takt::tls_trust::TrustedCa::load)
        .transpose()
        .map_err(anyhow::Error::msg)
}

fn trace(args: TraceArgs) -> anyhow::Result<ExitCode> {
    use takt::protocol::TraceDirection;
    use takt::trace::{TraceError, TraceRequest, fetch, render};
    let request = TraceRequest {
        central: args.central,
        lot: args.lot,
        direction: if args.forward {
            TraceDirection::Forward
        } else {
            TraceDirection::Backward
        },
        depth: args.depth,
        timeout: Duration::from_secs(args.timeout),
        trusted_ca: trusted_ca(args.ca_file.as_deref())?,
    };
    match runtime()?.block_on(fetch(&request)) {
        Ok(genealogy) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&genealogy)?);
            } else {
                print!("{}", render(&genealogy));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error @ TraceError::UnknownLot { .. }) => {
            eprintln!("takt: {error}");
            Ok(ExitCode::from(2))
        }
        Err(error) => Err(error.into()),
    }
}

fn sim_config(
    cycle_ms: u64,
    defect_rate: f64,
    epoch: Option<u16>,
) -> anyhow::Result<takt::sim::SimConfig> {
    if cycle_ms < 10 {
        anyhow::bail!("--cycle-ms {cycle_ms}: choose at least 10 ms");
    }
    if !(0.0..=1.0).contains(&defect_rate) {
        anyhow::bail!("--defect-rate {defect_rate}: give a share between 0.0 and 1.0");
    }
    Ok(takt::sim::SimConfig {
        cycle_time: Duration::from_millis(cycle_ms),
        defect_rate,
        epoch,
        ..takt::sim::SimConfig::default()
    })
}

fn station(args: StationArgs) -> anyhow::Result<ExitCode> {
    if args.print_default_config {
        print!("{DEFAULT_STATION_CONFIG}");
        return Ok(ExitCode::SUCCESS);
    }
    let config = StationConfig::load(&args.config)?;
    let keymap = takt::launch::load_keymap(&config)?;
    if args.print_keymap {
        print!("{}", keymap.print());
        return Ok(ExitCode::SUCCESS);
    }
    if args.check_config {
        config.central_token()?;
        config.central_ca()?;
        println!(
            "{}: configuration and keymap are valid (station {}).",
            args.config.display(),
            config.station
        );
        let layout = config.plc.status_layout()?;
        println!(
            "PLC reads per poll: {}; counters wrap at {} bits.",
            layout.describe(),
            layout.counter_bits()
        );
        let ack = config.plc.command_layout()?.ack_record_seq;
        match (
            layout.field("record_seq"),
            layout.field("record_serial"),
            ack,
        ) {
            (Some(seq), Some(serial), Some(ack)) => println!(
                "Part records: on; FIFO head record_seq at {} {}, serial at {} {}; ack written to {} {}.",
                seq.kind.words(),
                seq.address,
                serial.kind.words(),
                serial.address,
                ack.kind.words(),
                ack.address
            ),
            _ => println!("Part records: off ([plc] part_records = true reads the PLC's FIFO)."),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let _log = takt::logging::to_file(&config.log_dir())?;
    runtime()?.block_on(takt::launch::run_station(config, keymap))?;
    Ok(ExitCode::SUCCESS)
}

fn central(args: CentralArgs) -> anyhow::Result<ExitCode> {
    takt::logging::to_stderr();
    match args.admin {
        Some(CentralAdmin::Operator {
            command: OperatorAdmin::List { db },
        }) => {
            let operators = takt::central::operators(&db)?;
            for operator in &operators {
                println!("{}", takt::central::operator_line(operator));
            }
            if operators.is_empty() {
                println!("No operators at central yet (takt central import operators FILE).");
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(CentralAdmin::Operator {
            command: OperatorAdmin::SetPin { badge, db },
        }) => {
            let pin = read_new_pin(&badge)?;
            let version = takt::central::set_operator_pin(&db, &badge, &pin)?;
            println!(
                "PIN of {badge} set (master-data version {}); stations learn it at their next pull.",
                version.map_or_else(|| "unchanged".to_owned(), |v| v.to_string())
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(CentralAdmin::Operator {
            command: OperatorAdmin::Revoke { badge, db },
        }) => {
            match takt::central::revoke_operator(&db, &badge)? {
                Some(version) => println!(
                    "Badge {badge} revoked (master-data version {version}); stations refuse it at their next pull."
                ),
                None => println!("Badge {badge} was already revoked."),
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(CentralAdmin::Admin {
            command: AdminTokenCommand::Add { name, db },
        }) => {
            let token = takt::central::add_admin_token(&db, &name)?;
            println!("{token}");
            eprintln!("Admin token {name} created. Send it as `Authorization: Bearer <token>`.");
            Ok(ExitCode::SUCCESS)
        }
        Some(CentralAdmin::Admin {
            command: AdminTokenCommand::Revoke { name, db },
        }) => {
            takt::central::revoke_admin_token(&db, &name)?;
            println!("Admin token {name} revoked.");
            Ok(ExitCode::SUCCESS)
        }
        Some(CentralAdmin::Import {
            kind,
            file,
            format,
            db,
        }) => {
            let source = file.file_name().map_or_else(
                || file.display().to_string(),
                |name| name.to_string_lossy().into_owned(),
            );
            match takt::central::import_file(&db, kind, &file, format)? {
                takt::central::ImportResult::Done(counts) => {
                    println!(
                        "{source}: {} {kind} record(s) imported, {} unchanged.",
                        counts.imported, counts.unchanged
                    );
                    Ok(ExitCode::SUCCESS)
                }
                takt::central::ImportResult::Refused(errors) => {
                    for error in &errors {
                        eprintln!("{}", error.describe(&source));
                    }
                    eprintln!(
                        "{source}: nothing imported ({} problem(s)); fix them and import the file again.",
                        errors.len()
                    );
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Some(CentralAdmin::Quarantine { station, db }) => {
            let rows = takt::central::quarantine(&db, station.as_deref())?;
            if rows.is_empty() {
                println!("Nothing set aside.");
            }
            for row in rows {
                println!(
                    "{}  {} seq {} ({}): {}",
                    row.at.format("%Y-%m-%d %H:%M:%S UTC"),
                    row.station,
                    row.seq,
                    row.kind,
                    row.reason
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(CentralAdmin::Station {
            command: StationAdmin::Rotate { id, db },
        }) => {
            let token = takt::central::rotate_station_token(&db, &id)?;
            println!("{token}");
            eprintln!(
                "Station {id} has a new token; the old one is refused from now on. Put it in its \
                 station.toml ([central] token)."
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(CentralAdmin::Station {
            command:
                StationAdmin::Config {
                    id,
                    offline_grace_minutes,
                    historical_after_minutes,
                    login_lockout_minutes,
                    idle_logout_minutes,
                    second_signer,
                    db,
                },
        }) => {
            let (config, version) = takt::central::set_station_config(
                &db,
                &id,
                takt::central::StationSettings {
                    offline_grace_minutes,
                    historical_after_minutes,
                    login_lockout_minutes,
                    idle_logout_minutes,
                    second_signer_for: second_signer,
                },
            )?;
            let grace = match config.offline_grace_minutes {
                0 => "without limit".to_owned(),
                minutes => format!("for {minutes} min"),
            };
            let idle = match config.idle_logout_minutes {
                0 => "never logs an idle operator out".to_owned(),
                minutes => format!("logs an operator out after {minutes} min idle"),
            };
            let second = if config.second_signer_for.is_empty() {
                "no action needs a second signature".to_owned()
            } else {
                format!(
                    "a second person signs {}",
                    config.second_signer_for.join(", ")
                )
            };
            let settings = format!(
                "Station {id} may go on without central {grace}; its events that waited over {} \
                 min are historical; it {idle}; 5 wrong PINs lock a badge for {} min; {second}",
                config.historical_after_minutes, config.login_lockout_minutes
            );
            match version {
                Some(version) => {
                    println!("{settings}. Master-data version {version}, taken at its next pull.")
                }
                None => println!("{settings} (already so)."),
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(CentralAdmin::Station {
            command: StationAdmin::Revoke { id, db },
        }) => {
            takt::central::revoke_station(&db, &id)?;
            println!("Station {id} revoked: its requests are refused. Its events are kept.");
            Ok(ExitCode::SUCCESS)
        }
        Some(CentralAdmin::Station {
            command: StationAdmin::List { db },
        }) => {
            println!(
                "{:<12} {:<6} {:<8} {:>10}  {:<24}  created / rotated / revoked",
                "station", "line", "token", "acked seq", "last event received"
            );
            for row in takt::central::list_stations(&db)? {
                println!(
                    "{:<12} {:<6} {:<8} {:>10}  {:<24}  {} / {} / {}",
                    row.id,
                    row.line.as_deref().unwrap_or("-"),
                    if row.has_token {
                        "active"
                    } else if row.revoked_at.is_some() {
                        "REVOKED"
                    } else {
                        "none"
                    },
                    row.acked_seq.map_or("-".to_owned(), |seq| seq.to_string()),
                    row.last_received_at.as_deref().unwrap_or("never"),
                    row.created_at,
                    row.rotated_at.as_deref().unwrap_or("-"),
                    row.revoked_at.as_deref().unwrap_or("-"),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(CentralAdmin::Station {
            command: StationAdmin::Add { id, db },
        }) => {
            let token = takt::central::add_station(&db, &id)?;
            println!("{token}");
            eprintln!(
                "Station {id} registered. Put this token in its station.toml ([central] token)."
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(CentralAdmin::WorkOrder { command }) => work_order_command(command),
        Some(CentralAdmin::Lot { command }) => {
            let (lot, reason, db) = match command {
                LotAdmin::Hold { lot, reason, db } => (lot, Some(reason), db),
                LotAdmin::Release { lot, db } => (lot, None, db),
            };
            let outcome = takt::central::set_lot_hold(&db, &lot, reason.as_deref())?;
            let status = outcome.lot.status.words();
            match (reason, outcome.version) {
                (Some(reason), Some(version)) => println!(
                    "Lot {lot} is on hold ({reason}), master-data version {version}: every station refuses it after its next pull."
                ),
                (Some(_), None) => {
                    println!("Lot {lot} was already on hold for that reason; nothing changed.")
                }
                (None, Some(version)) => {
                    println!("Lot {lot} is released (now {status}), master-data version {version}.")
                }
                (None, None) => {
                    println!("Lot {lot} is not on hold (it is {status}); nothing changed.")
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let calendar = match &args.calendar {
                Some(path) => takt::central::load_calendar(path)?,
                None => takt::domain::shift::ShiftCalendar::default(),
            };
            // Bad certificate or key files stop central before it binds, naming the file.
            let tls = match (&args.tls_cert, &args.tls_key) {
                (Some(cert), Some(key)) => Some(takt::central::TlsSettings::load(cert, key)?),
                _ => None,
            };
            if args.demo_data {
                takt::central::seed_demo(&args.db, chrono::Utc::now().date_naive())?;
            }
            runtime()?.block_on(async {
                let listener = tokio::net::TcpListener::bind(args.listen)
                    .await
                    .with_context(|| format!("cannot listen on {}", args.listen))?;
                let addr = listener.local_addr()?;
                let scheme = if tls.is_some() { "https" } else { "http" };
                println!(
                    "takt central listening on {scheme}://{addr} (database {})",
                    args.db.display()
                );
                println!("shifts (UTC{}): {}", calendar.offset(), describe(&calendar));
                takt::central::serve_with_tls(listener, &args.db, calendar, tls, async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// "Early 06:00-14:00 (break 10:00-10:30), …": the calendar central works with.
fn describe(calendar: &takt::domain::shift::ShiftCalendar) -> String {
    let time = |t: chrono::NaiveTime| t.format("%H:%M").to_string();
    calendar
        .patterns()
        .iter()
        .map(|shift| {
            let breaks: Vec<String> = shift
                .breaks
                .iter()
                .map(|(from, to)| format!("{}-{}", time(*from), time(*to)))
                .collect();
            let breaks = if breaks.is_empty() {
                String::new()
            } else {
                format!(" (break {})", breaks.join(", "))
            };
            format!(
                "{} {}-{}{breaks}",
                shift.name,
                time(shift.start),
                time(shift.end)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn work_order_command(command: WorkOrderAdmin) -> anyhow::Result<ExitCode> {
    use takt::central::WorkOrderAction;
    let (id, action, db) = match command {
        WorkOrderAdmin::List { status, db } => {
            let orders = takt::central::list_work_orders(&db, status)?;
            if orders.is_empty() {
                println!("No work orders.");
            }
            for row in orders {
                let order = &row.work_order;
                let stations: Vec<&str> = order.stations.iter().map(|s| s.as_str()).collect();
                println!(
                    "{:<10} P{:<3} due {}  {:<9} {:>5}/{:<5} {:<10} {}{}{}",
                    order.id,
                    order.priority,
                    order.due,
                    order.status.as_str(),
                    row.produced.saturating_sub(row.rejected),
                    order.quantity,
                    order.product,
                    stations.join(","),
                    order
                        .status_reason
                        .as_deref()
                        .map(|r| format!("  ({r})"))
                        .unwrap_or_default(),
                    if row.flagged > 0 {
                        format!("  {} fact(s) flagged", row.flagged)
                    } else {
                        String::new()
                    }
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        WorkOrderAdmin::Hold { id, reason, db } => (
            id,
            WorkOrderAction::Hold {
                reason: nonempty(reason, "held")?,
            },
            db,
        ),
        WorkOrderAdmin::Release { id, db } => (id, WorkOrderAction::Release, db),
        WorkOrderAdmin::Cancel { id, reason, db } => (
            id,
            WorkOrderAction::Cancel {
                reason: nonempty(reason, "cancelled")?,
            },
            db,
        ),
        WorkOrderAdmin::Close { id, reason, db } => (id, WorkOrderAction::Close { reason }, db),
        WorkOrderAdmin::Dispatch {
            id,
            stations,
            priority,
            db,
        } => (
            id,
            WorkOrderAction::Dispatch {
                stations: stations
                    .iter()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .map(takt::domain::StationId::from)
                    .collect(),
                priority,
            },
            db,
        ),
    };
    let outcome = takt::central::work_order_action(&db, &id, &action)?;
    let order = &outcome.work_order;
    let stations: Vec<&str> = order.stations.iter().map(|s| s.as_str()).collect();
    match outcome.version {
        Some(version) => println!(
            "{id} is {} (priority {}, stations {}), master-data version {version}: its stations \
             learn it at their next pull.",
            order.status.words(),
            order.priority,
            stations.join(",")
        ),
        None => println!(
            "{id} was already so ({}); nothing changed.",
            order.status.words()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn nonempty(reason: String, what: &str) -> anyhow::Result<String> {
    let reason = reason.trim().to_owned();
    anyhow::ensure!(
        !reason.is_empty(),
        "say why the order is {what}: --reason must not be empty"
    );
    Ok(reason)
}
