//! The Downtime screen: the stops of the shift, the ones nobody has given a reason for first, then
//! the coded ones, then uncoded stops from before the shift (a lead codes those later). A stop is
//! coded by scanning a reason barcode, which codes the marked stop, or by choosing a reason with the
//! arrow keys and Enter. Coding changes why the machine stood, never what it did.

use super::app::Screen;
use crate::domain::downtime::Downtime;
use crate::station::View;
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

#[derive(Debug, Clone)]
pub struct DowntimeScreen {
    /// Where Esc goes back to.
    pub back: Screen,
    /// The marked stop, by when it started: it stays marked while the list re-sorts.
    pub marked: Option<DateTime<Utc>>,
    /// Index into the view's reasons.
    pub reason: usize,
}

impl Default for DowntimeScreen {
    fn default() -> Self {
        DowntimeScreen {
            back: Screen::Queue,
            marked: None,
            reason: 0,
        }
    }
}

/// Where a stop stands in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    ShiftUncoded,
    ShiftCoded,
    EarlierUncoded,
}

/// The stops as the screen lists them: uncoded of the shift (newest first), coded of the shift,
/// then uncoded from before it. Outside every shift, the shift is "today so far" at the view's time.
pub fn rows(view: &View) -> Vec<(Section, &Downtime)> {
    let shift_start = view
        .shift
        .as_ref()
        .map_or(view.now - chrono::Duration::hours(8), |s| s.starts_at);
    let in_shift = |stop: &Downtime| stop.ended_at.is_none_or(|end| end > shift_start);
    let newest_first = view.stops.iter().rev();
    let mut rows: Vec<(Section, &Downtime)> = newest_first
        .clone()
        .filter(|s| in_shift(s) && s.uncoded())
        .map(|s| (Section::ShiftUncoded, s))
        .collect();
    rows.extend(
        newest_first
            .clone()
            .filter(|s| in_shift(s) && !s.uncoded())
            .map(|s| (Section::ShiftCoded, s)),
    );
    rows.extend(
        newest_first
            .filter(|s| !in_shift(s) && s.uncoded())
            .map(|s| (Section::EarlierUncoded, s)),
    );
    rows
}

impl DowntimeScreen {
    /// Opens the screen with the first stop marked.
    pub fn open(&mut self, back: Screen, view: &View) {
        self.back = back;
        self.marked = rows(view).first().map(|(_, stop)| stop.started_at);
        // Start from the marked stop's own reason (the PLC's suggestion), a keypress from a fix.
        self.reason = self
            .marked_stop(view)
            .and_then(|stop| stop.reason.as_deref())
            .and_then(|code| view.reasons.iter().position(|r| r.code == code))
            .unwrap_or(0);
    }

    fn marked_index(&self, rows: &[(Section, &Downtime)]) -> Option<usize> {
        let marked = self.marked?;
        rows.iter().position(|(_, stop)| stop.started_at == marked)
    }

    /// The marked stop; the first listed when the marked one is gone.
    pub fn marked_stop<'a>(&self, view: &'a View) -> Option<&'a Downtime> {
        let rows = rows(view);
        let index = self.marked_index(&rows).unwrap_or(0);
        rows.get(index).map(|(_, stop)| *stop)
    }

    /// Moves the mark by `step` rows.
    pub fn move_mark(&mut self, view: &View, step: isize) {
        let rows = rows(view);
        if rows.is_empty() {
            return;
        }
        let index = self.marked_index(&rows).unwrap_or(0);
        let next = index.saturating_add_signed(step).min(rows.len() - 1);
        self.marked = Some(rows[next].1.started_at);
    }

    /// Moves the reason choice by `step`, wrapping round.
    pub fn move_reason(&mut self, view: &View, step: isize) {
        let count = view.reasons.len();
        if count == 0 {
            return;
        }
        let current = isize::try_from(self.reason.min(count - 1)).unwrap_or(0);
        let count = isize::try_from(count).unwrap_or(1);
        self.reason = usize::try_from((current + step).rem_euclid(count)).unwrap_or(0);
    }
}

