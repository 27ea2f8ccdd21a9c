//! ISO 22400-2 KPIs at central, per station or line, per shift, day or time window, worked out
//! from the raw events the stations sent — never from stored KPIs, so a stop coded later (as a
//! break, say) changes the figures of the shift it happened in.
//!
//! A window is cut into the calendar's shifts: time outside every shift is not planned operation
//! time, and each shift brings its breaks. Each station's figures are computed shift by shift
//! through the same [`KpiHistory`] the station uses live, then the time elements and quantities are
//! summed and the KPIs derived from the sums ([`KpiReport::total`]); a line's total sums its
//! stations' the same way. A day's figures are therefore the sum of its shifts' figures (a stop
//! across a shift change counts in both, as it does in each shift's own report).

use super::db::{Db, DbError};
use crate::config::CalendarSection;
use crate::domain::kpi::MICRO_STOP;
use crate::domain::kpi_history::{KpiHistory, KpiReport, Query};
use crate::domain::shift::ShiftCalendar;
use crate::domain::{Event, EventKind, MasterData, StationId, WorkOrderId};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The longest `from`..`to` window a query may ask for.
pub const MAX_WINDOW_DAYS: i64 = 31;

// ---------------------------------------------------------------------------------------------
// The answer of `GET /api/v1/kpi/oee`.

/// KPIs of one or more stations over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OeeReport {
    pub window: KpiWindow,
    /// One entry per station, in id order.
    pub stations: Vec<StationKpis>,
    /// For a line query: the line's total from its stations' summed elements; `null` otherwise.
    pub line: Option<LineKpis>,
}

/// The window the figures cover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiWindow {
    /// What was asked for, in words: `shift Early 2026-11-25`, `day 2026-11-25`, …
    pub period: String,
    pub from: DateTime<Utc>,
    /// Never later than the moment of the query: a running shift counts up to now.
    pub to: DateTime<Utc>,
    /// True when the period reaches past the moment of the query and was cut there.
    pub until_now: bool,
    /// The calendar's offset from UTC ("+01:00"); shift times are plant-local.
    pub utc_offset: String,
    /// Unplanned stops shorter than this are micro-stops, not failures.
    pub micro_stop_seconds: f64,
    /// The shifts (or parts of shifts) inside the window, in time order: only they are planned
    /// operation time.
    pub shifts: Vec<ShiftWindow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShiftWindow {
    /// `Early 2026-11-25`: the shift's name and the plant-local day it starts on.
    pub label: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationKpis {
    pub station: String,
    pub line: Option<String>,
    #[serde(flatten)]
    pub figures: KpiFigures,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineKpis {
    pub line: String,
    pub stations: Vec<String>,
    #[serde(flatten)]
    pub figures: KpiFigures,
}

/// Time elements, quantities and KPIs of one work unit (or a sum of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiFigures {
    pub elements: ElementSeconds,
    pub quantities: Quantities,
    pub kpis: KpiValues,
}

/// ISO 22400-2 time elements in seconds, with the failures and micro-stops among the delays.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ElementSeconds {
    /// Planned operation time: the shifts' time inside the window.
    pub pot: f64,
    /// Breaks, stops coded with a planned reason, declared planned downtime.
    pub planned_downtime: f64,
    /// Planned busy time = POT − planned downtime.
    pub pbt: f64,
    /// Actual production time (running).
    pub apt: f64,
    /// Actual unit setup time (not yet told apart: 0).
    pub aust: f64,
    /// Actual unit processing time = APT + AUST.
    pub aupt: f64,
    /// Actual unit delay time: unplanned stops, micro-stops included.
    pub adet: f64,
    /// Actual unit busy time = AUPT + ADET.
    pub aubt: f64,
    /// Actual unit down time: idle, blocked, starved.
    pub adot: f64,
    /// Time the failures took (the repair time MTTR is worked out from).
    pub repair: f64,
    /// Unplanned stops at least the micro-stop threshold long.
    pub failures: u32,
    pub micro_stops: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantities {
    /// Produced quantity (good and rejected).
    pub pq: u64,
    /// Good quantity.
    pub gq: u64,
    /// PRI × PQ in seconds: what the units made were planned to take; `null` when some unit's
    /// work order has no ideal cycle at the station (effectiveness is then unknown).
    pub planned_run_time: Option<f64>,
}

/// The KPIs as fractions (0.8 is 80 %), `null` where a denominator is zero; MTBF and MTTR in
/// seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KpiValues {
    pub availability: Option<f64>,
    pub effectiveness: Option<f64>,
    pub quality_ratio: Option<f64>,
    pub oee: Option<f64>,
    pub nee: Option<f64>,
    pub allocation_efficiency: Option<f64>,
    pub utilisation_efficiency: Option<f64>,
    pub technical_efficiency: Option<f64>,
    pub setup_ratio: Option<f64>,
    pub mtbf: Option<f64>,
    pub mttr: Option<f64>,
}

