//! Events in words an auditor reads: who did it, what they did, and why. Used by `takt audit
//! report`; the wording lives here, beside the events, so that adding an event kind without saying
//! what it means does not compile (every match below is exhaustive on purpose: no `_` arm).
//!
//! Pure: names of people and reason codes come in through [`Names`].

use super::downtime::{PACKML_CLEAR, PACKML_RESET};
use super::event::{Actor, BaselineCause, ConsumptionBasis, Entry, Event, EventKind, OutputForm};
use super::ids::{Badge, LotId, WorkOrderId};
use super::master::MasterData;
use super::plc::PackMlState;
use chrono::{DateTime, Utc};

/// What the report knows of people and codes: master data, or whatever stands in for it.
pub trait Names {
    fn operator_name(&self, badge: &Badge) -> Option<&str>;
    /// The text of a downtime or defect code (`R-11` → `spindle`).
    fn code_text(&self, code: &str) -> Option<&str>;
}

impl Names for MasterData {
    fn operator_name(&self, badge: &Badge) -> Option<&str> {
        self.operators.get(badge).map(|o| o.name.as_str())
    }

    fn code_text(&self, code: &str) -> Option<&str> {
        self.codes.get(code).map(|c| c.text.as_str())
    }
}

/// One event told: what happened and, where the event carries one, the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrative {
    pub what: String,
    pub why: Option<String>,
}

/// `EMP-1001 Demo Operator A`, `PLC` or `station`.
pub fn who(actor: &Actor, names: &dyn Names) -> String {
    match actor {
        Actor::Operator(badge) => person(badge, names),
        Actor::Plc => "PLC".into(),
        Actor::Station => "station".into(),
    }
}

/// A badge with the name master data gives it, if any.
fn person(badge: &Badge, names: &dyn Names) -> String {
    match names.operator_name(badge) {
        Some(name) => format!("{badge} {name}"),
        None => badge.to_string(),
    }
}

/// `R-11 spindle`, or the bare code when master data does not know it.
fn code(code: &str, names: &dyn Names) -> String {
    match names.code_text(code) {
        Some(text) => format!("{code} {text}"),
        None => code.to_owned(),
    }
}

