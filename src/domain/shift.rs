//! The shift calendar: when the plant plans to work (ISO 22400 planned operation time, POT) and
//! which breaks inside a shift are planned downtime. KPIs "of the shift" take their window and
//! their planned downtime from here, never from an assumed 8 hours.
//!
//! Times of day are plant-local, at a fixed offset from UTC. Daylight saving is not modelled: a
//! plant that switches sets the new offset at the switch (its shifts keep their wall-clock times).

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

/// A shift as planned every working day: `Early 06:00–14:00`, a break `10:00–10:30`. A shift whose
/// end is not after its start runs past midnight; it belongs to the day it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftPattern {
    pub name: String,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub breaks: Vec<(NaiveTime, NaiveTime)>,
}

impl ShiftPattern {
    /// Minutes after the start of the shift's day: start, end (end may pass 1440).
    fn minutes(&self) -> (i64, i64) {
        let start = minute_of_day(self.start);
        let mut end = minute_of_day(self.end);
        if end <= start {
            end += 24 * 60;
        }
        (start, end)
    }

    /// A break's minutes after the start of the shift's day, inside the shift.
    fn break_minutes(&self, (from, to): (NaiveTime, NaiveTime)) -> (i64, i64) {
        let (start, _) = self.minutes();
        let shift_later = |minute: i64| {
            if minute < start {
                minute + 24 * 60
            } else {
                minute
            }
        };
        let from = shift_later(minute_of_day(from));
        let mut to = shift_later(minute_of_day(to));
        if to <= from {
            to += 24 * 60;
        }
        (from, to)
    }
}

fn minute_of_day(time: NaiveTime) -> i64 {
    use chrono::Timelike;
    i64::from(time.hour() * 60 + time.minute())
}

/// One shift on one day, in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    pub name: String,
    /// The plant-local day the shift starts on.
    pub date: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub breaks: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Shift {
    /// "Early 2026-11-25": how people name a shift.
    pub fn label(&self) -> String {
        format!("{} {}", self.name, self.date)
    }
}

/// The plant's shifts and its offset from UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftCalendar {
    offset: FixedOffset,
    patterns: Vec<ShiftPattern>,
}

impl Default for ShiftCalendar {
    /// The demo plant's: 06–14, 14–22, 22–06, each with a 30-minute break at mid-shift.
    fn default() -> Self {
        let time = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time of day");
        let pattern = |name: &str, start, end, pause| ShiftPattern {
            name: name.to_owned(),
            start: time(start, 0),
            end: time(end, 0),
            breaks: vec![(time(pause, 0), time(pause, 30))],
        };
        ShiftCalendar {
            offset: FixedOffset::east_opt(0).expect("zero offset"),
            patterns: vec![
                pattern("Early", 6, 14, 10),
                pattern("Late", 14, 22, 18),
                pattern("Night", 22, 6, 2),
            ],
        }
    }
}

impl ShiftCalendar {
    /// A calendar, or what is wrong with it in words: shifts must have distinct names, must not
    /// overlap (a day has 24 hours), and breaks must lie inside their shift.
    pub fn new(offset: FixedOffset, patterns: Vec<ShiftPattern>) -> Result<Self, String> {
        for (index, pattern) in patterns.iter().enumerate() {
            if pattern.name.trim().is_empty() {
                return Err("a shift has no name".into());
            }
            if patterns[..index].iter().any(|p| p.name == pattern.name) {
                return Err(format!("shift {:?} is defined twice", pattern.name));
            }
            let (start, end) = pattern.minutes();
            for &(from, to) in &pattern.breaks {
                let (b_from, b_to) = pattern.break_minutes((from, to));
                if b_from < start || b_to > end {
                    return Err(format!(
                        "shift {}: the break {}–{} is not inside {}–{}",
                        pattern.name,
                        from.format("%H:%M"),
                        to.format("%H:%M"),
                        pattern.start.format("%H:%M"),
                        pattern.end.format("%H:%M")
                    ));
                }
            }
            for other in &patterns[..index] {
                let (o_start, o_end) = other.minutes();
                let day = 24 * 60;
                let overlaps = [-day, 0, day]
                    .iter()
                    .any(|shift| start < o_end + shift && o_start + shift < end);
                if overlaps {
                    return Err(format!(
                        "shifts {} and {} overlap",
                        other.name, pattern.name
                    ));
                }
            }
        }
        Ok(ShiftCalendar { offset, patterns })
    }

