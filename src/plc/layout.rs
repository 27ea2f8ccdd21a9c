//! The status signals as a station reads them: every field's register type, address, width, word
//! order and scale, and the PLC's state enumeration, starting from the default map of DESIGN.md §6
//! and overridden per station in `station.toml`, so PLCs that do not speak our map can be read.
//!
//! A layout turns into a read plan (as few requests as the Modbus limits allow: 125 registers or
//! 2000 bits each) and decodes what those requests returned into a [`PlcSample`].

use super::map::{RegisterMap, SERIAL_REGISTERS, text_from_words};
use crate::domain::part_record::PartRecordHead;
use crate::domain::plc::{PackMlState, PlcSample};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Most registers one read (FC3/FC4) may ask for.
pub const MAX_REGISTERS_PER_READ: u16 = 125;
/// Most bits one read (FC1/FC2) may ask for.
pub const MAX_BITS_PER_READ: u16 = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegisterKind {
    Holding,
    Input,
    Coil,
    Discrete,
}

impl RegisterKind {
    fn is_bit(self) -> bool {
        matches!(self, RegisterKind::Coil | RegisterKind::Discrete)
    }

    fn limit(self) -> u16 {
        if self.is_bit() {
            MAX_BITS_PER_READ
        } else {
            MAX_REGISTERS_PER_READ
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            RegisterKind::Holding => "holding register",
            RegisterKind::Input => "input register",
            RegisterKind::Coil => "coil",
            RegisterKind::Discrete => "discrete input",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Width {
    U16,
    U32,
    I32,
    F32,
    /// Text, two ASCII characters a register (the part serial: 10 registers, 20 characters).
    /// `word_order` says which byte comes first: `high_first` (our map) or `low_first`.
    Ascii,
}

impl Width {
    fn registers(self) -> u16 {
        match self {
            Width::U16 => 1,
            Width::U32 | Width::I32 | Width::F32 => 2,
            Width::Ascii => SERIAL_REGISTERS,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WordOrder {
    /// The first register holds the high word (Modicon order; our default).
    HighFirst,
    /// The first register holds the low word (many Siemens and Allen-Bradley gateways).
    LowFirst,
}

/// Where one signal lives and how to read it: `value = raw × scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub kind: RegisterKind,
    pub address: u16,
    pub width: Width,
    pub word_order: WordOrder,
    pub scale: f64,
}

impl Field {
    fn holding(address: u16, width: Width) -> Field {
        Field {
            kind: RegisterKind::Holding,
            address,
            width,
            word_order: WordOrder::HighFirst,
            scale: 1.0,
        }
    }

    fn span(&self) -> u16 {
        if self.kind.is_bit() {
            1
        } else {
            self.width.registers()
        }
    }
}

/// The status signals, by name (the names the config uses).
pub const FIELD_NAMES: [&str; 16] = [
    "map_version",
    "heartbeat",
    "epoch",
    "state",
    "unit_mode",
    "stop_reason",
    "warning",
    "interlock_bits",
    "stacklight_bits",
    "speed_x100",
    "processed",
    "defective",
    "consumed",
    "cycles",
    "last_cycle_ms",
    "recipe",
];

/// The head of the per-part record FIFO, read only with `[plc] part_records = true`.
pub const PART_RECORD_FIELD_NAMES: [&str; 5] = [
    "record_seq",
    "record_result",
    "record_reason",
    "record_cycle_ms",
    "record_serial",
];

/// Counters: whole numbers that only count up; their width sets where they wrap.
const COUNTERS: [&str; 4] = ["processed", "defective", "consumed", "cycles"];

/// One override from `[plc.map.fields.NAME]`; what is left out keeps the default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldOverride {
    pub address: Option<u16>,
    pub kind: Option<RegisterKind>,
    pub width: Option<Width>,
    pub word_order: Option<WordOrder>,
    pub scale: Option<f64>,
}

impl FieldOverride {
    /// The default field with what the station changed.
    fn apply_to(&self, field: &mut Field) {
        field.address = self.address.unwrap_or(field.address);
        field.kind = self.kind.unwrap_or(field.kind);
        field.width = self.width.unwrap_or(field.width);
        field.word_order = self.word_order.unwrap_or(field.word_order);
        field.scale = self.scale.unwrap_or(field.scale);
    }
}

/// `[plc.map]` in the station config.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MapSection {
    pub fields: BTreeMap<String, FieldOverride>,
    /// Where the station writes: `permit`, `work_order_numeric`, `station_heartbeat`.
    pub commands: BTreeMap<String, FieldOverride>,
    /// The PLC's own state codes and the PackML state each means (`"3" = "execute"`). Empty: the
    /// PLC numbers states as PackML TR88 does.
    pub states: BTreeMap<String, String>,
    /// The most unmapped addresses one read may span between two signals. Unset: any gap within
    /// the Modbus limits (fewest requests). 0 for PLCs that refuse reads of addresses they do not
    /// map (an "illegal data address" exception).
    pub max_gap: Option<u16>,
    /// Process values the PLC shows (a gauge's reading, a leak rate), by the name inspection plans
    /// use for them: `[plc.map.values.leak_rate]`.
    pub values: BTreeMap<String, ValueSpec>,
}

/// Where a process value lives, how to read it and its unit: `value = raw × scale` in `unit`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueSpec {
    pub address: u16,
    pub kind: Option<RegisterKind>,
    pub width: Option<Width>,
    pub word_order: Option<WordOrder>,
    pub scale: Option<f64>,
    pub unit: String,
}

/// A process value as read, in engineering units.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessValue {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

/// The command signals the station writes, by name.
pub const COMMAND_NAMES: [&str; 7] = [
    "permit",
    "work_order_numeric",
    "station_heartbeat",
    "andon_call",
    "packml_command",
    "change_request",
    "ack_record_seq",
];

/// Where the station writes its interlock, work order, heartbeat, andon call and PackML commands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommandLayout {
    pub permit: Field,
    pub work_order_numeric: Field,
    pub station_heartbeat: Field,
    pub andon_call: Field,
    /// PackML CntrlCmd (1 Reset, 9 Clear, ...) and the change request that hands it over; none
    /// when a site maps its own command block without naming them (then @RESET is refused rather
    /// than written to a register that may mean something else on that PLC).
    pub packml_command: Option<Field>,
    pub change_request: Option<Field>,
    /// Where the station acknowledges a per-part record; none while part records are off.
    pub ack_record_seq: Option<Field>,
}

impl Default for CommandLayout {
    fn default() -> Self {
        let c = RegisterMap::default().command;
        CommandLayout {
            permit: Field::holding(c.permit, Width::U16),
            work_order_numeric: Field::holding(c.work_order_numeric, Width::U32),
            station_heartbeat: Field::holding(c.station_heartbeat, Width::U16),
            andon_call: Field::holding(c.andon_call, Width::U16),
            packml_command: Some(Field::holding(c.packml_command, Width::U16)),
            change_request: Some(Field::holding(c.change_request, Width::U16)),
            ack_record_seq: None,
        }
    }
}

impl CommandLayout {
    /// The default command block with the station's overrides. Commands are written, so only
    /// holding registers and coils can take them; the work order id needs a register.
    pub fn new(section: &MapSection) -> Result<CommandLayout, LayoutError> {
        CommandLayout::for_plc(section, false)
    }

