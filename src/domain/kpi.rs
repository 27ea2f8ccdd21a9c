//! ISO 22400-2 key performance indicators, computed from stored raw state intervals and counts —
//! never stored as KPIs themselves, so a stop coded differently later changes them. The time
//! elements follow an explicit category-to-element table (after OPC 40001-1 Annex C.2):
//!
//! | machine category   | time element |
//! |--------------------|--------------|
//! | running            | APT (actual production time) |
//! | unplanned downtime | ADET (actual unit delay time); a stop at least the micro-stop threshold long is also a failure |
//! | idle, blocked, starved | ADOT (actual unit down time: available, not producing) |
//! | planned downtime   | outside PBT (planned busy time = POT − planned downtime) |
//!
//! Planned downtime (the calendar's breaks, downtime declared at the station, stops coded with a
//! planned reason) takes over whatever the machine reports in that time except running: a machine
//! that runs through a break was producing. Time before the first known machine state is outside
//! POT (not knowing is not standing still). A stop is a failure or a micro-stop by its whole length
//! and counted once, where it began, however windows and breaks cut it.
//!
//! Setup is not yet told apart from planned downtime (AUST = 0), so AUPT = APT. Effectiveness is
//! deliberately **not** capped at 100 %: above it, the planned run time per item is wrong.

use super::machine::MachineCategory;
use chrono::{DateTime, Duration, Utc};

/// The plant's micro-stop threshold: an unplanned stop shorter than this is delay time but not a
/// failure. One value for the station's live KPIs and central's.
pub const MICRO_STOP: Duration = Duration::minutes(2);

/// One stretch of time in one category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub category: MachineCategory,
    /// The whole episode this stretch belongs to, before a window edge or a break cut it: a stop
    /// is a failure or a micro-stop by its whole length, and counts once, in the window where it
    /// began.
    pub episode: (DateTime<Utc>, DateTime<Utc>),
}

impl Interval {
    /// A stretch that is a whole episode.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>, category: MachineCategory) -> Interval {
        Interval {
            start,
            end,
            category,
            episode: (start, end),
        }
    }
}

/// What the KPIs are computed from, for one work unit and one period.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// POT: the planned operation time of the period (from the shift calendar), as a window.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The machine's categories over time; clipped to the window.
    pub intervals: Vec<Interval>,
    /// PQ and GQ: produced (good + rejected) and good quantity in the window.
    pub produced: u64,
    pub good: u64,
    /// PRI × PQ: the planned run time per item (the ideal cycle) times the items produced, summed
    /// over the products made in the window. `None` when some counted item has no planned run time
    /// (effectiveness is then unknown, not guessed).
    pub planned_run_time: Option<Duration>,
    /// Unplanned stops shorter than this are micro-stops: delay time, but not failures.
    pub micro_stop: Duration,
}

/// The time elements, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Elements {
    pub pot: f64,
    pub planned_downtime: f64,
    pub pbt: f64,
    pub apt: f64,
    pub aust: f64,
    pub aupt: f64,
    pub adet: f64,
    pub aubt: f64,
    pub adot: f64,
    /// Failures (unplanned stops at least the micro-stop threshold long) and micro-stops.
    pub failures: u32,
    pub micro_stops: u32,
    /// Total repair time of the failures (their durations).
    pub repair: f64,
}

/// The KPIs; `None` where a denominator is zero (nothing planned, nothing produced).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Kpis {
    pub availability: Option<f64>,
    pub effectiveness: Option<f64>,
    pub quality_ratio: Option<f64>,
    pub oee: Option<f64>,
    pub nee: Option<f64>,
    pub allocation_efficiency: Option<f64>,
    pub utilisation_efficiency: Option<f64>,
    pub technical_efficiency: Option<f64>,
    pub setup_ratio: Option<f64>,
    /// Seconds.
    pub mtbf: Option<f64>,
    pub mttr: Option<f64>,
}

fn seconds(duration: Duration) -> f64 {
    duration.num_milliseconds() as f64 / 1000.0
}

fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

