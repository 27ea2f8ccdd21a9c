//! The scanner test screen, for a technician setting up a scanner: every read is shown byte by byte,
//! with how the decoder saw it (scanned or keyed, and why), the AIM symbology identifier and what
//! the classifier makes of it. Reads made here never reach the core: testing books nothing.

use super::app::{App, Screen};
use crate::domain::Entry;
use crate::scan::decode::{Decoded, decode};
use crate::scan::iso15434::Envelope;
use crate::scan::keys::{Scan, ScanSettings, Terminator, control_name, visible};
use chrono::NaiveDate;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use std::collections::VecDeque;

/// How many reads the screen remembers.
const KEEP: usize = 20;

/// One read received on the test screen.
#[derive(Debug, Clone)]
pub struct Read {
    pub number: u64,
    pub scan: Scan,
    pub decoded: Decoded,
}

/// The screen's state: the reads so far, newest first, and where Esc goes back to.
#[derive(Debug, Clone)]
pub struct ScannerTest {
    pub back: Screen,
    pub reads: VecDeque<Read>,
    count: u64,
}

impl Default for ScannerTest {
    fn default() -> Self {
        ScannerTest {
            back: Screen::Login,
            reads: VecDeque::new(),
            count: 0,
        }
    }
}

impl ScannerTest {
    /// Decodes a read for display. `today` dates GS1 two-digit years and expiry checks.
    pub fn record(&mut self, scan: Scan, today: NaiveDate) {
        self.count += 1;
        let decoded = decode(&scan.text, today);
        self.reads.push_front(Read {
            number: self.count,
            scan,
            decoded,
        });
        self.reads.truncate(KEEP);
    }
}

/// The AIM symbology identifier a read starts with (`]C1`), if any.
pub fn aim_id(text: &str) -> Option<&str> {
    let mut chars = text.chars();
    match (chars.next(), chars.next(), chars.next()) {
        (Some(']'), Some(letter), Some(modifier))
            if letter.is_ascii_alphabetic() && modifier.is_ascii_alphanumeric() =>
        {
            text.get(..3)
        }
        _ => None,
    }
}

/// What an AIM identifier names (ISO/IEC 15424), GS1 modes first.
pub fn symbology_name(id: &str) -> &'static str {
    match id {
        "]C1" => return "GS1-128",
        "]d2" => return "GS1 DataMatrix",
        "]Q3" => return "GS1 QR Code",
        "]e0" => return "GS1 DataBar",
        "]J1" => return "GS1 DotCode",
        "]E4" => return "EAN-8",
        _ => {}
    }
    match id.chars().nth(1) {
        Some('A') => "Code 39",
        Some('C') => "Code 128",
        Some('d') => "Data Matrix",
        Some('E') => "EAN-13 / UPC",
        Some('e') => "GS1 DataBar",
        Some('F') => "Codabar",
        Some('G') => "Code 93",
        Some('I') => "Interleaved 2 of 5",
        Some('J') => "DotCode",
        Some('L') => "PDF417",
        Some('Q') => "QR Code",
        Some('z') => "Aztec",
        _ => "unknown symbology",
    }
}

/// One token per character: its bytes in hex and, with `glyphs`, the character itself; control
/// bytes always carry their name (`1D <GS>`), so a missing or substituted separator shows.
pub fn byte_tokens(text: &str, glyphs: bool) -> Vec<String> {
    text.chars()
        .map(|c| {
            let mut buf = [0u8; 4];
            let hex: String = c
                .encode_utf8(&mut buf)
                .bytes()
                .map(|b| format!("{b:02X}"))
                .collect();
            match (control_name(c), c) {
                (Some(name), _) if glyphs => format!("{hex} <{name}>"),
                (Some(name), _) => format!("{hex}<{name}>"),
                (None, ' ') if glyphs => format!("{hex} <SP>"),
                (None, c) if glyphs && !c.is_control() => format!("{hex} {c}"),
                _ => hex,
            }
        })
        .collect()
}

