//! The raw facts KPIs are computed from, gathered event by event: the machine's category changes,
//! its stops and their reasons, and the units it counted per work order. The station keeps one
//! live; central builds one from a station's log for a query. Both compute through [`KpiHistory::kpis`],
//! so a KPI is the same wherever it is asked for, and a stop re-coded later (as a break, say)
//! changes it.

use super::downtime::stop_ends;
use super::event::{Event, EventKind};
use super::ids::WorkOrderId;
use super::kpi::{self, Elements, Inputs, Kpis};
use super::machine::MachineCategory;
use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stop {
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    /// Declared as planned at the station (not a machine stop).
    declared: bool,
    reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Count {
    /// The count's event, so a correction of it finds it.
    seq: u64,
    at: DateTime<Utc>,
    work_order: Option<WorkOrderId>,
    /// Whose ideal cycle the units earn: their order's, or for units made while no order was
    /// active (the last cycle after @COMPLETE) the order that ran last.
    paced_by: Option<WorkOrderId>,
    produced: u64,
    rejected: u64,
}

/// What KPIs of one work unit are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KpiHistory {
    changes: Vec<(DateTime<Utc>, MachineCategory)>,
    stops: Vec<Stop>,
    counts: Vec<Count>,
}

/// The window and the rules a KPI query is computed with.
pub struct Query<'a> {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Planned downtime from the shift calendar (breaks).
    pub breaks: &'a [(DateTime<Utc>, DateTime<Utc>)],
    /// Only the units of this work order (the order's KPIs); all units when `None`.
    pub work_order: Option<&'a WorkOrderId>,
    pub micro_stop: Duration,
    /// The planned run time per item of a work order.
    pub ideal_cycle: &'a dyn Fn(&WorkOrderId) -> Option<Duration>,
    /// Whether a reason code is planned downtime: a stop coded with one counts as planned.
    pub planned_reason: &'a dyn Fn(&str) -> bool,
}

/// KPIs with the quantities behind them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct KpiReport {
    pub elements: Elements,
    pub kpis: Kpis,
    pub produced: u64,
    pub good: u64,
    /// PRI × PQ: the planned run time of the units counted; `None` when some unit had none.
    pub planned_run_time: Option<Duration>,
}

impl KpiReport {
    /// Several reports as one (the shifts of a day, the stations of a line): elements and
    /// quantities summed, the KPIs derived from the sums. Nothing summed is an empty report.
    pub fn total<'a>(reports: impl IntoIterator<Item = &'a KpiReport>) -> KpiReport {
        let mut elements = Elements::default();
        let (mut produced, mut good) = (0u64, 0u64);
        let mut planned_run_time = Some(Duration::zero());
        for report in reports {
            elements = elements + report.elements;
            produced = produced.saturating_add(report.produced);
            good = good.saturating_add(report.good);
            planned_run_time = planned_run_time
                .zip(report.planned_run_time)
                .map(|(sum, more)| sum + more);
        }
        KpiReport {
            elements,
            kpis: kpi::kpis_from_elements(&elements, produced, good, planned_run_time),
            produced,
            good,
            planned_run_time,
        }
    }
}