/// The time elements of the window.
pub fn elements(inputs: &Inputs) -> Elements {
    let mut e = Elements {
        pot: seconds(inputs.to.signed_duration_since(inputs.from)).max(0.0),
        ..Elements::default()
    };
    let mut stops_counted: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for interval in &inputs.intervals {
        let start = interval.start.max(inputs.from);
        let end = interval.end.min(inputs.to);
        if end <= start {
            continue;
        }
        let length = seconds(end.signed_duration_since(start));
        match interval.category {
            MachineCategory::Running => e.apt += length,
            MachineCategory::UnplannedDowntime => {
                e.adet += length;
                // The stop's whole length decides failure or micro-stop, not the part in this
                // window or between two breaks; it counts once, where it began.
                let (began, ended) = interval.episode;
                let failure = ended.signed_duration_since(began) >= inputs.micro_stop;
                if failure {
                    e.repair += length;
                }
                let began_here = began >= inputs.from && began < inputs.to;
                if began_here && !stops_counted.contains(&interval.episode) {
                    stops_counted.push(interval.episode);
                    if failure {
                        e.failures += 1;
                    } else {
                        e.micro_stops += 1;
                    }
                }
            }
            MachineCategory::Idle | MachineCategory::Blocked | MachineCategory::Starved => {
                e.adot += length
            }
            MachineCategory::PlannedDowntime => e.planned_downtime += length,
        }
    }
    e.pbt = (e.pot - e.planned_downtime).max(0.0);
    e.aupt = e.apt + e.aust;
    e.aubt = e.aupt + e.adet;
    e
}

/// The KPIs of ISO 22400-2 from the elements and the quantities.
pub fn kpis(inputs: &Inputs) -> (Elements, Kpis) {
    let e = elements(inputs);
    let k = kpis_from_elements(&e, inputs.produced, inputs.good, inputs.planned_run_time);
    (e, k)
}

/// The KPIs of ISO 22400-2 from time elements and quantities already worked out — one window's,
/// or several summed (the shifts of a day, the stations of a line): PQ `produced`, GQ `good`, and
/// PRI × PQ `planned_run_time` (`None`: some item had no planned run time, so effectiveness is
/// unknown). Every KPI is a ratio of these sums, so a total is weighted by time, never an average
/// of percentages.
pub fn kpis_from_elements(
    e: &Elements,
    produced: u64,
    good: u64,
    planned_run_time: Option<Duration>,
) -> Kpis {
    let produced = produced as f64;
    let good = good as f64;
    let availability = ratio(e.apt, e.pbt);
    let effectiveness = planned_run_time.and_then(|earned| ratio(seconds(earned), e.apt));
    let quality_ratio = ratio(good, produced);
    let product = |a: Option<f64>, b: Option<f64>, c: Option<f64>| Some(a? * b? * c?);
    Kpis {
        availability,
        effectiveness,
        quality_ratio,
        oee: product(availability, effectiveness, quality_ratio),
        nee: product(ratio(e.aupt, e.pbt), effectiveness, quality_ratio),
        allocation_efficiency: ratio(e.aubt, e.pbt),
        utilisation_efficiency: ratio(e.apt, e.aubt),
        technical_efficiency: ratio(e.apt, e.apt + e.adet),
        setup_ratio: ratio(e.aust, e.aupt),
        // TBF is busy time between failures: AUBT shared by the failures.
        mtbf: ratio(e.aubt, f64::from(e.failures)),
        mttr: ratio(e.repair, f64::from(e.failures)),
    }
}

impl std::ops::Add for Elements {
    type Output = Elements;

    /// Two windows' elements together (two shifts, two stations): every time and count summed.
    fn add(self, other: Elements) -> Elements {
        Elements {
            pot: self.pot + other.pot,
            planned_downtime: self.planned_downtime + other.planned_downtime,
            pbt: self.pbt + other.pbt,
            apt: self.apt + other.apt,
            aust: self.aust + other.aust,
            aupt: self.aupt + other.aupt,
            adet: self.adet + other.adet,
            aubt: self.aubt + other.aubt,
            adot: self.adot + other.adot,
            failures: self.failures.saturating_add(other.failures),
            micro_stops: self.micro_stops.saturating_add(other.micro_stops),
            repair: self.repair + other.repair,
        }
    }
}

impl std::iter::Sum for Elements {
    fn sum<I: Iterator<Item = Elements>>(iter: I) -> Elements {
        iter.fold(Elements::default(), |sum, e| sum + e)
    }
}

