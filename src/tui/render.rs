//! Drawing: a pure function of the App. Three tiers: full (at least 80x24), compact (at least
//! 40x16) and a plain "too small" notice below that. Every state is said in words as well as colour.

use super::app::{App, Screen};
use super::keymap::KeyCommand;
use crate::domain::{ExecStatus, PackMlState, WorkOrderStatus};
use crate::station::Level;
use crate::station::view::{ActiveView, CentralView, PlcLink, View, Waiting, clock_status_words};
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};

pub const FULL: (u16, u16) = (80, 24);
pub const COMPACT: (u16, u16) = (40, 16);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Full,
    Compact,
    TooSmall,
}

pub fn tier(area: Rect) -> Tier {
    if area.width >= FULL.0 && area.height >= FULL.1 {
        Tier::Full
    } else if area.width >= COMPACT.0 && area.height >= COMPACT.1 {
        Tier::Compact
    } else {
        Tier::TooSmall
    }
}

struct Theme {
    color: bool,
}

impl Theme {
    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }
    fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    fn level(&self, level: Level) -> (&'static str, Style) {
        match level {
            Level::Ok => ("OK", self.fg(Color::Green).add_modifier(Modifier::BOLD)),
            Level::Info => ("INFO", self.fg(Color::Cyan)),
            Level::Refused => ("NO", self.fg(Color::Red).add_modifier(Modifier::BOLD)),
            Level::Error => ("ERROR", self.fg(Color::Red).add_modifier(Modifier::BOLD)),
        }
    }
}

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let theme = Theme {
        color: app.options.color,
    };
    let tier = tier(area);
    if tier == Tier::TooSmall {
        let text = format!(
            "Screen too small ({}x{}). Takt needs at least {}x{}. Enlarge the window or use a smaller font.",
            area.width, area.height, COMPACT.0, COMPACT.1
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let compact = tier == Tier::Compact;
    let [status, body, notice, scan, legend] = Layout::vertical([
        Constraint::Length(if compact { 2 } else { 1 }),
        Constraint::Min(4),
        // Two lines for the notice: a refusal must be read whole, never cut off.
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_status(frame, status, app, &theme, compact);
    match app.screen {
        Screen::Login => draw_login(frame, body, app, &theme, compact),
        Screen::Queue => draw_queue(frame, body, app, &theme, compact),
        Screen::Run => draw_run(frame, body, app, &theme, compact),
        Screen::ScannerTest => super::scanner_test::draw(frame, body, app, compact),
        Screen::Trace => super::trace::draw(frame, body, app, compact),
        Screen::Downtime => super::downtime::draw(frame, body, app, compact),
        Screen::History => super::history::draw(frame, body, app, compact),
        Screen::Inspect => super::inspect::draw(frame, body, app, compact),
    }
    if let Some(prompt) = &app.view.signature_prompt {
        draw_signature(frame, body, prompt, &theme);
    }
    draw_notice(frame, notice, app, &theme);
    draw_scan_line(frame, scan, app, &theme);
    draw_legend(frame, legend, app, &theme);
    if app.help {
        draw_help(frame, body, app);
    }
}

/// The stacklight in words (HR8: bit 0 red, 2 amber, 4 blue, 6 green, 8 horn), never by colour
/// alone.
fn stacklight_words(bits: u16, link: &PlcLink) -> String {
    if *link != PlcLink::Online || bits == 0 {
        return String::new();
    }
    let lit: Vec<&str> = [
        (1 << 0, "RED"),
        (1 << 2, "AMBER"),
        (1 << 4, "BLUE"),
        (1 << 6, "GREEN"),
        (1 << 8, "HORN"),
    ]
    .iter()
    .filter(|(bit, _)| bits & bit != 0)
    .map(|(_, name)| *name)
    .collect();
    format!("  light {}", lit.join("+"))
}

fn stacklight_color(bits: u16) -> Color {
    if bits & 1 != 0 {
        Color::Red
    } else if bits & (1 << 2) != 0 {
        Color::Yellow
    } else if bits & (1 << 4) != 0 {
        Color::Blue
    } else {
        Color::Green
    }
}

fn plc_words(app: &App) -> (String, Color) {
    match &app.view.plc.link {
        PlcLink::NotConfigured => ("not configured".into(), Color::DarkGray),
        PlcLink::Connecting => ("connecting".into(), Color::Yellow),
        PlcLink::Offline { .. } => ("OFFLINE".into(), Color::Red),
        PlcLink::Online if app.view.plc.stale => ("STALE".into(), Color::Red),
        PlcLink::Online => match app.view.plc.state {
            Some(state) => (state.words(), machine_color(state)),
            None => ("online".into(), Color::Green),
        },
    }
}

fn machine_color(state: PackMlState) -> Color {
    match state {
        PackMlState::Execute => Color::Green,
        PackMlState::Idle | PackMlState::Suspended | PackMlState::Held => Color::Yellow,
        PackMlState::Aborted | PackMlState::Stopped => Color::Red,
        _ => Color::Cyan,
    }
}

/// Central's link in words; while the link is up and the clocks differ by more than 2 s, the
/// offset instead ("CLOCK +3.4 s": central's clock is ahead), never wider than "Central online".
fn central_spans(view: &View, theme: &Theme) -> Vec<Span<'static>> {
    if view.central == CentralView::Online
        && view.central_clock_warning
        && let Some(offset_ms) = view.central_clock_offset_ms
    {
        return vec![Span::styled(
            clock_status_words(offset_ms),
            theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
        )];
    }
    let (words, color) = central_link_words(&view.central);
    vec![Span::raw("Central "), Span::styled(words, theme.fg(color))]
}

fn central_link_words(view: &CentralView) -> (&'static str, Color) {
    match view {
        CentralView::Disabled => ("off", Color::DarkGray),
        CentralView::Connecting => ("connecting", Color::Yellow),
        CentralView::Online => ("online", Color::Green),
        CentralView::Offline { .. } => ("OFFLINE", Color::Red),
        CentralView::Refused { .. } => ("REFUSED", Color::Red),
    }
}

fn draw_status(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, compact: bool) {
    let view = &app.view;
    let order = view
        .active
        .as_ref()
        .map_or("no order".to_owned(), |a| a.id.clone());
    let (plc, plc_color) = plc_words(app);
    let sep = || Span::raw(" | ");
    let mut links = vec![
        Span::raw("PLC "),
        Span::styled(plc, theme.fg(plc_color)),
        sep(),
    ];
    links.extend(central_spans(view, theme));
    links.extend([sep(), Span::raw(format!("Backlog {}", view.backlog))]);
    let links_width: usize = links.iter().map(|s| s.width()).sum();
    let head = |operator: String| {
        Line::from(vec![
            Span::styled(
                format!(" {} ", view.station),
                theme.bold().patch(theme.fg(Color::Cyan)),
            ),
            sep(),
            Span::raw(operator),
            sep(),
            Span::styled(order.clone(), theme.bold()),
        ])
    };
    let badge = view
        .operator
        .as_ref()
        .map_or("nobody logged in".to_owned(), |o| o.badge.clone());
    if compact {
        frame.render_widget(Paragraph::new(vec![head(badge), Line::from(links)]), area);
        return;
    }
    // The name when it fits; the badge alone when the links would be cut off.
    let named = view
        .operator
        .as_ref()
        .map_or(badge.clone(), |o| format!("{} {}", o.badge, o.name));
    let mut line = head(named);
    if line.width() + 3 + links_width > usize::from(area.width) {
        line = head(badge);
    }
    let mut spans = line.spans;
    spans.push(sep());
    spans.extend(links);
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn titled(title: String) -> Block<'static> {
    Block::default().borders(Borders::ALL).title(title)
}

fn draw_login(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, compact: bool) {
    let mut lines = if let Some(name) = &app.view.pin_prompt {
        vec![
            Line::from(""),
            Line::styled(
                format!("  {name}: type your PIN, then Enter."),
                theme.bold(),
            ),
            Line::from("  (Esc clears; another badge starts over.)"),
            Line::from(""),
        ]
    } else if compact {
        // Every line counts on a handheld: the hints matter more than the spacing.
        vec![Line::styled(" Scan your badge to log in.", theme.bold())]
    } else {
        vec![
            Line::from(""),
            Line::styled("  Scan your badge to log in.", theme.bold()),
            Line::from("  (Or type the badge code and press Enter.)"),
            Line::from(""),
        ]
    };
    // Whoever logs in next sees what the last shift left running and open.
    if !app.view.handover.is_empty() {
        lines.push(Line::styled("  Handover:", theme.bold()));
        lines.extend(
            app.view
                .handover
                .iter()
                .map(|line| Line::from(format!("  - {line}"))),
        );
        lines.push(Line::from(""));
    }
    lines.extend(
        app.options
            .login_hints
            .iter()
            .map(|hint| Line::from(format!("  {hint}"))),
    );
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(titled(format!(" Login - station {} ", app.view.station))),
        area,
    );
}

fn exec_words(exec: Option<ExecStatus>, status: WorkOrderStatus) -> String {
    match (exec, status) {
        (Some(ExecStatus::Completed), _) => "DONE here".into(),
        (_, WorkOrderStatus::OnHold) => "HOLD".into(),
        (_, WorkOrderStatus::Planned) => "not released".into(),
        (Some(ExecStatus::Running), _) => "RUNNING".into(),
        (Some(ExecStatus::Paused), _) => "paused".into(),
        (Some(ExecStatus::Selected), _) => "selected".into(),
        (None, _) => "released".into(),
    }
}

/// Work waiting here from the previous operation: units and how long the oldest has waited.
fn waiting_words(waiting: Option<&Waiting>, now: DateTime<Utc>) -> String {
    let Some(waiting) = waiting else {
        return String::new();
    };
    let minutes = now
        .signed_duration_since(waiting.oldest)
        .num_minutes()
        .max(0);
    let age = if minutes >= 120 {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    };
    format!("{} {age}", waiting.units)
}

fn draw_queue(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, compact: bool) {
    // Lots sent back here for rework are part of this station's queue: shown under the orders,
    // with what to do about them.
    let area = if app.view.rework.is_empty() {
        area
    } else {
        let height = (app.view.rework.len() as u16 + 2)
            .min(area.height / 2)
            .max(3);
        let [orders, rework] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(height)]).areas(area);
        let lines: Vec<Line> = app
            .view
            .rework
            .iter()
            .map(|row| {
                let mut words = format!(" {} {} -> {}", row.lot, row.quantity, row.operation);
                if let (Some(reason), false) = (&row.reason, compact) {
                    words.push_str(&format!("  {reason}"));
                }
                Line::from(words)
            })
            .collect();
        let title = if compact {
            " Rework ".to_owned()
        } else {
            format!(
                " Rework - {} lot(s) sent back here: trace one (F4), rework it, then mark it reworked ",
                app.view.rework.len()
            )
        };
        frame.render_widget(Paragraph::new(lines).block(titled(title)), rework);
        orders
    };
    let rows: Vec<Row> = app
        .view
        .queue
        .iter()
        .enumerate()
        .map(|(index, row)| {
            let marker = if index == app.selected { ">" } else { " " };
            let status = exec_words(row.exec, row.status);
            let style = if index == app.selected {
                theme.bold().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            };
            let cells = if compact {
                vec![
                    Cell::from(marker),
                    Cell::from(row.id.clone()),
                    Cell::from(format!("{}/{}", row.good, row.quantity)),
                    Cell::from(status),
                ]
            } else {
                vec![
                    Cell::from(marker),
                    Cell::from(row.priority.to_string()),
                    Cell::from(row.id.clone()),
                    Cell::from(row.product.clone()),
                    Cell::from(format!("{:>5}", row.quantity)),
                    Cell::from(row.due.format("%Y-%m-%d").to_string()),
                    Cell::from(format!("{:>5}", row.good)),
                    Cell::from(waiting_words(row.waiting.as_ref(), app.view.now)),
                    Cell::from(status),
                ]
            };
            Row::new(cells).style(style)
        })
        .collect();
    let (widths, header): (Vec<Constraint>, Vec<&str>) = if compact {
        (
            vec![
                Constraint::Length(1),
                Constraint::Length(9),
                Constraint::Length(9),
                Constraint::Min(6),
            ],
            vec!["", "Order", "Good/Qty", "Status"],
        )
    } else {
        (
            vec![
                Constraint::Length(1),
                Constraint::Length(4),
                Constraint::Length(10),
                Constraint::Length(8),
                Constraint::Length(6),
                Constraint::Length(11),
                Constraint::Length(6),
                Constraint::Length(9),
                Constraint::Min(10),
            ],
            vec![
                "", "Prio", "Order", "Product", "  Qty", "Due", " Good", "Waiting", "Status",
            ],
        )
    };
    let title = format!(
        " Queue - {} orders - scan one, or pick and press Enter ",
        app.view.queue.len()
    );
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.bold()))
        .block(titled(if compact { " Queue ".into() } else { title }));
    if app.view.queue.is_empty() {
        frame.render_widget(
            Paragraph::new(
                "  No work orders dispatched to this station yet. They arrive from central.",
            )
            .wrap(Wrap { trim: false })
            .block(titled(" Queue ".into())),
            area,
        );
    } else {
        frame.render_widget(table, area);
    }
}

