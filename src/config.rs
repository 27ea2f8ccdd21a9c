//! Station configuration: one strict TOML file. Unknown keys are errors, never silently ignored, and
//! every error names the file and what to fix before the terminal is taken over.

use crate::scan::MAX_SCAN_LEN;
use crate::scan::keys::{self, ScanSettings, Terminator};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// The commented configuration `takt station --print-default-config` prints.
pub const DEFAULT_STATION_CONFIG: &str = r#"# Takt station configuration.
# Every key is shown with its default; delete what you do not change.

# This workstation's id, as central knows it.
station = "L1-S1"

# Where the station keeps its event log (SQLite) and its log files. Relative paths are relative to
# this file's folder.
data_dir = "takt-data"

[plc]
# The station's PLC, Modbus TCP "host:port" (502 is the standard port).
address = "127.0.0.1:5020"
# Modbus unit id (slave id). Many Modbus TCP devices ignore it; gateways need it.
unit_id = 1
# How often to read the status block.
poll_interval_ms = 250
# Longest wait for one reply before the connection is dropped and rebuilt.
request_timeout_ms = 1000
connect_timeout_ms = 3000
# Per-part records (serial-level results): read the head of the PLC's part-record FIFO (HR32-47)
# every poll, record each part, then acknowledge its record_seq (HR104-105). Only for PLCs that
# keep such a FIFO; off, nothing is read or written for it.
part_records = false

# The register map: Takt's default (README) unless overridden, signal by signal. Each signal takes
# address, kind ("holding", "input", "coil", "discrete"), width ("u16", "u32", "i32", "f32"),
# word_order ("high_first", "low_first") and scale (value = raw x scale). For example:
# [plc.map.fields.processed]
# kind = "input"
# address = 300
# word_order = "low_first"
# A PLC with its own state codes maps them to PackML states:
# [plc.map.states]
# "1" = "stopped"
# "3" = "execute"
# Where the station writes its permit, work order and heartbeat (holding registers or coils):
# [plc.map.commands.permit]
# kind = "coil"
# address = 10
# With part_records, the FIFO head moves the same way (record_seq, record_result, record_reason,
# record_cycle_ms, record_serial: width "ascii", 10 registers, word_order "low_first" for a PLC
# that puts the first character in the low byte), and the ack in [plc.map.commands.ack_record_seq].

[machine]
# How PLC states count as time. By default Execute runs; a stop with a fault (stop reason), an abort
# or Held is unplanned downtime; blocked/starved interlock bits make waiting blocked or starved; the
# rest is idle. Override per PackML state with running, idle, blocked, starved, planned_downtime or
# unplanned_downtime, e.g.:
# [machine.categories]
# held = "planned_downtime"
# The reason code each PLC stop reason (HR5) usually means; a stop opens with it as a suggestion
# until someone scans the reason:
# [machine.stop_reasons]
# "1" = "R-11"

[calendar]
# The plant's shifts, for KPIs per shift (a break is planned downtime). Left out: the demo plant's
# Early 06:00-14:00, Late 14:00-22:00 and Night 22:00-06:00, each with a 30-minute break mid-shift.
# utc_offset = "+01:00"
# shifts = [
#   { name = "Early", start = "06:00", end = "14:00", breaks = ["10:00-10:30"] },
#   { name = "Late",  start = "14:00", end = "22:00", breaks = ["18:00-18:30"] },
#   { name = "Night", start = "22:00", end = "06:00", breaks = ["02:00-02:30"] },
# ]

[central]
# The central backend. Leave url empty to run stand-alone (events wait in the local log).
url = "http://127.0.0.1:8080"
# The station's token, printed by `takt central station add L1-S1`. Or set token_file.
token = ""
# token_file = "station.token"
# For an https:// url whose certificate comes from the plant's own CA: that CA's certificate
# (PEM), trusted in addition to the system's CAs.
# ca_file = "plant-ca.pem"
pull_interval_ms = 5000
request_timeout_ms = 10000

