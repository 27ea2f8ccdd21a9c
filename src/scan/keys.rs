//! The scan decoder: the layer below the keymap that tells a barcode scanner's keystrokes from a
//! person's. A keyboard-wedge scanner is just another keyboard, so the decision rests on what the
//! keys look like and when they arrive:
//!
//! - **Framing** (when a prefix is configured): the prefix (e.g. STX, which arrives as Ctrl+B) opens a
//!   capture that a terminator closes. Everything in between is scan text, whatever the timing.
//! - **Burst rule** (otherwise): at least `min_length` characters whose mean inter-key gap, up to and
//!   including the terminator, is at most `max_mean_gap`, are scanned; anything slower was keyed.
//! - **Bracketed paste** is a scan: some scanners and terminal-emulation clients inject whole reads.
//!
//! Printable keys cannot be bound in a keymap, so they always go into the scan line and the line is
//! always on screen: typed text echoes as it is typed, and a burst is seen arriving. The decision
//! "scanned or keyed" is only needed when the terminator arrives, and by then every key is known.
//! The keys that *can* be bound are control chords, function keys and the like. A scanner sends
//! control bytes (GS, RS, EOT, ...) that crossterm reports as Ctrl+letter/digit; while a burst or a
//! framed read is being captured they are turned back into their bytes and never reach the keymap.
//! Outside a capture the same keys go to the keymap, so F-keys and arrows keep working while a
//! person types.
//!
//! The decoder is pure: the caller passes the time each event arrived.

use crate::domain::Entry;
use crate::scan::MAX_SCAN_LEN;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::time::{Duration, Instant};

/// The LF of CR LF, or the NUL of telnet's CR NUL, arrives as its own key right after Enter; within
/// this time it is the second half of one terminator, not a key of its own.
pub const PAIR_WINDOW: Duration = Duration::from_millis(250);

/// A framed read that goes quiet this long was cut off (a scanner unplugged mid-read, a lost
/// terminator): the capture ends so the keys that follow work again.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(1);

/// While a burst is captured, a gap longer than this many mean gaps ends the capture for control
/// keys: a person's Ctrl+Q after an unterminated scan is a key again, not data.
const BURST_IDLE_FACTOR: u32 = 10;

/// The longest prefix a scanner can be programmed with here; longer ones are configuration mistakes.
pub const MAX_PREFIX_LEN: usize = 8;

/// A key that ends a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminator {
    /// Enter (CR). CR LF and CR NUL count as one Enter.
    Enter,
    Tab,
}

impl Terminator {
    pub fn parse(name: &str) -> Result<Terminator, String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "enter" | "cr" => Ok(Terminator::Enter),
            "tab" | "ht" => Ok(Terminator::Tab),
            other => Err(format!(
                "terminator {other:?} is not known; use \"enter\" or \"tab\""
            )),
        }
    }

    fn matches(self, key: &KeyEvent) -> bool {
        let plain = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match self {
            Terminator::Enter => key.code == KeyCode::Enter && plain,
            Terminator::Tab => key.code == KeyCode::Tab && plain,
        }
    }
}

/// How scans are told from typing; from the station config's `[scanner]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSettings {
    /// Characters the scanner sends before each read; empty when the scanner is not framed.
    pub prefix: Vec<char>,
    pub min_length: usize,
    pub max_mean_gap: Duration,
    pub terminators: Vec<Terminator>,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            prefix: Vec::new(),
            min_length: 4,
            max_mean_gap: Duration::from_millis(30),
            terminators: vec![Terminator::Enter, Terminator::Tab],
        }
    }
}

/// ASCII control characters by name, for prefixes in the config and for showing bytes.
const CONTROL_NAMES: [&str; 32] = [
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "HT", "LF", "VT", "FF", "CR",
    "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB", "ESC",
    "FS", "GS", "RS", "US",
];

/// The ASCII name of a control character (`GS` for 0x1D, `DEL` for 0x7F), if it is one.
pub fn control_name(c: char) -> Option<&'static str> {
    match u32::from(c) {
        n @ 0..=31 => CONTROL_NAMES.get(n as usize).copied(),
        0x7f => Some("DEL"),
        _ => None,
    }
}

fn control_by_name(name: &str) -> Option<char> {
    if name.eq_ignore_ascii_case("DEL") {
        return Some('\u{7f}');
    }
    CONTROL_NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name))
        .and_then(|i| u8::try_from(i).ok())
        .map(char::from)
}

/// The text with control characters written as `<GS>`, `<CR>`, ..., so it can be shown on a
/// terminal (a raw control byte would move the cursor or worse).
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match control_name(c) {
            Some(name) => {
                out.push('<');
                out.push_str(name);
                out.push('>');
            }
            None if c.is_control() => out.push_str(&format!("<U+{:04X}>", u32::from(c))),
            None => out.push(c),
        }
    }
    out
}