fn length(stop: &Downtime, now: DateTime<Utc>) -> String {
    let seconds = stop
        .ended_at
        .unwrap_or(now)
        .signed_duration_since(stop.started_at)
        .num_seconds()
        .max(0);
    if seconds >= 3600 {
        format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60)
    } else {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &super::app::App, compact: bool) {
    let view = &app.view;
    let screen = &app.downtime;
    let rows = rows(view);
    let marked = screen.marked_index(&rows).unwrap_or(0);
    let uncoded = rows
        .iter()
        .filter(|(section, _)| *section != Section::ShiftCoded)
        .count();
    let shift = view
        .shift
        .as_ref()
        .map_or("no shift now".to_owned(), |s| s.label.clone());
    let title = if compact {
        format!(" Downtime {uncoded} uncoded ")
    } else {
        format!(
            " Downtime - {shift} - {} stops, {uncoded} uncoded ",
            rows.len()
        )
    };
    let [list_area, reason_area] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(if compact { 3 } else { 4 }),
    ])
    .areas(area);

    let mut lines: Vec<Line> = Vec::new();
    if rows.is_empty() {
        lines.push(Line::from(
            "  No stops this shift. A stop opens here by itself when the machine stops.",
        ));
    }
    // Keep the marked row in sight on a short screen.
    let visible = usize::from(list_area.height.saturating_sub(2)).max(1);
    let first = marked.saturating_sub(visible.saturating_sub(1));
    // One line per stop, so the marked one is always drawn.
    for (index, (section, stop)) in rows.iter().enumerate().skip(first).take(visible) {
        let mark = if index == marked { "> " } else { "  " };
        let state = match (stop.ended_at, stop.uncoded(), stop.planned) {
            (None, _, true) => ("PLANNED", Color::Blue),
            (None, _, false) => ("DOWN", Color::Red),
            _ if *section == Section::EarlierUncoded => ("UNCODED, EARLIER SHIFT", Color::Yellow),
            (_, true, _) => ("UNCODED", Color::Yellow),
            (_, false, _) => ("OK", Color::Green),
        };
        let reason = match (&stop.reason, stop.uncoded()) {
            (Some(code), true) => format!("{code}?"),
            (Some(code), false) => code.clone(),
            (None, _) => "-".to_owned(),
        };
        let reason_text = stop
            .reason
            .as_deref()
            .and_then(|code| view.reasons.iter().find(|r| r.code == code))
            .map(|r| r.text.clone())
            .unwrap_or_default();
        let style = if index == marked {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
        };
        let text = if compact {
            format!(
                "{mark}{} {:>6} {reason}",
                stop.started_at.format("%H:%M"),
                length(stop, view.now)
            )
        } else {
            format!(
                "{mark}{}  {:>7}  PLC {:<3} {:<6} {:<22} {}",
                stop.started_at.format("%m-%d %H:%M:%S"),
                length(stop, view.now),
                stop.plc_reason,
                reason,
                reason_text,
                stop.coded_by
                    .as_ref()
                    .map(|b| b.to_string())
                    .unwrap_or_default()
            )
        };
        lines.push(Line::from(vec![
            Span::styled(text, style),
            Span::raw(" "),
            Span::styled(
                state.0,
                Style::default().fg(state.1).add_modifier(Modifier::BOLD),
            ),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        list_area,
    );

    let chosen = view
        .reasons
        .get(screen.reason.min(view.reasons.len().saturating_sub(1)));
    let mut reason_lines = vec![Line::from(match chosen {
        Some(reason) => vec![
            Span::raw(" Reason < "),
            Span::styled(
                format!("{} {}", reason.code, reason.text),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(if reason.planned { " (planned) >" } else { " >" }),
        ],
        None => vec![Span::raw(" No reason codes from central yet.")],
    })];
    if !compact {
        reason_lines.push(Line::from(
            " Left/Right choose, Enter assigns to the marked stop; or scan the reason barcode.",
        ));
    }
    frame.render_widget(
        Paragraph::new(reason_lines).block(Block::default().borders(Borders::ALL)),
        reason_area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Badge, Command, Entry};
    use crate::scan::keys::{How, Scan};
    use crate::station::CoreInput;
    use crate::station::view::{OperatorView, ReasonView};
    use crate::tui::app::{App, Effect, UiOptions};
    use crate::tui::keymap::Keymap;
    use chrono::{Duration, TimeZone};
    use ratatui::{Terminal, backend::TestBackend};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0)
            .single()
            .expect("a time")
    }

    fn stop(started_min_ago: i64, length_s: i64, coded: Option<&str>) -> Downtime {
        let started_at = now() - Duration::minutes(started_min_ago);
        Downtime {
            started_at,
            ended_at: Some(started_at + Duration::seconds(length_s)),
            planned: false,
            plc_reason: 1,
            reason: coded.map(str::to_owned),
            coded_by: coded.map(|_| Badge::new("EMP-1001")),
        }
    }

    fn app_with(stops: Vec<Downtime>) -> App {
        let mut view = View::empty("L1-S1");
        view.now = now();
        view.operator = Some(OperatorView {
            badge: "EMP-1001".into(),
            name: "Demo Operator A".into(),
            since: now(),
            roles: vec![crate::domain::permission::Role::Operator],
        });
        view.stops = stops;
        view.reasons = vec![
            ReasonView {
                code: "R-11".into(),
                text: "spindle".into(),
                planned: false,
            },
            ReasonView {
                code: "R-80".into(),
                text: "changeover".into(),
                planned: true,
            },
        ];
        let mut app = App::new(
            Keymap::embedded_default().expect("keymap"),
            view,
            UiOptions {
                bell: false,
                color: false,
                login_hints: vec![],
            },
        );
        app.downtime.open(Screen::Run, &app.view);
        app.screen = Screen::Downtime;
        app
    }

    fn scanned(text: &str) -> Scan {
        Scan {
            text: text.into(),
            entry: Entry::Scanned,
            how: How::Burst,
            mean_gap: None,
            dropped_keys: 0,
        }
    }

    fn commands(effects: Vec<Effect>) -> Vec<Command> {
        effects
            .into_iter()
            .filter_map(|effect| match effect {
                Effect::Core(CoreInput::Command(command)) => Some(command),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_scanned_reason_codes_the_marked_stop_only_while_it_wants_one() {
        let uncoded = stop(30, 300, None);
        let mut app = app_with(vec![stop(60, 600, Some("R-11")), uncoded.clone()]);
        assert_eq!(
            commands(app.on_read(scanned("R-11"))),
            [Command::CodeDowntime {
                reason: "R-11".into(),
                stop: Some(uncoded.started_at),
            }]
        );
        // Every stop coded: a planned reason scanned here must not recode the marked old fault
        // as a changeover; it goes the usual way (the core declares or refuses).
        let mut app = app_with(vec![stop(60, 600, Some("R-11"))]);
        let effects = app.on_read(scanned("R-80"));
        assert!(
            matches!(effects.as_slice(), [Effect::Core(CoreInput::Scan(text))] if text == "R-80"),
            "{effects:?}"
        );
    }

    #[test]
    fn the_marked_stop_is_always_drawn_and_small_screens_do_not_panic() {
        // 30 uncoded stops from before the shift and 5 coded ones in it.
        let mut stops: Vec<Downtime> = (0..30).map(|i| stop(30 * 60 - i, 30, None)).collect();
        stops.extend((0..5).map(|i| stop(60 - i, 60, Some("R-11"))));
        let mut app = app_with(stops);
        let draw = |app: &App, width, height| {
            let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
            let frame = terminal
                .draw(|frame| crate::tui::render::draw(frame, app))
                .expect("draw");
            crate::tui::run::buffer_text(frame.buffer)
        };
        for index in 0..35 {
            let marked = app
                .downtime
                .marked_stop(&app.view)
                .expect("a stop")
                .started_at;
            let screen = draw(&app, 80, 24);
            assert!(
                screen.contains(&format!("> {}", marked.format("%m-%d %H:%M:%S"))),
                "row {index} marked but not drawn:\n{screen}"
            );
            app.downtime.move_mark(&app.view, 1);
        }
        for (width, height) in [(40, 16), (20, 8), (1, 1)] {
            draw(&app, width, height);
        }
    }
}