[ui]
# An extra keymap that adds to or overrides keymaps/default.toml (optional).
# keymap = "site-keys.toml"
# Ring the terminal bell when a scan or command is refused.
bell = true
# Extra lines shown on the login screen (the demo lists its badges and work orders here).
login_hints = []

[scanner]
# How a barcode scan is told from typing. Scans are recorded as scanned, typing as keyed.
# Best: program the scanner to send a prefix nobody types before every read, and name it here:
# "STX", "<STX>", '\x02' (single quotes) or "\u0002". With a prefix set, only framed reads (and
# pastes) count as scanned.
# prefix = "STX"
# Without a prefix: at least min_length characters arriving with a mean gap between keys of at most
# max_mean_gap_ms, ended by a terminator, are a scan; anything slower was typed.
min_length = 4
max_mean_gap_ms = 30
# Keys that end a read: "enter" and/or "tab". CR LF and CR NUL count as one Enter.
terminators = ["enter", "tab"]

[codes]
# Plain (non-GS1) codes the classifier recognises by shape when master data does not know them yet.
# `*` is one or more digits, `#` one digit, `?` one letter or digit; anything else stands for itself.
badge = "EMP-*"
work_order = "WO-*"
defect = "D-*"
reason = "R-*"

[output]
# How this station names the lots and serials it makes. {station} and {seq} are required (they make
# ids unique plant-wide without asking anyone); {date} is YYMMDD, {wo} the work order.
id_pattern = "{station}-{date}-{seq}"
# The same label read again within this time is a double read: ignored, and said so.
duplicate_scan_window_ms = 1500

[printer]
# Where output labels (a WIP lot in its tote, a finished serial) go: "none", "file" (appended to
# path, one ZPL document per label) or "tcp" (a network label printer's raw port, usually 9100).
kind = "none"
# path = "labels.zpl"
# address = "192.168.10.30:9100"
# Longest wait to connect and send one label.
timeout_ms = 3000
# Labels kept while the printer is down; beyond this the oldest is reported as not printed.
queue_limit = 200
# The printer's resolution in dots per inch (203 or 300); labels are 4 x 2 inches.
dpi = 203

[quality]
# The run rules inspections' SPC charts are checked against: "western-electric" (4 rules) or
# "nelson" (8 tests). A chart that breaks one records a quality alert and calls the quality andon.
spc_rules = "western-electric"
"#;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("[central] ca_file: {message}")]
    Trust { message: String },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StationConfig {
    pub station: String,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub plc: PlcSection,
    #[serde(default)]
    pub central: CentralSection,
    #[serde(default)]
    pub ui: UiSection,
    #[serde(default)]
    pub printer: PrinterSection,
    #[serde(default)]
    pub scanner: ScannerSection,
    #[serde(default)]
    pub codes: CodesSection,
    #[serde(default)]
    pub machine: MachineSection,
    #[serde(default)]
    pub output: OutputSection,
    #[serde(default)]
    pub calendar: CalendarSection,
    #[serde(default)]
    pub quality: QualitySection,
}

/// `[quality]`: how the station watches its inspections.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualitySection {
    /// The run rules SPC charts are checked against: `western-electric` (4 rules, the default) or
    /// `nelson` (8 tests).
    pub spc_rules: String,
}

impl Default for QualitySection {
    fn default() -> Self {
        QualitySection {
            spc_rules: "western-electric".into(),
        }
    }
}

impl QualitySection {
    pub fn rules(&self) -> Result<crate::domain::spc::RuleSet, String> {
        match self.spc_rules.trim() {
            "western-electric" => Ok(crate::domain::spc::RuleSet::WesternElectric),
            "nelson" => Ok(crate::domain::spc::RuleSet::Nelson),
            other => Err(format!(
                "[quality] spc_rules = {other:?}: choose \"western-electric\" (the 4 Western \
                 Electric rules) or \"nelson\" (Nelson's 8 tests)"
            )),
        }
    }
}