    pub fn offset(&self) -> FixedOffset {
        self.offset
    }

    pub fn patterns(&self) -> &[ShiftPattern] {
        &self.patterns
    }

    /// The pattern worked on the plant-local `date`, in UTC.
    fn instantiate(&self, pattern: &ShiftPattern, date: NaiveDate) -> Option<Shift> {
        let midnight = self
            .offset
            .from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
            .single()?
            .with_timezone(&Utc);
        let at = |minute: i64| midnight + Duration::minutes(minute);
        let (start, end) = pattern.minutes();
        Some(Shift {
            name: pattern.name.clone(),
            date,
            start: at(start),
            end: at(end),
            breaks: pattern
                .breaks
                .iter()
                .map(|&b| {
                    let (from, to) = pattern.break_minutes(b);
                    (at(from), at(to))
                })
                .collect(),
        })
    }

    /// The shift running at `at`, if any.
    pub fn shift_at(&self, at: DateTime<Utc>) -> Option<Shift> {
        let local_date = at.with_timezone(&self.offset).date_naive();
        [local_date.pred_opt()?, local_date]
            .into_iter()
            .flat_map(|date| {
                self.patterns
                    .iter()
                    .filter_map(move |pattern| self.instantiate(pattern, date))
            })
            .find(|shift| shift.start <= at && at < shift.end)
    }