/// Parses a configured prefix: a control name alone (`STX`), or text in which `<STX>` and `\x02`
/// stand for control bytes and anything else for itself.
pub fn parse_prefix(text: &str) -> Result<Vec<char>, String> {
    let whole = text.trim();
    if let Some(c) = control_by_name(whole) {
        return Ok(vec![c]);
    }
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix('<')
            && let Some((name, tail)) = after.split_once('>')
            && let Some(control) = control_by_name(name)
        {
            out.push(control);
            rest = tail;
            continue;
        }
        if let Some(after) = rest.strip_prefix("\\x") {
            let byte = after
                .get(..2)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .filter(u8::is_ascii)
                .ok_or_else(|| {
                    format!("prefix {text:?}: \\x must be followed by two hex digits below 80")
                })?;
            out.push(char::from(byte));
            rest = &after[2..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if out.is_empty() {
        return Err("prefix is empty; leave it out when the scanner sends no prefix".into());
    }
    if out.len() > MAX_PREFIX_LEN {
        return Err(format!(
            "prefix {text:?} is longer than {MAX_PREFIX_LEN} characters"
        ));
    }
    if out.iter().any(|c| matches!(c, '\r' | '\n' | '\t' | '\0')) {
        return Err(format!(
            "prefix {text:?} contains a terminator (CR, LF, Tab or NUL); a scan could never start"
        ));
    }
    Ok(out)
}

/// How a completed read was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Fast keys ended by a terminator.
    Burst,
    /// Between the configured prefix and a terminator.
    Framed,
    /// A bracketed paste.
    Paste,
    /// Typed by a person (too slow, too short, edited, or unframed where framing is configured).
    Typed,
}

impl How {
    pub fn words(self) -> &'static str {
        match self {
            How::Burst => "burst",
            How::Framed => "framed",
            How::Paste => "paste",
            How::Typed => "typed",
        }
    }
}

/// A completed read of the scan line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub text: String,
    pub entry: Entry,
    pub how: How,
    /// Mean time between keys, the terminator included; none for a paste or a lone key.
    pub mean_gap: Option<Duration>,
    /// Keys inside the read that stand for no byte (an arrow, a function key): left out of the text.
    pub dropped_keys: usize,
}

/// What one terminal event means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Not part of any read: for the keymap.
    Key(KeyEvent),
    /// A read is complete.
    Scan(Scan),
    /// Taken into the scan line or a capture; the line on screen changed.
    Absorbed,
    /// Nothing happened (a key release or repeat, a mouse event, the LF of CR LF).
    Ignored,
}

/// Keys gathered so far, with their timing.
#[derive(Debug, Clone, Default)]
struct Buffer {
    text: String,
    /// Characters in `text` (at most one past the longest scan).
    stored: usize,
    /// Characters that arrived, including those beyond the cap.
    chars: usize,
    /// Keys that arrived, including those that stand for no byte.
    keys: usize,
    dropped: usize,
    first: Option<Instant>,
    last: Option<Instant>,
    /// Changed by hand (Backspace) or holding a cut-off read: whatever its timing, it was not scanned.
    edited: bool,
}

impl Buffer {
    fn is_empty(&self) -> bool {
        self.keys == 0 && self.text.is_empty()
    }

    fn touch(&mut self, at: Instant) {
        self.keys = self.keys.saturating_add(1);
        self.first.get_or_insert(at);
        self.last = Some(at);
    }

    /// One past the longest scan is kept, so an overlong read is refused as too long rather than
    /// growing without bound (a stuck key, a runaway scanner).
    fn push(&mut self, c: char, at: Instant) {
        self.touch(at);
        self.chars = self.chars.saturating_add(1);
        if self.stored <= MAX_SCAN_LEN {
            self.text.push(c);
            self.stored += 1;
        }
    }

    /// Two characters from one key (ESC + char for Alt+char) count as one key.
    fn push_bytes(&mut self, bytes: Bytes, at: Instant) {
        if let Some(esc) = bytes.0 {
            self.push(esc, at);
            self.keys = self.keys.saturating_sub(1);
        }
        self.push(bytes.1, at);
    }

    fn drop_key(&mut self, at: Instant) {
        self.touch(at);
        self.dropped = self.dropped.saturating_add(1);
    }

    fn pop(&mut self) -> Option<char> {
        let c = self.text.pop()?;
        self.stored = self.stored.saturating_sub(1);
        self.chars = self.chars.saturating_sub(1);
        self.keys = self.keys.saturating_sub(1);
        if self.text.is_empty() {
            *self = Buffer::default();
        }
        Some(c)
    }

    /// Mean gap between keys up to a terminator at `end` (each key and the terminator add a gap).
    fn mean_gap(&self, end: Instant) -> Option<Duration> {
        let first = self.first?;
        let gaps = u32::try_from(self.keys).ok().filter(|n| *n > 0)?;
        Some(end.saturating_duration_since(first) / gaps)
    }

    /// Whether the keys so far, and one more at `at`, are still as fast as a scanner.
    fn fast(&self, at: Instant, max_mean_gap: Duration) -> bool {
        let (Some(first), Some(last)) = (self.first, self.last) else {
            return false;
        };
        let Ok(gaps) = u32::try_from(self.keys) else {
            return true;
        };
        at.saturating_duration_since(last) <= max_mean_gap.saturating_mul(BURST_IDLE_FACTOR)
            && at.saturating_duration_since(first) <= max_mean_gap.saturating_mul(gaps)
    }
}

/// The byte(s) a key stands for inside a read: an optional ESC (Alt+key) and a character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bytes(Option<char>, char);

/// The character a key types into the scan line: a printable character without ctrl or alt.
fn printable(key: &KeyEvent) -> Option<char> {
    match key.code {
        KeyCode::Char(c)
            if !c.is_control()
                && !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            Some(c)
        }
        _ => None,
    }
}