/// Packs tokens into lines no wider than `width` (a token is never split).
fn pack(tokens: &[String], width: usize, gap: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for token in tokens {
        let used = line.chars().count();
        if used > 0 && used + gap + token.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push_str(&" ".repeat(gap));
        }
        line.push_str(token);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A one-line summary and the decoded fields as (id, title, value).
fn fields(decoded: &Decoded) -> (String, Vec<(String, String, String)>) {
    let gs1 = |message: &crate::scan::gs1::Gs1Message| {
        message
            .elements
            .iter()
            .map(|e| (format!("({})", e.ai), e.title.clone(), e.value.to_string()))
            .collect::<Vec<_>>()
    };
    match decoded {
        Decoded::Gs1 { message, means } => (format!("GS1 data: {means}"), gs1(message)),
        Decoded::Iso15434 { envelope, means } => match envelope {
            Envelope::DataIdentifiers { fields } => (
                format!("ISO 15434 envelope (format 06): {means}"),
                fields
                    .iter()
                    .map(|f| {
                        (
                            format!("({})", f.identifier),
                            f.title.clone(),
                            f.value.clone(),
                        )
                    })
                    .collect(),
            ),
            Envelope::Gs1 { message } => {
                (format!("ISO 15434 envelope (GS1): {means}"), gs1(message))
            }
        },
        Decoded::Badge { code } => (format!("badge {code}"), Vec::new()),
        Decoded::WorkOrder { code } => (format!("work order {code}"), Vec::new()),
        Decoded::Command { code } => (format!("command barcode {code}"), Vec::new()),
        Decoded::Code { what, code } => (format!("{what} {code}"), Vec::new()),
        Decoded::Refused { reason } => (format!("refused: {reason}"), Vec::new()),
    }
}

fn how_words(scan: &Scan) -> String {
    let gap = scan
        .mean_gap
        .map(|gap| format!(" {:.1} ms", gap.as_secs_f64() * 1000.0))
        .unwrap_or_default();
    format!("{}{gap}", scan.how.words())
}

fn entry_word(entry: Entry) -> &'static str {
    match entry {
        Entry::Scanned => "SCANNED",
        Entry::Keyed => "KEYED",
    }
}