/// What `event` means, in the words of an audit trail.
pub fn narrate(event: &Event, names: &dyn Names) -> Narrative {
    let told = |what: String| Narrative { what, why: None };
    let because = |what: String, why: String| Narrative {
        what,
        why: Some(why),
    };
    let is_actor = |badge: &Badge| matches!(&event.actor, Actor::Operator(actor) if actor == badge);
    match &event.kind {
        EventKind::OperatorLoggedIn { badge, name } if is_actor(badge) => {
            // The name the station greeted them with is evidence too; say it when master data now
            // calls them something else.
            match names.operator_name(badge) {
                Some(known) if known != name => told(format!("logged in (greeted as {name})")),
                _ => told("logged in".into()),
            }
        }
        EventKind::OperatorLoggedIn { badge, name } => told(format!("logged in {badge} {name}")),
        EventKind::OperatorLoggedOut {
            badge,
            reason: None,
        } if is_actor(badge) => told("logged out".into()),
        EventKind::OperatorLoggedOut {
            badge,
            reason: None,
        } => told(format!("logged out {}", person(badge, names))),
        EventKind::OperatorLoggedOut {
            badge,
            reason: Some(super::event::LogoutReason::Idle),
        } => Narrative {
            what: format!("logged out {}", person(badge, names)),
            why: Some("no activity for the station's idle time".into()),
        },
        EventKind::LoginFailed { badge, attempt } => Narrative {
            what: format!("refused a login of {}", person(badge, names)),
            why: Some(format!("wrong PIN, {attempt} in a row")),
        },
        EventKind::BadgeLocked {
            badge,
            until,
            attempts,
        } => Narrative {
            what: format!(
                "locked badge {badge} until {}",
                until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            why: Some(format!("{attempts} wrong PINs in a row")),
        },
        EventKind::WorkOrderSelected { work_order } => told(format!("selected {work_order}")),
        EventKind::WorkOrderStarted { work_order } => told(format!("started {work_order}")),
        EventKind::WorkOrderPaused { work_order } => told(format!("paused {work_order}")),
        EventKind::WorkOrderResumed { work_order } => told(format!("resumed {work_order}")),
        EventKind::WorkOrderCompleted {
            work_order,
            produced,
            rejected,
        } => told(format!(
            "completed {work_order} here: {} good, {rejected} rejected",
            produced.saturating_sub(*rejected)
        )),
        EventKind::UnitsProduced {
            work_order,
            produced,
            rejected,
            ..
        } => {
            let whose = match work_order {
                Some(work_order) => format!("for {work_order}"),
                None => "with no work order running".into(),
            };
            let rejects = match rejected {
                0 => String::new(),
                n => format!(" ({n} rejected)"),
            };
            told(format!(
                "counted {produced} unit{} {whose}{rejects}",
                plural(*produced)
            ))
        }
        EventKind::PlcCounterBaseline {
            cause,
            plc_epoch,
            processed_total,
            defective_total,
        } => because(
            format!(
                "took the PLC counters as baseline: {processed_total} processed, \
                 {defective_total} defective (PLC boot {plc_epoch})"
            ),
            match cause {
                BaselineCause::FirstContact => "first contact with this PLC",
                BaselineCause::PlcRestart => "the PLC restarted",
                BaselineCause::CounterReset => "the PLC's counters were reset",
            }
            .into(),
        ),
        EventKind::ScanRefused {
            scanned,
            reason,
            entry,
        } => {
            let how = match entry {
                Some(Entry::Scanned) => "scan",
                Some(Entry::Keyed) => "keyed entry",
                None => "input",
            };
            because(
                format!("refused {how} {}", show_controls(scanned)),
                reason.clone(),
            )
        }
        EventKind::LotRegistered {
            lot,
            material,
            quantity,
            expiry,
            gtin,
        } => {
            let mut what =
                format!("registered new lot {lot} ({material}), {quantity} on the label");
            if let Some(expiry) = expiry {
                what.push_str(&format!(", expires {expiry}"));
            }
            if let Some(gtin) = gtin {
                what.push_str(&format!(", GTIN {gtin}"));
            }
            told(what)
        }
        EventKind::LotLoaded {
            work_order,
            operation,
            material,
            lot,
            entry,
        } => told(format!(
            "loaded lot {lot} ({material}) into {work_order} {operation}, {}",
            entry_words(*entry)
        )),
        EventKind::LotConsumed {
            work_order,
            operation,
            material,
            lot,
            quantity,
            basis,
        } => told(format!(
            "drew {quantity} {material} from lot {lot} into {work_order} {operation}, {}",
            match basis {
                ConsumptionBasis::BomRate => "at the bill-of-materials rate",
                ConsumptionBasis::Keyed => "keyed",
                ConsumptionBasis::Label => "the whole label",
            }
        )),
        EventKind::OutputCreated {
            work_order,
            operation,
            output,
            form,
            material,
            quantity,
            inputs,
            operator,
            next_operation,
            machine_state,
        } => {
            let mut what = match form {
                OutputForm::Lot => format!("made lot {output} ({material}, {quantity})"),
                OutputForm::Serial => format!("made serial {output} ({material})"),
            };
            what.push_str(&format!(" in {work_order} {operation} from "));
            if inputs.is_empty() {
                what.push_str("no recorded input");
            } else {
                let inputs: Vec<&str> = inputs.iter().map(LotId::as_str).collect();
                what.push_str(&inputs.join(", "));
            }
            if let Some(next) = next_operation {
                what.push_str(&format!("; next {next}"));
            }
            if let Some(badge) = operator.as_ref().filter(|badge| !is_actor(badge)) {
                what.push_str(&format!("; operator {}", person(badge, names)));
            }
            if let Some(state) = machine_state {
                what.push_str(&format!("; machine {state}"));
            }
            told(what)
        }
        EventKind::PlcCommsLost { reason } => {
            because("lost contact with the PLC".into(), reason.clone())
        }
        EventKind::PlcCommsRestored { down_ms } => told(format!(
            "the PLC answers again after {}",
            duration_ms(*down_ms)
        )),
        EventKind::PlcStale {
            heartbeat,
            frozen_ms,
        } => told(format!(
            "the PLC heartbeat stood still at {heartbeat} for {}: its data may be old",
            duration_ms(*frozen_ms)
        )),
        EventKind::PlcFresh { stale_ms } => told(format!(
            "the PLC heartbeat moves again after {} frozen",
            duration_ms(*stale_ms)
        )),
        EventKind::MachineStateChanged {
            packml,
            stop_reason,
            blocked,
            starved,
            category,
        } => {
            let mut what = format!(
                "machine {} (PackML {})",
                category.words(),
                PackMlState::from_code(*packml).words()
            );
            if *blocked {
                what.push_str(", blocked downstream");
            }
            if *starved {
                what.push_str(", starved upstream");
            }
            match stop_reason {
                0 => told(what),
                reason => because(what, format!("PLC stop reason {reason}")),
            }
        }
        EventKind::DowntimeStarted {
            plc_reason,
            suggested_reason,
        } => {
            let mut why = match plc_reason {
                0 => "the PLC gave no stop reason".to_owned(),
                reason => format!("PLC stop reason {reason}"),
            };
            if let Some(suggested) = suggested_reason {
                why.push_str(&format!(", usually {}", code(suggested, names)));
            }
            because("machine stopped, unplanned".into(), why)
        }
        EventKind::DowntimeCoded { started_at, reason } => {
            let reason = code(reason, names);
            because(
                format!(
                    "coded stop since {} as {reason}",
                    since(*started_at, event.at)
                ),
                reason,
            )
        }
        EventKind::PlannedDowntimeDeclared { reason } => {
            let reason = code(reason, names);
            because(format!("declared planned downtime {reason}"), reason)
        }
        EventKind::AndonCalled { call } => told(format!("called andon: {}", call.words())),
        EventKind::AndonAnswered { call, response_ms } => told(format!(
            "answered the {} andon call after {}",
            call.words(),
            duration_ms(*response_ms)
        )),
        EventKind::MachineCommandSent { command } => told(match *command {
            PACKML_RESET => "sent Reset to the machine".into(),
            PACKML_CLEAR => "sent Clear to the machine".into(),
            other => format!("sent PackML command {other} to the machine"),
        }),
        EventKind::LotHeld { lot, reason } => {
            because(format!("put lot {lot} on hold"), reason.clone())
        }
        EventKind::LotReleased { lot, .. } => told(format!("released the hold on lot {lot}")),
        EventKind::QualityAlert {
            characteristic,
            operation,
            rule,
            words,
            ..
        } => told(format!(
            "SPC alert on {characteristic} ({operation}): {rule} {words}"
        )),
        EventKind::InspectionResumed {
            product,
            operation,
            reason,
        } => because(
            format!("resumed inspection of {product} at {operation}, on tightened"),
            reason.clone(),
        ),
        EventKind::InspectionRecorded {
            lot,
            operation,
            inspected,
            verdict,
            reasons,
            ..
        } => {
            let what = format!(
                "inspected lot {lot} ({operation}, {inspected} units): {}",
                verdict.words()
            );
            if reasons.is_empty() {
                told(what)
            } else {
                because(what, reasons.join("; "))
            }
        }
        EventKind::LotDispositioned {
            lot, parts, reason, ..
        } => because(
            format!(
                "dispositioned lot {lot}: {}",
                super::disposition::parts_words(lot, parts)
            ),
            reason.clone(),
        ),
        EventKind::ReworkDone { lot, operation } => told(format!(
            "reworked lot {lot} at {operation}: it waits for inspection"
        )),
        EventKind::NcrOpened {
            ncr,
            lot,
            quantity,
            what,
            containment,
        } => told(format!(
            "opened {ncr} on lot {lot} ({quantity}): {what}; contained: {containment}"
        )),
        EventKind::NcrClosed { ncr, lot, closure } => {
            because(format!("closed {ncr} on lot {lot}"), closure.clone())
        }
        EventKind::Signed {
            signer,
            name,
            meaning,
            ..
        } => told(format!(
            "signed: {name} ({signer}), {}, meaning: {}",
            event.at.format("%Y-%m-%d %H:%M:%S UTC"),
            meaning.words()
        )),
        EventKind::Corrected {
            corrects,
            was,
            now,
            reason,
            ..
        } => because(
            format!(
                "corrected event {corrects}: {} (was {})",
                now.words(),
                was.words()
            ),
            match names.code_text(reason) {
                Some(text) => format!("{reason} {text}"),
                None => reason.clone(),
            },
        ),
        EventKind::PartRecorded {
            record_seq,
            plc_epoch,
            result,
            reject_reason,
            cycle_ms,
            serial,
            work_order,
        } => {
            let whose = work_order
                .as_ref()
                .map(|work_order| format!(" for {work_order}"))
                .unwrap_or_default();
            let what = format!(
                "recorded part {serial} {}{whose}, cycle {}.{:03} s (PLC record {record_seq}, boot {plc_epoch})",
                result.words(),
                cycle_ms / 1000,
                cycle_ms % 1000
            );
            match reject_reason {
                0 => told(what),
                reason => because(what, format!("PLC reject reason {reason}")),
            }
        }
    }
}

fn plural(count: u64) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn entry_words(entry: Entry) -> &'static str {
    match entry {
        Entry::Scanned => "scanned",
        Entry::Keyed => "keyed",
    }
}

