//! Collecting electronic signatures at the station (21 CFR Part 11 §11.200): a signature-grade
//! action waits here until its signer has chosen a meaning and entered their PIN again, and, where
//! the station's configuration asks for it, a second person has scanned their badge, chosen a
//! meaning and entered theirs. Only then is the action decided and recorded with its signatures.
//! A PIN is checked against the cached verifier and never recorded; a wrong one counts towards
//! the badge's lock like a wrong PIN at login.

use super::{Core, Level, Notice, PIN_ENTRY_TIMEOUT};
use crate::domain::correction::Correction;
use crate::domain::permission::Action;
use crate::domain::signature::{Meaning, SignatureInput, Signatures};
use crate::domain::{Badge, Command, EventKind, LotId, decide};
use crate::station::SignaturePrompt;
use chrono::{DateTime, Utc};

/// A signature-grade action a person asked for, before it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignRequest {
    /// Lift the hold on a lot.
    Release { lot: LotId },
    /// Put right event `seq` of this station's log: `now` is what counts from here.
    Correct {
        seq: u64,
        now: Correction,
        reason: String,
    },
    /// Decide what becomes of a held lot (as typed: `scrap 5, rework OP10`), and why.
    Dispose {
        lot: LotId,
        parts: String,
        reason: String,
    },
    /// Close an NCR of this station, saying how.
    CloseNcr { ncr: String, closure: String },
    /// Resume a plan's discontinued inspection: the corrective action that was accepted.
    ResumeInspection {
        product: crate::domain::ProductId,
        operation: crate::domain::OperationId,
        reason: String,
    },
}

/// Where the collection of signatures stands.
#[derive(Debug, Clone)]
enum Stage {
    Meaning,
    Pin {
        meaning: Meaning,
    },
    SecondBadge {
        signer: SignatureInput,
    },
    SecondMeaning {
        signer: SignatureInput,
        badge: Badge,
        name: String,
    },
    SecondPin {
        signer: SignatureInput,
        second: SignatureInput,
        name: String,
    },
}

#[derive(Debug, Clone)]
pub(super) struct Pending {
    /// The action, complete but for its signatures.
    command: Command,
    action: Action,
    what: String,
    stage: Stage,
    /// When the last entry was taken: each step waits as long as a PIN after a badge scan.
    since: DateTime<Utc>,
}

/// What was entered while signatures are collected: text (a meaning, a badge) or a PIN.
pub(super) enum SignEntry {
    Text(String),
    Pin(crate::credential::Pin),
}

impl SignEntry {
    fn text(&self) -> &str {
        match self {
            SignEntry::Text(text) => text.trim(),
            SignEntry::Pin(_) => "",
        }
    }

    fn pin(self) -> crate::credential::Pin {
        match self {
            SignEntry::Text(text) => crate::credential::Pin::new(text.trim()),
            SignEntry::Pin(pin) => pin,
        }
    }
}

const MEANINGS: &str = "1 approved, 2 reviewed, 3 performed, 4 responsible";

fn with_signatures(command: &Command, signatures: Signatures) -> Command {
    match command.clone() {
        Command::ReleaseLot { lot, .. } => Command::ReleaseLot { lot, signatures },
        Command::Dispose {
            lot, parts, reason, ..
        } => Command::Dispose {
            lot,
            parts,
            reason,
            signatures,
        },
        Command::CloseNcr { ncr, closure, .. } => Command::CloseNcr {
            ncr,
            closure,
            signatures,
        },
        Command::ResumeInspection {
            product,
            operation,
            reason,
            ..
        } => Command::ResumeInspection {
            product,
            operation,
            reason,
            signatures,
        },
        Command::Correct {
            target,
            now,
            reason,
            ..
        } => Command::Correct {
            target,
            now,
            reason,
            signatures,
        },
        other => other,
    }
}