/// The control byte a ctrl chord stands for. crossterm reports GS as Ctrl+5 on Unix (bytes 1C-1F
/// arrive as Ctrl+4..7) and as Ctrl+] on Windows and with the kitty protocol; both are accepted.
fn ctrl_byte(c: char) -> Option<char> {
    let byte = match c {
        'a'..='z' => c as u8 - b'a' + 1,
        'A'..='Z' => c as u8 - b'A' + 1,
        ' ' | '@' | '2' => 0x00,
        '3' | '[' => 0x1b,
        '4' | '\\' => 0x1c,
        '5' | ']' => 0x1d,
        '6' | '^' => 0x1e,
        '7' | '_' | '/' => 0x1f,
        '8' | '?' => 0x7f,
        _ => return None,
    };
    Some(char::from(byte))
}

/// The byte(s) a non-printable key stands for inside a read, if any.
fn key_bytes(key: &KeyEvent) -> Option<Bytes> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let esc = key
        .modifiers
        .contains(KeyModifiers::ALT)
        .then_some('\u{1b}');
    let c = match key.code {
        KeyCode::Char(c) if c.is_control() => c,
        KeyCode::Char(c) if ctrl => ctrl_byte(c)?,
        KeyCode::Char(c) => c,
        KeyCode::Enter => '\r',
        KeyCode::Tab => '\t',
        KeyCode::Backspace => '\u{7f}',
        KeyCode::Esc => '\u{1b}',
        KeyCode::Null => '\0',
        _ => return None,
    };
    Some(Bytes(esc, c))
}

/// The LF of CR LF or the NUL of CR NUL, in any of the spellings terminals use.
fn is_pair_half(key: &KeyEvent) -> bool {
    matches!(
        key_bytes(key),
        Some(Bytes(None, '\n')) | Some(Bytes(None, '\0'))
    )
}

/// Turns key presses (with their arrival times) into keys for the keymap or completed reads.
#[derive(Debug, Clone)]
pub struct ScanDecoder {
    settings: ScanSettings,
    /// The scan line: what is being typed or scanned, shown on screen.
    line: Buffer,
    /// A framed read between the prefix and its terminator.
    capture: Option<Buffer>,
    /// How much of the prefix has arrived, and how many of those characters were echoed on the line.
    prefix_seen: usize,
    prefix_echoed: usize,
    /// When the last Enter arrived, to fold the LF of CR LF (or NUL of CR NUL) into it.
    last_enter: Option<Instant>,
}

impl Default for ScanDecoder {
    fn default() -> Self {
        ScanDecoder::new(ScanSettings::default())
    }
}

impl ScanDecoder {
    pub fn new(settings: ScanSettings) -> ScanDecoder {
        ScanDecoder {
            settings,
            line: Buffer::default(),
            capture: None,
            prefix_seen: 0,
            prefix_echoed: 0,
            last_enter: None,
        }
    }

    pub fn settings(&self) -> &ScanSettings {
        &self.settings
    }

    /// The scan line's text (control bytes raw).
    pub fn line(&self) -> &str {
        &self.line.text
    }

    /// What the scan line shows: the line, or the framed read being captured, controls by name.
    pub fn display(&self) -> String {
        match &self.capture {
            Some(capture) => visible(&capture.text),
            None => visible(&self.line.text),
        }
    }

    /// Whether a framed read is being captured.
    pub fn capturing(&self) -> bool {
        self.capture.is_some()
    }

    /// Esc: the line is emptied.
    pub fn clear(&mut self) {
        self.line = Buffer::default();
        self.prefix_seen = 0;
        self.prefix_echoed = 0;
    }

    /// Backspace: a line corrected by hand was keyed, however fast.
    pub fn delete_last(&mut self) {
        if self.line.pop().is_some() {
            self.line.edited = true;
        }
        self.prefix_seen = 0;
        self.prefix_echoed = 0;
    }

    /// Submits the line from a key binding (a key that is not a terminator). The same rule decides
    /// whether it was scanned; `None` when the line is empty.
    pub fn submit(&mut self, at: Instant) -> Option<Scan> {
        if self.line.is_empty() {
            return None;
        }
        Some(self.finish_line(at))
    }

    /// One terminal event, arrived at `at`.
    pub fn feed(&mut self, event: &Event, at: Instant) -> Output {
        match event {
            Event::Key(key) => self.feed_key(key, at),
            Event::Paste(text) => self.paste(text),
            _ => Output::Ignored,
        }
    }

    fn terminator(&self, key: &KeyEvent) -> bool {
        self.settings.terminators.iter().any(|t| t.matches(key))
    }

    fn feed_key(&mut self, key: &KeyEvent, at: Instant) -> Output {
        // Terminals with the kitty protocol (and Windows) report releases and repeats too; counting
        // them would double every character of a scan.
        if key.kind != KeyEventKind::Press {
            return Output::Ignored;
        }
        let after_enter = self
            .last_enter
            .take()
            .is_some_and(|enter| at.saturating_duration_since(enter) <= PAIR_WINDOW);
        if after_enter && is_pair_half(key) {
            return Output::Ignored;
        }
        let terminator = self.terminator(key);

        if let Some(output) = self.feed_capture(key, terminator, at) {
            return output;
        }
        if let Some(output) = self.feed_prefix(key, at) {
            return output;
        }
        if let Some(c) = printable(key) {
            self.line.push(c, at);
            return Output::Absorbed;
        }
        if terminator {
            if key.code == KeyCode::Enter {
                self.last_enter = Some(at);
            }
            if self.line.is_empty() {
                return Output::Key(*key);
            }
            return Output::Scan(self.finish_line(at));
        }
        // A burst is arriving: whatever comes now is the scanner's, never a binding.
        if !self.line.edited
            && self.line.keys >= 2
            && self.line.fast(at, self.settings.max_mean_gap)
        {
            match key_bytes(key) {
                Some(bytes) => self.line.push_bytes(bytes, at),
                None => self.line.drop_key(at),
            }
            return Output::Absorbed;
        }
        if key.code == KeyCode::Enter {
            self.last_enter = Some(at);
        }
        Output::Key(*key)
    }