/// The start of a stop: its time of day when it began the day it was coded, else date and time.
fn since(started_at: DateTime<Utc>, at: DateTime<Utc>) -> String {
    if started_at.date_naive() == at.date_naive() {
        started_at.format("%H:%M:%S").to_string()
    } else {
        started_at.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

/// Control bytes of a scan (GS between GS1 fields) shown by name, so it can be printed and read
/// back.
pub fn show_controls(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{1d}' => "<GS>".to_owned(),
            '\u{1e}' => "<RS>".to_owned(),
            '\u{4}' => "<EOT>".to_owned(),
            c if c.is_control() => format!("\\x{:02x}", u32::from(c)),
            c => c.to_string(),
        })
        .collect()
}

fn duration_ms(ms: u64) -> String {
    duration(i64::try_from(ms / 1000).unwrap_or(i64::MAX))
}

/// `45s`, `5m 00s`, `2h 05m`, `3d 04h`: as a line lead says it.
pub fn duration(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs();
    let text = match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3600),
    };
    format!("{sign}{text}")
}

/// What an audit can be asked about: everything that names a lot, a work order or a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    Lot(&'a LotId),
    WorkOrder(&'a WorkOrderId),
    Operator(&'a Badge),
}

/// The ids an event carries in its fields, and the free text (a refused scan and its reason) that
/// may name more.
#[derive(Debug, Default)]
struct Mentions<'a> {
    /// Lots and serials: one namespace, so asking for a serial finds its part record.
    lots: Vec<&'a str>,
    work_orders: Vec<&'a str>,
    operators: Vec<&'a str>,
    /// What was scanned or keyed: a raw label, where a lot follows its GS1 AI `10`.
    scanned: Option<&'a str>,
    /// Text written by the station (a refusal's reason) that names ids in words.
    text: Option<&'a str>,
}