impl Pending {
    pub(super) fn prompt(&self, signer_name: &str) -> SignaturePrompt {
        let (ask, secret) = match &self.stage {
            Stage::Meaning => (
                format!("{signer_name}, what does your signature mean? {MEANINGS}"),
                false,
            ),
            Stage::Pin { meaning } => (
                format!(
                    "{signer_name}: type your PIN to sign ({}), then Enter",
                    meaning.words()
                ),
                true,
            ),
            Stage::SecondBadge { .. } => (
                "A second person must sign: scan their badge".to_owned(),
                false,
            ),
            Stage::SecondMeaning { name, .. } => (
                format!("{name}, what does your signature mean? {MEANINGS}"),
                false,
            ),
            Stage::SecondPin { name, second, .. } => (
                format!(
                    "{name}: type your PIN to sign ({}), then Enter",
                    second.meaning.words()
                ),
                true,
            ),
        };
        SignaturePrompt {
            what: self.what.clone(),
            ask,
            secret,
        }
    }

    pub(super) fn expired(&self, now: DateTime<Utc>) -> bool {
        now.signed_duration_since(self.since) > PIN_ENTRY_TIMEOUT
    }
}

impl Core {
    /// A signature-grade action asked for: checked as far as it can be without signatures, then
    /// the station asks for them. Nothing is recorded yet.
    pub(super) fn sign_start(&mut self, request: SignRequest) -> Notice {
        let now = self.clock.now();
        let Some(session) = self.state.session.clone() else {
            return Notice::new(
                Level::Refused,
                crate::domain::Rejection::NotLoggedIn.to_string(),
                now,
            );
        };
        let (command, action, what) = match request {
            SignRequest::Release { lot } => (
                Command::ReleaseLot {
                    lot: lot.clone(),
                    signatures: placeholder(&session.badge),
                },
                Action::ReleaseHold,
                format!("release the hold on lot {lot}"),
            ),
            SignRequest::Correct {
                seq,
                now: value,
                reason,
            } => {
                let target = match self.store.event(seq) {
                    Ok(Some(target)) => target,
                    Ok(None) => {
                        return Notice::new(
                            Level::Refused,
                            crate::domain::Rejection::UnknownEvent { seq }.to_string(),
                            now,
                        );
                    }
                    Err(error) => {
                        tracing::error!(%error, seq, "reading the event to correct");
                        return Notice::new(
                            Level::Error,
                            format!(
                                "Event {seq} cannot be read here: {error}. Nothing was changed."
                            ),
                            now,
                        );
                    }
                };
                let what = format!("correct event {seq} to {} (reason {reason})", value.words());
                (
                    Command::Correct {
                        target: Box::new(target),
                        now: value,
                        reason,
                        signatures: placeholder(&session.badge),
                    },
                    Action::Correct,
                    what,
                )
            }
            SignRequest::Dispose { lot, parts, reason } => {
                let parts = match crate::domain::disposition::parse_parts(&parts) {
                    Ok(parts) => parts,
                    Err(why) => {
                        return Notice::new(
                            Level::Refused,
                            format!("Nothing recorded: {why}"),
                            now,
                        );
                    }
                };
                let words: Vec<String> = parts
                    .iter()
                    .map(|part| match part.quantity {
                        Some(quantity) => format!("{quantity} {}", part.disposition.words()),
                        None => part.disposition.words(),
                    })
                    .collect();
                let what = format!("disposition lot {lot}: {} ({reason})", words.join(", "));
                (
                    Command::Dispose {
                        lot,
                        parts,
                        reason,
                        signatures: placeholder(&session.badge),
                    },
                    Action::Dispose,
                    what,
                )
            }
            SignRequest::CloseNcr { ncr, closure } => {
                let what = format!("close {ncr} ({closure})");
                (
                    Command::CloseNcr {
                        ncr,
                        closure,
                        signatures: placeholder(&session.badge),
                    },
                    Action::CloseNcr,
                    what,
                )
            }
            SignRequest::ResumeInspection {
                product,
                operation,
                reason,
            } => {
                let what = format!(
                    "resume inspection of {product} at {operation}, on tightened ({reason})"
                );
                (
                    Command::ResumeInspection {
                        product,
                        operation,
                        reason,
                        signatures: placeholder(&session.badge),
                    },
                    Action::ResumeInspection,
                    what,
                )
            }
        };
        // Everything but the signatures must hold before anyone types a PIN for it.
        match decide(&self.state, command.clone(), now) {
            Ok(_) | Err(crate::domain::Rejection::SecondSignatureNeeded) => {}
            Err(rejection) => return Notice::new(Level::Refused, rejection.to_string(), now),
        }
        let pending = Pending {
            command,
            action,
            what,
            stage: Stage::Meaning,
            since: now,
        };
        let text = format!(
            "To {}: {}.",
            pending.what,
            pending.prompt(&session.name).ask
        );
        self.signing = Some(pending);
        Notice::new(Level::Info, text, now)
    }