/// The rule in effect, in words, so the technician can compare it with the scanner's programming.
fn settings_words(settings: &ScanSettings) -> String {
    let terminators: Vec<&str> = settings
        .terminators
        .iter()
        .map(|t| match t {
            Terminator::Enter => "Enter",
            Terminator::Tab => "Tab",
        })
        .collect();
    let ended = terminators.join(" or ");
    if settings.prefix.is_empty() {
        format!(
            "Scanned = at least {} characters, mean gap at most {} ms, ended by {ended}; or a paste.",
            settings.min_length,
            settings.max_mean_gap.as_millis()
        )
    } else {
        let prefix: String = settings.prefix.iter().collect();
        format!(
            "Scanned = framed by prefix {} ... {ended}; or a paste. Anything else is keyed.",
            visible(&prefix)
        )
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, compact: bool) {
    let color = app.options.color;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let fg = |c: Color| if color { bold.fg(c) } else { bold };
    let width = usize::from(area.width.saturating_sub(2));
    let test = &app.scanner_test;
    let mut lines: Vec<Line> = Vec::new();

    let Some(newest) = test.reads.front() else {
        let intro = if compact {
            vec![
                Line::from(" Scan a test label, or type and"),
                Line::from(" press Enter. Nothing is booked."),
            ]
        } else {
            vec![
                Line::from(""),
                Line::styled(
                    " Scan a test label, or type a code and press Enter. Nothing is booked here.",
                    bold,
                ),
                Line::from(
                    " Each read shows every byte in hex, whether it came as a scan or as typing",
                ),
                Line::from(" (and how fast), the AIM symbology id and the decoded fields."),
                Line::from(""),
            ]
        };
        lines.extend(intro);
        lines.push(Line::from(format!(
            " {}",
            settings_words(app.decoder.settings())
        )));
        render(frame, area, lines, compact);
        return;
    };

    let scan = &newest.scan;
    let word = entry_word(scan.entry);
    let word_style = fg(match scan.entry {
        Entry::Scanned => Color::Green,
        Entry::Keyed => Color::Yellow,
    });
    let bytes = scan.text.len();
    let aim = aim_id(&scan.text);
    let mut head = vec![
        Span::styled(format!(" #{} ", newest.number), bold),
        Span::styled(word, word_style),
    ];
    if compact {
        head.push(Span::raw(format!(" {} {bytes} bytes", how_words(scan))));
    } else {
        let gap = scan
            .mean_gap
            .map(|gap| format!(", mean gap {:.1} ms", gap.as_secs_f64() * 1000.0))
            .unwrap_or_default();
        head.push(Span::raw(format!(
            "  {}{gap}, {bytes} bytes{}",
            scan.how.words(),
            match scan.dropped_keys {
                0 => String::new(),
                n => format!(", {n} keys without a byte left out"),
            }
        )));
    }
    lines.push(Line::from(head));
    if !compact {
        lines.push(Line::from(match aim {
            Some(id) => format!(" AIM {id}  {}", symbology_name(id)),
            None if scan.text.starts_with(']') => " AIM id broken: ] without a symbology".into(),
            None => " No AIM symbology id (GS1 labels need the scanner to send AIM ids)".into(),
        }));
    }
    let tokens = byte_tokens(&scan.text, !compact);
    for line in pack(
        &tokens,
        width.saturating_sub(1),
        if compact { 1 } else { 2 },
    ) {
        lines.push(Line::from(format!(" {line}")));
    }
    let (summary, rows) = fields(&newest.decoded);
    // A compact screen has no room for the meaning; the fields below say it.
    let summary = match (compact, aim) {
        (true, Some(id)) => format!("{id} {}", summary.split(':').next().unwrap_or_default()),
        (true, None) => summary.split(':').next().unwrap_or_default().to_owned(),
        _ => summary,
    };
    lines.push(Line::styled(format!(" {summary}"), bold));
    for (id, title, value) in rows {
        lines.push(Line::from(if compact {
            format!(" {id} {value}")
        } else {
            format!("   {id:<6} {title:<24} {value}")
        }));
    }
    if !compact && test.reads.len() > 1 {
        lines.push(Line::styled(" Earlier", bold));
        for read in test.reads.iter().skip(1) {
            let (summary, _) = fields(&read.decoded);
            let text: String = visible(&read.scan.text).chars().take(28).collect();
            lines.push(Line::from(format!(
                " #{:<3} {:<7} {:<14} {text:<28} {summary}",
                read.number,
                entry_word(read.scan.entry),
                how_words(&read.scan),
            )));
        }
    }
    render(frame, area, lines, compact);
}

fn render(frame: &mut Frame, area: Rect, lines: Vec<Line>, compact: bool) {
    let title = if compact {
        " Scanner test "
    } else {
        " Scanner test - nothing scanned here is booked "
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::keys::How;
    use std::time::Duration;

    #[test]
    fn bytes_are_shown_in_hex_with_control_names() {
        assert_eq!(
            byte_tokens("A \u{1d}\ré", true),
            ["41 A", "20 <SP>", "1D <GS>", "0D <CR>", "C3A9 é"]
        );
        assert_eq!(byte_tokens("A\u{1d}é", false), ["41", "1D<GS>", "C3A9"]);
        assert_eq!(
            pack(&byte_tokens("0123456789", false), 8, 1),
            ["30 31 32", "33 34 35", "36 37 38", "39"]
        );
    }

    #[test]
    fn aim_ids_are_found_and_named() {
        assert_eq!(aim_id("]C1010040"), Some("]C1"));
        assert_eq!(aim_id("]d2"), Some("]d2"));
        assert_eq!(aim_id("]"), None);
        assert_eq!(aim_id("]é1"), None);
        assert_eq!(aim_id("WO-1"), None);
        assert_eq!(symbology_name("]C1"), "GS1-128");
        assert_eq!(symbology_name("]C0"), "Code 128");
        assert_eq!(symbology_name("]Q1"), "QR Code");
        assert_eq!(symbology_name("]x9"), "unknown symbology");
    }

    #[test]
    fn reads_are_kept_newest_first_and_decoded() {
        let mut test = ScannerTest::default();
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default();
        for i in 0..25 {
            test.record(
                Scan {
                    text: format!("EMP-{i}"),
                    entry: Entry::Scanned,
                    how: How::Burst,
                    mean_gap: Some(Duration::from_millis(2)),
                    dropped_keys: 0,
                },
                today,
            );
        }
        assert_eq!(test.reads.len(), KEEP);
        assert_eq!(test.reads[0].number, 25);
        assert_eq!(
            test.reads[0].decoded,
            Decoded::Badge {
                code: "EMP-24".into()
            }
        );
    }
}
