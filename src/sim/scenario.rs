//! Faults the simulator can be told to stage, so tests and demos meet a misbehaving PLC on purpose.
//!
//! A [`Scenario`] is plain data; the default stages nothing. It is built from `--scenario` specs,
//! one fault per spec, a comma-separated list of `key=value` where the first key names the fault:
//!
//! | spec | effect |
//! |---|---|
//! | `fault-every=30s[,reason=1][,clear-after=10s]` | after every 30 s of running, stop with stop reason `reason` (HR5, default 1), state Stopped, red light; cleared by Reset/Clear from the station, or after `clear-after` |
//! | `fault-every=50units[,reason=…][,clear-after=…]` | the same, every 50 units made |
//! | `blocked-every=60s,for=5s` | from 60 s after start, every 60 s the outfeed is blocked for 5 s: HR7 bit 0, no units, Suspended, amber |
//! | `starved-every=60s,for=5s` | the same for infeed starved, HR7 bit 1 |
//! | `slow-replies=1500ms[,every=10s,for=3s]` | Modbus replies come 1500 ms late, always or only within the windows |
//! | `drop-every=20s` | every 20 s the simulator closes all client connections |
//! | `restart-at=45s` | 45 s after start the PLC reboots: boot epoch (HR2) + 1, counters back to 0, command block cleared, connections closed |
//!
//! Durations are a whole number with `ms`, `s` or `m`. Stop reasons follow the demo plant's codes:
//! 1 spindle overload, 2 fixture clamp fault, 3 coolant low, 4 guard door open, 5 infeed empty.

use std::fmt;
use std::time::Duration;

/// A spec the simulator cannot stage; the message names the spec and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError(String);

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScenarioError {}

/// How wide the PLC's counters are. A 16-bit PLC still uses both registers, high word 0, so the
/// station's configured counter width can be tested against a wrap at 65535.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CounterWidth {
    Bits16,
    #[default]
    Bits32,
}

impl CounterWidth {
    /// `value` reduced to this width.
    pub fn wrap(self, value: u32) -> u32 {
        match self {
            CounterWidth::Bits16 => value & 0xFFFF,
            CounterWidth::Bits32 => value,
        }
    }
}

/// Recurring windows on the simulator's clock: the first opens `every` after start, then one
/// every `every`, each open for `length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub every: Duration,
    pub length: Duration,
}

impl Window {
    /// Whether a window is open `since_start` after the simulator started.
    pub fn is_open(&self, since_start: Duration) -> bool {
        let every = self.every.as_nanos();
        every > 0
            && since_start.as_nanos() >= every
            && since_start.as_nanos() % every < self.length.as_nanos()
    }
}

/// What makes a scheduled fault happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTrigger {
    /// After this much time in Execute since the last fault (or start).
    Running(Duration),
    /// After this many units made since the last fault (or start).
    Units(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultPlan {
    pub trigger: FaultTrigger,
    /// Stop reason written to HR5; never 0, which means "no fault".
    pub reason: u16,
    /// Clears by itself after this long; `None` waits for Reset/Clear from the station.
    pub clear_after: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowReplies {
    pub delay: Duration,
    /// Only within these windows; `None` delays every reply.
    pub window: Option<Window>,
}

/// Everything the simulator stages. The default stages nothing and counts 32 bits wide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scenario {
    pub fault: Option<FaultPlan>,
    pub blocked: Option<Window>,
    pub starved: Option<Window>,
    pub slow_replies: Option<SlowReplies>,
    pub drop_every: Option<Duration>,
    pub restart_at: Option<Duration>,
    pub counter_width: CounterWidth,
}

impl Scenario {
    /// Adds one `--scenario` spec. A second spec of the same kind replaces the first.
    pub fn add(&mut self, spec: &str) -> Result<(), ScenarioError> {
        let err = |what: String| ScenarioError(format!("scenario {spec:?}: {what}"));
        let mut pairs = Vec::new();
        for part in spec.split(',').map(str::trim) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| err(format!("{part:?} is not key=value")))?;
            pairs.push((key.trim(), value.trim()));
        }
        let Some(&(kind, value)) = pairs.first() else {
            return Err(err("empty".into()));
        };
        let options = &pairs[1..];
        let allowed: &[&str] = match kind {
            "fault-every" => &["reason", "clear-after"],
            "blocked-every" | "starved-every" => &["for"],
            "slow-replies" => &["every", "for"],
            "drop-every" | "restart-at" => &[],
            other => {
                return Err(err(format!(
                    "unknown scenario {other:?}; choose fault-every, blocked-every, \
                     starved-every, slow-replies, drop-every or restart-at"
                )));
            }
        };
        for (key, _) in options {
            if !allowed.contains(key) {
                return Err(err(format!("{kind} takes no option {key:?}")));
            }
        }
        let option = |key: &str| options.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let duration = |key: &str, text: &str| {
            parse_duration(text).map_err(|why| err(format!("{key}={text}: {why}")))
        };
        let positive = |key: &str, text: &str| {
            let d = duration(key, text)?;
            if d.is_zero() {
                return Err(err(format!("{key}={text}: must be more than zero")));
            }
            Ok(d)
        };
        let window = |every: Duration, for_text: Option<&str>| -> Result<Window, ScenarioError> {
            let for_text = for_text.ok_or_else(|| err("needs for=DURATION".into()))?;
            let length = positive("for", for_text)?;
            if length >= every {
                return Err(err(format!(
                    "for={for_text} must be shorter than the interval"
                )));
            }
            Ok(Window { every, length })
        };

        match kind {
            "fault-every" => {
                let trigger = match value.strip_suffix("units") {
                    Some(n) => match n.trim().parse::<u32>() {
                        Ok(n) if n > 0 => FaultTrigger::Units(n),
                        _ => {
                            return Err(err(format!(
                                "fault-every={value}: give a unit count above zero, e.g. 50units"
                            )));
                        }
                    },
                    None => FaultTrigger::Running(positive(kind, value)?),
                };
                let reason = match option("reason") {
                    None => 1,
                    Some(text) => match text.parse::<u16>() {
                        Ok(n) if n > 0 => n,
                        _ => {
                            return Err(err(format!(
                                "reason={text}: give a stop reason code from 1 to 65535"
                            )));
                        }
                    },
                };
                let clear_after = option("clear-after")
                    .map(|text| positive("clear-after", text))
                    .transpose()?;
                self.fault = Some(FaultPlan {
                    trigger,
                    reason,
                    clear_after,
                });
            }
            "blocked-every" => self.blocked = Some(window(positive(kind, value)?, option("for"))?),
            "starved-every" => self.starved = Some(window(positive(kind, value)?, option("for"))?),
            "slow-replies" => {
                let delay = positive(kind, value)?;
                let window = match option("every") {
                    Some(every) => Some(window(positive("every", every)?, option("for"))?),
                    None if option("for").is_some() => {
                        return Err(err("for= needs every= as well".into()));
                    }
                    None => None,
                };
                self.slow_replies = Some(SlowReplies { delay, window });
            }
            "drop-every" => self.drop_every = Some(positive(kind, value)?),
            // Zero is allowed: a PLC that reboots at once is a fair (if odd) scenario.
            _ => self.restart_at = Some(duration(kind, value)?),
        }
        Ok(())
    }

    /// A scenario from several specs, as `--scenario` gives them.
    pub fn parse<'a>(specs: impl IntoIterator<Item = &'a str>) -> Result<Scenario, ScenarioError> {
        let mut scenario = Scenario::default();
        for spec in specs {
            scenario.add(spec)?;
        }
        Ok(scenario)
    }
}