    /// Every shift overlapping `from..to`, in time order.
    pub fn shifts_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Shift> {
        let mut shifts = Vec::new();
        let Some(mut date) = from.with_timezone(&self.offset).date_naive().pred_opt() else {
            return shifts;
        };
        let last = to.with_timezone(&self.offset).date_naive();
        while date <= last {
            for pattern in &self.patterns {
                if let Some(shift) = self.instantiate(pattern, date)
                    && shift.start < to
                    && from < shift.end
                {
                    shifts.push(shift);
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        shifts.sort_by_key(|shift| shift.start);
        shifts
    }

    /// The shift named `name` on the plant-local `date`.
    pub fn shift_on(&self, name: &str, date: NaiveDate) -> Option<Shift> {
        let pattern = self
            .patterns
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))?;
        self.instantiate(pattern, date)
    }

    /// The plant-local day of an instant (for KPIs per day).
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.offset).date_naive()
    }

    /// Plant-local midnight of `date`, in UTC.
    pub fn day_start(&self, date: NaiveDate) -> Option<DateTime<Utc>> {
        let local = date.and_hms_opt(0, 0, 0)?;
        Some(
            self.offset
                .from_local_datetime(&local)
                .single()?
                .with_timezone(&Utc),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test value")
            .with_timezone(&Utc)
    }

    fn time(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").expect("test value")
    }

    #[test]
    fn the_demo_calendar_finds_the_shift_and_its_break() {
        let calendar = ShiftCalendar::default();
        let early = calendar
            .shift_at(utc("2026-11-25T09:15:00Z"))
            .expect("test value");
        assert_eq!(early.label(), "Early 2026-11-25");
        assert_eq!(early.start, utc("2026-11-25T06:00:00Z"));
        assert_eq!(early.end, utc("2026-11-25T14:00:00Z"));
        assert_eq!(
            early.breaks,
            vec![(utc("2026-11-25T10:00:00Z"), utc("2026-11-25T10:30:00Z"))]
        );
        // 14:00 sharp is the Late shift, not the end of Early.
        assert_eq!(
            calendar
                .shift_at(utc("2026-11-25T14:00:00Z"))
                .expect("test value")
                .name,
            "Late"
        );
    }

    #[test]
    fn a_night_shift_belongs_to_the_day_it_starts_and_its_break_is_after_midnight() {
        let calendar = ShiftCalendar::default();
        let night = calendar
            .shift_at(utc("2026-11-26T03:00:00Z"))
            .expect("test value");
        assert_eq!(night.label(), "Night 2026-11-25");
        assert_eq!(night.start, utc("2026-11-25T22:00:00Z"));
        assert_eq!(night.end, utc("2026-11-26T06:00:00Z"));
        assert_eq!(
            night.breaks,
            vec![(utc("2026-11-26T02:00:00Z"), utc("2026-11-26T02:30:00Z"))]
        );
    }

    #[test]
    fn the_offset_moves_local_shift_times_to_utc() {
        let calendar = ShiftCalendar::new(
            FixedOffset::east_opt(3600).expect("test value"),
            ShiftCalendar::default().patterns().to_vec(),
        )
        .expect("test value");
        // 06:00 at UTC+1 is 05:00 UTC.
        let early = calendar
            .shift_at(utc("2026-11-25T05:30:00Z"))
            .expect("test value");
        assert_eq!(early.label(), "Early 2026-11-25");
        assert_eq!(early.start, utc("2026-11-25T05:00:00Z"));
        // 23:30 UTC on the 25th is 00:30 local on the 26th: still the Night of the 25th.
        let night = calendar
            .shift_at(utc("2026-11-25T23:30:00Z"))
            .expect("test value");
        assert_eq!(night.label(), "Night 2026-11-25");
    }

    #[test]
    fn time_outside_every_shift_has_no_shift() {
        let calendar = ShiftCalendar::new(
            FixedOffset::east_opt(0).expect("test value"),
            vec![ShiftPattern {
                name: "Day".into(),
                start: time("07:00"),
                end: time("15:30"),
                breaks: vec![],
            }],
        )
        .expect("test value");
        assert!(calendar.shift_at(utc("2026-11-25T16:00:00Z")).is_none());
        assert!(calendar.shift_at(utc("2026-11-25T06:59:59Z")).is_none());
        assert!(calendar.shift_at(utc("2026-11-25T07:00:00Z")).is_some());
    }

    #[test]
    fn shifts_between_lists_every_overlapping_shift_in_order() {
        let calendar = ShiftCalendar::default();
        let shifts =
            calendar.shifts_between(utc("2026-11-25T05:00:00Z"), utc("2026-11-25T15:00:00Z"));
        let labels: Vec<String> = shifts.iter().map(Shift::label).collect();
        assert_eq!(
            labels,
            ["Night 2026-11-24", "Early 2026-11-25", "Late 2026-11-25"]
        );
        assert_eq!(
            calendar
                .shift_on("late", "2026-11-25".parse().expect("test value"))
                .expect("test value")
                .start,
            utc("2026-11-25T14:00:00Z")
        );
    }

    #[test]
    fn overlapping_shifts_and_stray_breaks_are_refused_in_words() {
        let pattern =
            |name: &str, start: &str, end: &str, breaks: Vec<(&str, &str)>| ShiftPattern {
                name: name.into(),
                start: time(start),
                end: time(end),
                breaks: breaks
                    .into_iter()
                    .map(|(a, b)| (time(a), time(b)))
                    .collect(),
            };
        let utc0 = FixedOffset::east_opt(0).expect("test value");
        let overlap = ShiftCalendar::new(
            utc0,
            vec![
                pattern("Night", "22:00", "06:00", vec![]),
                pattern("Early", "05:30", "14:00", vec![]),
            ],
        );
        assert_eq!(
            overlap.expect_err("refused"),
            "shifts Night and Early overlap"
        );
        let stray = ShiftCalendar::new(
            utc0,
            vec![pattern("Early", "06:00", "14:00", vec![("13:45", "14:15")])],
        );
        assert_eq!(
            stray.expect_err("refused"),
            "shift Early: the break 13:45–14:15 is not inside 06:00–14:00"
        );
        let twice = ShiftCalendar::new(
            utc0,
            vec![
                pattern("A", "06:00", "10:00", vec![]),
                pattern("A", "10:00", "14:00", vec![]),
            ],
        );
        assert_eq!(twice.expect_err("refused"), "shift \"A\" is defined twice");
        // A night shift's break after midnight is inside it.
        assert!(
            ShiftCalendar::new(
                utc0,
                vec![pattern("Night", "22:00", "06:00", vec![("02:00", "02:30")])]
            )
            .is_ok()
        );
    }
}
