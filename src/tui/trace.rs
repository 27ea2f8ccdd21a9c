//! The Trace screen: scan a lot or serial, see what it was made from (backward) or everything made
//! from it and the finished units to recall (forward). Central answers for the whole plant; when it
//! cannot be reached the station answers from its own log and says so. Nothing is booked here.

use super::app::{App, Screen};
use crate::protocol::TraceDirection;
use crate::station::trace::{TraceAnswer, TraceSource};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

#[derive(Debug, Clone)]
pub struct TraceScreen {
    /// Where Esc goes back to.
    pub back: Screen,
    pub direction: TraceDirection,
    /// The lot asked about and not answered yet.
    pub pending: Option<String>,
    pub answer: Option<TraceAnswer>,
    /// Lines scrolled down.
    pub scroll: u16,
}

impl Default for TraceScreen {
    fn default() -> Self {
        TraceScreen {
            back: Screen::Login,
            direction: TraceDirection::Backward,
            pending: None,
            answer: None,
            scroll: 0,
        }
    }
}

impl TraceScreen {
    /// A lot or serial read on this screen: the question to ask, if it is one.
    pub fn ask(&mut self, text: &str) -> Option<String> {
        let lot = plain_lot(text)?;
        self.pending = Some(lot.clone());
        self.scroll = 0;
        Some(lot)
    }

    /// The last lot asked about, to ask again (the other way round).
    pub fn ask_again(&mut self) -> Option<String> {
        let lot = self
            .pending
            .clone()
            .or_else(|| self.answer.as_ref().map(|a| a.lot.clone()))?;
        self.pending = Some(lot.clone());
        self.scroll = 0;
        Some(lot)
    }

    pub fn answered(&mut self, answer: TraceAnswer) {
        // Only the latest question counts: a slow answer to an earlier one must not replace it.
        if self.pending.as_deref() == Some(answer.lot.as_str())
            && answer.direction == self.direction
        {
            self.pending = None;
            self.answer = Some(answer);
        }
    }
}

/// The lot id in what was read: a plain id as typed, or the lot (10) or serial (21) of a GS1 label.
pub(super) fn plain_lot(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let today = chrono::Utc::now().date_naive();
    if crate::scan::gs1::looks_like_gs1(text)
        && let Ok(message) = crate::scan::gs1::parse(text, today)
        && let Some(element) = message.get("10").or_else(|| message.get("21"))
    {
        return Some(element.raw.clone());
    }
    Some(text.to_owned())
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, compact: bool) {
    let trace = &app.trace;
    let direction = match trace.direction {
        TraceDirection::Backward => "backward",
        TraceDirection::Forward => "forward",
    };
    let mut lines: Vec<Line> = Vec::new();
    let title = match (&trace.pending, &trace.answer) {
        (Some(lot), _) => {
            lines.push(Line::from(format!(" Asking about {lot} ...")));
            format!(" Trace {lot} - {direction} ")
        }
        (None, None) => {
            lines.push(Line::from(if compact {
                " Scan a lot or serial. F5 turns the direction."
            } else {
                " Scan or type a lot or serial and press Enter: what it was made from (backward), or \
                 with F5 everything made from it and the finished units to recall (forward)."
            }));
            format!(" Trace - {direction} ")
        }
        (None, Some(answer)) => {
            let source = match &answer.source {
                TraceSource::Central => "central".to_owned(),
                TraceSource::Local { .. } => "this station only".to_owned(),
            };
            if let TraceSource::Local { why: Some(why) } = &answer.source {
                lines.push(Line::styled(
                    format!(" WARN central did not answer ({why}): only what this station made."),
                    Style::new().add_modifier(Modifier::BOLD),
                ));
            }
            match &answer.result {
                Ok(genealogy) => lines.extend(
                    crate::trace::render(genealogy)
                        .lines()
                        .map(|line| Line::from(format!(" {line}"))),
                ),
                Err(why) => lines.push(Line::styled(
                    format!(" NO {why}"),
                    Style::new().add_modifier(Modifier::BOLD),
                )),
            }
            if compact {
                format!(" {} - {direction} ", answer.lot)
            } else {
                format!(" Trace {} - {direction}, from {source} ", answer.lot)
            }
        }
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((trace.scroll, 0))
            .block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}