impl KpiHistory {
    /// Takes in one event of the station's log, in log order.
    pub fn record(&mut self, event: &Event) {
        match &event.kind {
            EventKind::MachineStateChanged { category, .. } => {
                self.changes.push((event.at, *category));
                for stop in self.stops.iter_mut().filter(|s| s.ended_at.is_none()) {
                    if stop_ends(stop.declared, *category) {
                        stop.ended_at = Some(event.at);
                    }
                }
            }
            EventKind::DowntimeStarted {
                suggested_reason, ..
            } => self.stops.push(Stop {
                started_at: event.at,
                ended_at: None,
                declared: false,
                reason: suggested_reason.clone(),
            }),
            EventKind::PlannedDowntimeDeclared { reason } => self.stops.push(Stop {
                started_at: event.at,
                ended_at: None,
                declared: true,
                reason: Some(reason.clone()),
            }),
            EventKind::DowntimeCoded { started_at, reason } => {
                if let Some(stop) = self.stops.iter_mut().find(|s| s.started_at == *started_at) {
                    stop.reason = Some(reason.clone());
                }
            }
            EventKind::UnitsProduced {
                work_order,
                produced,
                rejected,
                ..
            } => {
                let paced_by = work_order.clone().or_else(|| {
                    self.counts
                        .iter()
                        .rev()
                        .find_map(|count| count.paced_by.clone())
                });
                self.counts.push(Count {
                    seq: event.seq,
                    at: event.at,
                    work_order: work_order.clone(),
                    paced_by,
                    produced: *produced,
                    rejected: *rejected,
                });
            }
            // A count put right counts as corrected, at the time it was made.
            EventKind::Corrected {
                corrects,
                now: super::correction::Correction::Count { produced, rejected },
                ..
            } => {
                if let Some(count) = self.counts.iter_mut().find(|c| c.seq == *corrects) {
                    (count.produced, count.rejected) = (*produced, *rejected);
                }
            }
            _ => {}
        }
    }

    /// Forgets what ended before `before`, keeping the category in effect at `before`.
    pub fn forget_before(&mut self, before: DateTime<Utc>) {
        let in_effect = self.changes.iter().rposition(|(at, _)| *at <= before);
        if let Some(index) = in_effect {
            self.changes.drain(..index);
        }
        self.stops
            .retain(|stop| stop.ended_at.is_none_or(|ended| ended > before));
        self.counts.retain(|count| count.at >= before);
    }

    /// The KPIs of the query's window. Time before the first known machine state (a station
    /// installed mid-shift) is not planned operation time: not knowing is not standing still.
    pub fn kpis(&self, query: &Query<'_>) -> KpiReport {
        // The change in effect at the window's start keeps its own time, and the first change
        // after the window ends the last stretch: a stop cut by the window is judged by its whole
        // length (failure or micro-stop) and counted where it began.
        let in_effect = self
            .changes
            .iter()
            .rev()
            .find(|(at, _)| *at <= query.from)
            .copied();
        let known_from = match in_effect {
            Some(_) => query.from,
            None => self
                .changes
                .iter()
                .map(|(at, _)| *at)
                .find(|at| *at > query.from)
                .map_or(query.to, |first| first.min(query.to)),
        };
        let after = self.changes.iter().find(|(at, _)| *at >= query.to).copied();
        let changes: Vec<(DateTime<Utc>, MachineCategory)> = in_effect
            .into_iter()
            .chain(
                self.changes
                    .iter()
                    .filter(|(at, _)| *at > query.from && *at < query.to)
                    .copied(),
            )
            .chain(after)
            .collect();
        let until = after.map_or(query.to, |(at, _)| at);
        let mut planned: Vec<(DateTime<Utc>, DateTime<Utc>)> = query.breaks.to_vec();
        planned.extend(
            self.stops
                .iter()
                .filter(|stop| {
                    stop.declared
                        || stop
                            .reason
                            .as_deref()
                            .is_some_and(|reason| (query.planned_reason)(reason))
                })
                .map(|stop| (stop.started_at, stop.ended_at.unwrap_or(query.to))),
        );
        let intervals = kpi::with_planned(&kpi::intervals_from_changes(&changes, until), &planned);

        // Half open, [from, to): a count at a shift change belongs to the shift that begins.
        let (mut produced, mut rejected) = (0u64, 0u64);
        let mut units_paced_by: std::collections::BTreeMap<Option<&WorkOrderId>, u64> =
            std::collections::BTreeMap::new();
        for count in self.counts.iter().filter(|c| {
            c.at >= query.from
                && c.at < query.to
                && query
                    .work_order
                    .is_none_or(|order| c.work_order.as_ref() == Some(order))
        }) {
            // Saturating: the counts are a station's word, and central keeps even implausible ones.
            produced = produced.saturating_add(count.produced);
            rejected = rejected.saturating_add(count.rejected);
            let paced = units_paced_by.entry(count.paced_by.as_ref()).or_default();
            *paced = paced.saturating_add(count.produced);
        }
        let earned =
            units_paced_by
                .into_iter()
                .try_fold(Duration::zero(), |sum, (order, units)| {
                    let ideal = (query.ideal_cycle)(order?)?;
                    Some(sum + ideal * i32::try_from(units).ok()?)
                });
        let good = produced.saturating_sub(rejected);
        let (elements, kpis) = kpi::kpis(&Inputs {
            from: known_from,
            to: query.to,
            intervals,
            produced,
            good,
            planned_run_time: earned,
            micro_stop: query.micro_stop,
        });
        KpiReport {
            elements,
            kpis,
            produced,
            good,
            planned_run_time: earned,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{Actor, GENESIS_HASH, SCHEMA_VERSION};
    use crate::domain::ids::StationId;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_050_400, 0).unwrap_or_default() + Duration::minutes(minutes)
    }