/// `[calendar]`: the plant's shifts, for KPIs per shift. Empty: the demo plant's three shifts.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarSection {
    /// The plant's offset from UTC, "+01:00".
    pub utc_offset: Option<String>,
    pub shifts: Vec<ShiftEntry>,
}

/// One shift: `{ name = "Early", start = "06:00", end = "14:00", breaks = ["10:00-10:30"] }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShiftEntry {
    pub name: String,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub breaks: Vec<String>,
}

impl CalendarSection {
    /// The shift calendar, or what to fix in words.
    pub fn calendar(&self) -> Result<crate::domain::shift::ShiftCalendar, String> {
        use crate::domain::shift::{ShiftCalendar, ShiftPattern};
        let default = ShiftCalendar::default();
        let offset = match &self.utc_offset {
            None => default.offset(),
            Some(text) => chrono::FixedOffset::from_str(text.trim()).map_err(|_| {
                format!("[calendar] utc_offset = {text:?}: expected an offset like \"+01:00\"")
            })?,
        };
        let time = |text: &str, what: &str| {
            chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M")
                .map_err(|_| format!("[calendar] {what} {text:?}: expected a time like \"06:00\""))
        };
        let patterns = if self.shifts.is_empty() {
            default.patterns().to_vec()
        } else {
            self.shifts
                .iter()
                .map(|entry| {
                    let what = format!("shift {}", entry.name);
                    let breaks = entry
                        .breaks
                        .iter()
                        .map(|text| {
                            let (from, to) = text.split_once('-').ok_or_else(|| {
                                format!(
                                    "[calendar] {what}: break {text:?}: expected \"10:00-10:30\""
                                )
                            })?;
                            Ok((time(from, &what)?, time(to, &what)?))
                        })
                        .collect::<Result<Vec<_>, String>>()?;
                    Ok(ShiftPattern {
                        name: entry.name.trim().to_owned(),
                        start: time(&entry.start, &what)?,
                        end: time(&entry.end, &what)?,
                        breaks,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?
        };
        ShiftCalendar::new(offset, patterns).map_err(|e| format!("[calendar] {e}"))
    }
}

/// `[machine]`: how PLC states count as time.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MachineSection {
    /// PackML state name → category name.
    pub categories: std::collections::BTreeMap<String, String>,
    /// PLC stop reason → the reason code it usually means.
    pub stop_reasons: std::collections::BTreeMap<String, String>,
}

impl MachineSection {
    /// The category table, or what to fix in words.
    pub fn table(&self) -> Result<crate::domain::machine::CategoryTable, String> {
        let mut table = crate::domain::machine::CategoryTable::default();
        for (state, category) in &self.categories {
            let state_code = crate::domain::PackMlState::from_name(state)
                .ok_or_else(|| {
                    format!("[machine.categories] {state:?} is not a PackML state (e.g. held, idle, stopped)")
                })?
                .code();
            let category = crate::domain::machine::MachineCategory::parse(category).ok_or_else(|| {
                format!(
                    "[machine.categories] {state} = {category:?}: use running, idle, blocked, starved, planned_downtime or unplanned_downtime"
                )
            })?;
            table.overrides.insert(state_code, category);
        }
        Ok(table)
    }

    /// The PLC stop reasons and their usual reason codes, or what to fix in words.
    pub fn stop_reasons(&self) -> Result<std::collections::BTreeMap<u16, String>, String> {
        self.stop_reasons
            .iter()
            .map(|(code, reason)| {
                let code: u16 = code.trim().parse().map_err(|_| {
                    format!("[machine.stop_reasons] {code:?} is not a PLC stop reason number")
                })?;
                if reason.trim().is_empty() {
                    return Err(format!(
                        "[machine.stop_reasons] {code} has an empty reason code"
                    ));
                }
                Ok((code, reason.trim().to_uppercase()))
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CodesSection {
    pub badge: String,
    pub work_order: String,
    pub defect: String,
    pub reason: String,
}

impl Default for CodesSection {
    fn default() -> Self {
        let patterns = crate::scan::Patterns::default();
        CodesSection {
            badge: patterns.badge,
            work_order: patterns.work_order,
            defect: patterns.defect,
            reason: patterns.reason,
        }
    }
}

impl CodesSection {
    pub fn patterns(&self) -> crate::scan::Patterns {
        crate::scan::Patterns {
            badge: self.badge.clone(),
            work_order: self.work_order.clone(),
            defect: self.defect.clone(),
            reason: self.reason.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputSection {
    pub id_pattern: String,
    pub duplicate_scan_window_ms: u64,
}

impl Default for OutputSection {
    fn default() -> Self {
        OutputSection {
            id_pattern: crate::domain::material::DEFAULT_OUTPUT_ID_PATTERN.to_owned(),
            duplicate_scan_window_ms: 1500,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlcSection {
    pub address: String,
    pub unit_id: u8,
    pub poll_interval_ms: u64,
    pub request_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Read the per-part record FIFO and acknowledge each record once it is recorded.
    pub part_records: bool,
    pub map: crate::plc::MapSection,
}

impl Default for PlcSection {
    fn default() -> Self {
        PlcSection {
            address: "127.0.0.1:5020".into(),
            unit_id: 1,
            poll_interval_ms: 250,
            request_timeout_ms: 1000,
            connect_timeout_ms: 3000,
            part_records: false,
            map: crate::plc::MapSection::default(),
        }
    }
}

impl PlcSection {
    /// What the station reads: `[plc.map]`, with the part-record FIFO head when switched on.
    pub fn status_layout(
        &self,
    ) -> Result<crate::plc::StatusLayout, crate::plc::layout::LayoutError> {
        crate::plc::StatusLayout::for_plc(&self.map, self.part_records)
    }

    /// Where the station writes: `[plc.map.commands]`, with the part-record ack when switched on.
    pub fn command_layout(
        &self,
    ) -> Result<crate::plc::layout::CommandLayout, crate::plc::layout::LayoutError> {
        crate::plc::layout::CommandLayout::for_plc(&self.map, self.part_records)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CentralSection {
    pub url: String,
    pub token: crate::secret::Secret,
    pub token_file: Option<PathBuf>,
    /// PEM CA certificate(s) to trust for an `https://` url, besides the system's roots.
    pub ca_file: Option<PathBuf>,
    pub pull_interval_ms: u64,
    pub request_timeout_ms: u64,
}

impl Default for CentralSection {
    fn default() -> Self {
        CentralSection {
            url: "http://127.0.0.1:8080".into(),
            token: crate::secret::Secret::default(),
            token_file: None,
            ca_file: None,
            pull_interval_ms: 5000,
            request_timeout_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiSection {
    pub keymap: Option<PathBuf>,
    pub bell: bool,
    pub login_hints: Vec<String>,
}

impl Default for UiSection {
    fn default() -> Self {
        UiSection {
            keymap: None,
            bell: true,
            login_hints: Vec::new(),
        }
    }
}

/// Where output labels go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrinterKind {
    None,
    File,
    Tcp,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrinterSection {
    pub kind: PrinterKind,
    pub path: Option<PathBuf>,
    pub address: String,
    pub timeout_ms: u64,
    pub queue_limit: usize,
    pub dpi: u32,
}

impl Default for PrinterSection {
    fn default() -> Self {
        PrinterSection {
            kind: PrinterKind::None,
            path: None,
            address: String::new(),
            timeout_ms: 3000,
            queue_limit: 200,
            dpi: 203,
        }
    }
}

impl PrinterSection {
    fn validate(&self) -> Result<(), String> {
        match self.kind {
            PrinterKind::File if self.path.is_none() => {
                return Err(
                    "[printer] kind = \"file\" needs path = \"labels.zpl\" (the file labels are added to)"
                        .into(),
                );
            }
            PrinterKind::Tcp if self.address.trim().is_empty() => {
                return Err(
                    "[printer] kind = \"tcp\" needs address = \"host:port\", e.g. \"192.168.10.30:9100\""
                        .into(),
                );
            }
            _ => {}
        }
        if self.timeout_ms == 0 {
            return Err("[printer] timeout_ms must be greater than zero".into());
        }
        if !(1..=10_000).contains(&self.queue_limit) {
            return Err(format!(
                "[printer] queue_limit = {}: choose between 1 and 10000",
                self.queue_limit
            ));
        }
        if !(150..=600).contains(&self.dpi) {
            return Err(format!(
                "[printer] dpi = {}: give the printer's resolution, e.g. 203 or 300",
                self.dpi
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScannerSection {
    pub prefix: Option<String>,
    pub min_length: usize,
    pub max_mean_gap_ms: u64,
    pub terminators: Vec<String>,
}

impl Default for ScannerSection {
    fn default() -> Self {
        // The same as ScanSettings::default(); a test holds them together.
        ScannerSection {
            prefix: None,
            min_length: 4,
            max_mean_gap_ms: 30,
            terminators: vec!["enter".into(), "tab".into()],
        }
    }
}

impl ScannerSection {
    /// The decoder's settings, or what to fix in words for the config error.
    pub fn settings(&self) -> Result<ScanSettings, String> {
        let prefix = match &self.prefix {
            Some(text) => keys::parse_prefix(text).map_err(|e| format!("[scanner] {e}"))?,
            None => Vec::new(),
        };
        if !(1..=MAX_SCAN_LEN).contains(&self.min_length) {
            return Err(format!(
                "[scanner] min_length = {}: choose between 1 and {MAX_SCAN_LEN}",
                self.min_length
            ));
        }
        if !(1..=1000).contains(&self.max_mean_gap_ms) {
            return Err(format!(
                "[scanner] max_mean_gap_ms = {}: choose between 1 and 1000",
                self.max_mean_gap_ms
            ));
        }
        if self.terminators.is_empty() {
            return Err(
                "[scanner] terminators is empty: name the key the scanner ends a read with, e.g. [\"enter\"]"
                    .into(),
            );
        }
        let terminators = self
            .terminators
            .iter()
            .map(|name| Terminator::parse(name).map_err(|e| format!("[scanner] {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ScanSettings {
            prefix,
            min_length: self.min_length,
            max_mean_gap: Duration::from_millis(self.max_mean_gap_ms),
            terminators,
        })
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("takt-data")
}

impl StationConfig {
    /// Reads, parses and validates a config file; relative paths become relative to its folder.
    pub fn load(path: &Path) -> Result<StationConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::parse(&text, path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.data_dir = base.join(&config.data_dir);
        config.ui.keymap = config.ui.keymap.map(|keymap| base.join(keymap));
        config.central.token_file = config.central.token_file.map(|file| base.join(file));
        config.central.ca_file = config.central.ca_file.map(|file| base.join(file));
        config.printer.path = config.printer.path.map(|file| base.join(file));
        Ok(config)
    }

    /// Parses and validates config text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<StationConfig, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let config: StationConfig = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        config.validate().map_err(invalid)?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        let station = self.station.trim();
        if station.is_empty() || station.len() > 64 || station.chars().any(|c| c.is_whitespace()) {
            return Err(format!(
                "station = {:?}: give the station id as central knows it, e.g. \"L1-S1\"",
                self.station
            ));
        }
        if self.plc.address.trim().is_empty() || !self.plc.address.contains(':') {
            return Err(format!(
                "[plc] address = {:?}: expected \"host:port\", e.g. \"192.168.10.20:502\"",
                self.plc.address
            ));
        }
        self.plc.status_layout().map_err(|e| e.to_string())?;
        self.plc.command_layout().map_err(|e| e.to_string())?;
        if !(50..=5000).contains(&self.plc.poll_interval_ms) {
            return Err(format!(
                "[plc] poll_interval_ms = {}: choose between 50 and 5000",
                self.plc.poll_interval_ms
            ));
        }
        if self.plc.request_timeout_ms == 0 || self.plc.connect_timeout_ms == 0 {
            return Err("[plc] timeouts must be greater than zero".into());
        }
        let url = self.central.url.trim();
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "[central] url = {:?}: expected http://host:port or https://host:port",
                self.central.url
            ));
        }
        if self.central.pull_interval_ms < 100 || self.central.request_timeout_ms == 0 {
            return Err(
                "[central] pull_interval_ms must be at least 100 and request_timeout_ms above zero"
                    .into(),
            );
        }
        self.printer.validate()?;
        self.scanner.settings()?;
        self.machine.table()?;
        self.machine.stop_reasons()?;
        self.calendar.calendar()?;
        self.quality.rules()?;
        self.codes
            .patterns()
            .check()
            .map_err(|e| format!("[codes] {e}"))?;
        crate::domain::material::check_output_id_pattern(&self.output.id_pattern)
            .map_err(|e| format!("[output] {e}"))?;
        if self.output.duplicate_scan_window_ms > 60_000 {
            return Err(format!(
                "[output] duplicate_scan_window_ms = {}: at most 60000 (a minute)",
                self.output.duplicate_scan_window_ms
            ));
        }
        Ok(())
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("station.db")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }

    /// The central token, from the file if one is named.
    pub fn central_token(&self) -> Result<crate::secret::Secret, ConfigError> {
        match &self.central.token_file {
            Some(path) => std::fs::read_to_string(path)
                .map(|text| crate::secret::Secret::new(text.trim()))
                .map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                }),
            None => Ok(crate::secret::Secret::new(
                self.central.token.expose().trim(),
            )),
        }
    }

    /// The plant CA named in `[central] ca_file`, read and checked; `None` when there is none.
    pub fn central_ca(&self) -> Result<Option<crate::tls_trust::TrustedCa>, ConfigError> {
        self.central
            .ca_file
            .as_deref()
            .map(crate::tls_trust::TrustedCa::load)
            .transpose()
            .map_err(|message| ConfigError::Trust { message })
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.plc.poll_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_default_parses_to_the_defaults() {
        let config = StationConfig::parse(DEFAULT_STATION_CONFIG, Path::new("default.toml"))
            .expect("parses");
        assert_eq!(config.station, "L1-S1");
        assert_eq!(config.plc, PlcSection::default());
        assert_eq!(config.scanner, ScannerSection::default());
        assert_eq!(config.quality, QualitySection::default());
        assert_eq!(
            config.scanner.settings(),
            Ok(ScanSettings::default()),
            "the printed defaults are the decoder's"
        );
    }

    #[test]
    fn spc_rules_are_one_of_the_two_sets_or_a_clear_error() {
        let parse = |section: &str| {
            StationConfig::parse(
                &format!("station = \"L1-S1\"\n{section}"),
                Path::new("station.toml"),
            )
        };
        let rules = |section: &str| parse(section).map(|config| config.quality.rules());
        assert!(matches!(
            rules(""),
            Ok(Ok(crate::domain::spc::RuleSet::WesternElectric))
        ));
        assert!(matches!(
            rules("[quality]\nspc_rules = \"nelson\"\n"),
            Ok(Ok(crate::domain::spc::RuleSet::Nelson))
        ));
        let error = parse("[quality]\nspc_rules = \"westen-electric\"\n")
            .expect_err("a misspelt rule set is refused")
            .to_string();
        assert!(
            error
                .contains("[quality] spc_rules = \"westen-electric\": choose \"western-electric\""),
            "{error}"
        );
    }

    #[test]
    fn the_scanner_section_is_strict() {
        let parse = |section: &str| {
            StationConfig::parse(
                &format!("station = \"L1-S1\"\n[scanner]\n{section}\n"),
                Path::new("s.toml"),
            )
        };
        let config = parse("prefix = '\\x02'\nterminators = [\"enter\"]\nmax_mean_gap_ms = 50")
            .expect("valid");
        let settings = config.scanner.settings().expect("settings");
        assert_eq!(settings.prefix, vec!['\u{2}']);
        assert_eq!(settings.terminators, vec![Terminator::Enter]);
        assert_eq!(settings.max_mean_gap, Duration::from_millis(50));
        assert_eq!(
            parse("prefix = \"STX\"")
                .expect("valid")
                .scanner
                .settings()
                .map(|s| s.prefix),
            Ok(vec!['\u{2}'])
        );
        for (bad, words) in [
            ("suffix = \"CR\"", "suffix"),
            ("prefix = \"\"", "prefix is empty"),
            ("min_length = 0", "min_length"),
            ("max_mean_gap_ms = 0", "max_mean_gap_ms"),
            ("terminators = []", "terminators"),
            ("terminators = [\"space\"]", "\"space\""),
        ] {
            let error = parse(bad).expect_err(bad).to_string();
            assert!(
                error.contains(words) && error.contains("s.toml"),
                "{bad}: {error}"
            );
        }
        assert_eq!(config.central, CentralSection::default());
        assert_eq!(config.ui, UiSection::default());
        assert_eq!(config.printer, PrinterSection::default());
    }

    #[test]
    fn the_printer_section_is_strict() {
        let parse = |printer: &str| {
            StationConfig::parse(
                &format!("station = \"L1-S1\"\n[printer]\n{printer}"),
                Path::new("s.toml"),
            )
        };
        let config = parse("kind = \"tcp\"\naddress = \"10.0.0.9:9100\"\ntimeout_ms = 500\n")
            .expect("tcp printer");
        assert_eq!(config.printer.kind, PrinterKind::Tcp);
        assert_eq!(config.printer.timeout_ms, 500);
        let config = parse("kind = \"file\"\npath = \"labels.zpl\"\n").expect("file");
        assert_eq!(config.printer.path, Some(PathBuf::from("labels.zpl")));
        for (printer, expected) in [
            ("kind = \"zebra\"\n", "unknown variant"),
            ("kind = \"tcp\"\nport = 9100\n", "unknown field"),
            ("kind = \"tcp\"\n", "needs address"),
            ("kind = \"file\"\n", "needs path"),
            ("timeout_ms = 0\n", "timeout_ms"),
            ("queue_limit = 0\n", "queue_limit"),
            ("dpi = 72\n", "dpi = 72"),
        ] {
            let error = parse(printer).expect_err(printer).to_string();
            assert!(error.contains(expected), "{printer}: {error}");
        }
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let error = StationConfig::parse("station = \"L1-S1\"\ncolour = 3\n", Path::new("s.toml"))
            .expect_err("unknown key");
        let text = error.to_string();
        assert!(text.contains("s.toml") && text.contains("colour"), "{text}");

        let error = StationConfig::parse(
            "station = \"L1-S1\"\n[plc]\naddress = \"nowhere\"\n",
            Path::new("s.toml"),
        )
        .expect_err("bad address");
        assert!(error.to_string().contains("host:port"), "{error}");

        let error = StationConfig::parse("station = [", Path::new("s.toml")).expect_err("bad toml");
        assert!(error.to_string().contains("line 1"), "{error}");

        for (map, words) in [
            ("[plc.map.fields.speed]\naddress = 1\n", "no such signal"),
            (
                "[plc.map.fields.recipe]\naddress = 12\n",
                "overlap at holding register 12",
            ),
            ("[plc.map.fields.processed]\nadress = 12\n", "adress"),
            (
                "[plc.map.states]\n\"1\" = \"sprinting\"\n",
                "not a PackML state",
            ),
            (
                "[machine.categories]\nsleeping = \"idle\"\n",
                "not a PackML state",
            ),
            (
                "[machine.categories]\nheld = \"coffee\"\n",
                "planned_downtime",
            ),
        ] {
            let error =
                StationConfig::parse(&format!("station = \"L1-S1\"\n{map}"), Path::new("s.toml"))
                    .expect_err(map)
                    .to_string();
            assert!(
                error.contains("s.toml") && error.contains(words),
                "{map}: {error}"
            );
        }
    }
}
