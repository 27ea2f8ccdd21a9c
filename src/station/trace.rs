//! The Trace screen's question: what is in this lot or serial, or where did it go? Central knows the
//! whole plant; when it cannot be reached, the station answers from its own log and says so.

use super::CoreInput;
use crate::domain::LotId;
use crate::protocol::{Genealogy, TraceDirection};
use crate::trace::{TraceError, TraceRequest, fetch};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How long the screen waits for central before answering from the station's own log.
const CENTRAL_TIMEOUT: Duration = Duration::from_secs(3);

/// Where an answer came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceSource {
    Central,
    /// This station's log only; `why` says why central did not answer.
    Local {
        why: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceAnswer {
    pub lot: String,
    pub direction: TraceDirection,
    pub source: TraceSource,
    /// The genealogy, or why there is none, in operator words.
    pub result: Result<Genealogy, String>,
}

/// Asks central, then the station's core.
#[derive(Debug, Clone)]
pub struct Tracer {
    /// Weak: a screen holding a tracer must not keep the core running after the station stops.
    pub core: mpsc::WeakSender<CoreInput>,
    /// Central's base URL; none when the station runs stand-alone.
    pub central: Option<String>,
    /// The plant CA the sync worker trusts (`[central] ca_file`).
    pub trusted_ca: Option<crate::tls_trust::TrustedCa>,
}

impl Tracer {
    pub async fn trace(&self, lot: &str, direction: TraceDirection) -> TraceAnswer {
        let lot = lot.trim().to_owned();
        let answer = |source, result| TraceAnswer {
            lot: lot.clone(),
            direction,
            source,
            result,
        };
        let why_local = match &self.central {
            None => None,
            Some(url) => {
                let request = TraceRequest {
                    central: url.clone(),
                    lot: lot.clone(),
                    direction,
                    depth: None,
                    timeout: CENTRAL_TIMEOUT,
                    trusted_ca: self.trusted_ca.clone(),
                };
                match fetch(&request).await {
                    Ok(genealogy) => return answer(TraceSource::Central, Ok(genealogy)),
                    // Central is the authority on what exists: an unknown lot there may still be
                    // one this station made and has not synced yet, so look locally too.
                    Err(error @ TraceError::UnknownLot { .. }) => Some(error.to_string()),
                    Err(error) => Some(error.to_string()),
                }
            }
        };
        let source = TraceSource::Local { why: why_local };
        let (reply, answer_rx) = oneshot::channel();
        let sent = match self.core.upgrade() {
            Some(core) => core
                .send(CoreInput::Trace {
                    lot: LotId::new(lot.clone()),
                    direction,
                    reply,
                })
                .await
                .map_err(|_| ()),
            None => Err(()),
        };
        let result = match (sent, answer_rx.await) {
            (Ok(()), Ok(Ok(Some(genealogy)))) => Ok(genealogy),
            (Ok(()), Ok(Ok(None))) => Err(format!(
                "{lot} is not known at this station{}.",
                if self.central.is_some() {
                    " or at central"
                } else {
                    ""
                }
            )),
            (Ok(()), Ok(Err(error))) => Err(format!("Cannot read this station's log: {error}")),
            _ => Err("The station core has stopped.".to_owned()),
        };
        answer(source, result)
    }
}