    fn event(minute: i64, kind: EventKind) -> Event {
        Event {
            schema: SCHEMA_VERSION,
            station: StationId::new("L1-S1"),
            seq: 0,
            id: uuid::Uuid::nil(),
            at: at(minute),
            actor: Actor::Station,
            kind,
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        }
    }

    fn state(minute: i64, category: MachineCategory) -> Event {
        event(
            minute,
            EventKind::MachineStateChanged {
                packml: 0,
                stop_reason: 0,
                blocked: false,
                starved: false,
                category,
            },
        )
    }

    fn units(minute: i64, order: &str, produced: u64, rejected: u64) -> Event {
        event(
            minute,
            EventKind::UnitsProduced {
                work_order: Some(WorkOrderId::new(order)),
                produced,
                rejected,
                plc_epoch: 1,
                processed_total: 0,
                defective_total: 0,
            },
        )
    }

    fn report(history: &KpiHistory, planned: &dyn Fn(&str) -> bool) -> KpiReport {
        let ideal = |order: &WorkOrderId| match order.as_str() {
            "WO-A" => Some(Duration::seconds(6)),
            "WO-B" => Some(Duration::seconds(3)),
            _ => None,
        };
        history.kpis(&Query {
            from: at(0),
            to: at(60),
            breaks: &[],
            work_order: None,
            micro_stop: Duration::minutes(2),
            ideal_cycle: &ideal,
            planned_reason: planned,
        })
    }

    /// A count put right by a signed correction counts as corrected; other counts are untouched.
    #[test]
    fn a_corrected_count_counts_as_corrected() {
        let mut history = KpiHistory::default();
        let mut first = units(10, "WO-A", 100, 0);
        first.seq = 7;
        let mut second = units(20, "WO-A", 100, 4);
        second.seq = 8;
        for e in [state(0, MachineCategory::Running), first, second] {
            history.record(&e);
        }
        assert_eq!(
            (
                report(&history, &|_| false).produced,
                report(&history, &|_| false).good
            ),
            (200, 196)
        );
        history.record(&event(
            40,
            EventKind::Corrected {
                corrects: 7,
                work_order: Some(WorkOrderId::new("WO-A")),
                was: crate::domain::correction::Correction::Count {
                    produced: 100,
                    rejected: 0,
                },
                now: crate::domain::correction::Correction::Count {
                    produced: 90,
                    rejected: 10,
                },
                reason: "C-03".into(),
            },
        ));
        let corrected = report(&history, &|_| false);
        assert_eq!((corrected.produced, corrected.good), (190, 176));
    }