fn mentions(kind: &EventKind) -> Mentions<'_> {
    let none = Mentions::default;
    match kind {
        EventKind::OperatorLoggedIn { badge, .. }
        | EventKind::OperatorLoggedOut { badge, .. }
        | EventKind::LoginFailed { badge, .. }
        | EventKind::BadgeLocked { badge, .. } => Mentions {
            operators: vec![badge.as_str()],
            ..none()
        },
        EventKind::WorkOrderSelected { work_order: id }
        | EventKind::WorkOrderStarted { work_order: id }
        | EventKind::WorkOrderPaused { work_order: id }
        | EventKind::WorkOrderResumed { work_order: id }
        | EventKind::WorkOrderCompleted { work_order: id, .. } => Mentions {
            work_orders: vec![id.as_str()],
            ..none()
        },
        EventKind::UnitsProduced { work_order: id, .. } => Mentions {
            work_orders: id.iter().map(WorkOrderId::as_str).collect(),
            ..none()
        },
        EventKind::ScanRefused {
            scanned, reason, ..
        } => Mentions {
            scanned: Some(scanned),
            text: Some(reason),
            ..none()
        },
        EventKind::LotRegistered { lot, .. } => Mentions {
            lots: vec![lot.as_str()],
            ..none()
        },
        EventKind::LotLoaded {
            work_order, lot, ..
        }
        | EventKind::LotConsumed {
            work_order, lot, ..
        } => Mentions {
            lots: vec![lot.as_str()],
            work_orders: vec![work_order.as_str()],
            ..none()
        },
        EventKind::OutputCreated {
            work_order,
            output,
            inputs,
            operator,
            ..
        } => Mentions {
            lots: std::iter::once(output)
                .chain(inputs)
                .map(LotId::as_str)
                .collect(),
            work_orders: vec![work_order.as_str()],
            operators: operator.iter().map(Badge::as_str).collect(),
            ..none()
        },
        EventKind::PartRecorded {
            serial, work_order, ..
        } => Mentions {
            lots: vec![serial.as_str()],
            work_orders: work_order.iter().map(WorkOrderId::as_str).collect(),
            ..none()
        },
        EventKind::PlcCounterBaseline { .. }
        | EventKind::PlcCommsLost { .. }
        | EventKind::PlcCommsRestored { .. }
        | EventKind::PlcStale { .. }
        | EventKind::PlcFresh { .. }
        | EventKind::MachineStateChanged { .. }
        | EventKind::DowntimeStarted { .. }
        | EventKind::DowntimeCoded { .. }
        | EventKind::PlannedDowntimeDeclared { .. }
        | EventKind::AndonCalled { .. }
        | EventKind::AndonAnswered { .. }
        | EventKind::MachineCommandSent { .. }
        | EventKind::QualityAlert { .. }
        | EventKind::InspectionResumed { .. }
        | EventKind::Signed { .. } => none(),
        EventKind::LotHeld { lot, .. }
        | EventKind::LotReleased { lot, .. }
        | EventKind::InspectionRecorded { lot, .. }
        | EventKind::ReworkDone { lot, .. }
        | EventKind::NcrOpened { lot, .. }
        | EventKind::NcrClosed { lot, .. } => Mentions {
            lots: vec![lot.as_str()],
            ..none()
        },
        EventKind::LotDispositioned { lot, parts, .. } => Mentions {
            lots: std::iter::once(lot.as_str())
                .chain(parts.iter().map(|part| part.lot.as_str()))
                .collect(),
            ..none()
        },
        EventKind::Corrected {
            work_order,
            was,
            now,
            ..
        } => Mentions {
            lots: [was, now]
                .into_iter()
                .flat_map(|value| match value {
                    super::correction::Correction::Consumption { lot, .. } => vec![lot.as_str()],
                    super::correction::Correction::Inputs { inputs } => {
                        inputs.iter().map(LotId::as_str).collect()
                    }
                    super::correction::Correction::Count { .. } => Vec::new(),
                })
                .collect(),
            work_orders: work_order.iter().map(WorkOrderId::as_str).collect(),
            ..none()
        },
    }
}

/// Whether `event` names `subject`: in one of its fields, as the person who did it (for an
/// operator), or in the text of a refused scan. Text matches whole ids only, so `C24-11` does not
/// find `C24-1107`; it errs towards showing a refused scan rather than hiding it.
pub fn names(event: &Event, subject: Subject<'_>) -> bool {
    let mentions = mentions(&event.kind);
    let named = |ids: &[&str], id: &str, gs1_lot: bool| {
        ids.contains(&id)
            || mentions
                .scanned
                .is_some_and(|scanned| contains_id(scanned, id, gs1_lot))
            || mentions
                .text
                .is_some_and(|text| contains_id(text, id, false))
    };
    match subject {
        Subject::Lot(lot) => named(&mentions.lots, lot.as_str(), true),
        Subject::WorkOrder(work_order) => named(&mentions.work_orders, work_order.as_str(), false),
        Subject::Operator(badge) => {
            matches!(&event.actor, Actor::Operator(actor) if actor == badge)
                || named(&mentions.operators, badge.as_str(), false)
        }
    }
}