    pub(super) fn sign_cancel(&mut self) -> Notice {
        let now = self.clock.now();
        match self.signing.take() {
            Some(pending) => Notice::new(
                Level::Info,
                format!(
                    "Not signed: nothing was recorded ({} cancelled).",
                    pending.what
                ),
                now,
            ),
            None => Notice::new(Level::Info, "Nothing is waiting for a signature.", now),
        }
    }

    /// The next entry while signatures are collected: a meaning, a PIN or a second badge.
    pub(super) fn sign_entry(&mut self, entry: SignEntry) -> Notice {
        let now = self.clock.now();
        let Some(mut pending) = self.signing.take() else {
            return Notice::new(Level::Info, "Nothing is waiting for a signature.", now);
        };
        let Some(session) = self.state.session.clone() else {
            return Notice::new(
                Level::Refused,
                crate::domain::Rejection::NotLoggedIn.to_string(),
                now,
            );
        };
        if pending.expired(now) {
            return Notice::new(
                Level::Refused,
                format!(
                    "Not signed: the entry came too late. Ask again to {}.",
                    pending.what
                ),
                now,
            );
        }
        pending.since = now;
        let text = entry.text().to_owned();
        let text = text.as_str();
        let meaning_asked = |pending: Pending, core: &mut Core| {
            let ask = pending.prompt(&session.name).ask;
            core.signing = Some(pending);
            Notice::new(
                Level::Refused,
                format!("Type a number 1-4 or the word: {ask}"),
                now,
            )
        };
        // A badge or a command barcode read where a PIN is asked (the second signer scanning
        // early, a stray scan) is no wrong PIN: it is not counted against anyone's lock.
        let pin_stage = matches!(pending.stage, Stage::Pin { .. } | Stage::SecondPin { .. });
        if pin_stage
            && matches!(
                crate::scan::classify(text, &self.state, &self.patterns, now.date_naive()),
                Ok(crate::scan::Scan::Badge(_) | crate::scan::Scan::Command(_))
            )
        {
            let ask = pending.prompt(&session.name).ask;
            self.signing = Some(pending);
            return Notice::new(
                Level::Refused,
                format!("That was a scan, not a PIN. {ask}, or Esc to cancel."),
                now,
            );
        }
        match pending.stage.clone() {
            Stage::Meaning => match Meaning::parse(text) {
                Some(meaning) => {
                    pending.stage = Stage::Pin { meaning };
                    self.ask(pending, &session.name)
                }
                None => meaning_asked(pending, self),
            },
            Stage::Pin { meaning } => {
                match self.check_pin(&session.badge, &session.name, &entry.pin()) {
                    Err(notice) => {
                        // The verifier could not be read: nothing to count, nothing to sign.
                        return nothing_signed(notice);
                    }
                    Ok(false) => {
                        return self.wrong_signing_pin(pending, &session.badge, &session.name);
                    }
                    Ok(true) => {}
                }
                let signer = SignatureInput {
                    badge: session.badge.clone(),
                    meaning,
                };
                if self
                    .state
                    .station_config()
                    .needs_second_signer(pending.action)
                {
                    pending.stage = Stage::SecondBadge { signer };
                    return self.ask(pending, &session.name);
                }
                self.sign_finish(pending, signer, None)
            }
            Stage::SecondBadge { signer } => {
                // A badge scanned (or typed) by the second person; a GS1 or prefixed badge label
                // reads as the classifier reads it at login.
                let badge = match crate::scan::classify(
                    text,
                    &self.state,
                    &self.patterns,
                    now.date_naive(),
                ) {
                    Ok(crate::scan::Scan::Badge(badge)) => badge,
                    // Not a badge this station knows: never echoed (it may be a PIN typed at
                    // the wrong prompt).
                    _ => {
                        self.signing = Some(pending);
                        return Notice::new(
                            Level::Refused,
                            "That is not a badge this station knows. The second person scans \
                             their badge, or Esc to cancel.",
                            now,
                        );
                    }
                };
                match crate::domain::second_signer(&self.state, pending.action, &badge, now) {
                    Ok(operator) => {
                        let name = operator.name.clone();
                        pending.stage = Stage::SecondMeaning {
                            signer,
                            badge,
                            name,
                        };
                        self.ask(pending, &session.name)
                    }
                    Err(rejection) => {
                        self.signing = Some(pending);
                        Notice::new(
                            Level::Refused,
                            format!("{rejection} Scan another person's badge, or Esc to cancel."),
                            now,
                        )
                    }
                }
            }
            Stage::SecondMeaning {
                signer,
                badge,
                name,
            } => match Meaning::parse(text) {
                Some(meaning) => {
                    pending.stage = Stage::SecondPin {
                        signer,
                        second: SignatureInput { badge, meaning },
                        name,
                    };
                    self.ask(pending, &session.name)
                }
                None => meaning_asked(pending, self),
            },
            Stage::SecondPin {
                signer,
                second,
                name,
            } => match self.check_pin(&second.badge, &name, &entry.pin()) {
                Err(notice) => nothing_signed(notice),
                Ok(false) => {
                    let badge = second.badge.clone();
                    self.wrong_signing_pin(pending, &badge, &name)
                }
                Ok(true) => self.sign_finish(pending, signer, Some(second)),
            },
        }
    }