    /// [`Self::new`], with the part-record acknowledgement when `part_records` is on.
    pub fn for_plc(section: &MapSection, part_records: bool) -> Result<CommandLayout, LayoutError> {
        let mut layout = CommandLayout::default();
        let named = |name: &str| section.commands.contains_key(name);
        if named("packml_command") != named("change_request") {
            return Err(LayoutError::Command {
                field: "packml_command".into(),
                problem: "name both packml_command and change_request (the PLC takes a command \
                          when its change request is set), or neither"
                    .into(),
            });
        }
        // Moving only the part-record ack keeps the default block; moving any signal of the
        // block itself means the site maps its own, PackML commands included or not.
        let maps_own_block = section.commands.keys().any(|name| name != "ack_record_seq");
        if maps_own_block && !named("packml_command") {
            layout.packml_command = None;
            layout.change_request = None;
        }
        let mut packml_command = layout
            .packml_command
            .unwrap_or(Field::holding(100, Width::U16));
        let mut change_request = layout
            .change_request
            .unwrap_or(Field::holding(101, Width::U16));
        let mut ack = Field::holding(RegisterMap::default().command.ack_record_seq, Width::U32);
        for (name, change) in &section.commands {
            let field = match name.as_str() {
                "permit" => &mut layout.permit,
                "work_order_numeric" => &mut layout.work_order_numeric,
                "station_heartbeat" => &mut layout.station_heartbeat,
                "andon_call" => &mut layout.andon_call,
                "packml_command" => &mut packml_command,
                "change_request" => &mut change_request,
                "ack_record_seq" => &mut ack,
                _ => return Err(LayoutError::UnknownCommand(name.clone())),
            };
            let problem = |problem: &str| LayoutError::Command {
                field: name.clone(),
                problem: problem.to_owned(),
            };
            if change.scale.is_some() {
                return Err(problem("commands are written as they are: no scale"));
            }
            change.apply_to(field);
            if matches!(field.kind, RegisterKind::Input | RegisterKind::Discrete) {
                return Err(problem(
                    "a PLC cannot be written through input registers or discrete inputs: use \"holding\" or \"coil\"",
                ));
            }
            if field.kind == RegisterKind::Coil && field.width != Width::U16 {
                return Err(problem("a coil holds one bit: width must be \"u16\""));
            }
            if matches!(field.width, Width::I32 | Width::F32 | Width::Ascii) {
                return Err(problem("width \"u16\" or \"u32\""));
            }
            if u32::from(field.address) + u32::from(field.span()) > 65_536 {
                return Err(problem("the address leaves no room for the value"));
            }
        }
        if layout.work_order_numeric.kind == RegisterKind::Coil {
            return Err(LayoutError::Command {
                field: "work_order_numeric".into(),
                problem: "a work order id needs a holding register, not a coil".into(),
            });
        }
        if layout.packml_command.is_some() {
            layout.packml_command = Some(packml_command);
            layout.change_request = Some(change_request);
        }
        if ack.kind == RegisterKind::Coil {
            return Err(LayoutError::Command {
                field: "ack_record_seq".into(),
                problem: "a record seq needs a holding register, not a coil".into(),
            });
        }
        if part_records {
            layout.ack_record_seq = Some(ack);
        }
        let fields = [
            ("permit", Some(layout.permit)),
            ("work_order_numeric", Some(layout.work_order_numeric)),
            ("station_heartbeat", Some(layout.station_heartbeat)),
            ("andon_call", Some(layout.andon_call)),
            ("packml_command", layout.packml_command),
            ("change_request", layout.change_request),
            ("ack_record_seq", layout.ack_record_seq),
        ];
        no_overlap(
            "commands",
            fields
                .iter()
                .filter_map(|(name, field)| field.as_ref().map(|field| (*name, field))),
        )?;
        Ok(layout)
    }

    /// The registers a u16 or u32 value takes, in the field's word order.
    pub fn words(field: &Field, value: u32) -> Vec<u16> {
        match field.width {
            Width::U16 => vec![value as u16],
            _ => match field.word_order {
                WordOrder::HighFirst => vec![(value >> 16) as u16, value as u16],
                WordOrder::LowFirst => vec![value as u16, (value >> 16) as u16],
            },
        }
    }
}

/// A read request of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub kind: RegisterKind,
    pub start: u16,
    pub count: u16,
}

