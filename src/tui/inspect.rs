//! The Inspect screen: an inspector scans a lot and sees the plan of its product and operation (each
//! characteristic with its limits, and what sampling asks for at the plan's switching stage), then
//! keys or scans entries one per line: `BORE 54.012`, `VISUAL pass`, `D-101*3@left`, `n=13`. Each
//! entry is checked at once with the domain's own rules, so a slip is refused while the part is
//! still in hand; the verdict follows the entries live. F5 records through the core like any other
//! command; F8 shows the SPC chart of a measured characteristic from this station's inspections.

use super::app::{App, Effect, Screen};
use crate::domain::Command;
use crate::domain::Entry;
use crate::domain::inspection::{
    self, Assessment, CharacteristicKind, DefectFound, InspectionRefusal, Measurement, Sample,
    Sampling, Verdict,
};
use crate::domain::quality_state::{self, Controlled, InspectionContext};
use crate::plc::layout::ProcessValue;
use crate::station::{CoreInput, Level, Notice};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph, Wrap};

#[derive(Debug, Clone)]
pub struct InspectScreen {
    /// Where Esc goes back to.
    pub back: Screen,
    /// The lot scanned last.
    pub lot: Option<String>,
    /// What was entered for it, checked, oldest first.
    pub entries: Vec<InspectEntry>,
    /// Which measured characteristic's chart shows (index among the plan's variables).
    pub chart: Option<usize>,
    /// F5 was pressed when the lot had this many inspections recorded: the entries clear once the
    /// view shows one more.
    pub sent: Option<usize>,
}