    fn ask(&mut self, pending: Pending, signer_name: &str) -> Notice {
        let now = self.clock.now();
        let ask = pending.prompt(signer_name).ask;
        self.signing = Some(pending);
        Notice::new(Level::Info, format!("{ask}."), now)
    }

    /// A wrong PIN to sign is recorded like one at login; locked out, the signing ends.
    fn wrong_signing_pin(&mut self, pending: Pending, badge: &Badge, name: &str) -> Notice {
        let now = self.clock.now();
        let events = match decide(
            &self.state,
            Command::SignatureFailed {
                badge: badge.clone(),
            },
            now,
        ) {
            Ok(events) => events,
            Err(rejection) => return Notice::new(Level::Refused, rejection.to_string(), now),
        };
        let locked = events
            .iter()
            .any(|event| matches!(event.kind, EventKind::BadgeLocked { .. }));
        let recorded = self.record(events);
        if recorded.level == Level::Error {
            return recorded;
        }
        if locked {
            return Notice::new(
                Level::Refused,
                format!(
                    "Wrong PIN: {name}'s badge is locked. Nothing was signed; {} was not done.",
                    pending.what
                ),
                now,
            );
        }
        self.signing = Some(pending);
        Notice::new(
            Level::Refused,
            format!("Wrong PIN for {name}. Type it again, or Esc to cancel."),
            now,
        )
    }

    fn sign_finish(
        &mut self,
        pending: Pending,
        signer: SignatureInput,
        second: Option<SignatureInput>,
    ) -> Notice {
        let now = self.clock.now();
        let command = with_signatures(&pending.command, Signatures { signer, second });
        match decide(&self.state, command, now) {
            Ok(events) => self.record(events),
            Err(rejection) => Notice::new(Level::Refused, rejection.to_string(), now),
        }
    }
}

fn nothing_signed(mut notice: Notice) -> Notice {
    notice.text.push_str(" Nothing was signed.");
    notice
}

/// The signatures a command carries while only its other conditions are checked.
fn placeholder(badge: &Badge) -> Signatures {
    Signatures {
        signer: SignatureInput {
            badge: badge.clone(),
            meaning: Meaning::Approved,
        },
        second: None,
    }
}