    /// A key while a framed read is open; `None` when no read is open (or it just timed out).
    fn feed_capture(&mut self, key: &KeyEvent, terminator: bool, at: Instant) -> Option<Output> {
        let capture = self.capture.as_mut()?;
        let quiet = capture
            .last
            .is_some_and(|last| at.saturating_duration_since(last) > FRAME_TIMEOUT);
        if quiet {
            // The read was cut off. Its text goes on the line, where it can be seen and cleared;
            // it counts as keyed if submitted, since nobody knows what is missing.
            let cut = self.capture.take().unwrap_or_default();
            for c in cut.text.chars() {
                self.line.push(c, at);
            }
            self.line.edited |= !cut.text.is_empty();
            return None;
        }
        if terminator {
            if key.code == KeyCode::Enter {
                self.last_enter = Some(at);
            }
            let capture = self.capture.take().unwrap_or_default();
            return Some(Output::Scan(Scan {
                mean_gap: capture.mean_gap(at),
                text: capture.text,
                entry: Entry::Scanned,
                how: How::Framed,
                dropped_keys: capture.dropped,
            }));
        }
        match printable(key).map(|c| Bytes(None, c)).or(key_bytes(key)) {
            Some(bytes) => capture.push_bytes(bytes, at),
            None => capture.drop_key(at),
        }
        Some(Output::Absorbed)
    }

    /// Matches the configured prefix; `Some` when the key was taken as part of it.
    fn feed_prefix(&mut self, key: &KeyEvent, at: Instant) -> Option<Output> {
        if self.settings.prefix.is_empty() {
            return None;
        }
        let symbol = match printable(key) {
            Some(c) => Some(c),
            None => match key_bytes(key) {
                Some(Bytes(None, c)) => Some(c),
                _ => None,
            },
        };
        let expected = |seen: usize| self.settings.prefix.get(seen).copied();
        if symbol.is_none() || symbol != expected(self.prefix_seen) {
            self.prefix_seen = 0;
            self.prefix_echoed = 0;
        }
        let c = symbol.filter(|c| Some(*c) == expected(self.prefix_seen))?;
        self.prefix_seen += 1;
        if printable(key).is_some() {
            // Until the whole prefix is there, it may just be typing: show it.
            self.line.push(c, at);
            self.prefix_echoed += 1;
        }
        if self.prefix_seen == self.settings.prefix.len() {
            for _ in 0..self.prefix_echoed {
                self.line.pop();
            }
            self.prefix_seen = 0;
            self.prefix_echoed = 0;
            self.capture = Some(Buffer {
                last: Some(at),
                ..Buffer::default()
            });
        }
        Some(Output::Absorbed)
    }

    fn finish_line(&mut self, at: Instant) -> Scan {
        let line = std::mem::take(&mut self.line);
        self.prefix_seen = 0;
        self.prefix_echoed = 0;
        let mean_gap = line.mean_gap(at);
        // Where scanners are framed, an unframed read is a person's (or a scanner not set up).
        let burst = self.settings.prefix.is_empty()
            && !line.edited
            && line.chars >= self.settings.min_length
            && mean_gap.is_some_and(|gap| gap <= self.settings.max_mean_gap);
        let (entry, how) = if burst {
            (Entry::Scanned, How::Burst)
        } else {
            (Entry::Keyed, How::Typed)
        };
        Scan {
            text: line.text,
            entry,
            how,
            mean_gap,
            dropped_keys: line.dropped,
        }
    }