impl From<&KpiReport> for KpiFigures {
    fn from(report: &KpiReport) -> Self {
        let e = &report.elements;
        let k = &report.kpis;
        KpiFigures {
            elements: ElementSeconds {
                pot: e.pot,
                planned_downtime: e.planned_downtime,
                pbt: e.pbt,
                apt: e.apt,
                aust: e.aust,
                aupt: e.aupt,
                adet: e.adet,
                aubt: e.aubt,
                adot: e.adot,
                repair: e.repair,
                failures: e.failures,
                micro_stops: e.micro_stops,
            },
            quantities: Quantities {
                pq: report.produced,
                gq: report.good,
                planned_run_time: report
                    .planned_run_time
                    .map(|run| run.num_milliseconds() as f64 / 1000.0),
            },
            kpis: KpiValues {
                availability: k.availability,
                effectiveness: k.effectiveness,
                quality_ratio: k.quality_ratio,
                oee: k.oee,
                nee: k.nee,
                allocation_efficiency: k.allocation_efficiency,
                utilisation_efficiency: k.utilisation_efficiency,
                technical_efficiency: k.technical_efficiency,
                setup_ratio: k.setup_ratio,
                mtbf: k.mtbf,
                mttr: k.mttr,
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The question.

/// Whose KPIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Station(StationId),
    Line(String),
}

/// Which time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Period {
    /// One shift of the calendar on the plant-local day it starts.
    Shift { name: String, date: NaiveDate },
    /// A production day: every shift that starts on that plant-local day (a night shift belongs
    /// to the day it starts, as its label says).
    Day(NaiveDate),
    /// The shifts' time between two instants.
    Range {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    /// The shift running at the moment of the query.
    Current,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OeeRequest {
    pub target: Target,
    pub period: Period,
}

/// The query string of `GET /api/v1/kpi/oee`, as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OeeParams {
    pub station: Option<String>,
    pub line: Option<String>,
    pub shift: Option<String>,
    pub date: Option<String>,
    pub day: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl OeeParams {
    /// What the parameters ask, or what is wrong with them in words (a 400).
    pub fn request(&self) -> Result<OeeRequest, String> {
        let given = |name: &str, value: &Option<String>| -> Result<Option<String>, String> {
            match value.as_deref().map(str::trim) {
                None => Ok(None),
                Some("") => Err(format!("{name}= is empty")),
                Some(text) => Ok(Some(text.to_owned())),
            }
        };
        let target = match (given("station", &self.station)?, given("line", &self.line)?) {
            (Some(station), None) => Target::Station(StationId::new(station)),
            (None, Some(line)) => Target::Line(line),
            (Some(_), Some(_)) => {
                return Err("give station= or line=, not both".into());
            }
            (None, None) => {
                return Err("say whose KPIs: station=L1-S1 or line=L1".into());
            }
        };
        let shift = given("shift", &self.shift)?;
        let date = given("date", &self.date)?;
        let day = given("day", &self.day)?;
        let from = given("from", &self.from)?;
        let to = given("to", &self.to)?;
        let period = match (shift, date, day, from, to) {
            (None, None, None, None, None) => Period::Current,
            (Some(name), Some(date), None, None, None) => Period::Shift {
                name,
                date: parse_date("date", &date)?,
            },
            (Some(name), None, None, None, None) => {
                return Err(format!(
                    "shift={name} needs the day it starts on: date=YYYY-MM-DD"
                ));
            }
            (None, Some(_), None, None, None) => {
                return Err("date= goes with shift=; for a whole day give day=YYYY-MM-DD".into());
            }
            (None, None, Some(day), None, None) => Period::Day(parse_date("day", &day)?),
            (None, None, None, Some(from), Some(to)) => {
                let from = parse_instant("from", &from)?;
                let to = parse_instant("to", &to)?;
                if to <= from {
                    return Err(format!(
                        "to= ({}) must be after from= ({})",
                        to.to_rfc3339(),
                        from.to_rfc3339()
                    ));
                }
                if to - from > Duration::days(MAX_WINDOW_DAYS) {
                    return Err(format!(
                        "from= to to= spans more than {MAX_WINDOW_DAYS} days; ask for a shorter window"
                    ));
                }
                Period::Range { from, to }
            }
            (None, None, None, Some(_), None) | (None, None, None, None, Some(_)) => {
                return Err("from= and to= go together".into());
            }
            _ => {
                return Err(
                    "give one period: shift= with date=, or day=, or from= with to= (or none for the shift running now)"
                        .into(),
                );
            }
        };
        Ok(OeeRequest { target, period })
    }
}

fn parse_date(name: &str, text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| format!("{name}={text:?} is not a date like 2026-11-25: {e}"))
}

fn parse_instant(name: &str, text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| {
            let hint = if text.contains(' ') {
                " (a '+' in a URL must be written %2B)"
            } else {
                ""
            };
            format!("{name}={text:?} is not an RFC 3339 time like 2026-11-25T06:00:00Z: {e}{hint}")
        })
}

// ---------------------------------------------------------------------------------------------
// From a period to shifts.

/// Why a period has no window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("the calendar has no shift {name:?} (its shifts: {known})")]
    UnknownShift { name: String, known: String },
    #[error(
        "no shift of the calendar runs now ({now}); ask for shift= with date=, day= or from= with to="
    )]
    NoShiftNow { now: String },
    #[error("{0} is out of the calendar's range")]
    OutOfRange(NaiveDate),
}