/// A character that can be part of an id printed on a label.
fn id_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '/' | '.')
}

/// Whether `id` stands in `text` as a whole word. A full stop after it ends a sentence, not the
/// id; with `gs1_lot`, the AI `10` in front of it (a raw GS1 label) is a boundary too.
fn contains_id(text: &str, id: &str, gs1_lot: bool) -> bool {
    if id.is_empty() {
        return false;
    }
    text.match_indices(id).any(|(start, _)| {
        let before = &text[..start];
        let after = &text[start + id.len()..];
        let starts = match before.chars().next_back() {
            None => true,
            Some(c) => !id_char(c) || (gs1_lot && before.ends_with("10")),
        };
        let mut rest = after.chars();
        let ends = match rest.next() {
            None => true,
            Some('.') => !rest.next().is_some_and(char::is_alphanumeric),
            Some(c) => !id_char(c),
        };
        starts && ends
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::andon::AndonKind;
    use crate::domain::machine::MachineCategory;
    use crate::domain::part_record::PartResult;
    use crate::domain::{MaterialId, NewEvent, OperationId, Quantity, StationId};
    use std::collections::BTreeMap;
    use uuid::Uuid;

    struct Directory {
        operators: BTreeMap<Badge, String>,
        codes: BTreeMap<String, String>,
    }

    impl Names for Directory {
        fn operator_name(&self, badge: &Badge) -> Option<&str> {
            self.operators.get(badge).map(String::as_str)
        }
        fn code_text(&self, code: &str) -> Option<&str> {
            self.codes.get(code).map(String::as_str)
        }
    }

    fn directory() -> Directory {
        Directory {
            operators: [
                ("EMP-1001", "Demo Operator A"),
                ("EMP-2001", "Demo Inspector"),
            ]
            .into_iter()
            .map(|(badge, name)| (Badge::from(badge), name.to_owned()))
            .collect(),
            codes: [("R-11", "spindle"), ("R-80", "changeover")]
                .into_iter()
                .map(|(code, text)| (code.to_owned(), text.to_owned()))
                .collect(),
        }
    }

    fn at(hms: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-11-25T{hms}Z"))
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn event_by(actor: Actor, kind: EventKind) -> Event {
        Event::seal(
            NewEvent {
                at: at("10:15:00"),
                actor,
                kind,
            },
            StationId::from("L1-S1"),
            1,
            Uuid::nil(),
            crate::domain::GENESIS_HASH.into(),
        )
    }

    fn operator() -> Actor {
        Actor::Operator(Badge::from("EMP-1001"))
    }

    fn told(actor: Actor, kind: EventKind) -> (String, Option<String>) {
        let narrative = narrate(&event_by(actor, kind), &directory());
        (narrative.what, narrative.why)
    }

    fn wo() -> WorkOrderId {
        WorkOrderId::from("WO-24001")
    }

    fn lot(id: &str) -> LotId {
        LotId::from(id)
    }

    #[test]
    fn who_names_people_machines_and_the_station() {
        let names = directory();
        assert_eq!(who(&operator(), &names), "EMP-1001 Demo Operator A");
        assert_eq!(who(&Actor::Operator("EMP-7".into()), &names), "EMP-7");
        assert_eq!(who(&Actor::Plc, &names), "PLC");
        assert_eq!(who(&Actor::Station, &names), "station");
    }

    #[test]
    fn people_and_work_orders() {
        let cases = [
            (
                operator(),
                EventKind::OperatorLoggedIn {
                    badge: "EMP-1001".into(),
                    name: "Demo Operator A".into(),
                },
                "logged in",
            ),
            (
                operator(),
                EventKind::OperatorLoggedIn {
                    badge: "EMP-1001".into(),
                    name: "A. Old-Name".into(),
                },
                "logged in (greeted as A. Old-Name)",
            ),
            (
                Actor::Station,
                EventKind::OperatorLoggedIn {
                    badge: "EMP-2001".into(),
                    name: "Demo Inspector".into(),
                },
                "logged in EMP-2001 Demo Inspector",
            ),
            (
                operator(),
                EventKind::OperatorLoggedOut {
                    badge: "EMP-1001".into(),
                    reason: None,
                },
                "logged out",
            ),
            (
                Actor::Station,
                EventKind::OperatorLoggedOut {
                    badge: "EMP-1001".into(),
                    reason: None,
                },
                "logged out EMP-1001 Demo Operator A",
            ),
            (
                operator(),
                EventKind::WorkOrderSelected { work_order: wo() },
                "selected WO-24001",
            ),
            (
                operator(),
                EventKind::WorkOrderStarted { work_order: wo() },
                "started WO-24001",
            ),
            (
                Actor::Station,
                EventKind::WorkOrderPaused { work_order: wo() },
                "paused WO-24001",
            ),
            (
                operator(),
                EventKind::WorkOrderResumed { work_order: wo() },
                "resumed WO-24001",
            ),
            (
                operator(),
                EventKind::WorkOrderCompleted {
                    work_order: wo(),
                    produced: 60,
                    rejected: 2,
                },
                "completed WO-24001 here: 58 good, 2 rejected",
            ),
        ];
        for (actor, kind, what) in cases {
            assert_eq!(told(actor, kind), (what.to_owned(), None));
        }
    }

    #[test]
    fn the_station_ending_a_session_or_refusing_a_pin_says_why() {
        assert_eq!(
            told(
                Actor::Station,
                EventKind::OperatorLoggedOut {
                    badge: "EMP-1001".into(),
                    reason: Some(crate::domain::LogoutReason::Idle),
                },
            ),
            (
                "logged out EMP-1001 Demo Operator A".to_owned(),
                Some("no activity for the station's idle time".to_owned())
            )
        );
        assert_eq!(
            told(
                Actor::Station,
                EventKind::LoginFailed {
                    badge: "EMP-1001".into(),
                    attempt: 2,
                },
            ),
            (
                "refused a login of EMP-1001 Demo Operator A".to_owned(),
                Some("wrong PIN, 2 in a row".to_owned())
            )
        );
    }

    #[test]
    fn counts_and_counter_baselines() {
        let units = |work_order, produced, rejected| EventKind::UnitsProduced {
            work_order,
            produced,
            rejected,
            plc_epoch: 1,
            processed_total: 100,
            defective_total: 3,
        };
        assert_eq!(
            told(Actor::Plc, units(Some(wo()), 5, 1)).0,
            "counted 5 units for WO-24001 (1 rejected)"
        );
        assert_eq!(
            told(Actor::Plc, units(None, 1, 0)).0,
            "counted 1 unit with no work order running"
        );
        let baseline = |cause| EventKind::PlcCounterBaseline {
            cause,
            plc_epoch: 42,
            processed_total: 1000,
            defective_total: 3,
        };
        let (what, why) = told(Actor::Plc, baseline(BaselineCause::FirstContact));
        assert_eq!(
            what,
            "took the PLC counters as baseline: 1000 processed, 3 defective (PLC boot 42)"
        );
        assert_eq!(why.as_deref(), Some("first contact with this PLC"));
        assert_eq!(
            told(Actor::Plc, baseline(BaselineCause::PlcRestart)).1,
            Some("the PLC restarted".into())
        );
        assert_eq!(
            told(Actor::Plc, baseline(BaselineCause::CounterReset)).1,
            Some("the PLC's counters were reset".into())
        );
    }

    #[test]
    fn refused_scans_show_what_was_scanned_and_why() {
        let refused = |entry| EventKind::ScanRefused {
            scanned: "]C1010040123450001210C24-1107\u{1d}30400".into(),
            reason: "Lot C24-1107 is ON HOLD. Do not use it.".into(),
            entry,
        };
        let (what, why) = told(operator(), refused(Some(Entry::Scanned)));
        assert_eq!(what, "refused scan ]C1010040123450001210C24-1107<GS>30400");
        assert_eq!(
            why.as_deref(),
            Some("Lot C24-1107 is ON HOLD. Do not use it.")
        );
        assert!(
            told(operator(), refused(Some(Entry::Keyed)))
                .0
                .starts_with("refused keyed entry ]C1")
        );
        assert!(
            told(Actor::Station, refused(None))
                .0
                .starts_with("refused input ]C1")
        );
    }

    #[test]
    fn material_flow() {
        let registered = EventKind::LotRegistered {
            lot: lot("C24-1107"),
            material: MaterialId::from("CAST-200"),
            quantity: Quantity::units(400),
            expiry: chrono::NaiveDate::from_ymd_opt(2027, 3, 1),
            gtin: Some("00401234500012".into()),
        };
        assert_eq!(
            told(operator(), registered).0,
            "registered new lot C24-1107 (CAST-200), 400 on the label, expires 2027-03-01, \
             GTIN 00401234500012"
        );
        let loaded = EventKind::LotLoaded {
            work_order: wo(),
            operation: OperationId::from("OP10"),
            material: MaterialId::from("CAST-200"),
            lot: lot("C24-1107"),
            entry: Entry::Scanned,
        };
        assert_eq!(
            told(operator(), loaded).0,
            "loaded lot C24-1107 (CAST-200) into WO-24001 OP10, scanned"
        );
        let consumed = |basis| EventKind::LotConsumed {
            work_order: wo(),
            operation: OperationId::from("OP10"),
            material: MaterialId::from("CAST-200"),
            lot: lot("C24-1107"),
            quantity: Quantity::units(2),
            basis,
        };
        assert_eq!(
            told(Actor::Plc, consumed(ConsumptionBasis::BomRate)).0,
            "drew 2 CAST-200 from lot C24-1107 into WO-24001 OP10, at the bill-of-materials rate"
        );
        assert!(
            told(operator(), consumed(ConsumptionBasis::Keyed))
                .0
                .ends_with(", keyed")
        );
        assert!(
            told(operator(), consumed(ConsumptionBasis::Label))
                .0
                .ends_with(", the whole label")
        );
    }

    fn output(form: OutputForm, inputs: Vec<LotId>, machine: Option<&str>) -> EventKind {
        EventKind::OutputCreated {
            work_order: wo(),
            operation: OperationId::from("OP10"),
            output: lot("L1-S1-261125-000001"),
            form,
            material: MaterialId::from("BC-200-M"),
            quantity: Quantity::units(20),
            inputs,
            operator: Some("EMP-1001".into()),
            next_operation: Some(OperationId::from("OP20")),
            machine_state: machine.map(str::to_owned),
        }
    }

    #[test]
    fn outputs_with_their_inputs() {
        assert_eq!(
            told(
                Actor::Plc,
                output(
                    OutputForm::Lot,
                    vec![lot("C24-1107"), lot("C24-1108")],
                    Some("running")
                )
            )
            .0,
            "made lot L1-S1-261125-000001 (BC-200-M, 20) in WO-24001 OP10 from C24-1107, \
             C24-1108; next OP20; operator EMP-1001 Demo Operator A; machine running"
        );
        assert_eq!(
            told(operator(), output(OutputForm::Serial, Vec::new(), None)).0,
            "made serial L1-S1-261125-000001 (BC-200-M) in WO-24001 OP10 from no recorded \
             input; next OP20",
            "the operator who is the actor is not said twice"
        );
    }

    #[test]
    fn the_plc_link() {
        assert_eq!(
            told(
                Actor::Station,
                EventKind::PlcCommsLost {
                    reason: "timeout".into()
                }
            ),
            ("lost contact with the PLC".into(), Some("timeout".into()))
        );
        assert_eq!(
            told(
                Actor::Station,
                EventKind::PlcCommsRestored { down_ms: 125_000 }
            )
            .0,
            "the PLC answers again after 2m 05s"
        );
        assert_eq!(
            told(
                Actor::Station,
                EventKind::PlcStale {
                    heartbeat: 17,
                    frozen_ms: 5_000
                }
            )
            .0,
            "the PLC heartbeat stood still at 17 for 5s: its data may be old"
        );
        assert_eq!(
            told(Actor::Station, EventKind::PlcFresh { stale_ms: 7_000 }).0,
            "the PLC heartbeat moves again after 7s frozen"
        );
    }

    #[test]
    fn machine_states_and_stops() {
        let (what, why) = told(
            Actor::Plc,
            EventKind::MachineStateChanged {
                packml: 2,
                stop_reason: 7,
                blocked: true,
                starved: true,
                category: MachineCategory::UnplannedDowntime,
            },
        );
        assert_eq!(
            what,
            "machine DOWN (PackML stopped), blocked downstream, starved upstream"
        );
        assert_eq!(why.as_deref(), Some("PLC stop reason 7"));
        assert_eq!(
            told(
                Actor::Plc,
                EventKind::MachineStateChanged {
                    packml: 6,
                    stop_reason: 0,
                    blocked: false,
                    starved: false,
                    category: MachineCategory::Running,
                }
            ),
            ("machine running (PackML running)".into(), None)
        );
        assert_eq!(
            told(
                Actor::Plc,
                EventKind::DowntimeStarted {
                    plc_reason: 3,
                    suggested_reason: Some("R-11".into())
                }
            ),
            (
                "machine stopped, unplanned".into(),
                Some("PLC stop reason 3, usually R-11 spindle".into())
            )
        );
        assert_eq!(
            told(
                Actor::Plc,
                EventKind::DowntimeStarted {
                    plc_reason: 0,
                    suggested_reason: None
                }
            )
            .1,
            Some("the PLC gave no stop reason".into())
        );
    }

    #[test]
    fn reasons_are_coded_with_their_text() {
        assert_eq!(
            told(
                operator(),
                EventKind::DowntimeCoded {
                    started_at: at("10:02:00"),
                    reason: "R-11".into()
                }
            ),
            (
                "coded stop since 10:02:00 as R-11 spindle".into(),
                Some("R-11 spindle".into())
            )
        );
        let yesterday = at("23:50:00") - chrono::Duration::days(1);
        assert_eq!(
            told(
                operator(),
                EventKind::DowntimeCoded {
                    started_at: yesterday,
                    reason: "R-99".into()
                }
            )
            .0,
            "coded stop since 2026-11-24 23:50:00 as R-99",
            "an unknown code is shown bare, a stop of another day with its date"
        );
        assert_eq!(
            told(
                operator(),
                EventKind::PlannedDowntimeDeclared {
                    reason: "R-80".into()
                }
            ),
            (
                "declared planned downtime R-80 changeover".into(),
                Some("R-80 changeover".into())
            )
        );
    }

    #[test]
    fn andon_commands_and_part_records() {
        assert_eq!(
            told(
                operator(),
                EventKind::AndonCalled {
                    call: AndonKind::Maintenance
                }
            )
            .0,
            "called andon: maintenance"
        );
        assert_eq!(
            told(
                operator(),
                EventKind::AndonAnswered {
                    call: AndonKind::Quality,
                    response_ms: 95_000
                }
            )
            .0,
            "answered the quality andon call after 1m 35s"
        );
        let command = |command| told(operator(), EventKind::MachineCommandSent { command }).0;
        assert_eq!(command(PACKML_RESET), "sent Reset to the machine");
        assert_eq!(command(PACKML_CLEAR), "sent Clear to the machine");
        assert_eq!(command(4), "sent PackML command 4 to the machine");
        let part = |result, reject_reason| EventKind::PartRecorded {
            record_seq: 17,
            plc_epoch: 3,
            result,
            reject_reason,
            cycle_ms: 4_500,
            serial: "SN-0001".into(),
            work_order: Some(wo()),
        };
        assert_eq!(
            told(Actor::Plc, part(PartResult::Good, 0)),
            (
                "recorded part SN-0001 good for WO-24001, cycle 4.500 s (PLC record 17, boot 3)"
                    .into(),
                None
            )
        );
        assert_eq!(
            told(Actor::Plc, part(PartResult::Reject, 12)).1,
            Some("PLC reject reason 12".into())
        );
    }

    #[test]
    fn a_lot_is_named_wherever_it_appears() {
        let c24 = lot("C24-1107");
        let named = |kind| names(&event_by(Actor::Plc, kind), Subject::Lot(&c24));
        assert!(named(output(
            OutputForm::Lot,
            vec![lot("X-1"), lot("C24-1107")],
            None
        )));
        assert!(!named(output(OutputForm::Lot, vec![lot("X-1")], None)));
        assert!(names(
            &event_by(Actor::Plc, output(OutputForm::Lot, Vec::new(), None)),
            Subject::Lot(&lot("L1-S1-261125-000001"))
        ));
        let refused = |scanned: &str, reason: &str| EventKind::ScanRefused {
            scanned: scanned.into(),
            reason: reason.into(),
            entry: Some(Entry::Scanned),
        };
        // A raw GS1 label, its bracketed form, the plain lot id, and a reason naming it.
        assert!(named(refused(
            "]C1010040123450001210C24-1107\u{1d}30400",
            "Select a work order before scanning material."
        )));
        assert!(named(refused("(01)00401234500012(10)C24-1107(30)400", "")));
        assert!(named(refused("C24-1107", "")));
        assert!(named(refused(
            "X",
            "Lot C24-1107 is used up. Scan the next lot."
        )));
        assert!(named(refused("X", "(lot C24-1107).")));
        // Another lot that merely starts or ends alike is not this one.
        assert!(!named(refused("C24-11070", "Lot C24-11070 is used up.")));
        assert!(!named(refused("XC24-1107", "Lot AC24-1107 is used up.")));
        assert!(!named(refused("X", "Lot C24-1107.5 is used up.")));
        assert!(!names(
            &event_by(Actor::Plc, refused("C24-1107", "")),
            Subject::Lot(&lot("C24-11"))
        ));
        let part = EventKind::PartRecorded {
            record_seq: 1,
            plc_epoch: 1,
            result: PartResult::Good,
            reject_reason: 0,
            cycle_ms: 1,
            serial: "SN-7".into(),
            work_order: None,
        };
        assert!(names(
            &event_by(Actor::Plc, part),
            Subject::Lot(&lot("SN-7"))
        ));
        assert!(!named(EventKind::PlcFresh { stale_ms: 1 }));
    }

    #[test]
    fn work_orders_and_operators_are_named_in_fields_actors_and_refusals() {
        let wo_24004 = WorkOrderId::from("WO-24004");
        let refused = event_by(
            operator(),
            EventKind::ScanRefused {
                scanned: "WO-24004".into(),
                reason: "Work order WO-24001 is running. Pause or complete it first.".into(),
                entry: Some(Entry::Scanned),
            },
        );
        assert!(names(&refused, Subject::WorkOrder(&wo_24004)));
        assert!(names(&refused, Subject::WorkOrder(&wo())));
        assert!(!names(
            &refused,
            Subject::WorkOrder(&WorkOrderId::from("WO-2400"))
        ));
        let units = event_by(
            Actor::Plc,
            EventKind::UnitsProduced {
                work_order: None,
                produced: 1,
                rejected: 0,
                plc_epoch: 1,
                processed_total: 1,
                defective_total: 0,
            },
        );
        assert!(!names(&units, Subject::WorkOrder(&wo())));

        let emp_1001 = Badge::from("EMP-1001");
        let emp_2001 = Badge::from("EMP-2001");
        assert!(names(&refused, Subject::Operator(&emp_1001)), "the actor");
        assert!(!names(&refused, Subject::Operator(&emp_2001)));
        let logout = event_by(
            Actor::Station,
            EventKind::OperatorLoggedOut {
                badge: emp_2001.clone(),
                reason: None,
            },
        );
        assert!(names(&logout, Subject::Operator(&emp_2001)), "named inside");
        let made = event_by(Actor::Plc, output(OutputForm::Lot, Vec::new(), None));
        assert!(names(&made, Subject::Operator(&emp_1001)));
        let badge_refused = event_by(
            Actor::Station,
            EventKind::ScanRefused {
                scanned: "EMP-2001".into(),
                reason: "Badge EMP-2001 is disabled. Ask your line lead.".into(),
                entry: Some(Entry::Scanned),
            },
        );
        assert!(names(&badge_refused, Subject::Operator(&emp_2001)));
        assert!(!names(&badge_refused, Subject::Operator(&emp_1001)));
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(300), "5m 00s");
        assert_eq!(duration(7500), "2h 05m");
        assert_eq!(duration(-12), "-12s");
        assert_eq!(duration(97_200), "1d 03h");
    }
}