/// The intervals a sequence of category changes describes, the last one running to `until`. A
/// change into the category already in effect (a fault whose stop reason changes) continues the
/// interval: one stop is one failure, however many raw transitions it had.
pub fn intervals_from_changes(
    changes: &[(DateTime<Utc>, MachineCategory)],
    until: DateTime<Utc>,
) -> Vec<Interval> {
    let mut intervals: Vec<Interval> = Vec::new();
    for &(start, category) in changes {
        if let Some(last) = intervals.last_mut() {
            if last.category == category {
                continue;
            }
            last.end = start;
        }
        intervals.push(Interval::new(start, until, category));
    }
    for interval in &mut intervals {
        interval.episode = (interval.start, interval.end);
    }
    intervals.retain(|interval| interval.end > interval.start);
    intervals
}

/// Declared planned downtime (a break, a changeover) counts as planned whatever the machine
/// reports meanwhile: those stretches become planned downtime.
pub fn with_planned(
    intervals: &[Interval],
    planned: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Vec<Interval> {
    let mut out = Vec::new();
    for interval in intervals {
        let mut pieces = vec![*interval];
        for (from, to) in planned {
            pieces = pieces
                .into_iter()
                .flat_map(|piece| {
                    // A machine that runs through a break was not down: only time it stood (or
                    // was about to stand) becomes planned.
                    if matches!(
                        piece.category,
                        MachineCategory::PlannedDowntime | MachineCategory::Running
                    ) || *to <= piece.start
                        || *from >= piece.end
                    {
                        return vec![piece];
                    }
                    let mut split = Vec::new();
                    if *from > piece.start {
                        split.push(Interval {
                            end: *from,
                            ..piece
                        });
                    }
                    split.push(Interval::new(
                        (*from).max(piece.start),
                        (*to).min(piece.end),
                        MachineCategory::PlannedDowntime,
                    ));
                    if *to < piece.end {
                        split.push(Interval {
                            start: *to,
                            ..piece
                        });
                    }
                    split
                })
                .collect();
        }
        out.extend(pieces);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_050_400, 0).unwrap_or_default() + Duration::minutes(minutes)
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    /// A worked example, every number written out. Shift 06:00–14:00 = POT 480 min. A 30 min break
    /// (planned downtime) leaves PBT = 450 min. The machine ran 400 min, stood 20 min in a spindle
    /// fault and twice 1 min in micro-stops (ADET = 22 min), and waited 28 min starved or idle
    /// (ADOT). It made PQ = 4 800 calipers, GQ = 4 752 good, at PRI = 4.5 s each.
    ///
    /// A   = APT / PBT            = 400 / 450                        = 0.888 888…
    /// E   = PRI × PQ / APT       = 4.5 s × 4 800 / 24 000 s         = 21 600 / 24 000 = 0.9
    /// QR  = GQ / PQ              = 4 752 / 4 800                    = 0.99
    /// OEE = A × E × QR           = 0.888 888… × 0.9 × 0.99          = 0.792
    /// AE  = AUBT / PBT           = (400 + 22) / 450                 = 0.937 777…
    /// UE  = APT / AUBT           = 400 / 422                        = 0.947 867…
    /// TE  = APT / (APT + ADET)   = 400 / 422                        (same, no setup)
    /// failures: one (the 20 min fault); micro-stops: two (under 5 min)
    /// MTBF = AUBT / failures     = 422 min = 25 320 s;  MTTR = 20 min = 1 200 s
    #[test]
    fn a_shift_worked_by_hand() {
        use MachineCategory::*;
        let changes = [
            (at(0), Running),
            (at(100), UnplannedDowntime), // spindle fault, 20 min
            (at(120), Running),
            (at(200), Starved), // 18 min without castings
            (at(218), Running),
            (at(220), PlannedDowntime), // the break, 30 min
            (at(250), Running),
            (at(300), UnplannedDowntime), // micro-stop, 1 min
            (at(301), Running),
            (at(350), UnplannedDowntime), // micro-stop, 1 min
            (at(351), Running),
            (at(470), Idle), // end of shift, 10 min
        ];
        let inputs = Inputs {
            from: at(0),
            to: at(480),
            intervals: intervals_from_changes(&changes, at(480)),
            produced: 4_800,
            good: 4_752,
            planned_run_time: Some(Duration::milliseconds(4_500 * 4_800)),
            micro_stop: Duration::minutes(5),
        };
        let (e, k) = kpis(&inputs);
        assert_eq!(e.pot, 480.0 * 60.0);
        assert_eq!(e.planned_downtime, 30.0 * 60.0);
        assert_eq!(e.pbt, 450.0 * 60.0);
        assert_eq!(e.apt, 400.0 * 60.0);
        assert_eq!(e.adet, 22.0 * 60.0);
        assert_eq!(e.adot, 28.0 * 60.0);
        assert_eq!((e.failures, e.micro_stops), (1, 2));
        assert!(close(k.availability, 400.0 / 450.0));
        assert!(close(k.effectiveness, 0.9));
        assert!(close(k.quality_ratio, 0.99));
        assert!(close(k.oee, 400.0 / 450.0 * 0.9 * 0.99));
        assert!(close(k.oee, 0.792));
        assert!(close(k.nee, 0.792), "no setup: NEE equals OEE");
        assert!(close(k.allocation_efficiency, 422.0 / 450.0));
        assert!(close(k.utilisation_efficiency, 400.0 / 422.0));
        assert!(close(k.technical_efficiency, 400.0 / 422.0));
        assert!(close(k.setup_ratio, 0.0));
        assert!(close(k.mtbf, 422.0 * 60.0));
        assert!(close(k.mttr, 1_200.0));
    }

    /// Two shifts summed, worked by hand: the shift above (POT 480 min, planned downtime 30, APT
    /// 400, ADET 22 with one 20 min failure and two micro-stops, ADOT 28; PQ 4 800, GQ 4 752,
    /// PRI × PQ 21 600 s) and a second one without a break (POT 480, running 0–300 and 360–480, a
    /// 60 min fault between; PQ 5 000 at 4.5 s = 22 500 s, GQ 4 900).
    ///
    /// Summed: POT 960, planned downtime 30, PBT 930, APT 820, ADET 82, AUBT 902, ADOT 28, two
    /// failures (repair 80 min), two micro-stops; PQ 9 800, GQ 9 652, PRI × PQ 44 100 s.
    ///
    /// A   = 820 / 930                     = 0.881 720…
    /// E   = 44 100 s / (820 × 60 s)       = 44 100 / 49 200 = 0.896 341…
    /// QR  = 9 652 / 9 800                 = 0.984 897…
    /// OEE = A × E × QR                    = 0.778 387…
    /// MTBF = 902 min / 2 = 27 060 s;  MTTR = 80 min / 2 = 2 400 s
    #[test]
    fn kpis_of_summed_elements_are_weighted_by_time() {
        use MachineCategory::*;
        let first = Inputs {
            from: at(0),
            to: at(480),
            intervals: intervals_from_changes(
                &[
                    (at(0), Running),
                    (at(100), UnplannedDowntime),
                    (at(120), Running),
                    (at(200), Starved),
                    (at(218), Running),
                    (at(220), PlannedDowntime),
                    (at(250), Running),
                    (at(300), UnplannedDowntime),
                    (at(301), Running),
                    (at(350), UnplannedDowntime),
                    (at(351), Running),
                    (at(470), Idle),
                ],
                at(480),
            ),
            produced: 4_800,
            good: 4_752,
            planned_run_time: Some(Duration::milliseconds(4_500 * 4_800)),
            micro_stop: Duration::minutes(5),
        };
        let second = Inputs {
            from: at(480),
            to: at(960),
            intervals: intervals_from_changes(
                &[
                    (at(480), Running),
                    (at(780), UnplannedDowntime),
                    (at(840), Running),
                ],
                at(960),
            ),
            produced: 5_000,
            good: 4_900,
            planned_run_time: Some(Duration::milliseconds(4_500 * 5_000)),
            micro_stop: Duration::minutes(5),
        };
        let (e1, k1) = kpis(&first);
        let (e2, _) = kpis(&second);
        // One window through the helper is the same as through `kpis`.
        assert_eq!(
            kpis_from_elements(&e1, 4_800, 4_752, first.planned_run_time),
            k1
        );
        let e: Elements = [e1, e2].into_iter().sum();
        assert_eq!(e.pot, 960.0 * 60.0);
        assert_eq!(e.planned_downtime, 30.0 * 60.0);
        assert_eq!(e.pbt, 930.0 * 60.0);
        assert_eq!(e.apt, 820.0 * 60.0);
        assert_eq!(e.adet, 82.0 * 60.0);
        assert_eq!(e.aubt, 902.0 * 60.0);
        assert_eq!(e.adot, 28.0 * 60.0);
        assert_eq!((e.failures, e.micro_stops), (2, 2));
        assert_eq!(e.repair, 80.0 * 60.0);
        let k = kpis_from_elements(&e, 9_800, 9_652, Some(Duration::seconds(44_100)));
        assert!(close(k.availability, 820.0 / 930.0));
        assert!(close(k.effectiveness, 44_100.0 / 49_200.0));
        assert!(close(k.quality_ratio, 9_652.0 / 9_800.0));
        let oee = 820.0 / 930.0 * (44_100.0 / 49_200.0) * (9_652.0 / 9_800.0);
        assert!(close(k.oee, oee));
        assert!((oee - 0.778_387).abs() < 1e-6, "{oee}");
        assert!(close(k.mtbf, 27_060.0));
        assert!(close(k.mttr, 2_400.0));
        // Unknown effectiveness stays unknown in a sum.
        assert_eq!(
            kpis_from_elements(&e, 9_800, 9_652, None).effectiveness,
            None
        );
        assert_eq!(kpis_from_elements(&e, 9_800, 9_652, None).oee, None);
    }

    /// An ideal cycle set too long in master data: effectiveness above 100 % is kept, so someone
    /// notices — capping it would hide the wrong master data.
    #[test]
    fn effectiveness_is_never_capped() {
        let inputs = Inputs {
            from: at(0),
            to: at(60),
            intervals: vec![Interval::new(at(0), at(60), MachineCategory::Running)],
            produced: 1_000,
            good: 1_000,
            planned_run_time: Some(Duration::seconds(6 * 1_000)),
            micro_stop: Duration::minutes(5),
        };
        let (_, k) = kpis(&inputs);
        // 6 s × 1 000 / 3 600 s = 1.666…
        assert!(close(k.effectiveness, 6_000.0 / 3_600.0));
        assert!(k.oee.is_some_and(|oee| oee > 1.0));
    }

    #[test]
    fn nothing_planned_or_made_gives_no_ratio_not_a_division_by_zero() {
        let inputs = Inputs {
            from: at(0),
            to: at(0),
            intervals: Vec::new(),
            produced: 0,
            good: 0,
            planned_run_time: Some(Duration::zero()),
            micro_stop: Duration::minutes(5),
        };
        let (_, k) = kpis(&inputs);
        assert_eq!(k, Kpis::default());
    }

    #[test]
    fn declared_planned_downtime_overrides_what_the_machine_reports() {
        let intervals = intervals_from_changes(
            &[
                (at(0), MachineCategory::Running),
                (at(10), MachineCategory::Idle),
            ],
            at(60),
        );
        // A break declared from minute 20 to 50, while the machine stood idle.
        let overlaid = with_planned(&intervals, &[(at(20), at(50))]);
        let inputs = Inputs {
            from: at(0),
            to: at(60),
            intervals: overlaid,
            produced: 0,
            good: 0,
            planned_run_time: Some(Duration::zero()),
            micro_stop: Duration::minutes(5),
        };
        let e = elements(&inputs);
        assert_eq!(e.apt, 600.0);
        assert_eq!(e.planned_downtime, 1_800.0);
        assert_eq!(e.adot, 1_200.0, "idle 10-20 and 50-60");
        assert_eq!(e.pbt, 1_800.0);
    }

    #[test]
    fn intervals_are_clipped_to_the_window() {
        let inputs = Inputs {
            from: at(10),
            to: at(20),
            intervals: intervals_from_changes(
                &[
                    (at(0), MachineCategory::Running),
                    (at(15), MachineCategory::Idle),
                ],
                at(30),
            ),
            produced: 0,
            good: 0,
            planned_run_time: Some(Duration::zero()),
            micro_stop: Duration::minutes(5),
        };
        let e = elements(&inputs);
        assert_eq!((e.apt, e.adot), (300.0, 300.0));
    }

    #[test]
    fn a_stop_whose_reason_changes_is_one_failure_not_two_micro_stops() {
        use MachineCategory::*;
        // Down 4 min in all, the stop reason changing after 1 min: one raw transition more, but
        // still one stop of 4 min, which at a 2 min threshold is one failure.
        let intervals = intervals_from_changes(
            &[
                (at(0), Running),
                (at(10), UnplannedDowntime),
                (at(11), UnplannedDowntime),
                (at(14), Running),
            ],
            at(20),
        );
        assert_eq!(intervals.len(), 3);
        let e = elements(&Inputs {
            from: at(0),
            to: at(20),
            intervals,
            produced: 0,
            good: 0,
            planned_run_time: Some(Duration::zero()),
            micro_stop: Duration::minutes(2),
        });
        assert_eq!((e.failures, e.micro_stops, e.adet), (1, 0, 240.0));
    }
}