    fn paste(&mut self, text: &str) -> Output {
        let mut text = text;
        let prefix: String = self.settings.prefix.iter().collect();
        if !prefix.is_empty() {
            text = text.strip_prefix(prefix.as_str()).unwrap_or(text);
        }
        let text = text.trim_end_matches(['\r', '\n', '\t', '\0']);
        if text.is_empty() {
            return Output::Ignored;
        }
        Output::Scan(Scan {
            text: text.chars().take(MAX_SCAN_LEN + 1).collect(),
            entry: Entry::Scanned,
            how: How::Paste,
            mean_gap: None,
            dropped_keys: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventState;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Feeds events at chosen times (milliseconds after a fixed start) and collects the outputs.
    struct Rig {
        decoder: ScanDecoder,
        start: Instant,
        now: u64,
    }

    impl Rig {
        fn new(settings: ScanSettings) -> Rig {
            Rig {
                decoder: ScanDecoder::new(settings),
                start: Instant::now(),
                now: 0,
            }
        }

        fn at(&self) -> Instant {
            self.start + Duration::from_millis(self.now)
        }

        fn event(&mut self, after_ms: u64, event: Event) -> Output {
            self.now += after_ms;
            let at = self.at();
            self.decoder.feed(&event, at)
        }

        fn key(&mut self, after_ms: u64, code: KeyCode, modifiers: KeyModifiers) -> Output {
            self.event(after_ms, Event::Key(KeyEvent::new(code, modifiers)))
        }

        fn ctrl(&mut self, after_ms: u64, c: char) -> Output {
            self.key(after_ms, KeyCode::Char(c), KeyModifiers::CONTROL)
        }

        fn enter(&mut self, after_ms: u64) -> Output {
            self.key(after_ms, KeyCode::Enter, KeyModifiers::NONE)
        }

        /// Types `text` with `gap_ms` between keys; every character must be absorbed.
        fn chars(&mut self, gap_ms: u64, text: &str) {
            for c in text.chars() {
                let out = self.key(gap_ms, KeyCode::Char(c), KeyModifiers::NONE);
                assert_eq!(out, Output::Absorbed, "{c:?}");
            }
        }
    }

    fn done(output: Output) -> Scan {
        match output {
            Output::Scan(scan) => scan,
            other => panic!("expected a completed read, got {other:?}"),
        }
    }

    fn default_rig() -> Rig {
        Rig::new(ScanSettings::default())
    }

    fn framed(prefix: &str) -> Rig {
        Rig::new(ScanSettings {
            prefix: parse_prefix(prefix).expect("prefix"),
            ..ScanSettings::default()
        })
    }

    #[test]
    fn a_fast_burst_ended_by_enter_is_scanned() {
        let mut rig = default_rig();
        rig.chars(5, "EMP-1001");
        assert_eq!(
            rig.decoder.line(),
            "EMP-1001",
            "the burst shows as it arrives"
        );
        let scan = done(rig.key(5, KeyCode::Enter, KeyModifiers::NONE));
        assert_eq!(scan.text, "EMP-1001");
        assert_eq!((scan.entry, scan.how), (Entry::Scanned, How::Burst));
        assert_eq!(scan.mean_gap, Some(Duration::from_millis(5)));
        assert_eq!(rig.decoder.line(), "");
        // A Tab suffix works the same.
        rig.chars(200, "W");
        rig.chars(8, "O-24001");
        let scan = done(rig.key(8, KeyCode::Tab, KeyModifiers::NONE));
        assert_eq!((scan.text.as_str(), scan.how), ("WO-24001", How::Burst));
    }

    #[test]
    fn slow_typing_is_keyed_and_echoes_on_the_line() {
        let mut rig = default_rig();
        rig.chars(150, "WO-2");
        assert_eq!(rig.decoder.display(), "WO-2");
        rig.chars(90, "4001");
        let scan = done(rig.enter(300));
        assert_eq!(scan.text, "WO-24001");
        assert_eq!((scan.entry, scan.how), (Entry::Keyed, How::Typed));
        // From the first key to Enter, over the eight gaps: (3 x 150 + 4 x 90 + 300) / 8.
        assert_eq!(scan.mean_gap, Some(Duration::from_micros(138_750)));
    }

    #[test]
    fn short_or_edited_or_slow_at_the_end_is_keyed() {
        let mut rig = default_rig();
        rig.chars(1, "XYZ");
        let scan = done(rig.enter(1));
        assert_eq!((scan.text.as_str(), scan.entry), ("XYZ", Entry::Keyed));

        // A correction by hand makes it keyed, however fast.
        rig.chars(1, "EMP-10011");
        assert_eq!(
            rig.key(300, KeyCode::Backspace, KeyModifiers::NONE),
            Output::Key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE)),
            "a lone Backspace after a pause is the keymap's",
        );
        rig.decoder.delete_last();
        let scan = done(rig.enter(200));
        assert_eq!((scan.text.as_str(), scan.entry), ("EMP-1001", Entry::Keyed));

        // The mean includes the terminator: fast keys and a slow Enter average above 30 ms.
        rig.chars(500, "A");
        rig.chars(5, "BCD");
        let scan = done(rig.enter(200));
        assert_eq!(scan.entry, Entry::Keyed, "{scan:?}");
    }

    #[test]
    fn enter_on_an_empty_line_and_other_keys_go_to_the_keymap() {
        let mut rig = default_rig();
        for code in [
            KeyCode::Enter,
            KeyCode::Tab,
            KeyCode::Down,
            KeyCode::F(5),
            KeyCode::Esc,
        ] {
            assert_eq!(
                rig.key(500, code, KeyModifiers::NONE),
                Output::Key(KeyEvent::new(code, KeyModifiers::NONE))
            );
        }
        assert_eq!(
            rig.ctrl(500, 'q'),
            Output::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL))
        );
        assert_eq!(rig.decoder.submit(rig.at()), None, "nothing to submit");
    }

    #[test]
    fn a_function_key_while_typing_is_a_binding_and_the_line_stays() {
        let mut rig = default_rig();
        rig.chars(120, "D-1");
        assert_eq!(
            rig.key(400, KeyCode::F(5), KeyModifiers::NONE),
            Output::Key(KeyEvent::new(KeyCode::F(5), KeyModifiers::NONE))
        );
        assert_eq!(
            rig.key(300, KeyCode::Up, KeyModifiers::NONE),
            Output::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE))
        );
        rig.chars(130, "01");
        let scan = done(rig.enter(200));
        assert_eq!((scan.text.as_str(), scan.entry), ("D-101", Entry::Keyed));
        // Submitted by a key binding instead of a terminator: same rule.
        rig.chars(3, "EMP-1001");
        rig.now += 3;
        let scan = rig.decoder.submit(rig.at()).expect("a line");
        assert_eq!(scan.how, How::Burst);
    }

    #[test]
    fn control_bytes_inside_a_burst_land_in_the_text_never_in_the_keymap() {
        // GS1-128: GS as Ctrl+5 (Unix), Ctrl+] (Windows, kitty) or a raw byte.
        for gs in [
            KeyEvent::new(KeyCode::Char('5'), KeyModifiers::CONTROL),
            KeyEvent::new(KeyCode::Char(']'), KeyModifiers::CONTROL),
            KeyEvent::new(KeyCode::Char('\u{1d}'), KeyModifiers::NONE),
        ] {
            let mut rig = default_rig();
            rig.chars(4, "]C1010040123450001210C24-1107");
            assert_eq!(rig.event(4, Event::Key(gs)), Output::Absorbed, "{gs:?}");
            rig.chars(4, "30400");
            let scan = done(rig.enter(4));
            assert_eq!(scan.text, "]C1010040123450001210C24-1107\u{1d}30400");
            assert_eq!(scan.entry, Entry::Scanned);
        }
        // ISO 15434: RS as Ctrl+6 and Ctrl+^, GS, EOT as Ctrl+D.
        let mut rig = default_rig();
        rig.chars(4, "[)>");
        assert_eq!(rig.ctrl(4, '6'), Output::Absorbed);
        rig.chars(4, "06");
        rig.ctrl(4, '5');
        rig.chars(4, "P123");
        rig.ctrl(4, ']');
        rig.chars(4, "Q10");
        assert_eq!(rig.ctrl(4, '^'), Output::Absorbed);
        assert_eq!(
            rig.ctrl(4, 'd'),
            Output::Absorbed,
            "EOT is data, not Ctrl+D"
        );
        assert_eq!(rig.decoder.display(), "[)><RS>06<GS>P123<GS>Q10<RS><EOT>");
        let scan = done(rig.enter(4));
        assert_eq!(scan.text, "[)>\u{1e}06\u{1d}P123\u{1d}Q10\u{1e}\u{4}");
        // Ctrl+J and Ctrl+Q mid-burst are bytes too; an F-key is swallowed and counted.
        let mut rig = default_rig();
        rig.chars(3, "ABCD");
        assert_eq!(rig.ctrl(3, 'j'), Output::Absorbed);
        assert_eq!(rig.ctrl(3, 'q'), Output::Absorbed);
        assert_eq!(
            rig.key(3, KeyCode::F(10), KeyModifiers::NONE),
            Output::Absorbed
        );
        assert_eq!(
            rig.key(3, KeyCode::Char('x'), KeyModifiers::ALT),
            Output::Absorbed
        );
        rig.chars(3, "E");
        let scan = done(rig.enter(3));
        assert_eq!(scan.text, "ABCD\n\u{11}\u{1b}xE");
        assert_eq!(scan.dropped_keys, 1);
    }

    #[test]
    fn control_chords_outside_a_burst_are_bindings() {
        let mut rig = default_rig();
        // Nothing typed, typed slowly, or long after a burst: a person's keys.
        assert!(matches!(rig.ctrl(1000, 'd'), Output::Key(_)));
        rig.chars(200, "AB");
        assert!(matches!(rig.ctrl(200, ']'), Output::Key(_)));
        rig.decoder.clear();
        rig.chars(2, "ABCDEFGH");
        assert!(
            matches!(rig.ctrl(2000, 'q'), Output::Key(_)),
            "an unterminated scan does not hold Ctrl+Q forever"
        );
        assert_eq!(rig.decoder.line(), "ABCDEFGH");
    }

    #[test]
    fn cr_lf_and_cr_nul_are_one_terminator() {
        for second in [
            KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL),
            KeyEvent::new(KeyCode::Char('\n'), KeyModifiers::NONE),
            KeyEvent::new(KeyCode::Char(' '), KeyModifiers::CONTROL),
            KeyEvent::new(KeyCode::Char('@'), KeyModifiers::CONTROL),
            KeyEvent::new(KeyCode::Null, KeyModifiers::NONE),
        ] {
            let mut rig = default_rig();
            rig.chars(2, "EMP-1001");
            let scan = done(rig.enter(2));
            assert_eq!(scan.text, "EMP-1001");
            assert_eq!(
                rig.event(0, Event::Key(second)),
                Output::Ignored,
                "{second:?}"
            );
            // The next scan starts clean.
            rig.chars(300, "W");
            rig.chars(2, "O-1");
            assert_eq!(rig.decoder.line(), "WO-1");
        }
        // A person's Enter through telnet (CR NUL) on an empty line: Enter, once.
        let mut rig = default_rig();
        assert!(matches!(rig.enter(500), Output::Key(_)));
        assert_eq!(rig.ctrl(0, ' '), Output::Ignored);
        // Much later, Ctrl+J is a key of its own again.
        rig.enter(500);
        assert!(matches!(rig.ctrl(1000, 'j'), Output::Key(_)));
    }

    #[test]
    fn framing_with_stx_takes_everything_up_to_the_terminator() {
        // STX arrives as Ctrl+B, or as the raw byte from some terminals.
        for stx in [
            KeyEvent::new(KeyCode::Char('b'), KeyModifiers::CONTROL),
            KeyEvent::new(KeyCode::Char('\u{2}'), KeyModifiers::NONE),
        ] {
            let mut rig = framed("STX");
            assert_eq!(rig.event(1000, Event::Key(stx)), Output::Absorbed);
            assert!(rig.decoder.capturing());
            // Slow (a scanner with a long intercharacter delay), still a scan: the frame says so.
            rig.chars(80, "]C1010040123450001210C24-1107");
            assert_eq!(rig.ctrl(80, '5'), Output::Absorbed);
            assert_eq!(
                rig.key(80, KeyCode::F(10), KeyModifiers::NONE),
                Output::Absorbed
            );
            rig.chars(80, "30400");
            assert_eq!(
                rig.decoder.display(),
                "]C1010040123450001210C24-1107<GS>30400"
            );
            let scan = done(rig.enter(80));
            assert_eq!(scan.text, "]C1010040123450001210C24-1107\u{1d}30400");
            assert_eq!((scan.entry, scan.how), (Entry::Scanned, How::Framed));
            assert_eq!(scan.dropped_keys, 1);
            // CR LF after a framed read.
            assert_eq!(rig.ctrl(1, 'j'), Output::Ignored);
            assert!(!rig.decoder.capturing());
        }
    }

    #[test]
    fn with_framing_configured_an_unframed_burst_is_keyed() {
        let mut rig = framed("\\x02");
        rig.chars(2, "EMP-1001");
        let scan = done(rig.enter(2));
        assert_eq!((scan.entry, scan.how), (Entry::Keyed, How::Typed));
        // Its control chords are still held back from the keymap while the burst lasts.
        rig.chars(2, "ABC");
        assert_eq!(rig.ctrl(2, 'd'), Output::Absorbed);
    }

    #[test]
    fn a_printable_prefix_is_shown_until_complete_then_removed() {
        let mut rig = framed("##");
        rig.chars(300, "A#");
        assert_eq!(rig.decoder.line(), "A#");
        rig.chars(5, "#");
        assert!(rig.decoder.capturing());
        assert_eq!(
            rig.decoder.line(),
            "A",
            "the prefix is not part of the typed line"
        );
        rig.chars(5, "WO-1");
        let scan = done(rig.key(5, KeyCode::Tab, KeyModifiers::NONE));
        assert_eq!((scan.text.as_str(), scan.how), ("WO-1", How::Framed));
        assert_eq!(rig.decoder.line(), "A");
    }

    #[test]
    fn a_cut_off_frame_ends_and_its_text_can_be_seen() {
        let mut rig = framed("STX");
        rig.ctrl(100, 'b');
        rig.chars(5, "WO-24");
        // Nothing for two seconds: the next key is a key again.
        assert!(matches!(
            rig.key(2000, KeyCode::F(10), KeyModifiers::NONE),
            Output::Key(_)
        ));
        assert!(!rig.decoder.capturing());
        assert_eq!(rig.decoder.line(), "WO-24");
        rig.chars(5, "001");
        let scan = done(rig.enter(5));
        assert_eq!((scan.text.as_str(), scan.entry), ("WO-24001", Entry::Keyed));
    }

    #[test]
    fn a_paste_is_a_scan() {
        let mut rig = default_rig();
        rig.chars(300, "ab");
        let scan = done(rig.event(
            10,
            Event::Paste("]C1010040123450001210C24-1107\u{1d}30400\r\n".into()),
        ));
        assert_eq!(scan.text, "]C1010040123450001210C24-1107\u{1d}30400");
        assert_eq!(
            (scan.entry, scan.how, scan.mean_gap),
            (Entry::Scanned, How::Paste, None)
        );
        assert_eq!(rig.decoder.line(), "ab", "what was typed stays");
        assert_eq!(rig.event(10, Event::Paste("\r\n".into())), Output::Ignored);
        let mut rig = framed("STX");
        let scan = done(rig.event(10, Event::Paste("\u{2}EMP-1001\r".into())));
        assert_eq!(scan.text, "EMP-1001");
    }

    #[test]
    fn releases_and_repeats_are_ignored() {
        let mut rig = default_rig();
        for c in "EMP-1001".chars() {
            for kind in [
                KeyEventKind::Press,
                KeyEventKind::Repeat,
                KeyEventKind::Release,
            ] {
                let event = KeyEvent::new_with_kind(KeyCode::Char(c), KeyModifiers::NONE, kind);
                let out = rig.event(1, Event::Key(event));
                let want = if kind == KeyEventKind::Press {
                    Output::Absorbed
                } else {
                    Output::Ignored
                };
                assert_eq!(out, want);
            }
        }
        let release = KeyEvent {
            code: KeyCode::Enter,
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Release,
            state: KeyEventState::NONE,
        };
        assert_eq!(rig.event(1, Event::Key(release)), Output::Ignored);
        let scan = done(rig.enter(1));
        assert_eq!(scan.text, "EMP-1001", "not doubled");
        assert_eq!(scan.entry, Entry::Scanned);
    }

    #[test]
    fn a_never_ending_burst_is_capped() {
        let mut rig = default_rig();
        for i in 0..10_000u32 {
            let c = char::from(b'0' + (i % 10) as u8);
            assert_eq!(
                rig.key(1, KeyCode::Char(c), KeyModifiers::NONE),
                Output::Absorbed
            );
            if i % 100 == 50 {
                assert_eq!(rig.ctrl(1, 'q'), Output::Absorbed, "no binding mid-burst");
            }
        }
        assert_eq!(rig.decoder.line().chars().count(), MAX_SCAN_LEN + 1);
        let scan = done(rig.enter(1));
        // One past the limit, so the classifier says "too long" instead of cutting a label short.
        assert_eq!(scan.text.chars().count(), MAX_SCAN_LEN + 1);
        assert_eq!(scan.entry, Entry::Scanned);
        let mut rig = default_rig();
        let long = "9".repeat(5000);
        let scan = done(rig.event(0, Event::Paste(long)));
        assert_eq!(scan.text.chars().count(), MAX_SCAN_LEN + 1);
    }

    #[test]
    fn prefixes_and_terminators_parse_from_the_config() {
        assert_eq!(parse_prefix("STX"), Ok(vec!['\u{2}']));
        assert_eq!(parse_prefix("stx"), Ok(vec!['\u{2}']));
        assert_eq!(parse_prefix("<STX>"), Ok(vec!['\u{2}']));
        assert_eq!(parse_prefix("\\x02"), Ok(vec!['\u{2}']));
        assert_eq!(parse_prefix("\u{2}"), Ok(vec!['\u{2}']));
        assert_eq!(parse_prefix("<FS>A"), Ok(vec!['\u{1c}', 'A']));
        assert_eq!(parse_prefix("<x>"), Ok(vec!['<', 'x', '>']));
        assert!(parse_prefix("").is_err());
        assert!(parse_prefix("\\xZZ").is_err());
        assert!(parse_prefix("<CR>").is_err());
        assert!(parse_prefix("123456789").is_err());
        assert_eq!(Terminator::parse("Enter"), Ok(Terminator::Enter));
        assert_eq!(Terminator::parse("tab"), Ok(Terminator::Tab));
        assert!(Terminator::parse("space").is_err());
    }

    #[test]
    fn control_bytes_have_names() {
        assert_eq!(control_name('\u{1d}'), Some("GS"));
        assert_eq!(control_name('\r'), Some("CR"));
        assert_eq!(control_name('\u{7f}'), Some("DEL"));
        assert_eq!(control_name('A'), None);
        assert_eq!(visible("A\u{1d}B\u{85}"), "A<GS>B<U+0085>");
    }

    fn random_event(rng: &mut StdRng) -> Event {
        const CHARS: &[char] = &[
            'a', 'Z', '0', '9', ']', '[', ')', '>', '-', '@', ' ', '#', 'é', '\u{1d}', '\u{2}',
            '\n', '\0', '\u{7f}', '\u{85}',
        ];
        let kind = match rng.random_range(0..10) {
            0 => KeyEventKind::Release,
            1 => KeyEventKind::Repeat,
            _ => KeyEventKind::Press,
        };
        let modifiers = KeyModifiers::from_bits_truncate(rng.random_range(0..16));
        let code = match rng.random_range(0..14) {
            0 => KeyCode::Enter,
            1 => KeyCode::Tab,
            2 => KeyCode::Backspace,
            3 => KeyCode::Esc,
            4 => KeyCode::F(rng.random_range(1..13)),
            5 => KeyCode::Down,
            6 => KeyCode::Null,
            7 => KeyCode::Char(char::from(rng.random_range(0u8..128))),
            _ => KeyCode::Char(CHARS[rng.random_range(0..CHARS.len())]),
        };
        match rng.random_range(0..40) {
            0 => {
                let len = rng.random_range(0..400);
                Event::Paste(
                    (0..len)
                        .map(|_| CHARS[rng.random_range(0..CHARS.len())])
                        .collect(),
                )
            }
            1 => Event::FocusLost,
            _ => Event::Key(KeyEvent::new_with_kind(code, modifiers, kind)),
        }
    }

    #[test]
    fn never_panics_on_arbitrary_event_sequences() {
        let mut rng = StdRng::seed_from_u64(0x5ca7);
        for round in 0..300 {
            let settings = ScanSettings {
                prefix: match round % 3 {
                    0 => Vec::new(),
                    1 => vec!['\u{2}'],
                    _ => vec!['#', '\u{1d}'],
                },
                min_length: rng.random_range(1..10),
                max_mean_gap: Duration::from_millis(rng.random_range(1..100)),
                terminators: match round % 4 {
                    0 => vec![Terminator::Enter],
                    1 => vec![Terminator::Tab],
                    _ => vec![Terminator::Enter, Terminator::Tab],
                },
            };
            let mut decoder = ScanDecoder::new(settings);
            let start = Instant::now();
            let mut ms: u64 = 10_000;
            for _ in 0..2000 {
                // Mostly forward, sometimes far ahead, sometimes backwards (clocks are not perfect).
                ms = match rng.random_range(0..20) {
                    0 => ms.saturating_sub(rng.random_range(0..5000)),
                    1 => ms + rng.random_range(0..5000),
                    _ => ms + rng.random_range(0..40),
                };
                let at = start + Duration::from_millis(ms);
                let event = random_event(&mut rng);
                match decoder.feed(&event, at) {
                    Output::Scan(scan) => {
                        assert!(!scan.text.is_empty() || scan.how != How::Paste);
                        assert!(scan.text.chars().count() <= MAX_SCAN_LEN + 1);
                        assert_eq!(scan.entry == Entry::Scanned, scan.how != How::Typed);
                    }
                    Output::Key(key) => {
                        assert!(printable(&key).is_none(), "{key:?} should have been typed");
                        assert_eq!(key.kind, KeyEventKind::Press);
                    }
                    Output::Absorbed | Output::Ignored => {}
                }
                assert!(decoder.line().chars().count() <= MAX_SCAN_LEN + 1);
                let _ = decoder.display();
                match rng.random_range(0..100) {
                    0 => decoder.clear(),
                    1 => decoder.delete_last(),
                    2 => {
                        let _ = decoder.submit(at);
                    }
                    _ => {}
                }
            }
        }
    }
}
