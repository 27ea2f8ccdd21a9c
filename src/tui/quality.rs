//! Quality's keys on the Trace screen: a disposition of the lot shown (what becomes of it, then
//! why, then the signatures), its rework recorded as done, an NCR opened on it or closed. Each asks
//! on the scan line; Esc gives up and nothing is recorded.

use super::app::{App, Effect, Screen};
use super::keymap::KeyCommand;
use crate::domain::Command;
use crate::station::core::SignRequest;
use crate::station::{CoreInput, Level, Notice};

/// What the scan line is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QualityAsk {
    DispositionParts {
        lot: String,
    },
    DispositionReason {
        lot: String,
        parts: String,
    },
    NcrWhat {
        lot: String,
    },
    NcrClosure {
        ncr: String,
    },
    /// Which corrective action was accepted, to resume a plan's discontinued inspection.
    ResumeReason {
        product: crate::domain::ProductId,
        operation: crate::domain::OperationId,
    },
}

impl QualityAsk {
    /// The scan line's prompt while it is asked.
    pub fn prompt(&self) -> &'static str {
        match self {
            QualityAsk::DispositionParts { .. } => " Dispose> ",
            QualityAsk::DispositionReason { .. } => " Reason> ",
            QualityAsk::NcrWhat { .. } => " What> ",
            QualityAsk::NcrClosure { .. } => " Closure> ",
            QualityAsk::ResumeReason { .. } => " Reason> ",
        }
    }
}

impl App {
    /// On the Inspect screen of a lot whose plan's inspection is discontinued: ask which corrective
    /// action was accepted, then the signature.
    pub(super) fn ask_resume_inspection(&mut self) -> Vec<Effect> {
        let plan = self
            .inspect_context()
            .filter(|_| self.screen == Screen::Inspect)
            .map(|context| (context.plan.product.clone(), context.plan.operation.clone()));
        let Some((product, operation)) = plan else {
            return self.on_notice(Notice::new(
                Level::Refused,
                "Open the Inspect screen (Shift+F2) and scan a lot of the plan to resume.",
                self.view.now,
            ));
        };
        let words = format!(
            "Resume inspection of {product} at {operation}: which corrective action was accepted? \
             Enter; Esc cancels."
        );
        self.quality_ask = Some(QualityAsk::ResumeReason { product, operation });
        self.on_notice(Notice::new(Level::Info, words, self.view.now))
    }

    /// One of quality's keys pressed: ask for what it needs, or do it.
    pub(super) fn quality_key(&mut self, command: KeyCommand) -> Vec<Effect> {
        let lot = match self.traced_lot() {
            Some(lot) if self.screen == Screen::Trace => lot,
            _ => {
                return self.on_notice(Notice::new(
                    Level::Refused,
                    "Trace the lot first (F4, scan it), then decide on it.",
                    self.view.now,
                ));
            }
        };
        let (ask, words) = match command {
            KeyCommand::DisposeLot => (
                QualityAsk::DispositionParts { lot: lot.clone() },
                format!(
                    "Disposition of lot {lot}: type accept, rework OP10, scrap, use as is or return; \
                     split with quantities (scrap 5, rework OP10). Enter; Esc cancels."
                ),
            ),
            KeyCommand::ReworkDone => {
                return vec![Effect::Core(CoreInput::Command(Command::ReworkDone {
                    lot: lot.as_str().into(),
                }))];
            }
            KeyCommand::OpenNcr => (
                QualityAsk::NcrWhat { lot: lot.clone() },
                format!("NCR on lot {lot}: what is wrong (and how many)? Enter; Esc cancels."),
            ),
            KeyCommand::CloseNcr => {
                let open = self
                    .view
                    .ncrs
                    .iter()
                    .find(|ncr| ncr.lot.as_str() == lot && ncr.closed_at.is_none());
                let Some(ncr) = open else {
                    return self.on_notice(Notice::new(
                        Level::Refused,
                        format!("Lot {lot} has no open NCR of this station."),
                        self.view.now,
                    ));
                };
                let ask = QualityAsk::NcrClosure {
                    ncr: ncr.id.clone(),
                };
                let words = format!(
                    "Close {} ({}): how was it closed (cause, action)? Enter; Esc cancels.",
                    ncr.id, ncr.what
                );
                (ask, words)
            }
            _ => return Vec::new(),
        };
        self.quality_ask = Some(ask);
        self.on_notice(Notice::new(Level::Info, words, self.view.now))
    }

    /// What was typed for the question asked.
    pub(super) fn quality_entry(&mut self, ask: QualityAsk, text: &str) -> Vec<Effect> {
        let text = text.trim().to_owned();
        match ask {
            QualityAsk::DispositionParts { lot } => {
                if let Err(why) = crate::domain::disposition::parse_parts(&text) {
                    self.quality_ask = Some(QualityAsk::DispositionParts { lot });
                    return self.on_notice(Notice::new(
                        Level::Refused,
                        format!("{why} Type it again, or Esc."),
                        self.view.now,
                    ));
                }
                let words = format!("Why {text} for lot {lot}? Enter; Esc cancels.");
                self.quality_ask = Some(QualityAsk::DispositionReason { lot, parts: text });
                self.on_notice(Notice::new(Level::Info, words, self.view.now))
            }
            QualityAsk::DispositionReason { lot, parts } => {
                vec![Effect::Core(CoreInput::Sign(SignRequest::Dispose {
                    lot: lot.as_str().into(),
                    parts,
                    reason: text,
                }))]
            }
            QualityAsk::NcrWhat { lot } => {
                vec![Effect::Core(CoreInput::Command(Command::OpenNcr {
                    lot: lot.as_str().into(),
                    quantity: None,
                    what: text,
                    containment: String::new(),
                }))]
            }
            QualityAsk::NcrClosure { ncr } => {
                vec![Effect::Core(CoreInput::Sign(SignRequest::CloseNcr {
                    ncr,
                    closure: text,
                }))]
            }
            QualityAsk::ResumeReason { product, operation } => {
                vec![Effect::Core(CoreInput::Sign(
                    SignRequest::ResumeInspection {
                        product,
                        operation,
                        reason: text,
                    },
                ))]
            }
        }
    }
}
