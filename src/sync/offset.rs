//! How far central's clock is from this station's, estimated from the `server_time` of its answers.
//!
//! Each successful exchange gives one sample: central stamped `server_time` somewhere between our
//! send and our receive, so the best guess is the midpoint, and the error is at most half the round
//! trip. The estimate is the sample with the shortest round trip among the last few: a slow answer
//! (a big batch, a busy central, a congested link) says less about the clocks than a quick one.
//!
//! The offset is only shown and warned about. Events keep the station's own wall time, and their
//! order comes from `seq`, never from timestamps, so a wrong clock cannot reorder anything.

use chrono::{DateTime, TimeDelta, Utc};
use std::collections::VecDeque;
use std::time::Duration;

/// How many recent samples the estimate chooses from.
pub const SAMPLES: usize = 8;

/// One exchange: central's clock minus ours at the midpoint of the round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub round_trip: Duration,
    /// Positive: central's clock is ahead of this station's.
    pub offset_ms: i64,
}

impl Sample {
    /// `sent_at` by the station's wall clock, `round_trip` by its monotonic clock (so a clock step
    /// during the request cannot distort it), `server_time` from central's answer.
    pub fn new(sent_at: DateTime<Utc>, round_trip: Duration, server_time: DateTime<Utc>) -> Self {
        let half = TimeDelta::from_std(round_trip / 2).unwrap_or(TimeDelta::MAX);
        let midpoint = sent_at.checked_add_signed(half).unwrap_or(sent_at);
        Sample {
            round_trip,
            offset_ms: server_time
                .signed_duration_since(midpoint)
                .num_milliseconds(),
        }
    }
}

/// The last [`SAMPLES`] samples; the estimate is the one with the shortest round trip (the newest
/// of equals).
#[derive(Debug, Clone, Default)]
pub struct OffsetEstimator {
    recent: VecDeque<Sample>,
}

impl OffsetEstimator {
    /// Adds a sample and returns the estimate.
    pub fn add(&mut self, sample: Sample) -> i64 {
        if self.recent.len() >= SAMPLES {
            self.recent.pop_front();
        }
        self.recent.push_back(sample);
        self.estimate().unwrap_or(sample.offset_ms)
    }

    /// Central's clock minus ours, in milliseconds; none before the first answer.
    pub fn estimate(&self) -> Option<i64> {
        self.recent
            .iter()
            .rev()
            .min_by_key(|sample| sample.round_trip)
            .map(|sample| sample.offset_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::milliseconds(1_700_000_000_000 + ms)
    }

    #[test]
    fn a_sample_measures_from_the_midpoint_of_the_round_trip() {
        // Sent at 0, answered after 200 ms; central stamped its 5100, our midpoint is 100.
        let sample = Sample::new(at(0), Duration::from_millis(200), at(5_100));
        assert_eq!(sample.offset_ms, 5_000);
        let behind = Sample::new(at(0), Duration::from_millis(40), at(-2_980));
        assert_eq!(behind.offset_ms, -3_000);
        let instant = Sample::new(at(0), Duration::ZERO, at(0));
        assert_eq!(instant.offset_ms, 0);
    }

    #[test]
    fn the_quickest_recent_round_trip_wins() {
        let mut estimator = OffsetEstimator::default();
        assert_eq!(estimator.estimate(), None);
        let sample = |rtt_ms: u64, offset_ms: i64| Sample {
            round_trip: Duration::from_millis(rtt_ms),
            offset_ms,
        };
        assert_eq!(estimator.add(sample(300, 5_200)), 5_200);
        // Quicker, so more trustworthy.
        assert_eq!(estimator.add(sample(10, 5_003)), 5_003);
        // Slower answers do not move it, however far off their midpoint guess is.
        assert_eq!(estimator.add(sample(900, 4_400)), 5_003);
        assert_eq!(estimator.add(sample(11, 5_010)), 5_003);
        // An equally quick newer sample replaces the older one.
        assert_eq!(estimator.add(sample(10, 5_001)), 5_001);
    }

    #[test]
    fn old_samples_age_out_so_a_corrected_clock_shows_within_a_few_answers() {
        let mut estimator = OffsetEstimator::default();
        estimator.add(Sample {
            round_trip: Duration::from_millis(1),
            offset_ms: 5_000,
        });
        let mut last = 0;
        for _ in 0..SAMPLES - 1 {
            last = estimator.add(Sample {
                round_trip: Duration::from_millis(20),
                offset_ms: 40,
            });
        }
        assert_eq!(last, 5_000, "the quick old sample still counts");
        let last = estimator.add(Sample {
            round_trip: Duration::from_millis(20),
            offset_ms: 40,
        });
        assert_eq!(last, 40, "after {SAMPLES} newer answers it is gone");
    }
}
