//! The History screen: the newest facts this station recorded that a person may correct
//! (consumptions, counts, outputs). Corrections, never edits: the highlighted fact gets a new value
//! and a reason code, then the signatures; the fact itself stays in the log, and the row shows
//! what counted before.

use super::app::{App, Screen};
use crate::domain::correction::Correction;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

#[derive(Debug, Clone)]
pub struct HistoryScreen {
    /// Where Esc goes back to.
    pub back: Screen,
    /// The highlighted fact, by seq: it stays highlighted while new facts push it down.
    pub selected: Option<u64>,
}

impl Default for HistoryScreen {
    fn default() -> Self {
        HistoryScreen {
            back: Screen::Queue,
            selected: None,
        }
    }
}

impl HistoryScreen {
    /// The highlighted row's position (the first row when none is highlighted yet).
    pub fn index(&self, app_rows: &[crate::station::HistoryRow]) -> usize {
        self.selected
            .and_then(|seq| app_rows.iter().position(|row| row.seq == seq))
            .unwrap_or(0)
    }

    /// The highlighted row; none when the fact highlighted is no longer listed (newer facts
    /// pushed it out), so Enter never corrects another one than the person picked.
    pub fn selected_row<'a>(
        &self,
        rows: &'a [crate::station::HistoryRow],
    ) -> Option<&'a crate::station::HistoryRow> {
        match self.selected {
            Some(seq) => rows.iter().find(|row| row.seq == seq),
            None => rows.first(),
        }
    }

    pub fn step(&mut self, rows: &[crate::station::HistoryRow], by: isize) {
        if rows.is_empty() {
            return;
        }
        let index = self
            .index(rows)
            .saturating_add_signed(by)
            .min(rows.len() - 1);
        self.selected = Some(rows[index].seq);
    }
}

/// What the person is asked for on the way to a correction, before the signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorrectionStep {
    /// The new value of event `seq`, read the way `was` is shaped.
    Value { seq: u64, was: Correction },
    /// The reason code for the new value.
    Reason { seq: u64, now: Correction },
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, compact: bool) {
    let rows = &app.view.history;
    let selected = app.history.index(rows);
    let mut lines: Vec<Line> = Vec::new();
    if !compact {
        lines.push(Line::from(
            " Facts recorded here, newest first. Enter on one to correct it: new value, reason \
             code, then your signature. The original stays in the log.",
        ));
    }
    if rows.is_empty() {
        lines.push(Line::from(" Nothing recorded here that can be corrected."));
    }
    for (index, row) in rows.iter().enumerate() {
        let mark = if index == selected { ">" } else { " " };
        let mut text = format!(
            "{mark}{:>5} {} {:<16} {}",
            row.seq,
            row.at.format("%H:%M:%S"),
            row.what,
            row.value.words()
        );
        if let Some(original) = &row.original {
            text.push_str(&format!(" (was {})", original.words()));
        }
        let style = if index == selected {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        lines.push(Line::styled(text, style));
    }
    let scroll = u16::try_from(selected.saturating_sub(usize::from(area.height.saturating_sub(4))))
        .unwrap_or(0);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" History: correct a recorded fact "),
            ),
        area,
    );
}