impl Default for InspectScreen {
    fn default() -> Self {
        InspectScreen {
            back: Screen::Queue,
            lot: None,
            entries: Vec::new(),
            chart: None,
            sent: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InspectEntry {
    /// A characteristic and its value as keyed.
    Finding {
        characteristic: String,
        text: String,
        /// The process value it was read from, when the PLC measured it rather than a person.
        from_plc: Option<String>,
    },
    Defect(DefectFound),
    /// Units inspected.
    Count(u32),
}

impl InspectEntry {
    pub fn words(&self) -> String {
        match self {
            InspectEntry::Finding {
                characteristic,
                text,
                from_plc,
            } => match from_plc {
                Some(value) => format!("{characteristic} {text} (PLC {value})"),
                None => format!("{characteristic} {text}"),
            },
            InspectEntry::Defect(found) => {
                let mut words = format!("{} x{}", found.code, found.quantity);
                if let Some(location) = &found.location {
                    words.push_str(&format!(" @{location}"));
                }
                words
            }
            InspectEntry::Count(units) => format!("n={units}"),
        }
    }
}

/// Reads one entry line against the lot's plan and catalog. Only its form is checked here; its
/// value is checked with the others by [`assess`]. A measured characteristic the plan reads from
/// the PLC, entered without a value, takes the PLC's current reading from `plc`.
pub fn parse_entry(
    context: &InspectionContext,
    plc: &[ProcessValue],
    text: &str,
) -> Result<InspectEntry, String> {
    let text = text.trim();
    if let Some(count) = text
        .strip_prefix("n=")
        .or_else(|| text.strip_prefix("N="))
        .map(str::trim)
    {
        return count
            .parse::<u32>()
            .map(InspectEntry::Count)
            .map_err(|_| format!("n={count}: key the units inspected as a whole number (n=13)."));
    }
    let (head, rest) = text
        .split_once(char::is_whitespace)
        .map_or((text, ""), |(head, rest)| (head, rest.trim()));
    let code_end = head.find(['*', '@']).unwrap_or(head.len());
    let code = head[..code_end].to_ascii_uppercase();
    if context.catalog.contains_key(&code) {
        let tail = &head[code_end..];
        let (quantity, location) = match tail.split_once('@') {
            Some((quantity, location)) => (quantity, Some(format!("{location} {rest}"))),
            None => (tail, (!rest.is_empty()).then(|| rest.to_owned())),
        };
        let quantity = match quantity.strip_prefix('*') {
            Some(number) => number.parse::<u32>().map_err(|_| {
                format!("{head}: the quantity after * must be a whole number (D-101*3@left).")
            })?,
            None => 1,
        };
        return Ok(InspectEntry::Defect(DefectFound {
            code,
            quantity,
            location: location
                .map(|words| words.trim().to_owned())
                .filter(|words| !words.is_empty()),
        }));
    }
    match context.plan.characteristic(head) {
        Some(characteristic) if rest.is_empty() && characteristic.plc_value.is_some() => {
            let name = characteristic.plc_value.as_deref().unwrap_or_default();
            match plc.iter().find(|value| value.name == name) {
                Some(reading) => Ok(InspectEntry::Finding {
                    characteristic: characteristic.id.clone(),
                    text: format!("{} {}", (reading.value * 1e6).round() / 1e6, reading.unit),
                    from_plc: Some(name.to_owned()),
                }),
                None => Err(format!(
                    "{id} is read from the PLC ({name}), but this station does not read {name} \
                     now (its map does not name it, or the PLC is not answering): key it, {id} {}.",
                    nominal_words(&characteristic.kind),
                    id = characteristic.id
                )),
            }
        }
        Some(characteristic) if rest.is_empty() => Err(match characteristic.kind {
            CharacteristicKind::Attribute => format!(
                "{} needs pass or fail: {} pass",
                characteristic.id, characteristic.id
            ),
            CharacteristicKind::Variable { .. } => format!(
                "{} needs its measured value: {} {}",
                characteristic.id,
                characteristic.id,
                nominal_words(&characteristic.kind)
            ),
        }),
        Some(characteristic) => Ok(InspectEntry::Finding {
            characteristic: characteristic.id.clone(),
            text: rest.to_owned(),
            from_plc: None,
        }),
        None => {
            let ids: Vec<&str> = context
                .plan
                .characteristics
                .iter()
                .map(|c| c.id.as_str())
                .collect();
            Err(format!(
                "{text:?} is not a characteristic of this plan ({}), a defect code (D-...) or n=<units>.",
                ids.join(", ")
            ))
        }
    }
}

fn nominal_words(kind: &CharacteristicKind) -> String {
    match kind {
        CharacteristicKind::Variable { nominal, unit, .. } => format!("{nominal:.3} {unit}"),
        CharacteristicKind::Attribute => String::new(),
    }
}

/// The entries as the command carries them: units inspected (as typed with n=, else the most
/// values keyed for one characteristic: each is a unit), findings and defects.
pub fn command_parts(entries: &[InspectEntry]) -> (u32, Vec<(String, String)>, Vec<DefectFound>) {
    let mut findings = Vec::new();
    let mut defects = Vec::new();
    let mut count = None;
    for entry in entries {
        match entry {
            InspectEntry::Finding {
                characteristic,
                text,
                ..
            } => findings.push((characteristic.clone(), text.clone())),
            InspectEntry::Defect(found) => defects.push(found.clone()),
            InspectEntry::Count(units) => count = Some(*units),
        }
    }
    let most_per_characteristic = findings
        .iter()
        .map(|(id, _)| findings.iter().filter(|(other, _)| other == id).count())
        .max()
        .unwrap_or(0);
    let inspected =
        count.unwrap_or_else(|| u32::try_from(most_per_characteristic.max(1)).unwrap_or(u32::MAX));
    (inspected, findings, defects)
}

/// The verdict the entries give, with the domain's own rules; a refusal says what is wrong.
pub fn assess(
    context: &InspectionContext,
    entries: &[InspectEntry],
) -> Result<Assessment, InspectionRefusal> {
    let (inspected, findings, defects) = command_parts(entries);
    let measurements = findings
        .iter()
        .map(|(characteristic, text)| {
            Ok(Measurement {
                characteristic: characteristic.clone(),
                value: inspection::parse_value(&context.plan, characteristic, text)?,
            })
        })
        .collect::<Result<Vec<_>, InspectionRefusal>>()?;
    inspection::assess(
        &context.plan,
        &context.catalog,
        Sample {
            lot_size: context.lot_size,
            inspected,
            severity: context
                .severity
                .unwrap_or(crate::domain::aql::Severity::Tightened),
        },
        &measurements,
        &defects,
    )
}

impl App {
    pub(super) fn inspect_context(&self) -> Option<&InspectionContext> {
        let view = self.view.inspection.as_ref()?;
        if Some(view.lot.as_str()) != self.inspect.lot.as_deref() {
            return None;
        }
        view.context.as_ref().ok()
    }

    /// Shift+F2: open the Inspect screen, for those whose role inspects.
    pub(super) fn show_inspect(&mut self) -> Vec<Effect> {
        let Some(operator) = &self.view.operator else {
            return self.on_notice(Notice::new(
                Level::Refused,
                "Log in first: scan your badge.",
                self.view.now,
            ));
        };
        let action = crate::domain::permission::Action::Inspect;
        if !operator.may(action) {
            let words = format!(
                "{} ({}) may not {}: that needs {}.",
                operator.name,
                crate::domain::permission::roles_in_words(&operator.roles),
                action.words(),
                crate::domain::permission::roles_in_words(crate::domain::permission::allowed(
                    action
                )),
            );
            return self.on_notice(Notice::new(Level::Refused, words, self.view.now));
        }
        if self.screen != Screen::Inspect {
            self.inspect.back = match self.screen {
                Screen::Trace => self.trace.back,
                Screen::Downtime => self.downtime.back,
                Screen::History => self.history.back,
                Screen::ScannerTest => self.scanner_test.back,
                other => other,
            };
            self.screen = Screen::Inspect;
        }
        vec![Effect::Core(CoreInput::Inspecting(
            self.inspect.lot.clone(),
        ))]
    }

    /// Esc: back, and the core stops following the lot. Entries not recorded are dropped, and
    /// the screen says so.
    pub(super) fn close_inspect(&mut self) -> Vec<Effect> {
        self.screen = self.inspect.back;
        // The next time the screen opens, it asks for the lot: one inspection per visit.
        self.inspect.lot = None;
        self.inspect.chart = None;
        let mut effects = vec![Effect::Core(CoreInput::Inspecting(None))];
        if !self.inspect.entries.is_empty() && self.inspect.sent.is_none() {
            self.inspect.entries.clear();
            effects.extend(self.on_notice(Notice::new(
                Level::Info,
                "Left the inspection: nothing was recorded.",
                self.view.now,
            )));
        }
        effects
    }

    /// A line read on the Inspect screen: the lot first, then its entries.
    pub(super) fn inspect_read(&mut self, text: &str, entry: Entry) -> Vec<Effect> {
        let text = text.trim();
        if text.is_empty() {
            return Vec::new();
        }
        let Some(context) = self.inspect_context().cloned() else {
            return self.inspect_lot(text);
        };
        // A refused entry is kept as evidence of the attempt (the core records and says it); the
        // entries stay as they were.
        let refused = |reason: String| {
            vec![Effect::Core(CoreInput::Refused {
                text: text.to_owned(),
                reason,
                entry,
            })]
        };
        match parse_entry(&context, &self.view.plc.values, text) {
            Ok(found) => {
                let mut trial = self.inspect.entries.clone();
                trial.push(found.clone());
                match assess(&context, &trial) {
                    Ok(_) => {
                        self.inspect.entries = trial;
                        Vec::new()
                    }
                    Err(refusal) => {
                        refused(format!("{}: {refusal}. Nothing was kept.", found.words()))
                    }
                }
            }
            Err(why) => refused(format!(
                "{why} Nothing was kept. (Another lot: Esc, then Shift+F2.)"
            )),
        }
    }

    fn inspect_lot(&mut self, text: &str) -> Vec<Effect> {
        let lot = super::trace::plain_lot(text).unwrap_or_else(|| text.to_owned());
        self.inspect.lot = Some(lot.clone());
        self.inspect.entries.clear();
        self.inspect.sent = None;
        vec![Effect::Core(CoreInput::Inspecting(Some(lot)))]
    }

    /// F5: record what was entered, through the core (acknowledged once it is on disk).
    pub(super) fn record_inspection(&mut self) -> Vec<Effect> {
        let Some(context) = self.inspect_context() else {
            return self.on_notice(Notice::new(
                Level::Refused,
                "Scan or type the lot to inspect first.",
                self.view.now,
            ));
        };
        if self.inspect.entries.is_empty() {
            return self.on_notice(Notice::new(
                Level::Refused,
                "Nothing entered yet: key a measurement (BORE 54.012), pass/fail (VISUAL pass), a defect code or n=.",
                self.view.now,
            ));
        }
        let recorded = context.recorded();
        let lot = context.lot.clone();
        let (inspected, findings, defects) = command_parts(&self.inspect.entries);
        self.inspect.sent = Some(recorded);
        vec![Effect::Core(CoreInput::Command(Command::Inspect {
            lot,
            inspected,
            findings,
            defects,
        }))]
    }

    /// F6: take back the last entry.
    pub(super) fn undo_entry(&mut self) -> Vec<Effect> {
        match self.inspect.entries.pop() {
            Some(entry) => self.on_notice(Notice::new(
                Level::Info,
                format!("{} taken back.", entry.words()),
                self.view.now,
            )),
            None => self.on_notice(Notice::new(
                Level::Refused,
                "There is no entry to take back.",
                self.view.now,
            )),
        }
    }

    /// F8: the chart of the next measured characteristic, then none.
    pub(super) fn next_chart(&mut self) -> Vec<Effect> {
        let variables = self
            .inspect_context()
            .map_or(0, |context| variables(context).len());
        self.inspect.chart = match self.inspect.chart {
            None if variables > 0 => Some(0),
            Some(index) if index + 1 < variables => Some(index + 1),
            _ => None,
        };
        Vec::new()
    }

    /// A new view: entries sent and recorded are cleared (a refusal keeps them to put right).
    pub(super) fn inspect_view_changed(&mut self) {
        let Some(sent) = self.inspect.sent else {
            return;
        };
        if let Some(context) = self.inspect_context()
            && context.recorded() > sent
        {
            self.inspect.entries.clear();
            self.inspect.sent = None;
        }
    }

    /// A refusal of the inspection sent: the entries stay to be put right.
    pub(super) fn inspect_refused(&mut self) {
        self.inspect.sent = None;
    }
}

fn variables(context: &InspectionContext) -> Vec<&inspection::Characteristic> {
    context
        .plan
        .characteristics
        .iter()
        .filter(|c| matches!(c.kind, CharacteristicKind::Variable { .. }))
        .collect()
}

fn sampling_words(characteristic: &inspection::Characteristic) -> String {
    match (characteristic.sampling, &characteristic.kind) {
        (
            Sampling::EveryNth { n },
            CharacteristicKind::Variable {
                subgroup: Some(size),
                ..
            },
        ) => format!("subgroup of {size} every {n} units"),
        (Sampling::EveryNth { n }, _) => format!("every {n}th unit"),
        (Sampling::EveryUnit, _) => "every unit".into(),
        (Sampling::FirstPiece, _) => "first piece".into(),
        (Sampling::Aql, _) => "AQL sample of the lot".into(),
    }
}

fn characteristic_words(characteristic: &inspection::Characteristic, compact: bool) -> String {
    let spec = match &characteristic.kind {
        CharacteristicKind::Attribute => "pass/fail".to_owned(),
        CharacteristicKind::Variable {
            nominal,
            lower,
            upper,
            unit,
            gauge,
            ..
        } => {
            let limit = |value: &Option<f64>| value.map_or("-".to_owned(), |v| format!("{v:.3}"));
            let gauge = match (gauge, compact) {
                (Some(gauge), false) => format!(", {gauge}"),
                _ => String::new(),
            };
            format!(
                "{nominal:.3} {unit} [{}..{}]{gauge}",
                limit(lower),
                limit(upper)
            )
        }
    };
    if compact {
        format!(" {} {spec}", characteristic.id)
    } else {
        format!(
            " {:<8} {spec}; {}",
            characteristic.id,
            sampling_words(characteristic)
        )
    }
}

/// What AQL sampling asks of this lot at the plan's stage, per class.
fn aql_words(context: &InspectionContext, compact: bool) -> Option<String> {
    let sampling = context.plan.aql?;
    let Some(severity) = context.severity else {
        return Some(
            " AQL: inspection discontinued after 5 lots on tightened: an inspector resumes it once the corrective action is accepted (Shift+F5, signed)"
                .into(),
        );
    };
    let plans = sampling.plans(context.lot_size, severity).ok()?;
    let first = plans.values().next()?;
    let classes: Vec<String> = plans
        .iter()
        .map(|(class, plan)| {
            format!(
                "{} {} Ac {} Re {}",
                format!("{class:?}").to_lowercase(),
                plan.aql,
                plan.accept,
                plan.reject
            )
        })
        .collect();
    Some(if compact {
        format!(
            " {} n={} {}",
            first.code_letter,
            first.sample_size,
            classes.join("; ")
        )
    } else {
        format!(
            " AQL level {} {}: letter {}, n = {}: {}",
            sampling.level,
            severity.words(),
            first.code_letter,
            first.sample_size,
            classes.join("; ")
        )
    })
}

fn verdict_line(context: &InspectionContext, entries: &[InspectEntry]) -> Line<'static> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    if entries.is_empty() {
        return Line::from(" Verdict: nothing entered yet.");
    }
    match assess(context, entries) {
        Ok(assessment) => match assessment.verdict {
            Verdict::Accept => Line::styled(" VERDICT ACCEPT", bold),
            Verdict::Reject { reasons } => {
                Line::styled(format!(" VERDICT REJECT: {}", reasons.join("; ")), bold)
            }
            Verdict::Incomplete { inspected, needed } => Line::from(format!(
                " Verdict: incomplete, {inspected} of {needed} units inspected (n= sets it)"
            )),
        },
        Err(refusal) => Line::from(format!(" Verdict: {refusal}")),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, compact: bool) {
    let block = |title: String| Block::default().borders(Borders::ALL).title(title);
    let Some(lot) = &app.inspect.lot else {
        let words = if compact {
            " Scan the lot to inspect."
        } else {
            " Scan or type the lot to inspect, then Enter: its plan shows, then key one entry per \
             line: BORE 54.012, VISUAL pass, D-101*3@left, n=13. F5 records, F6 takes the last \
             entry back, F8 shows the SPC chart."
        };
        frame.render_widget(
            Paragraph::new(words)
                .wrap(Wrap { trim: false })
                .block(block(" Inspect ".into())),
            area,
        );
        return;
    };
    let view = app.view.inspection.as_ref().filter(|view| view.lot == *lot);
    let context = match view.map(|view| &view.context) {
        None => {
            frame.render_widget(
                Paragraph::new(format!(" Looking up lot {lot} ..."))
                    .block(block(format!(" Inspect {lot} "))),
                area,
            );
            return;
        }
        Some(Err(why)) => {
            frame.render_widget(
                Paragraph::new(format!(" NO {why} Scan another lot."))
                    .wrap(Wrap { trim: false })
                    .block(block(format!(" Inspect {lot} "))),
                area,
            );
            return;
        }
        Some(Ok(context)) => context,
    };
    let mut lines: Vec<Line> = Vec::new();
    if let Some(hold) = &context.hold {
        lines.push(Line::styled(
            format!(" HOLD {hold}"),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    for characteristic in &context.plan.characteristics {
        let mut words = characteristic_words(characteristic, compact);
        if let Some(name) = &characteristic.plc_value {
            // Keying the id alone takes this reading.
            match app.view.plc.values.iter().find(|value| value.name == *name) {
                Some(reading) => {
                    words.push_str(&format!("; PLC {:.3} {}", reading.value, reading.unit))
                }
                None if !compact => words.push_str(&format!("; PLC {name}: not read here")),
                None => {}
            }
        }
        lines.push(Line::from(words));
    }
    if let Some(words) = aql_words(context, compact) {
        lines.push(Line::from(words));
    }
    let entries: Vec<String> = app
        .inspect
        .entries
        .iter()
        .map(InspectEntry::words)
        .collect();
    lines.push(Line::from(if entries.is_empty() {
        " Entries: none yet".to_owned()
    } else {
        format!(" Entries: {}", entries.join(", "))
    }));
    lines.push(verdict_line(context, &app.inspect.entries));
    if let Some(alert) = context.history.as_ref().and_then(|h| h.alerts.last()) {
        lines.push(Line::styled(
            format!(
                " SPC ALERT {} {} {} ({})",
                alert.characteristic,
                alert.rule,
                alert.words,
                alert.at.format("%H:%M")
            ),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    if let Some(call) = &app.view.andon {
        lines.push(Line::styled(
            format!(
                " ANDON {} open since {}",
                call.kind.words().to_uppercase(),
                call.since.format("%H:%M")
            ),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    let title = if compact {
        format!(" {lot} {} ", context.stage.words())
    } else {
        format!(
            " Inspect {lot} - {} {}, lot of {}, {} inspection ",
            context.product,
            context.operation,
            context.lot_size,
            context.stage.words()
        )
    };
    let chosen = app
        .inspect
        .chart
        .and_then(|index| variables(context).get(index).copied());
    let Some(characteristic) = chosen else {
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(block(title)),
            area,
        );
        return;
    };
    let text_height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let [top, bottom] = Layout::vertical([
        Constraint::Length(text_height.min(area.height / 2)),
        Constraint::Min(3),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(title)),
        top,
    );
    draw_chart(frame, bottom, context, characteristic, compact);
}

/// The SPC chart of one characteristic from this station's recorded inspections, its limits and
/// capability in numbers, and the rules broken in words.
fn draw_chart(
    frame: &mut Frame,
    area: Rect,
    context: &InspectionContext,
    characteristic: &inspection::Characteristic,
    compact: bool,
) {
    let points = context
        .history
        .as_ref()
        .and_then(|history| history.series(&characteristic.id))
        .map(|series| series.points.clone())
        .unwrap_or_default();
    let input = quality_state::chart_input(characteristic, &points);
    let kind = if quality_state::subgroup_size(characteristic).is_some() {
        "X̄-R"
    } else {
        "I-MR"
    };
    let title = format!(" SPC {} {kind} ", characteristic.id);
    let controlled = match quality_state::control(&input, context.rules) {
        Ok(controlled) => controlled,
        Err(why) => {
            frame.render_widget(
                Paragraph::new(format!(" Not enough recorded here for a chart yet: {why}."))
                    .wrap(Wrap { trim: false })
                    .block(Block::default().borders(Borders::ALL).title(title)),
                area,
            );
            return;
        }
    };
    let mut words = numbers_words(characteristic, &controlled);
    let broken: Vec<String> = controlled
        .signals
        .iter()
        .map(|signal| {
            format!(
                "{} at point {}: {}",
                signal.rule.code(),
                signal.at + 1,
                signal.rule.describe()
            )
        })
        .collect();
    words.push(if broken.is_empty() {
        " In control: no rule broken.".to_owned()
    } else {
        format!(" OUT OF CONTROL {}", broken.join("; "))
    });
    let word_lines = u16::try_from(words.len()).unwrap_or(3);
    let inner_width = area.width.saturating_sub(2);
    // Below this the plot says nothing a reader can use: the numbers alone.
    let plot = !compact && area.height >= word_lines + 6 && inner_width >= 30;
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [plot_area, text_area] = Layout::vertical([
        Constraint::Min(if plot { 4 } else { 0 }),
        Constraint::Length(word_lines),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new(words.into_iter().map(Line::from).collect::<Vec<_>>())
            .wrap(Wrap { trim: false }),
        text_area,
    );
    if plot {
        draw_plot(frame, plot_area, &controlled);
    }
}

fn numbers_words(
    characteristic: &inspection::Characteristic,
    controlled: &Controlled,
) -> Vec<String> {
    let limits = controlled.chart.limits();
    let mut lines = vec![format!(
        " UCL {:.4}  CL {:.4}  LCL {:.4}  ({} points{})",
        limits.ucl(),
        limits.centre(),
        limits.lcl(),
        controlled.points.len(),
        if controlled.left_out.is_empty() {
            String::new()
        } else {
            format!(", {} left out of the limits", controlled.left_out.len())
        }
    )];
    if let Some(spec) = quality_state::spec_limits(characteristic) {
        let capability = controlled.chart.capability(&spec);
        let index = |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{v:.2}"));
        let limit = |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{v:.3}"));
        lines.push(format!(
            " LSL {} USL {}  Cp {} Cpk {} Pp {} Ppk {}",
            limit(spec.lsl()),
            limit(spec.usl()),
            index(capability.cp),
            index(capability.cpk),
            index(capability.pp),
            index(capability.ppk)
        ));
    }
    lines
}

fn draw_plot(frame: &mut Frame, area: Rect, controlled: &Controlled) {
    let limits = controlled.chart.limits();
    let series: Vec<(f64, f64)> = controlled
        .points
        .iter()
        .enumerate()
        .map(|(index, value)| (index as f64 + 1.0, *value))
        .collect();
    let flagged: Vec<(f64, f64)> = controlled
        .signals
        .iter()
        .flat_map(|signal| signal.points.iter().copied())
        .filter_map(|index| series.get(index).copied())
        .collect();
    let last = series.len().max(2) as f64;
    let line = |y: f64| vec![(1.0, y), (last, y)];
    let (ucl, cl, lcl) = (
        line(limits.ucl()),
        line(limits.centre()),
        line(limits.lcl()),
    );
    let low = series.iter().map(|(_, y)| *y).fold(limits.lcl(), f64::min);
    let high = series.iter().map(|(_, y)| *y).fold(limits.ucl(), f64::max);
    let margin = ((high - low) * 0.05).max(1e-6);
    let datasets = vec![
        Dataset::default()
            .name("UCL")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .data(&ucl),
        Dataset::default()
            .name("CL")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .data(&cl),
        Dataset::default()
            .name("LCL")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .data(&lcl),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .data(&series),
        // Points that break a rule: solid blocks, so they read without colour.
        Dataset::default()
            .name("rule")
            .marker(Marker::Block)
            .graph_type(GraphType::Scatter)
            .data(&flagged),
    ];
    let chart = Chart::new(datasets)
        .x_axis(Axis::default().bounds([1.0, last]))
        .y_axis(
            Axis::default()
                .bounds([low - margin, high + margin])
                .labels([
                    format!("{:.3}", low - margin),
                    format!("{:.3}", high + margin),
                ]),
        );
    frame.render_widget(chart, area);
}