fn draw_run(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, compact: bool) {
    let Some(active) = &app.view.active else {
        frame.render_widget(
            Paragraph::new("  No work order selected. Scan a work order, or go to the queue.")
                .wrap(Wrap { trim: false })
                .block(titled(" Run ".into())),
            area,
        );
        return;
    };
    let plc = &app.view.plc;
    let (machine, machine_color) = plc_words(app);
    let status = match active.status {
        ExecStatus::Running => ("RUNNING", Color::Green),
        ExecStatus::Paused => ("PAUSED", Color::Yellow),
        ExecStatus::Selected => ("READY - scan @START", Color::Cyan),
        ExecStatus::Completed => ("COMPLETE", Color::Blue),
    };
    let percent = (active.good * 100)
        .checked_div(active.quantity)
        .map_or(0, |p| p.min(999));
    let bar_width = if compact { 10 } else { 30 };
    let filled = (percent.min(100) as usize * bar_width) / 100;
    let bar = format!(
        "[{}{}] {percent}%",
        "#".repeat(filled),
        "-".repeat(bar_width - filled)
    );
    let hold = active
        .planning_hold
        .as_ref()
        .map(|why| format!("HOLD: {why}"));
    let mut lines = vec![
        Line::from(vec![
            Span::raw(" Product  "),
            Span::styled(active.product.clone(), theme.bold()),
            Span::raw(if compact {
                String::new()
            } else {
                format!(
                    "  {}{}",
                    active.product_name,
                    active
                        .operation
                        .as_ref()
                        .map(|op| format!("  - {op}"))
                        .unwrap_or_default()
                )
            }),
        ]),
        Line::from(vec![
            Span::raw(" Status   "),
            Span::styled(status.0, theme.fg(status.1).add_modifier(Modifier::BOLD)),
        ]),
        Line::from(vec![
            Span::raw(" Good     "),
            Span::styled(format!("{}", active.good), theme.bold()),
            Span::raw(format!(
                " of {}   rejected {}",
                active.quantity, active.rejected
            )),
        ]),
    ];
    if !compact {
        lines.push(Line::from(format!(" Progress {bar}")));
    }
    lines.push(Line::from(vec![
        Span::raw(" Machine  "),
        Span::styled(machine, theme.fg(machine_color)),
        Span::raw(match (&plc.link, plc.permit) {
            (PlcLink::NotConfigured, _) => "",
            (_, false) => "  permit OFF",
            (PlcLink::Online, true) => "  permit ON",
            // Wanted on, but the PLC cannot hear us: its watchdog drops it.
            (_, true) => "  permit not delivered",
        }),
        Span::styled(
            stacklight_words(plc.stacklight, &plc.link),
            theme.fg(stacklight_color(plc.stacklight)),
        ),
    ]));
    if !compact {
        lines.push(Line::from(format!(
            " Speed    {:.1} units/min   last cycle {:.1} s",
            plc.units_per_minute,
            f64::from(plc.last_cycle_ms) / 1000.0
        )));
        lines.extend(
            plc.last_part
                .as_ref()
                .map(|part| Line::from(format!(" Last part {part}"))),
        );
        if let Some(started) = active.started_at {
            lines.push(Line::from(format!(
                " Started  {}   due {}",
                started.format("%Y-%m-%d %H:%M UTC"),
                active.due.map(|d| d.to_string()).unwrap_or_default()
            )));
        }
    }
    // Only once there is time to measure: dashes on a fresh order tell nobody anything.
    let percent = |value: Option<f64>| match value {
        Some(value) => format!("{:.1}%", value * 100.0),
        None => "-".to_owned(),
    };
    let kpi_words = |kpi: &crate::station::view::KpiView| {
        format!(
            "{}   availability {}  performance {}  quality {}",
            percent(kpi.oee),
            percent(kpi.availability),
            percent(kpi.effectiveness),
            percent(kpi.quality)
        )
    };
    if let Some(kpi) = active.kpi.filter(|kpi| kpi.availability.is_some()) {
        lines.push(Line::from(if compact {
            format!(" OEE {}", percent(kpi.oee))
        } else {
            format!(" OEE      {}", kpi_words(&kpi))
        }));
    }
    if !compact
        && let Some(shift) = app
            .view
            .shift
            .as_ref()
            .filter(|shift| shift.kpi.availability.is_some())
    {
        lines.push(Line::from(format!(" Shift    {}", kpi_words(&shift.kpi))));
    }
    for hold in active.quality_holds.iter().take(2) {
        lines.push(Line::styled(
            format!(" {hold}"),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    if let Some(call) = &app.view.andon {
        let minutes = app
            .view
            .now
            .signed_duration_since(call.since)
            .num_seconds()
            .max(0);
        lines.push(Line::styled(
            format!(
                " ANDON {} open for {}:{:02} - scan it again when answered",
                call.kind.words().to_uppercase(),
                minutes / 60,
                minutes % 60
            ),
            theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    }
    if let Some(stop) = &app.view.open_stop {
        let reason = match (&stop.reason, stop.uncoded()) {
            (Some(reason), false) => reason.clone(),
            (Some(reason), true) => format!("usually {reason}: scan the reason"),
            (None, _) => "scan the reason".into(),
        };
        let what = if stop.planned { "PLANNED STOP" } else { "DOWN" };
        lines.push(Line::styled(
            format!(
                " {what} since {} UTC, PLC stop {} - {reason}",
                stop.started_at.format("%H:%M"),
                stop.plc_reason
            ),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    } else if app.view.uncoded_stops > 0 && !compact {
        lines.push(Line::styled(
            format!(
                " Stops without a reason: {} - scan a reason code to give the last one",
                app.view.uncoded_stops
            ),
            theme.fg(Color::Yellow),
        ));
    }
    push_materials(&mut lines, active, theme, compact);
    if let Some(printer) = &app.view.printer
        && !compact
    {
        let style = if printer.contains("DOWN") || printer.contains("NOT PRINTED") {
            theme.fg(Color::Red)
        } else {
            Style::new()
        };
        lines.push(Line::styled(format!(" Labels   {printer}"), style));
    }
    if let Some(hold) = hold {
        lines.push(Line::styled(
            format!(" {hold}"),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    if let PlcLink::Offline { error } = &plc.link {
        lines.push(Line::styled(
            format!(" MACHINE OFFLINE: {error}"),
            theme.fg(Color::Red),
        ));
    }
    if let Some(alarm) = &plc.alarm {
        lines.push(Line::styled(
            format!(" WARN PLC: {alarm}"),
            theme.fg(Color::Yellow),
        ));
    }
    if !compact {
        push_recent(
            &mut lines,
            app,
            theme,
            usize::from(area.height.saturating_sub(2)),
        );
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(titled(format!(" Run - {} ", active.id))),
        area,
    );
}

/// The bill of materials with the lot feeding each line; a line without a usable lot says why in
/// words (NEED / HOLD), never by colour alone.
fn push_materials(
    lines: &mut Vec<Line<'static>>,
    active: &ActiveView,
    theme: &Theme,
    compact: bool,
) {
    for line in &active.materials {
        let (cue, style) = match &line.problem {
            None => ("OK  ", theme.fg(Color::Green)),
            Some(why) if why.contains("hold") || why.contains("quarantined") => {
                ("HOLD", theme.fg(Color::Red).add_modifier(Modifier::BOLD))
            }
            Some(_) => ("NEED", theme.fg(Color::Yellow).add_modifier(Modifier::BOLD)),
        };
        let detail = match (&line.lot, &line.problem, compact) {
            (Some(lot), None, true) => lot.clone(),
            (Some(lot), None, false) => format!(
                "lot {lot:<18} {} {} left",
                line.remaining.map(|q| q.to_string()).unwrap_or_default(),
                line.unit
            ),
            (_, Some(why), true) => match line.waiting_lots.first() {
                Some(first) => first.clone(),
                None => why.clone(),
            },
            (_, Some(why), false) => match line.waiting_lots.as_slice() {
                [] => format!("scan a lot ({why})"),
                [one] => format!("scan tote {one}"),
                [first, rest @ ..] => format!("scan tote {first} (+{} more)", rest.len()),
            },
            (None, None, _) => String::new(),
        };
        lines.push(Line::from(vec![
            Span::raw(if compact { " " } else { " Material " }),
            Span::styled(cue, style),
            Span::raw(format!(" {:<9} {detail}", line.material)),
        ]));
    }
    if let Some(output) = &active.output
        && !compact
    {
        let tote = match output.tote_size {
            Some(size) => format!("tote {}/{size}", output.open_units),
            None => "one serial per good unit".to_owned(),
        };
        let next = output
            .next_operation
            .as_ref()
            .map(|op| format!(" -> {op}"))
            .unwrap_or_default();
        let last = output
            .last
            .as_ref()
            .map(|last| format!("   last {last}"))
            .unwrap_or_default();
        lines.push(Line::from(format!(" Output   {tote}{next}{last}")));
    }
}

/// Fills what room is left with the last notices, newest first, so the operator can look back.
fn push_recent(lines: &mut Vec<Line<'static>>, app: &App, theme: &Theme, height: usize) {
    let room = height.saturating_sub(lines.len() + 2);
    if room == 0 || app.notices.len() < 2 {
        return;
    }
    lines.push(Line::from(""));
    lines.push(Line::styled(" Recent (UTC)", theme.bold()));
    for notice in app.notices.iter().skip(1).take(room) {
        let (word, style) = theme.level(notice.level);
        lines.push(Line::from(vec![
            Span::raw(format!(" {} ", notice.at.format("%H:%M:%S"))),
            Span::styled(format!("{word:<5} "), style),
            Span::raw(notice.text.clone()),
        ]));
    }
}

fn draw_notice(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let line = match app.notices.front() {
        Some(notice) => {
            let (word, style) = theme.level(notice.level);
            Line::from(vec![
                Span::styled(format!(" {word} "), style),
                Span::raw(notice.text.clone()),
            ])
        }
        None => Line::from(" Ready."),
    };
    frame.render_widget(Paragraph::new(line).wrap(Wrap { trim: true }), area);
}

fn draw_scan_line(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    // A PIN is typed on the scan line: it shows as stars, never as itself.
    let stars = || "*".repeat(app.decoder.line().chars().count());
    let (prompt, text) = match (&app.view.pin_prompt, &app.view.signature_prompt) {
        (_, Some(sign)) if sign.secret => (" PIN> ", stars()),
        (_, Some(_)) => (" Sign> ", app.decoder.display()),
        (Some(_), None) => (" PIN> ", stars()),
        (None, None) if app.hold_reason_for.is_some() => (" Reason> ", app.decoder.display()),
        (None, None) if app.quality_ask.is_some() => (
            app.quality_ask
                .as_ref()
                .map_or(" Scan> ", |ask| ask.prompt()),
            app.decoder.display(),
        ),
        (None, None) => match &app.correction {
            Some(super::history::CorrectionStep::Value { .. }) => {
                (" Value> ", app.decoder.display())
            }
            Some(super::history::CorrectionStep::Reason { .. }) => {
                (" Reason> ", app.decoder.display())
            }
            None => (" Scan> ", app.decoder.display()),
        },
    };
    let line = Line::from(vec![
        Span::styled(prompt, theme.bold()),
        Span::raw(text),
        Span::styled("_", theme.fg(Color::DarkGray)),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

/// A signature being collected: what is signed and what to enter, over the bottom of the screen,
/// so nobody signs without reading what they sign.
fn draw_signature(
    frame: &mut Frame,
    body: Rect,
    prompt: &crate::station::SignaturePrompt,
    theme: &Theme,
) {
    let height = body.height.min(5);
    let area = Rect {
        y: body.y + body.height - height,
        height,
        ..body
    };
    let lines = vec![
        Line::styled(format!(" You sign to {}.", prompt.what), theme.bold()),
        Line::from(format!(" {}", prompt.ask)),
        Line::from(" Esc cancels: nothing is recorded."),
    ];
    frame.render_widget(ratatui::widgets::Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(titled(" SIGN (21 CFR Part 11) ".into())),
        area,
    );
}

fn draw_legend(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut entries = app.keymap.legend_entries(app.layer());
    // Only what the logged-in role may do is offered.
    entries.retain(|(_, _, command)| app.may(*command));
    let width = |entries: &[(String, String, KeyCommand)]| -> usize {
        entries
            .iter()
            .map(|(k, d, _)| k.chars().count() + d.chars().count() + 2)
            .sum()
    };
    // On a narrow screen, what this screen does matters more than where else one can go:
    // leave out navigation first, then from the end, never help or quit.
    let navigation = |c: &KeyCommand| {
        matches!(
            c,
            KeyCommand::ShowQueue
                | KeyCommand::ShowRun
                | KeyCommand::ShowLogin
                | KeyCommand::Logout
        )
    };
    while width(&entries) > usize::from(area.width) {
        let droppable =
            |c: &KeyCommand| !matches!(c, KeyCommand::Help | KeyCommand::Close | KeyCommand::Quit);
        let victim = entries
            .iter()
            .rposition(|(_, _, c)| navigation(c))
            .or_else(|| entries.iter().rposition(|(_, _, c)| droppable(c)));
        match victim {
            Some(index) => {
                entries.remove(index);
            }
            None => break,
        }
    }
    let mut spans = Vec::new();
    for (key, desc, _) in entries {
        spans.push(Span::styled(format!(" {key}"), theme.bold()));
        spans.push(Span::raw(format!(" {desc}")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_help(frame: &mut Frame, area: Rect, app: &App) {
    let bindings = app.keymap.bindings(app.screen.layer());
    let mut lines: Vec<Line> = bindings
        .iter()
        .filter(|b| app.may(b.command))
        .map(|b| Line::from(format!(" {:<10} {}", b.key.label(), b.desc)))
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(
        " Scan a badge, a work order or a command barcode",
    ));
    lines.push(Line::from(
        " (@START @PAUSE @RESUME @COMPLETE @LOGOUT) at any time.",
    ));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(titled(format!(" Help - {} keys ", app.screen.title()))),
        area,
    );
}