    /// An hour: running 0–20, a fault 20–30 (coded later), running 30–60. Two orders: WO-A made
    /// 200 at 6 s (1 200 s earned), WO-B 400 at 3 s (1 200 s earned), 24 rejected.
    ///
    /// Coded as a fault:  A = 50/60 = 0.8333…, E = 2 400 s / 3 000 s = 0.8, QR = 576/600 = 0.96.
    /// Coded as a break:  PBT = 50 min, A = 50/50 = 1.
    #[test]
    fn a_stop_recoded_as_planned_changes_availability() {
        let mut history = KpiHistory::default();
        for e in [
            state(0, MachineCategory::Running),
            state(20, MachineCategory::UnplannedDowntime),
            event(
                20,
                EventKind::DowntimeStarted {
                    plc_reason: 1,
                    suggested_reason: Some("R-11".into()),
                },
            ),
            state(30, MachineCategory::Running),
            units(25, "WO-A", 200, 10),
            units(50, "WO-B", 400, 14),
        ] {
            history.record(&e);
        }
        let never = |_: &str| false;
        let fault = report(&history, &never);
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        assert!(close(fault.kpis.availability, 50.0 / 60.0));
        assert!(close(fault.kpis.effectiveness, 0.8));
        assert!(close(fault.kpis.quality_ratio, 0.96));
        assert_eq!(
            (fault.elements.failures, fault.produced, fault.good),
            (1, 600, 576)
        );

        history.record(&event(
            40,
            EventKind::DowntimeCoded {
                started_at: at(20),
                reason: "R-81".into(),
            },
        ));
        let is_break = |reason: &str| reason == "R-81";
        let coded = report(&history, &is_break);
        assert_eq!(coded.elements.pbt, 3_000.0);
        assert_eq!(coded.kpis.availability, Some(1.0));
        assert_eq!(coded.elements.failures, 0);
    }