/// The station's view of the status block.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusLayout {
    fields: BTreeMap<&'static str, Field>,
    /// PLC code → PackML state; empty means TR88 numbering.
    states: BTreeMap<u16, PackMlState>,
    /// Process values by name, with their unit.
    values: BTreeMap<String, (Field, String)>,
    plan: Vec<Chunk>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("[plc.map.fields.{0}]: no such signal; the signals are {names}, and with part records {parts}", names = FIELD_NAMES.join(", "), parts = PART_RECORD_FIELD_NAMES.join(", "))]
    UnknownField(String),
    #[error("[plc.map.fields.{field}]: {problem}")]
    Field { field: String, problem: String },
    #[error("[plc.map.{section}]: {first} and {second} overlap at {kind} {address}")]
    Overlap {
        section: &'static str,
        first: String,
        second: String,
        kind: &'static str,
        address: u16,
    },
    #[error("[plc.map.values.{name}]: {problem}")]
    Value { name: String, problem: String },
    #[error("[plc.map.states]: {0}")]
    State(String),
    #[error("[plc.map.commands.{0}]: no such command signal; they are {names}", names = COMMAND_NAMES.join(", "))]
    UnknownCommand(String),
    #[error("[plc.map.commands.{field}]: {problem}")]
    Command { field: String, problem: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("read {kind} {start}..+{count}: {got} values, asked for {count}")]
    Length {
        kind: &'static str,
        start: u16,
        count: u16,
        got: usize,
    },
    #[error("{0} is not in what was read")]
    Missing(&'static str),
}

impl Default for StatusLayout {
    fn default() -> Self {
        StatusLayout::new(&MapSection::default()).unwrap_or_else(|_| StatusLayout {
            fields: BTreeMap::new(),
            states: BTreeMap::new(),
            values: BTreeMap::new(),
            plan: Vec::new(),
        })
    }
}

impl StatusLayout {
    /// The default map with the station's overrides, checked: known names, sane widths and
    /// scales, no two signals sharing a register, a state table naming PackML states.
    pub fn new(section: &MapSection) -> Result<StatusLayout, LayoutError> {
        StatusLayout::for_plc(section, false)
    }

    /// [`Self::new`], reading the head of the per-part record FIFO too when `part_records` is on.
    /// Overrides of the record fields are checked either way; only then are they read.
    pub fn for_plc(section: &MapSection, part_records: bool) -> Result<StatusLayout, LayoutError> {
        let defaults = RegisterMap::default().status;
        let mut fields: BTreeMap<&'static str, Field> = BTreeMap::new();
        let short = [
            ("map_version", defaults.map_version),
            ("heartbeat", defaults.heartbeat),
            ("epoch", defaults.epoch),
            ("state", defaults.state),
            ("unit_mode", defaults.unit_mode),
            ("stop_reason", defaults.stop_reason),
            ("warning", defaults.warning),
            ("interlock_bits", defaults.interlock_bits),
            ("stacklight_bits", defaults.stacklight_bits),
        ];
        let long = [
            ("speed_x100", defaults.speed_x100),
            ("processed", defaults.processed),
            ("defective", defaults.defective),
            ("consumed", defaults.consumed),
            ("cycles", defaults.cycles),
            ("last_cycle_ms", defaults.last_cycle_ms),
            ("recipe", defaults.recipe),
        ];
        for (name, address) in short {
            fields.insert(name, Field::holding(address, Width::U16));
        }
        for (name, address) in long {
            fields.insert(name, Field::holding(address, Width::U32));
        }
        let record = RegisterMap::default().part_record;
        for (name, address, width) in [
            ("record_seq", record.record_seq, Width::U32),
            ("record_result", record.result, Width::U16),
            ("record_reason", record.reject_reason, Width::U16),
            ("record_cycle_ms", record.cycle_ms, Width::U32),
            ("record_serial", record.serial, Width::Ascii),
        ] {
            fields.insert(name, Field::holding(address, width));
        }
        for (name, change) in &section.fields {
            let Some(key) = FIELD_NAMES
                .iter()
                .chain(PART_RECORD_FIELD_NAMES.iter())
                .find(|known| *known == name)
            else {
                return Err(LayoutError::UnknownField(name.clone()));
            };
            let field = fields
                .get_mut(key)
                .ok_or_else(|| LayoutError::UnknownField(name.clone()))?;
            change.apply_to(field);
        }
        for (name, field) in &fields {
            check_field(name, field)?;
        }
        if !part_records {
            fields.retain(|name, _| !PART_RECORD_FIELD_NAMES.contains(name));
        }
        check_overlaps(&fields)?;
        let values = section
            .values
            .iter()
            .map(|(name, spec)| {
                let field = Field {
                    kind: spec.kind.unwrap_or(RegisterKind::Holding),
                    address: spec.address,
                    width: spec.width.unwrap_or(Width::U16),
                    word_order: spec.word_order.unwrap_or(WordOrder::HighFirst),
                    scale: spec.scale.unwrap_or(1.0),
                };
                let problem = |problem: String| LayoutError::Value {
                    name: name.clone(),
                    problem,
                };
                check_field(name, &field).map_err(|error| match error {
                    LayoutError::Field { problem: words, .. } => problem(words),
                    other => other,
                })?;
                if spec.unit.trim().is_empty() {
                    return Err(problem("name the value's unit (unit = \"ml/min\")".into()));
                }
                Ok((name.clone(), (field, spec.unit.trim().to_owned())))
            })
            .collect::<Result<BTreeMap<_, _>, LayoutError>>()?;
        let labels: Vec<String> = values.keys().map(|name| format!("values.{name}")).collect();
        no_overlap(
            "fields",
            fields.iter().map(|(name, field)| (*name, field)).chain(
                labels
                    .iter()
                    .map(String::as_str)
                    .zip(values.values().map(|(f, _)| f)),
            ),
        )?;
        let states = section
            .states
            .iter()
            .map(|(code, state)| {
                let code: u16 = code.trim().parse().map_err(|_| {
                    LayoutError::State(format!("{code:?} is not a state code (0 to 65535)"))
                })?;
                let state = PackMlState::from_name(state).ok_or_else(|| {
                    LayoutError::State(format!(
                        "{state:?} is not a PackML state (e.g. execute, idle, stopped, held, suspended, aborted, complete)"
                    ))
                })?;
                Ok((code, state))
            })
            .collect::<Result<BTreeMap<_, _>, LayoutError>>()?;
        let plan = plan(
            fields
                .values()
                .chain(values.values().map(|(field, _)| field)),
            section.max_gap,
        );
        Ok(StatusLayout {
            fields,
            states,
            values,
            plan,
        })
    }

    /// The reads one poll makes, in order.
    pub fn plan(&self) -> &[Chunk] {
        &self.plan
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.get(name)
    }