/// `1500ms`, `30s`, `2m`: a whole number and a unit, so there is no doubt what `30` means.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit): (&str, fn(u64) -> Duration) = if let Some(n) = text.strip_suffix("ms") {
        (n, Duration::from_millis)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, Duration::from_secs)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, |m| Duration::from_secs(m.saturating_mul(60)))
    } else {
        return Err("give a whole number with ms, s or m, e.g. 1500ms or 30s".into());
    };
    number
        .trim()
        .parse::<u64>()
        .map(unit)
        .map_err(|_| "give a whole number with ms, s or m, e.g. 1500ms or 30s".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn the_documented_specs_parse() {
        let scenario = Scenario::parse([
            "fault-every=30s,reason=2,clear-after=10s",
            "blocked-every=60s,for=5s",
            "starved-every=45s, for=3s",
            "slow-replies=1500ms,every=10s,for=3s",
            "drop-every=20s",
            "restart-at=45s",
        ])
        .expect("parses");
        assert_eq!(
            scenario.fault,
            Some(FaultPlan {
                trigger: FaultTrigger::Running(s(30)),
                reason: 2,
                clear_after: Some(s(10)),
            })
        );
        assert_eq!(
            scenario.blocked,
            Some(Window {
                every: s(60),
                length: s(5)
            })
        );
        assert_eq!(scenario.starved.map(|w| w.length), Some(s(3)));
        assert_eq!(
            scenario.slow_replies,
            Some(SlowReplies {
                delay: Duration::from_millis(1500),
                window: Some(Window {
                    every: s(10),
                    length: s(3)
                }),
            })
        );
        assert_eq!(scenario.drop_every, Some(s(20)));
        assert_eq!(scenario.restart_at, Some(s(45)));

        let units = Scenario::parse(["fault-every=50units"]).expect("parses");
        assert_eq!(
            units.fault,
            Some(FaultPlan {
                trigger: FaultTrigger::Units(50),
                reason: 1,
                clear_after: None
            })
        );
        assert_eq!(
            Scenario::parse(["slow-replies=2m"])
                .expect("parses")
                .slow_replies,
            Some(SlowReplies {
                delay: s(120),
                window: None
            })
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, says) in [
            ("", "is not key=value"),
            ("explode=1s", "unknown scenario"),
            ("fault-every=30", "ms, s or m"),
            ("fault-every=0s", "more than zero"),
            ("fault-every=0units", "unit count"),
            ("fault-every=30s,reason=0", "stop reason code"),
            ("fault-every=30s,reason=x", "stop reason code"),
            ("fault-every=30s,for=2s", "no option \"for\""),
            ("blocked-every=60s", "needs for="),
            ("blocked-every=5s,for=5s", "shorter than the interval"),
            ("slow-replies=1s,for=2s", "needs every="),
            ("drop-every=-1s", "ms, s or m"),
            ("restart-at", "is not key=value"),
        ] {
            let error = Scenario::parse([spec]).expect_err(spec).to_string();
            assert!(error.contains(says), "{spec}: {error}");
            assert!(error.contains(&format!("{spec:?}")), "{error}");
        }
    }

    #[test]
    fn windows_open_after_each_interval() {
        let w = Window {
            every: s(10),
            length: s(2),
        };
        assert!(!w.is_open(s(0)), "not at start");
        assert!(!w.is_open(s(9)));
        assert!(w.is_open(s(10)));
        assert!(w.is_open(Duration::from_millis(11_999)));
        assert!(!w.is_open(s(12)));
        assert!(w.is_open(s(20)));
    }

    #[test]
    fn sixteen_bit_counters_wrap() {
        assert_eq!(CounterWidth::Bits16.wrap(65_536), 0);
        assert_eq!(CounterWidth::Bits16.wrap(65_535), 65_535);
        assert_eq!(CounterWidth::Bits32.wrap(65_536), 65_536);
    }
}