    fn query<'a>(
        from: i64,
        to: i64,
        breaks: &'a [(DateTime<Utc>, DateTime<Utc>)],
        ideal: &'a dyn Fn(&WorkOrderId) -> Option<Duration>,
        planned: &'a dyn Fn(&str) -> bool,
    ) -> Query<'a> {
        Query {
            from: at(from),
            to: at(to),
            breaks,
            work_order: None,
            micro_stop: Duration::minutes(2),
            ideal_cycle: ideal,
            planned_reason: planned,
        }
    }

    /// Time before the first known machine state is no planned operation time, and the calendar's
    /// break there is no planned downtime either: an hour with a break 20–50 and the first state,
    /// running, at 30, idle from 35 (the break), running again at 50. Known from 30: POT 30 min,
    /// planned 15 (35–50; running through a break is running), PBT 15, APT 15 (30–35, 50–60),
    /// A = 1. A station that reported nothing has no KPIs at all (not 0 %).
    #[test]
    fn a_break_before_any_known_machine_state_is_outside_the_window() {
        let ideal = |_: &WorkOrderId| None;
        let never = |_: &str| false;
        let breaks = [(at(20), at(50))];
        let empty = KpiHistory::default().kpis(&query(0, 60, &breaks, &ideal, &never));
        assert_eq!(empty.elements.pot, 0.0);
        assert_eq!(empty.kpis.availability, None);

        let mut history = KpiHistory::default();
        history.record(&state(30, MachineCategory::Running));
        history.record(&state(35, MachineCategory::Idle));
        history.record(&state(50, MachineCategory::Running));
        let report = history.kpis(&query(0, 60, &breaks, &ideal, &never));
        assert_eq!(report.elements.pot, 1_800.0);
        assert_eq!(report.elements.planned_downtime, 900.0);
        assert_eq!(report.elements.pbt, 900.0);
        assert_eq!(report.elements.apt, 900.0);
        assert_eq!(report.kpis.availability, Some(1.0));
    }

    /// Two half hours of the same history as one: running 0–20, fault 20–30 (a failure), running
    /// 30–60; WO-A 200 units (10 rejected) at minute 25 at 6 s, WO-B 400 (14 rejected) at 50 at 3 s.
    /// 0–30: APT 20 min, ADET 10, PQ 200, PRI × PQ 1 200 s. 30–60: APT 30 min, PQ 400, 1 200 s.
    /// Total: POT 60 min, APT 50, ADET 10, PQ 600, GQ 576, PRI × PQ 2 400 s:
    /// A = 50 / 60 = 0.833…, E = 2 400 / 3 000 = 0.8, QR = 576 / 600 = 0.96 — the hour's own KPIs.
    #[test]
    fn a_total_of_reports_sums_elements_and_quantities() {
        let mut history = KpiHistory::default();
        for e in [
            state(0, MachineCategory::Running),
            state(20, MachineCategory::UnplannedDowntime),
            state(30, MachineCategory::Running),
            units(25, "WO-A", 200, 10),
            units(50, "WO-B", 400, 14),
        ] {
            history.record(&e);
        }
        let ideal = |order: &WorkOrderId| match order.as_str() {
            "WO-A" => Some(Duration::seconds(6)),
            "WO-B" => Some(Duration::seconds(3)),
            _ => None,
        };
        let never = |_: &str| false;
        let first = history.kpis(&query(0, 30, &[], &ideal, &never));
        let second = history.kpis(&query(30, 60, &[], &ideal, &never));
        assert_eq!(first.planned_run_time, Some(Duration::seconds(1_200)));
        let total = KpiReport::total([&first, &second]);
        let hour = history.kpis(&query(0, 60, &[], &ideal, &never));
        assert_eq!(total.elements, hour.elements);
        assert_eq!((total.produced, total.good), (600, 576));
        assert_eq!(total.planned_run_time, Some(Duration::seconds(2_400)));
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        assert!(close(total.kpis.availability, 50.0 / 60.0));
        assert!(close(total.kpis.effectiveness, 0.8));
        assert!(close(total.kpis.quality_ratio, 0.96));
        assert_eq!(total.kpis, hour.kpis);

        // A unit with no ideal cycle anywhere makes the total's effectiveness unknown.
        let unknown = KpiReport {
            planned_run_time: None,
            ..second
        };
        assert_eq!(
            KpiReport::total([&first, &unknown]).kpis.effectiveness,
            None
        );
        // Nothing summed: zero time, no ratio.
        let nothing = KpiReport::total([]);
        assert_eq!(nothing.elements, Elements::default());
        assert_eq!(nothing.kpis, Kpis::default());
    }

    #[test]
    fn a_unit_without_an_ideal_cycle_leaves_effectiveness_unknown() {
        let mut history = KpiHistory::default();
        history.record(&state(0, MachineCategory::Running));
        history.record(&units(10, "WO-A", 10, 0));
        history.record(&units(20, "WO-X", 10, 0));
        let report = report(&history, &|_| false);
        assert_eq!(report.kpis.effectiveness, None);
        assert_eq!(report.kpis.availability, Some(1.0));
    }

    #[test]
    fn forgetting_keeps_the_category_in_effect() {
        let mut history = KpiHistory::default();
        history.record(&state(0, MachineCategory::Running));
        history.record(&state(5, MachineCategory::Idle));
        history.record(&units(4, "WO-A", 10, 0));
        history.forget_before(at(30));
        let report = report(&history, &|_| false);
        // The idle from minute 5 on is still known: the change into it was kept.
        assert_eq!(report.elements.apt, 0.0);
        assert_eq!(report.elements.adot, 3_300.0);
        assert_eq!(report.produced, 0);
    }

    #[test]
    fn time_before_the_first_known_state_is_not_planned_operation_time() {
        let mut history = KpiHistory::default();
        assert_eq!(report(&history, &|_| false).kpis.availability, None);
        // The station first heard the machine at minute 30: the window's first half is unknown.
        history.record(&state(30, MachineCategory::Running));
        let report = report(&history, &|_| false);
        assert_eq!(report.elements.pot, 1_800.0);
        assert_eq!(report.kpis.availability, Some(1.0));
    }

    /// A 3-minute fault from 13:58:30 to 14:01:30 across the Early/Late change (2 min threshold):
    /// one failure, counted in Early where it began, judged by its whole 3 minutes; Late has its
    /// 1.5 minutes of delay (and repair) but no new stop. The day (the two summed) has one failure
    /// and 3 minutes of repair, as one window over both shifts has.
    #[test]
    fn a_stop_across_a_shift_change_is_one_failure_where_it_began() {
        let minute = |m: f64| (m * 60.0) as i64;
        let at_s = |seconds: i64| at(0) + Duration::seconds(seconds);
        let mut history = KpiHistory::default();
        for (seconds, category) in [
            (0, MachineCategory::Running),
            (minute(480.0 - 1.5), MachineCategory::UnplannedDowntime),
            (minute(480.0 + 1.5), MachineCategory::Running),
        ] {
            let mut e = state(0, category);
            e.at = at_s(seconds);
            history.record(&e);
        }
        let ideal = |_: &WorkOrderId| None;
        let never = |_: &str| false;
        let early = history.kpis(&query(0, 480, &[], &ideal, &never));
        let late = history.kpis(&query(480, 960, &[], &ideal, &never));
        assert_eq!(
            (early.elements.failures, early.elements.micro_stops),
            (1, 0)
        );
        assert_eq!((late.elements.failures, late.elements.micro_stops), (0, 0));
        assert_eq!((early.elements.adet, late.elements.adet), (90.0, 90.0));
        let day = KpiReport::total([&early, &late]);
        let whole = history.kpis(&query(0, 960, &[], &ideal, &never));
        assert_eq!(
            (day.elements.failures, day.elements.repair),
            (whole.elements.failures, whole.elements.repair)
        );
        assert_eq!((day.elements.failures, day.elements.repair), (1, 180.0));
        assert_eq!(day.kpis.mttr, Some(180.0));
    }

    /// A fault 09:55–10:40 across the 10:00–10:30 break: one stop of 15 unplanned minutes (5
    /// before the break, 10 after), one failure, MTTR 900 s; the break itself is planned.
    #[test]
    fn a_stop_across_a_break_is_one_failure() {
        let mut history = KpiHistory::default();
        history.record(&state(0, MachineCategory::Running));
        history.record(&state(235, MachineCategory::UnplannedDowntime));
        history.record(&state(280, MachineCategory::Running));
        let ideal = |_: &WorkOrderId| None;
        let never = |_: &str| false;
        let breaks = [(at(240), at(270))];
        let report = history.kpis(&query(0, 480, &breaks, &ideal, &never));
        assert_eq!(
            (report.elements.failures, report.elements.micro_stops),
            (1, 0)
        );
        assert_eq!(report.elements.adet, 900.0);
        assert_eq!(report.elements.planned_downtime, 1_800.0);
        assert_eq!(report.kpis.mttr, Some(900.0));
    }

    /// The last cycle finished after @COMPLETE is counted with no order: it earns the ideal cycle
    /// of the order that ran, so one such unit does not blank the shift's effectiveness.
    /// 700 units of WO-A (6 s) + 1 unassigned = 701 × 6 s = 4 206 s over an hour running.
    #[test]
    fn a_unit_counted_after_the_order_ended_is_paced_by_the_order_before() {
        let mut history = KpiHistory::default();
        history.record(&state(0, MachineCategory::Running));
        history.record(&units(20, "WO-A", 700, 0));
        let mut last = units(59, "WO-A", 1, 0);
        if let EventKind::UnitsProduced { work_order, .. } = &mut last.kind {
            *work_order = None;
        }
        history.record(&last);
        let report = report(&history, &|_| false);
        assert_eq!(report.produced, 701);
        assert_eq!(report.planned_run_time, Some(Duration::seconds(4_206)));
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        assert!(close(report.kpis.effectiveness, 4_206.0 / 3_600.0));
    }

    /// Windows are half open: a count at the boundary belongs to the window that begins there.
    #[test]
    fn a_count_at_a_window_boundary_is_counted_once() {
        let mut history = KpiHistory::default();
        history.record(&state(0, MachineCategory::Running));
        history.record(&units(30, "WO-A", 10, 0));
        let ideal = |_: &WorkOrderId| None;
        let never = |_: &str| false;
        let first = history.kpis(&query(0, 30, &[], &ideal, &never));
        let second = history.kpis(&query(30, 60, &[], &ideal, &never));
        assert_eq!((first.produced, second.produced), (0, 10));
    }
}