    /// Decodes the answers to [`Self::plan`], one per chunk, in order (bits as 0 or 1).
    pub fn decode(&self, reads: &[Vec<u16>]) -> Result<PlcSample, DecodeError> {
        if reads.len() != self.plan.len() {
            return Err(DecodeError::Missing("a planned read"));
        }
        for (chunk, words) in self.plan.iter().zip(reads) {
            if words.len() != usize::from(chunk.count) {
                return Err(DecodeError::Length {
                    kind: chunk.kind.words(),
                    start: chunk.start,
                    count: chunk.count,
                    got: words.len(),
                });
            }
        }
        let raw = |name: &'static str| -> Result<(Field, u32), DecodeError> {
            let field = *self.fields.get(name).ok_or(DecodeError::Missing(name))?;
            let word = |address: u16| -> Result<u16, DecodeError> {
                self.plan
                    .iter()
                    .zip(reads)
                    .find(|(chunk, _)| {
                        chunk.kind == field.kind
                            && address >= chunk.start
                            && u32::from(address) < u32::from(chunk.start) + u32::from(chunk.count)
                    })
                    .and_then(|(chunk, words)| words.get(usize::from(address - chunk.start)))
                    .copied()
                    .ok_or(DecodeError::Missing(name))
            };
            let first = word(field.address)?;
            let bits = match field.span() {
                1 => u32::from(first),
                _ => {
                    let second = word(field.address.saturating_add(1))?;
                    match field.word_order {
                        WordOrder::HighFirst => (u32::from(first) << 16) | u32::from(second),
                        WordOrder::LowFirst => (u32::from(second) << 16) | u32::from(first),
                    }
                }
            };
            Ok((field, bits))
        };
        // A value in engineering terms: the raw bits as their width says, times the scale.
        let value = |name: &'static str| -> Result<f64, DecodeError> {
            let (field, bits) = raw(name)?;
            Ok(number_of(field.width, bits) * field.scale)
        };
        let small =
            |name: &'static str| -> Result<u16, DecodeError> { Ok(clamp_u16(value(name)?)) };
        let large =
            |name: &'static str| -> Result<u32, DecodeError> { Ok(clamp_u32(value(name)?)) };
        // Counters keep their raw bits: they wrap at their width, never through a float.
        let counter = |name: &'static str| -> Result<u32, DecodeError> { Ok(raw(name)?.1) };
        let code = small("state")?;
        let state = if self.states.is_empty() {
            PackMlState::from_code(code)
        } else {
            self.states
                .get(&code)
                .copied()
                .unwrap_or(PackMlState::Other(code))
        };
        Ok(PlcSample {
            map_version: small("map_version")?,
            heartbeat: small("heartbeat")?,
            epoch: small("epoch")?,
            state,
            unit_mode: small("unit_mode")?,
            stop_reason: small("stop_reason")?,
            warning: small("warning")?,
            interlock_bits: small("interlock_bits")?,
            stacklight_bits: small("stacklight_bits")?,
            speed_x100: large("speed_x100")?,
            processed: counter("processed")?,
            defective: counter("defective")?,
            consumed: counter("consumed")?,
            cycles: counter("cycles")?,
            last_cycle_ms: large("last_cycle_ms")?,
            recipe: large("recipe")?,
        })
    }

    /// The process values in the answers to [`Self::plan`], in engineering units.
    pub fn decode_values(&self, reads: &[Vec<u16>]) -> Result<Vec<ProcessValue>, DecodeError> {
        self.values
            .iter()
            .map(|(name, (field, unit))| {
                let word = |offset: u16| {
                    self.word_at(
                        reads,
                        field.kind,
                        field.address.saturating_add(offset),
                        "a process value",
                    )
                };
                let first = word(0)?;
                let bits = match field.span() {
                    1 => u32::from(first),
                    _ => {
                        let second = word(1)?;
                        match field.word_order {
                            WordOrder::HighFirst => (u32::from(first) << 16) | u32::from(second),
                            WordOrder::LowFirst => (u32::from(second) << 16) | u32::from(first),
                        }
                    }
                };
                Ok(ProcessValue {
                    name: name.clone(),
                    value: number_of(field.width, bits) * field.scale,
                    unit: unit.clone(),
                })
            })
            .collect()
    }

    /// Whether this layout reads process values.
    pub fn reads_values(&self) -> bool {
        !self.values.is_empty()
    }

    /// Whether this layout reads the per-part record FIFO.
    pub fn reads_part_records(&self) -> bool {
        self.fields.contains_key("record_seq")
    }

    /// The head of the per-part record FIFO in the answers to [`Self::plan`], with the PLC's boot
    /// epoch read alongside; none when this layout does not read part records. A head with
    /// `record_seq` 0 is an empty FIFO.
    pub fn decode_part_record(
        &self,
        reads: &[Vec<u16>],
    ) -> Result<Option<PartRecordHead>, DecodeError> {
        if !self.reads_part_records() {
            return Ok(None);
        }
        let field = |name: &'static str| {
            self.fields
                .get(name)
                .copied()
                .ok_or(DecodeError::Missing(name))
        };
        let words = |name: &'static str| -> Result<(Field, Vec<u16>), DecodeError> {
            let field = field(name)?;
            let words = (0..field.span())
                .map(|offset| {
                    self.word_at(
                        reads,
                        field.kind,
                        field.address.saturating_add(offset),
                        name,
                    )
                })
                .collect::<Result<Vec<u16>, DecodeError>>()?;
            Ok((field, words))
        };
        // A number in its width and word order, times its scale (record_seq is never scaled).
        let number = |name: &'static str| -> Result<f64, DecodeError> {
            let (field, words) = words(name)?;
            let bits = match (words.as_slice(), field.word_order) {
                ([word], _) => u32::from(*word),
                ([first, second, ..], WordOrder::HighFirst) => {
                    (u32::from(*first) << 16) | u32::from(*second)
                }
                ([first, second, ..], WordOrder::LowFirst) => {
                    (u32::from(*second) << 16) | u32::from(*first)
                }
                ([], _) => return Err(DecodeError::Missing(name)),
            };
            Ok(number_of(field.width, bits) * field.scale)
        };
        let (serial_field, serial_words) = words("record_serial")?;
        Ok(Some(PartRecordHead {
            plc_epoch: clamp_u16(number("epoch")?),
            record_seq: clamp_u32(number("record_seq")?),
            result: clamp_u16(number("record_result")?),
            reject_reason: clamp_u16(number("record_reason")?),
            cycle_ms: clamp_u32(number("record_cycle_ms")?),
            serial: text_from_words(
                &serial_words,
                serial_field.word_order == WordOrder::HighFirst,
            ),
        }))
    }

    /// One register (or bit) from the answers to the plan.
    fn word_at(
        &self,
        reads: &[Vec<u16>],
        kind: RegisterKind,
        address: u16,
        name: &'static str,
    ) -> Result<u16, DecodeError> {
        if reads.len() != self.plan.len() {
            return Err(DecodeError::Missing("a planned read"));
        }
        self.plan
            .iter()
            .zip(reads)
            .find(|(chunk, _)| {
                chunk.kind == kind
                    && address >= chunk.start
                    && u32::from(address) < u32::from(chunk.start) + u32::from(chunk.count)
            })
            .and_then(|(chunk, words)| words.get(usize::from(address - chunk.start)))
            .copied()
            .ok_or(DecodeError::Missing(name))
    }

    /// The width the unit counters wrap at (16 or 32 bits).
    pub fn counter_bits(&self) -> u32 {
        match self.fields.get("processed").map(|f| f.width) {
            Some(Width::U16) => 16,
            _ => 32,
        }
    }

    /// The plan in words, for `--check-config`.
    pub fn describe(&self) -> String {
        self.plan
            .iter()
            .map(|chunk| {
                format!(
                    "{} {}..{} ({} {})",
                    chunk.kind.words(),
                    chunk.start,
                    u32::from(chunk.start) + u32::from(chunk.count) - 1,
                    chunk.count,
                    if chunk.kind.is_bit() {
                        "bits"
                    } else {
                        "registers"
                    }
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn clamp_u16(value: f64) -> u16 {
    if value.is_finite() {
        value.round().clamp(0.0, f64::from(u16::MAX)) as u16
    } else {
        0
    }
}

fn clamp_u32(value: f64) -> u32 {
    if value.is_finite() {
        value.round().clamp(0.0, f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

fn check_field(name: &str, field: &Field) -> Result<(), LayoutError> {
    let problem = |problem: String| LayoutError::Field {
        field: name.to_owned(),
        problem,
    };
    if field.kind.is_bit() && field.width != Width::U16 {
        return Err(problem(format!(
            "a {} holds one bit: width must be \"u16\"",
            field.kind.words()
        )));
    }
    if u32::from(field.address) + u32::from(field.span()) > 65_536 {
        return Err(problem(format!(
            "address {} leaves no room for a {}-register value",
            field.address,
            field.span()
        )));
    }
    if !field.scale.is_finite() || field.scale == 0.0 {
        return Err(problem(format!(
            "scale {} must be a number other than 0",
            field.scale
        )));
    }
    if name == "record_serial" {
        if field.width != Width::Ascii || field.kind.is_bit() {
            return Err(problem(
                "the part serial is text in registers: kind \"holding\" or \"input\", width \"ascii\"".into(),
            ));
        }
        if field.scale != 1.0 {
            return Err(problem("text is not scaled: leave scale at 1".into()));
        }
    } else if field.width == Width::Ascii {
        return Err(problem(
            "width \"ascii\" is for the part serial (record_serial) only".into(),
        ));
    }
    if name == "record_seq"
        && (field.scale != 1.0
            || matches!(field.width, Width::I32 | Width::F32)
            || field.kind.is_bit())
    {
        return Err(problem(
            "a record seq is a whole number in registers: width \"u16\" or \"u32\", no scale"
                .into(),
        ));
    }
    if COUNTERS.contains(&name) {
        if field.scale != 1.0 {
            return Err(problem(
                "a counter is counted, not scaled: leave scale at 1".into(),
            ));
        }
        if matches!(field.width, Width::I32 | Width::F32) {
            return Err(problem(
                "a counter is a whole number that wraps: width \"u16\" or \"u32\"".into(),
            ));
        }
    }
    Ok(())
}

/// No two signals may share a register (or bit) of the same type.
fn no_overlap<'a>(
    section: &'static str,
    fields: impl Iterator<Item = (&'a str, &'a Field)>,
) -> Result<(), LayoutError> {
    let mut taken: BTreeMap<(RegisterKind, u16), &str> = BTreeMap::new();
    for (name, field) in fields {
        for offset in 0..field.span() {
            let address = field.address.saturating_add(offset);
            if let Some(other) = taken.insert((field.kind, address), name) {
                return Err(LayoutError::Overlap {
                    section,
                    first: other.to_owned(),
                    second: name.to_owned(),
                    kind: field.kind.words(),
                    address,
                });
            }
        }
    }
    Ok(())
}

fn check_overlaps(fields: &BTreeMap<&'static str, Field>) -> Result<(), LayoutError> {
    no_overlap("fields", fields.iter().map(|(name, field)| (*name, field)))?;
    // Counters must wrap alike: units are the difference of processed and defective.
    let widths: Vec<Width> = COUNTERS
        .iter()
        .filter_map(|name| fields.get(name).map(|f| f.width))
        .collect();
    if widths.windows(2).any(|pair| pair[0] != pair[1]) {
        return Err(LayoutError::Field {
            field: "processed".into(),
            problem: "processed, defective, consumed and cycles must have the same width".into(),
        });
    }
    Ok(())
}

/// The raw bits of a value as its width says (text is no number: the checks keep it off values).
fn number_of(width: Width, bits: u32) -> f64 {
    match width {
        Width::U16 | Width::U32 => f64::from(bits),
        Width::I32 => f64::from(bits as i32),
        Width::F32 => f64::from(f32::from_bits(bits)),
        Width::Ascii => 0.0,
    }
}

/// As few reads as the limits allow: per register type, addresses in order, a new read when the
/// next value would not fit in the current one or lies more than `max_gap` addresses beyond it.
fn plan<'a>(fields: impl Iterator<Item = &'a Field>, max_gap: Option<u16>) -> Vec<Chunk> {
    let mut spans: Vec<(RegisterKind, u16, u16)> = fields
        .map(|field| (field.kind, field.address, field.span()))
        .collect();
    spans.sort();
    let mut chunks: Vec<Chunk> = Vec::new();
    for (kind, address, span) in spans {
        let end = u32::from(address) + u32::from(span);
        match chunks.last_mut() {
            Some(chunk)
                if chunk.kind == kind
                    && end - u32::from(chunk.start) <= u32::from(kind.limit())
                    && max_gap.is_none_or(|gap| {
                        u32::from(address)
                            <= u32::from(chunk.start) + u32::from(chunk.count) + u32::from(gap)
                    }) =>
            {
                let chunk_end = u32::from(chunk.start) + u32::from(chunk.count);
                chunk.count = u16::try_from(end.max(chunk_end) - u32::from(chunk.start))
                    .unwrap_or(kind.limit());
            }
            _ => chunks.push(Chunk {
                kind,
                start: address,
                count: span,
            }),
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plc::map::u32_to_words;

    fn section(toml_text: &str) -> MapSection {
        toml::from_str(toml_text).expect("section")
    }

    #[test]
    fn process_values_are_read_with_the_status_block_and_checked() {
        let layout = StatusLayout::new(&section(
            "[values.leak_rate]\naddress = 48\nscale = 0.001\nunit = \"ml/min\"\n\
             [values.torque]\naddress = 60\nwidth = \"f32\"\nunit = \"Nm\"\n",
        ))
        .expect("layout");
        // Still one request: HR0..61 fits a read.
        assert_eq!(layout.plan().len(), 1, "{:?}", layout.plan());
        let mut words = vec![0u16; usize::from(layout.plan()[0].count)];
        words[48] = 231;
        let torque = 12.5f32.to_bits();
        words[60] = (torque >> 16) as u16;
        words[61] = torque as u16;
        let values = layout.decode_values(&[words]).expect("values");
        let read: Vec<(String, f64, String)> = values
            .into_iter()
            .map(|v| (v.name, (v.value * 1000.0).round() / 1000.0, v.unit))
            .collect();
        assert_eq!(
            read,
            [
                ("leak_rate".to_owned(), 0.231, "ml/min".to_owned()),
                ("torque".to_owned(), 12.5, "Nm".to_owned())
            ]
        );

        let refused = |text: &str| {
            StatusLayout::new(&section(text))
                .expect_err(text)
                .to_string()
        };
        assert_eq!(
            refused("[values.leak_rate]\naddress = 12\nunit = \"ml/min\"\n"),
            "[plc.map.fields]: processed and values.leak_rate overlap at holding register 12"
        );
        assert_eq!(
            refused("[values.leak_rate]\naddress = 48\nunit = \" \"\n"),
            "[plc.map.values.leak_rate]: name the value's unit (unit = \"ml/min\")"
        );
        assert_eq!(
            refused("[values.leak_rate]\naddress = 48\nscale = 0\nunit = \"ml/min\"\n"),
            "[plc.map.values.leak_rate]: scale 0 must be a number other than 0"
        );
    }

    #[test]
    fn the_default_layout_reads_the_status_block_in_one_request() {
        let layout = StatusLayout::default();
        assert_eq!(
            layout.plan(),
            [Chunk {
                kind: RegisterKind::Holding,
                start: 0,
                count: 24
            }]
        );
        let mut words = vec![0u16; 24];
        words[3] = 6;
        words[12..14].copy_from_slice(&u32_to_words(70_000));
        let sample = layout.decode(&[words]).expect("decode");
        assert_eq!(sample.state, PackMlState::Execute);
        assert_eq!(sample.processed, 70_000);
        assert_eq!(layout.counter_bits(), 32);
    }

    #[test]
    fn a_site_command_block_has_packml_commands_only_when_it_names_them() {
        assert!(CommandLayout::default().packml_command.is_some());
        // A foreign PLC's block: the andon call where the default CntrlCmd would be, and no
        // PackML registers named, so nothing is ever written to HR100/101 there.
        let foreign = section("[commands.andon_call]\naddress = 100\n");
        let layout = CommandLayout::new(&foreign).expect("layout");
        assert_eq!((layout.packml_command, layout.change_request), (None, None));
        let named = section(
            "[commands.andon_call]\naddress = 100\n[commands.packml_command]\naddress = 300\n\
             [commands.change_request]\naddress = 301\n",
        );
        let layout = CommandLayout::new(&named).expect("layout");
        assert_eq!(layout.packml_command.map(|f| f.address), Some(300));
        assert_eq!(layout.change_request.map(|f| f.address), Some(301));
        let ack_only = section("[commands.ack_record_seq]\naddress = 200\n");
        assert!(
            CommandLayout::new(&ack_only)
                .expect("layout")
                .packml_command
                .is_some(),
            "moving the part-record ack alone keeps the default PackML registers"
        );
        let half = section("[commands.packml_command]\naddress = 300\n");
        assert!(CommandLayout::new(&half).is_err());
        let clash = section("[commands.andon_call]\naddress = 103\n");
        assert_eq!(
            CommandLayout::new(&clash).expect_err("overlap").to_string(),
            "[plc.map.commands]: station_heartbeat and andon_call overlap at holding register 103"
        );
    }

    #[test]
    fn a_max_gap_splits_reads_at_unmapped_addresses() {
        // The default map leaves HR9 unmapped (stacklight at 8, speed from 10).
        let strict = StatusLayout::new(&section("max_gap = 0")).expect("layout");
        let holding = |start, count| Chunk {
            kind: RegisterKind::Holding,
            start,
            count,
        };
        assert_eq!(strict.plan(), [holding(0, 9), holding(10, 14)]);
        let mut words = [0u16; 24];
        words[3] = 6;
        words[12..14].copy_from_slice(&u32_to_words(70_000));
        let sample = strict
            .decode(&[words[0..9].to_vec(), words[10..24].to_vec()])
            .expect("decode");
        assert_eq!(
            (sample.state, sample.processed),
            (PackMlState::Execute, 70_000)
        );
        // A gap of one is bridged again: one read.
        let bridged = StatusLayout::new(&section("max_gap = 1")).expect("layout");
        assert_eq!(bridged.plan(), [holding(0, 24)]);
    }

    #[test]
    fn overrides_move_widen_swap_and_scale() {
        let layout = StatusLayout::new(&section(
            r#"
            [fields.processed]
            kind = "input"
            address = 300
            word_order = "low_first"
            [fields.defective]
            kind = "input"
            address = 302
            word_order = "low_first"
            [fields.speed_x100]
            kind = "input"
            address = 310
            width = "f32"
            scale = 100.0
            [fields.stop_reason]
            kind = "discrete"
            address = 7
            [states]
            "3" = "execute"
            "1" = "stopped"
            "#,
        ))
        .expect("layout");
        assert_eq!(
            layout.plan(),
            [
                Chunk {
                    kind: RegisterKind::Holding,
                    start: 0,
                    count: 24
                },
                Chunk {
                    kind: RegisterKind::Input,
                    start: 300,
                    count: 12
                },
                Chunk {
                    kind: RegisterKind::Discrete,
                    start: 7,
                    count: 1
                },
            ]
        );
        let mut holding = vec![0u16; 24];
        holding[3] = 3;
        let mut input = vec![0u16; 12];
        // 70 000 = 0x0001_1170, low word first.
        input[0] = 0x1170;
        input[1] = 0x0001;
        input[2] = 5;
        let speed = 12.5f32.to_bits();
        input[10] = (speed >> 16) as u16;
        input[11] = speed as u16;
        let sample = layout.decode(&[holding, input, vec![1]]).expect("decode");
        assert_eq!(sample.processed, 70_000);
        assert_eq!(sample.defective, 5);
        assert_eq!(sample.speed_x100, 1250);
        assert_eq!(sample.stop_reason, 1);
        assert_eq!(sample.state, PackMlState::Execute, "the PLC's own code 3");
    }

    #[test]
    fn reads_longer_than_the_modbus_limit_are_split() {
        let layout = StatusLayout::new(&section(
            "[fields.recipe]\naddress = 200\n[fields.last_cycle_ms]\naddress = 120\n",
        ))
        .expect("layout");
        let spans: Vec<(u16, u16)> = layout.plan().iter().map(|c| (c.start, c.count)).collect();
        // 0..19 and 120..121 fit one read (122 registers); 200 does not.
        assert_eq!(spans, [(0, 122), (200, 2)]);
        assert!(
            layout
                .plan()
                .iter()
                .all(|c| c.count <= MAX_REGISTERS_PER_READ)
        );
    }

    #[test]
    fn bad_maps_are_refused_in_words() {
        let error = |text: &str| {
            StatusLayout::new(&section(text))
                .expect_err(text)
                .to_string()
        };
        assert!(error("[fields.speed]\naddress = 1\n").contains("no such signal"));
        assert!(
            error("[fields.recipe]\naddress = 12\n").contains("processed and recipe overlap")
                || error("[fields.recipe]\naddress = 12\n")
                    .contains("overlap at holding register 12")
        );
        assert!(error("[fields.processed]\nscale = 2.0\n").contains("not scaled"));
        assert!(error("[fields.processed]\nwidth = \"f32\"\n").contains("whole number"));
        assert!(error("[fields.processed]\nwidth = \"u16\"\n").contains("same width"));
        assert!(error("[fields.warning]\nkind = \"coil\"\nwidth = \"u32\"\n").contains("one bit"));
        assert!(error("[fields.recipe]\naddress = 65535\n").contains("no room"));
        assert!(error("[states]\n\"x\" = \"execute\"\n").contains("not a state code"));
        assert!(error("[states]\n\"1\" = \"sprinting\"\n").contains("not a PackML state"));
        assert!(toml::from_str::<MapSection>("[fields.processed]\nadress = 3\n").is_err());
    }

    #[test]
    fn sixteen_bit_counters_wrap_at_sixteen_bits() {
        let layout = StatusLayout::new(&section(
            "[fields.processed]\nwidth = \"u16\"\n[fields.defective]\nwidth = \"u16\"\n\
             [fields.consumed]\nwidth = \"u16\"\n[fields.cycles]\nwidth = \"u16\"\n",
        ))
        .expect("layout");
        assert_eq!(layout.counter_bits(), 16);
    }

    #[test]
    fn command_signals_move_and_are_checked() {
        let layout = CommandLayout::new(&section(
            "[commands.permit]\nkind = \"coil\"\naddress = 10\n\
             [commands.work_order_numeric]\naddress = 500\nword_order = \"low_first\"\n",
        ))
        .expect("commands");
        assert_eq!(layout.permit.kind, RegisterKind::Coil);
        assert_eq!(
            CommandLayout::words(&layout.work_order_numeric, 0x0001_5DC1),
            [0x5DC1, 0x0001]
        );
        assert_eq!(
            CommandLayout::words(&CommandLayout::default().work_order_numeric, 0x0001_5DC1),
            [0x0001, 0x5DC1]
        );
        let error = |text: &str| {
            CommandLayout::new(&section(text))
                .expect_err(text)
                .to_string()
        };
        assert!(error("[commands.siren]\naddress = 1\n").contains("no such command"));
        assert!(error("[commands.permit]\nkind = \"input\"\n").contains("cannot be written"));
        assert!(
            error("[commands.work_order_numeric]\nkind = \"coil\"\nwidth = \"u16\"\n")
                .contains("needs a holding register")
        );
        assert!(error("[commands.permit]\nscale = 2.0\n").contains("no scale"));
        assert!(error("[commands.station_heartbeat]\naddress = 108\n").contains("overlap"));
    }

    #[test]
    fn short_or_missing_reads_are_errors_not_panics() {
        let layout = StatusLayout::default();
        assert!(layout.decode(&[]).is_err());
        assert!(layout.decode(&[vec![0; 23]]).is_err());
        assert!(layout.decode(&[vec![0; 24], vec![0; 3]]).is_err());
    }

    #[test]
    fn part_records_are_read_only_when_switched_on() {
        let off = StatusLayout::for_plc(&MapSection::default(), false).expect("off");
        assert!(!off.reads_part_records());
        assert_eq!(off.plan(), StatusLayout::default().plan());
        assert_eq!(off.decode_part_record(&[vec![0; 24]]), Ok(None));
        assert_eq!(CommandLayout::default().ack_record_seq, None);

        let on = StatusLayout::for_plc(&MapSection::default(), true).expect("on");
        assert!(on.reads_part_records());
        // Still one request: the FIFO head (HR32-47) joins the status block.
        assert_eq!(
            on.plan(),
            [Chunk {
                kind: RegisterKind::Holding,
                start: 0,
                count: 48
            }]
        );
        let mut words = vec![0u16; 48];
        words[2] = 9;
        // record_seq 70 000 = 0x0001_1170, high word first: the u32 needs both registers.
        words[32..34].copy_from_slice(&u32_to_words(70_000));
        words[34] = 2;
        words[35] = 3;
        words[36..38].copy_from_slice(&u32_to_words(4_500));
        let serial = crate::plc::map::text_to_words("S9-070000", 10);
        words[38..48].copy_from_slice(&serial);
        let head = on
            .decode_part_record(&[words.clone()])
            .expect("decode")
            .expect("a head");
        assert_eq!(
            head,
            PartRecordHead {
                plc_epoch: 9,
                record_seq: 70_000,
                result: 2,
                reject_reason: 3,
                cycle_ms: 4_500,
                serial: "S9-070000".into(),
            }
        );
        // The sample from the same reads is untouched by the FIFO.
        assert_eq!(on.decode(&[words]).expect("sample").epoch, 9);
        assert!(on.decode_part_record(&[vec![0; 47]]).is_err());

        // A PLC that refuses unmapped addresses reads the FIFO head in a request of its own.
        let strict = StatusLayout::for_plc(&section("max_gap = 0\n"), true).expect("strict");
        let spans: Vec<(u16, u16)> = strict.plan().iter().map(|c| (c.start, c.count)).collect();
        assert_eq!(spans, [(0, 9), (10, 14), (32, 16)]);

        let commands = CommandLayout::for_plc(&MapSection::default(), true).expect("commands");
        let ack = commands.ack_record_seq.expect("ack field");
        assert_eq!(
            (ack.kind, ack.address, ack.width),
            (RegisterKind::Holding, 104, Width::U32)
        );
        assert_eq!(CommandLayout::words(&ack, 70_000), [0x0001, 0x1170]);
    }

    #[test]
    fn part_record_fields_move_like_every_signal() {
        let section = section(
            r#"
            [fields.record_seq]
            kind = "input"
            address = 400
            word_order = "low_first"
            [fields.record_result]
            kind = "input"
            address = 402
            [fields.record_reason]
            kind = "input"
            address = 403
            [fields.record_cycle_ms]
            kind = "input"
            address = 404
            scale = 100.0
            width = "u16"
            [fields.record_serial]
            kind = "input"
            address = 405
            word_order = "low_first"
            [commands.ack_record_seq]
            address = 110
            width = "u16"
            "#,
        );
        let layout = StatusLayout::for_plc(&section, true).expect("layout");
        assert_eq!(
            layout.plan()[1],
            Chunk {
                kind: RegisterKind::Input,
                start: 400,
                count: 15
            }
        );
        let mut input = vec![0u16; 15];
        input[0] = 0x1170;
        input[1] = 0x0001;
        input[2] = 1;
        input[4] = 45;
        // Low byte first: "AB" is 0x4241.
        input[5] = 0x4241;
        input[6] = 0x0043;
        let head = layout
            .decode_part_record(&[vec![0; 24], input])
            .expect("decode")
            .expect("head");
        assert_eq!(head.record_seq, 70_000);
        assert_eq!(head.result, 1);
        assert_eq!(head.cycle_ms, 4_500, "tenths of a second, scaled");
        assert_eq!(head.serial, "ABC");
        let ack = CommandLayout::for_plc(&section, true)
            .expect("commands")
            .ack_record_seq
            .expect("ack");
        assert_eq!((ack.address, ack.width), (110, Width::U16));
        // Switched off, the same overrides are checked but nothing of them is read.
        let off = StatusLayout::for_plc(&section, false).expect("off");
        assert_eq!(off.plan().len(), 1);
    }

    #[test]
    fn bad_part_record_maps_are_refused_in_words() {
        let error = |text: &str, on: bool| {
            let section = section(text);
            StatusLayout::for_plc(&section, on)
                .map(|_| ())
                .and_then(|()| CommandLayout::for_plc(&section, on).map(|_| ()))
                .expect_err(text)
                .to_string()
        };
        assert!(
            error("[fields.record_serial]\nwidth = \"u16\"\n", false).contains("width \"ascii\"")
        );
        assert!(error("[fields.record_serial]\nkind = \"coil\"\n", false).contains("one bit"));
        assert!(error("[fields.recipe]\nwidth = \"ascii\"\n", false).contains("record_serial"));
        assert!(error("[fields.record_seq]\nscale = 2.0\n", false).contains("no scale"));
        assert!(error("[fields.record_sequence]\naddress = 1\n", true).contains("record_seq"));
        assert!(error("[fields.record_seq]\naddress = 12\n", true).contains("overlap"));
        assert!(
            error(
                "[commands.ack_record_seq]\nkind = \"coil\"\nwidth = \"u16\"\n",
                true
            )
            .contains("holding register")
        );
        assert!(error("[commands.ack_record_seq]\naddress = 107\n", true).contains("overlap"));
        assert!(error("[commands.ack_record_seq]\nwidth = \"ascii\"\n", false).contains("u32"));
        // Off, a record field may sit where the PLC has something else: it is never read.
        let section = section(
            "[fields.record_seq]\naddress = 12\n[commands.ack_record_seq]\naddress = 107\n",
        );
        assert!(StatusLayout::for_plc(&section, false).is_ok());
        assert!(CommandLayout::for_plc(&section, false).is_ok());
    }

    #[test]
    fn a_field_at_the_top_of_the_address_space_decodes() {
        let layout = StatusLayout::new(&section(
            r#"
            [fields.recipe]
            address = 65534
            "#,
        ))
        .expect("accepted by the checks");
        let reads: Vec<Vec<u16>> = layout
            .plan()
            .iter()
            .map(|c| vec![0u16; usize::from(c.count)])
            .collect();
        layout
            .decode(&reads)
            .expect("65535 is inside chunk 65534..+2");
    }
}