/// One shift, or the part of it inside the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub label: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The shift's breaks (planned downtime); whatever lies outside the piece is ignored.
    pub breaks: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

/// The window of a period: its bounds, its shifts, cut at the moment of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub period: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub until_now: bool,
    pub pieces: Vec<Piece>,
}

/// The shifts a period covers, in time order, each cut to the window and to `now` (the future is
/// not planned operation time yet: a running shift counts up to now).
pub fn resolve(
    calendar: &ShiftCalendar,
    period: &Period,
    now: DateTime<Utc>,
) -> Result<Window, PeriodError> {
    let whole = |shift: crate::domain::shift::Shift| Piece {
        label: shift.label(),
        from: shift.start,
        to: shift.end,
        breaks: shift.breaks,
    };
    let (description, from, to, pieces) = match period {
        Period::Shift { name, date } => {
            let shift = calendar.shift_on(name, *date).ok_or_else(|| {
                if calendar
                    .patterns()
                    .iter()
                    .any(|p| p.name.eq_ignore_ascii_case(name))
                {
                    PeriodError::OutOfRange(*date)
                } else {
                    PeriodError::UnknownShift {
                        name: name.clone(),
                        known: calendar
                            .patterns()
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    }
                }
            })?;
            let piece = whole(shift);
            (
                format!("shift {}", piece.label),
                piece.from,
                piece.to,
                vec![piece],
            )
        }
        Period::Day(date) => {
            let mut pieces = calendar
                .patterns()
                .iter()
                .map(|pattern| calendar.shift_on(&pattern.name, *date).map(whole))
                .collect::<Option<Vec<_>>>()
                .ok_or(PeriodError::OutOfRange(*date))?;
            pieces.sort_by_key(|piece| piece.from);
            let midnight = calendar
                .day_start(*date)
                .ok_or(PeriodError::OutOfRange(*date))?;
            let from = pieces.first().map_or(midnight, |piece| piece.from);
            let to = pieces
                .iter()
                .map(|piece| piece.to)
                .max()
                .unwrap_or(midnight);
            (format!("day {date}"), from, to, pieces)
        }
        Period::Range { from, to } => {
            let pieces = calendar
                .shifts_between(*from, *to)
                .into_iter()
                .map(|shift| Piece {
                    from: shift.start.max(*from),
                    to: shift.end.min(*to),
                    ..whole(shift)
                })
                .collect();
            (
                format!("from {} to {}", from.to_rfc3339(), to.to_rfc3339()),
                *from,
                *to,
                pieces,
            )
        }
        Period::Current => {
            let shift = calendar
                .shift_at(now)
                .ok_or_else(|| PeriodError::NoShiftNow {
                    now: now.to_rfc3339(),
                })?;
            let piece = whole(shift);
            (
                format!("the shift running now, {}", piece.label),
                piece.from,
                piece.to,
                vec![piece],
            )
        }
    };
    let until = |at: DateTime<Utc>, floor: DateTime<Utc>| at.min(now).max(floor);
    Ok(Window {
        period: description,
        from,
        to: until(to, from),
        until_now: to > now,
        pieces: pieces
            .into_iter()
            .map(|piece| Piece {
                to: until(piece.to, piece.from),
                ..piece
            })
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// The figures.

/// One station's KPIs over a window from its events (as [`Db::kpi_events`] loads them): shift by
/// shift, then summed. A count belongs to the shift it falls in, one at a shift's last instant to
/// the next shift (as [`ShiftCalendar::shift_at`] has it), so no unit is counted twice.
pub fn station_report(
    events: &[Event],
    window: &Window,
    master: &MasterData,
    station: &StationId,
) -> KpiReport {
    let mut base = KpiHistory::default();
    let mut units: Vec<&Event> = Vec::new();
    for event in events {
        if matches!(event.kind, EventKind::UnitsProduced { .. }) {
            units.push(event);
        } else {
            base.record(event);
        }
    }
    units.sort_by_key(|event| event.at);
    let ideal_cycle = |order: &WorkOrderId| master.ideal_cycle(order, station);
    let planned_reason = |reason: &str| master.is_planned_reason(reason);
    let reports: Vec<KpiReport> = window
        .pieces
        .iter()
        .map(|piece| {
            let mut history = base.clone();
            let first = units.partition_point(|event| event.at < piece.from);
            let end = units
                .partition_point(|event| event.at < piece.to)
                .max(first);
            for event in units.get(first..end).unwrap_or_default() {
                history.record(event);
            }
            history.kpis(&Query {
                from: piece.from,
                to: piece.to,
                breaks: &piece.breaks,
                work_order: None,
                micro_stop: MICRO_STOP,
                ideal_cycle: &ideal_cycle,
                planned_reason: &planned_reason,
            })
        })
        .collect();
    KpiReport::total(&reports)
}

/// Why a KPI query has no answer.
#[derive(Debug, thiserror::Error)]
pub enum KpiError {
    #[error("central knows no station {0}")]
    UnknownStation(String),
    #[error("central knows no line {0}")]
    UnknownLine(String),
    #[error(transparent)]
    Period(#[from] PeriodError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The KPIs `request` asks for, as of `now`.
pub fn oee(
    db: &Db,
    calendar: &ShiftCalendar,
    request: &OeeRequest,
    now: DateTime<Utc>,
) -> Result<OeeReport, KpiError> {
    let (stations, line) = match &request.target {
        Target::Station(id) => {
            let line = db
                .station_line(id)?
                .ok_or_else(|| KpiError::UnknownStation(id.to_string()))?;
            (vec![(id.clone(), line)], None)
        }
        Target::Line(line) => {
            let ids = db
                .line_stations(line)?
                .ok_or_else(|| KpiError::UnknownLine(line.clone()))?;
            let stations = ids.into_iter().map(|id| (id, Some(line.clone()))).collect();
            (stations, Some(line.clone()))
        }
    };
    let window = resolve(calendar, &request.period, now)?;
    let master = db.kpi_master()?;
    let mut reports = Vec::with_capacity(stations.len());
    let mut rows = Vec::with_capacity(stations.len());
    for (station, station_line) in stations {
        let events = db.kpi_events(&station, window.from, window.to)?;
        let report = station_report(&events, &window, &master, &station);
        rows.push(StationKpis {
            station: station.to_string(),
            line: station_line,
            figures: KpiFigures::from(&report),
        });
        reports.push(report);
    }
    let line = line.map(|line| LineKpis {
        line,
        stations: rows.iter().map(|row| row.station.clone()).collect(),
        figures: KpiFigures::from(&KpiReport::total(&reports)),
    });
    Ok(OeeReport {
        window: KpiWindow {
            period: window.period,
            from: window.from,
            to: window.to,
            until_now: window.until_now,
            utc_offset: calendar.offset().to_string(),
            micro_stop_seconds: MICRO_STOP.num_milliseconds() as f64 / 1000.0,
            shifts: window
                .pieces
                .iter()
                .map(|piece| ShiftWindow {
                    label: piece.label.clone(),
                    from: piece.from,
                    to: piece.to,
                })
                .collect(),
        },
        stations: rows,
        line,
    })
}

// ---------------------------------------------------------------------------------------------
// The calendar file.

/// Why `--calendar FILE` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CalendarFileError {
    #[error("cannot read the calendar file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("calendar file {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// Only `[calendar]` is read, so a station's station.toml serves as well as a file of its own.
#[derive(Deserialize)]
struct CalendarFile {
    calendar: Option<CalendarSection>,
}

/// The shift calendar in the `[calendar]` section of a TOML file (the format of station.toml's).
pub fn load_calendar(path: &Path) -> Result<ShiftCalendar, CalendarFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| CalendarFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_calendar(&text, path)
}

/// [`load_calendar`] on text already read; `path` only names the file in errors.
pub fn parse_calendar(text: &str, path: &Path) -> Result<ShiftCalendar, CalendarFileError> {
    let invalid = |message: String| CalendarFileError::Invalid {
        path: path.to_owned(),
        message,
    };
    let file: CalendarFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let section = file.calendar.ok_or_else(|| {
        invalid("there is no [calendar] section (see `takt station --print-default-config`)".into())
    })?;
    section.calendar().map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::machine::MachineCategory;
    use crate::domain::{Actor, GENESIS_HASH, NewEvent};

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test value")
            .with_timezone(&Utc)
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().expect("test value")
    }

    fn params(query: &str) -> OeeParams {
        let mut params = OeeParams::default();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match key {
                "station" => &mut params.station,
                "line" => &mut params.line,
                "shift" => &mut params.shift,
                "date" => &mut params.date,
                "day" => &mut params.day,
                "from" => &mut params.from,
                "to" => &mut params.to,
                _ => panic!("test query has {key}"),
            };
            *slot = Some(value.to_owned());
        }
        params
    }

    #[test]
    fn parameters_name_one_target_and_one_period() {
        let request = params("station=L1-S1&shift=Early&date=2026-11-25")
            .request()
            .expect("valid");
        assert_eq!(request.target, Target::Station(StationId::new("L1-S1")));
        assert_eq!(
            request.period,
            Period::Shift {
                name: "Early".into(),
                date: date("2026-11-25")
            }
        );
        assert_eq!(
            params("line=L1").request().expect("valid").period,
            Period::Current
        );
        assert_eq!(
            params("line=L1&day=2026-11-25")
                .request()
                .expect("valid")
                .period,
            Period::Day(date("2026-11-25"))
        );
        assert_eq!(
            params("line=L1&from=2026-11-25T07:00:00+01:00&to=2026-11-25T08:00:00Z")
                .request()
                .expect("valid")
                .period,
            Period::Range {
                from: utc("2026-11-25T06:00:00Z"),
                to: utc("2026-11-25T08:00:00Z")
            }
        );
        let refused = |query: &str| params(query).request().expect_err(query);
        assert_eq!(refused(""), "say whose KPIs: station=L1-S1 or line=L1");
        assert_eq!(
            refused("station=A&line=L1"),
            "give station= or line=, not both"
        );
        assert_eq!(refused("station="), "station= is empty");
        assert_eq!(
            refused("station=A&shift=Early"),
            "shift=Early needs the day it starts on: date=YYYY-MM-DD"
        );
        assert_eq!(
            refused("station=A&date=2026-11-25"),
            "date= goes with shift=; for a whole day give day=YYYY-MM-DD"
        );
        assert!(
            refused("station=A&day=2026-13-01").starts_with("day=\"2026-13-01\" is not a date")
        );
        assert_eq!(
            refused("station=A&from=2026-11-25T06:00:00Z"),
            "from= and to= go together"
        );
        assert!(
            refused("station=A&day=2026-11-25&shift=Early")
                .starts_with("give one period: shift= with date=, or day=")
        );
        assert!(
            refused("station=A&from=2026-11-25T07:00:00Z&to=2026-11-25T06:00:00Z")
                .starts_with("to= (2026-11-25T06:00:00+00:00) must be after from=")
        );
        assert!(
            refused("station=A&from=2026-10-01T00:00:00Z&to=2026-11-25T00:00:00Z")
                .contains("more than 31 days")
        );
        assert!(
            refused("station=A&from=2026-11-25T07:00:00 01:00&to=2026-11-25T08:00:00Z")
                .ends_with("(a '+' in a URL must be written %2B)")
        );
    }

    #[test]
    fn a_day_is_its_shifts_and_a_window_takes_the_shifts_inside_it() {
        let calendar = ShiftCalendar::default();
        let now = utc("2026-12-01T00:00:00Z");
        let day = resolve(&calendar, &Period::Day(date("2026-11-25")), now).expect("day");
        let labels: Vec<&str> = day.pieces.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(
            labels,
            ["Early 2026-11-25", "Late 2026-11-25", "Night 2026-11-25"]
        );
        // The production day runs from the first shift's start to the night shift's end.
        assert_eq!(
            (day.from, day.to),
            (utc("2026-11-25T06:00:00Z"), utc("2026-11-26T06:00:00Z"))
        );
        assert!(!day.until_now);

        // 05:00–15:00 takes the end of the night before, Early, and the start of Late.
        let range = resolve(
            &calendar,
            &Period::Range {
                from: utc("2026-11-25T05:00:00Z"),
                to: utc("2026-11-25T15:00:00Z"),
            },
            now,
        )
        .expect("range");
        let cut: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = range
            .pieces
            .iter()
            .map(|p| (p.label.clone(), p.from, p.to))
            .collect();
        assert_eq!(
            cut,
            [
                (
                    "Night 2026-11-24".into(),
                    utc("2026-11-25T05:00:00Z"),
                    utc("2026-11-25T06:00:00Z")
                ),
                (
                    "Early 2026-11-25".into(),
                    utc("2026-11-25T06:00:00Z"),
                    utc("2026-11-25T14:00:00Z")
                ),
                (
                    "Late 2026-11-25".into(),
                    utc("2026-11-25T14:00:00Z"),
                    utc("2026-11-25T15:00:00Z")
                ),
            ]
        );
    }

    #[test]
    fn a_running_shift_counts_up_to_now_and_the_current_shift_is_found() {
        let calendar = ShiftCalendar::default();
        let now = utc("2026-11-25T09:30:00Z");
        let current = resolve(&calendar, &Period::Current, now).expect("current");
        assert_eq!(current.period, "the shift running now, Early 2026-11-25");
        assert_eq!(
            (current.from, current.to),
            (utc("2026-11-25T06:00:00Z"), now)
        );
        assert!(current.until_now);
        assert_eq!(current.pieces[0].to, now);
        // A shift still to come is an empty window, not an error.
        let later = resolve(
            &calendar,
            &Period::Shift {
                name: "late".into(),
                date: date("2026-11-25"),
            },
            now,
        )
        .expect("later");
        assert_eq!(later.pieces[0].label, "Late 2026-11-25");
        assert_eq!(later.pieces[0].from, later.pieces[0].to);
        assert_eq!(
            resolve(
                &calendar,
                &Period::Shift {
                    name: "Weekend".into(),
                    date: date("2026-11-25")
                },
                now
            ),
            Err(PeriodError::UnknownShift {
                name: "Weekend".into(),
                known: "Early, Late, Night".into()
            })
        );
        let day_shift = parse_calendar(
            "[calendar]\nshifts = [{ name = \"Day\", start = \"07:00\", end = \"15:30\" }]\n",
            Path::new("cal.toml"),
        )
        .expect("calendar");
        assert!(matches!(
            resolve(&day_shift, &Period::Current, utc("2026-11-25T20:00:00Z")),
            Err(PeriodError::NoShiftNow { .. })
        ));
    }

    #[test]
    fn a_calendar_file_needs_its_section_and_may_be_a_station_toml() {
        let path = Path::new("plant.toml");
        let calendar = parse_calendar(
            "station = \"L1-S1\"\n[plc]\naddress = \"x:1\"\n[calendar]\nutc_offset = \"+01:00\"\nshifts = [{ name = \"Day\", start = \"07:00\", end = \"15:30\", breaks = [\"11:00-11:30\"] }]\n",
            path,
        )
        .expect("calendar");
        assert_eq!(calendar.patterns().len(), 1);
        assert_eq!(calendar.offset().to_string(), "+01:00");
        let missing = parse_calendar("[calender]\n", path).expect_err("refused");
        assert_eq!(
            missing.to_string(),
            "calendar file plant.toml: there is no [calendar] section (see `takt station --print-default-config`)"
        );
        let bad = parse_calendar(
            "[calendar]\nshifts = [{ name = \"Day\", start = \"7 o'clock\", end = \"15:30\" }]\n",
            path,
        )
        .expect_err("refused");
        assert!(
            bad.to_string()
                .contains("[calendar] shift Day \"7 o'clock\": expected a time like \"06:00\""),
            "{bad}"
        );
        let typo = parse_calendar("[calendar]\nshift = []\n", path).expect_err("refused");
        assert!(typo.to_string().contains("unknown field `shift`"), "{typo}");
    }

    fn chain(events: Vec<(DateTime<Utc>, EventKind)>) -> Vec<Event> {
        let mut prev = GENESIS_HASH.to_owned();
        events
            .into_iter()
            .enumerate()
            .map(|(index, (at, kind))| {
                let event = Event::seal(
                    NewEvent {
                        at,
                        actor: Actor::Plc,
                        kind,
                    },
                    StationId::new("L1-S1"),
                    index as u64 + 1,
                    uuid::Uuid::nil(),
                    prev.clone(),
                );
                prev = event.hash.clone();
                event
            })
            .collect()
    }

    fn state(category: MachineCategory) -> EventKind {
        EventKind::MachineStateChanged {
            packml: 0,
            stop_reason: 0,
            blocked: false,
            starved: false,
            category,
        }
    }

    fn units(produced: u64) -> EventKind {
        EventKind::UnitsProduced {
            work_order: None,
            produced,
            rejected: 0,
            plc_epoch: 1,
            processed_total: 0,
            defective_total: 0,
        }
    }

    /// Running from 05:00 all day but for the three 30 min breaks (idle). A day is its three
    /// shifts, 24 h of POT less the breaks: PBT 22.5 h, all of it running, so A = 1. A count at
    /// 14:00 sharp belongs to Late only, and one at 13:59 to Early: the day has each once.
    #[test]
    fn a_day_sums_its_shifts_and_counts_each_unit_once() {
        let events = chain(vec![
            (utc("2026-11-25T05:00:00Z"), state(MachineCategory::Running)),
            (utc("2026-11-25T10:00:00Z"), state(MachineCategory::Idle)),
            (utc("2026-11-25T10:30:00Z"), state(MachineCategory::Running)),
            (utc("2026-11-25T13:59:00Z"), units(7)),
            (utc("2026-11-25T14:00:00Z"), units(5)),
            (utc("2026-11-25T18:00:00Z"), state(MachineCategory::Idle)),
            (utc("2026-11-25T18:30:00Z"), state(MachineCategory::Running)),
            (utc("2026-11-26T02:00:00Z"), state(MachineCategory::Idle)),
            (utc("2026-11-26T02:30:00Z"), state(MachineCategory::Running)),
        ]);
        let calendar = ShiftCalendar::default();
        let now = utc("2026-12-01T00:00:00Z");
        let station = StationId::new("L1-S1");
        let master = MasterData::default();
        let day = resolve(&calendar, &Period::Day(date("2026-11-25")), now).expect("day");
        let report = station_report(&events, &day, &master, &station);
        assert_eq!(report.elements.pot, 24.0 * 3600.0);
        assert_eq!(report.elements.planned_downtime, 3.0 * 1800.0);
        assert_eq!(report.elements.pbt, 22.5 * 3600.0);
        assert_eq!(report.elements.apt, 22.5 * 3600.0);
        assert_eq!(report.kpis.availability, Some(1.0));
        assert_eq!(report.produced, 12);
        // No work order, so no ideal cycle: effectiveness is unknown, not guessed.
        assert_eq!(report.kpis.effectiveness, None);
        let early = resolve(
            &calendar,
            &Period::Shift {
                name: "Early".into(),
                date: date("2026-11-25"),
            },
            now,
        )
        .expect("early");
        assert_eq!(
            station_report(&events, &early, &master, &station).produced,
            7
        );
        // 10:00–12:00 is inside Early: POT 2 h, the 10:00–10:30 break planned.
        let range = resolve(
            &calendar,
            &Period::Range {
                from: utc("2026-11-25T10:00:00Z"),
                to: utc("2026-11-25T12:00:00Z"),
            },
            now,
        )
        .expect("range");
        let part = station_report(&events, &range, &master, &station);
        assert_eq!(
            (
                part.elements.pot,
                part.elements.planned_downtime,
                part.produced
            ),
            (7_200.0, 1_800.0, 0)
        );
    }
}
