//! The register map: where each signal lives in the PLC's holding registers.
//!
//! The default map (DESIGN.md §6) is a contract between the simulator, the station and PLC
//! programmers. It is data rather than constants so per-station overrides can be added later without
//! touching the poller or the decoder.

use crate::domain::plc::{PackMlState, PlcSample};

/// Where each status signal sits, as absolute 0-based holding-register addresses. u32 fields name
/// the first (high) word; the low word follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusFields {
    pub map_version: u16,
    pub heartbeat: u16,
    pub epoch: u16,
    pub state: u16,
    pub unit_mode: u16,
    pub stop_reason: u16,
    pub warning: u16,
    pub interlock_bits: u16,
    pub stacklight_bits: u16,
    pub speed_x100: u16,
    pub processed: u16,
    pub defective: u16,
    pub consumed: u16,
    pub cycles: u16,
    pub last_cycle_ms: u16,
    pub recipe: u16,
}

impl Default for StatusFields {
    fn default() -> Self {
        StatusFields {
            map_version: 0,
            heartbeat: 1,
            epoch: 2,
            state: 3,
            unit_mode: 4,
            stop_reason: 5,
            warning: 6,
            interlock_bits: 7,
            stacklight_bits: 8,
            speed_x100: 10,
            processed: 12,
            defective: 14,
            consumed: 16,
            cycles: 18,
            last_cycle_ms: 20,
            recipe: 22,
        }
    }
}

/// Where the station writes. u32 fields name the first (high) word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandFields {
    pub packml_command: u16,
    pub change_request: u16,
    pub unit_mode_request: u16,
    pub station_heartbeat: u16,
    pub ack_record_seq: u16,
    pub andon_call: u16,
    pub permit: u16,
    pub work_order_numeric: u16,
}

impl Default for CommandFields {
    fn default() -> Self {
        CommandFields {
            packml_command: 100,
            change_request: 101,
            unit_mode_request: 102,
            station_heartbeat: 103,
            ack_record_seq: 104,
            andon_call: 106,
            permit: 107,
            work_order_numeric: 108,
        }
    }
}

/// The head of the per-part record FIFO in the status block (read only when a station turns part
/// records on). u32 fields name the first (high) word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartRecordFields {
    /// `record_seq` of the oldest unacknowledged record (u32); 0: the FIFO is empty.
    pub record_seq: u16,
    /// 1 good, 2 reject.
    pub result: u16,
    pub reject_reason: u16,
    /// Cycle time of the part in ms (u32).
    pub cycle_ms: u16,
    /// First of [`SERIAL_REGISTERS`] registers of ASCII text, two characters a register.
    pub serial: u16,
}

/// Registers the part serial takes: 20 ASCII characters.
pub const SERIAL_REGISTERS: u16 = 10;

impl Default for PartRecordFields {
    fn default() -> Self {
        PartRecordFields {
            record_seq: 32,
            result: 34,
            reject_reason: 35,
            cycle_ms: 36,
            serial: 38,
        }
    }
}

/// The whole map. `Default` is the Takt default map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterMap {
    /// First register of the status block, read in one request per poll.
    pub status_start: u16,
    /// Registers in the status block; at most 125 (the FC3 limit).
    pub status_len: u16,
    pub status: StatusFields,
    /// The per-part record FIFO head, inside the status block.
    pub part_record: PartRecordFields,
    /// First register of the command block (the PLC accepts writes only here).
    pub command_start: u16,
    pub command_len: u16,
    pub command: CommandFields,
    /// The map version a PLC speaking this map reports in `status.map_version`.
    pub version: u16,
}

impl Default for RegisterMap {
    fn default() -> Self {
        RegisterMap {
            status_start: 0,
            status_len: 64,
            status: StatusFields::default(),
            part_record: PartRecordFields::default(),
            command_start: 100,
            command_len: 12,
            command: CommandFields::default(),
            version: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("status block has {got} registers, expected {expected}")]
    Length { expected: usize, got: usize },
    #[error("field {field} at register {address} lies outside the status block")]
    OutOfBlock { field: &'static str, address: u16 },
}

impl RegisterMap {
    /// Decodes one read of the status block (`status_len` words starting at `status_start`).
    pub fn decode_status(&self, words: &[u16]) -> Result<PlcSample, MapError> {
        let expected = usize::from(self.status_len);
        if words.len() != expected {
            return Err(MapError::Length {
                expected,
                got: words.len(),
            });
        }
        let block = Block {
            words,
            start: self.status_start,
        };
        let f = &self.status;
        Ok(PlcSample {
            map_version: block.u16("map_version", f.map_version)?,
            heartbeat: block.u16("heartbeat", f.heartbeat)?,
            epoch: block.u16("epoch", f.epoch)?,
            state: PackMlState::from_code(block.u16("state", f.state)?),
            unit_mode: block.u16("unit_mode", f.unit_mode)?,
            stop_reason: block.u16("stop_reason", f.stop_reason)?,
            warning: block.u16("warning", f.warning)?,
            interlock_bits: block.u16("interlock_bits", f.interlock_bits)?,
            stacklight_bits: block.u16("stacklight_bits", f.stacklight_bits)?,
            speed_x100: block.u32("speed_x100", f.speed_x100)?,
            processed: block.u32("processed", f.processed)?,
            defective: block.u32("defective", f.defective)?,
            consumed: block.u32("consumed", f.consumed)?,
            cycles: block.u32("cycles", f.cycles)?,
            last_cycle_ms: block.u32("last_cycle_ms", f.last_cycle_ms)?,
            recipe: block.u32("recipe", f.recipe)?,
        })
    }
}

/// Decodes a status block laid out by the default map.
pub fn decode_status(words: &[u16]) -> Result<PlcSample, MapError> {
    RegisterMap::default().decode_status(words)
}

/// Splits a u32 into the two registers the map uses, high word first.
pub fn u32_to_words(value: u32) -> [u16; 2] {
    [(value >> 16) as u16, value as u16]
}

/// Joins two registers, high word first.
pub fn words_to_u32(high: u16, low: u16) -> u32 {
    (u32::from(high) << 16) | u32::from(low)
}

/// Text held in registers, two characters a register: the first in the high byte when
/// `high_byte_first` (our map), else in the low byte. Padding (NUL, and spaces at either end) is
/// not part of it; text ends at the first NUL. A byte that is not printable ASCII is kept as
/// `\xNN` rather than guessed at.
pub fn text_from_words(words: &[u16], high_byte_first: bool) -> String {
    let bytes = words.iter().flat_map(|word| {
        let [high, low] = word.to_be_bytes();
        if high_byte_first {
            [high, low]
        } else {
            [low, high]
        }
    });
    let mut text = String::new();
    for byte in bytes.take_while(|byte| *byte != 0) {
        if byte.is_ascii_graphic() || byte == b' ' {
            text.push(char::from(byte));
        } else {
            text.push_str(&format!("\\x{byte:02X}"));
        }
    }
    text.trim_matches(' ').to_owned()
}

/// Text into `registers` registers, high byte first, NUL padded; what does not fit is cut off, and
/// a character outside ASCII is sent as `?`.
pub fn text_to_words(text: &str, registers: usize) -> Vec<u16> {
    let mut bytes: Vec<u8> = text
        .chars()
        .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
        .take(registers * 2)
        .collect();
    bytes.resize(registers * 2, 0);
    bytes
        .chunks(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
        .collect()
}

struct Block<'a> {
    words: &'a [u16],
    start: u16,
}

impl Block<'_> {
    fn u16(&self, field: &'static str, address: u16) -> Result<u16, MapError> {
        address
            .checked_sub(self.start)
            .and_then(|i| self.words.get(usize::from(i)))
            .copied()
            .ok_or(MapError::OutOfBlock { field, address })
    }

    fn u32(&self, field: &'static str, address: u16) -> Result<u32, MapError> {
        let low_address = address
            .checked_add(1)
            .ok_or(MapError::OutOfBlock { field, address })?;
        Ok(words_to_u32(
            self.u16(field, address)?,
            self.u16(field, low_address)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> Vec<u16> {
        let mut w = vec![0u16; 64];
        w[0] = 1;
        w[1] = 77;
        w[2] = 9;
        w[3] = 6;
        w[4] = 1;
        w[5] = 42;
        w[6] = 3;
        w[7] = 0b10;
        w[8] = 0x40;
        w[10..12].copy_from_slice(&u32_to_words(1333));
        w[12..14].copy_from_slice(&u32_to_words(0x0001_0002));
        w[14..16].copy_from_slice(&u32_to_words(u32::MAX));
        w[16..18].copy_from_slice(&u32_to_words(70_000));
        w[18..20].copy_from_slice(&u32_to_words(65_536));
        w[20..22].copy_from_slice(&u32_to_words(4500));
        w[22..24].copy_from_slice(&u32_to_words(12));
        w
    }

    #[test]
    fn decodes_every_field_high_word_first() {
        let s = decode_status(&block()).expect("decode");
        assert_eq!(s.map_version, 1);
        assert_eq!(s.heartbeat, 77);
        assert_eq!(s.epoch, 9);
        assert_eq!(s.state, PackMlState::Execute);
        assert_eq!(s.unit_mode, 1);
        assert_eq!(s.stop_reason, 42);
        assert_eq!(s.warning, 3);
        assert_eq!(s.interlock_bits, 0b10);
        assert_eq!(s.stacklight_bits, 0x40);
        assert_eq!(s.speed_x100, 1333);
        assert_eq!(s.processed, 0x0001_0002);
        assert_eq!(s.defective, u32::MAX);
        assert_eq!(s.consumed, 70_000);
        assert_eq!(s.cycles, 65_536);
        assert_eq!(s.last_cycle_ms, 4500);
        assert_eq!(s.recipe, 12);
    }

    #[test]
    fn high_word_is_first() {
        let mut w = vec![0u16; 64];
        w[12] = 0x0001;
        w[13] = 0x0000;
        assert_eq!(decode_status(&w).expect("decode").processed, 65_536);
    }

    #[test]
    fn unknown_state_is_kept() {
        let mut w = block();
        w[3] = 99;
        assert_eq!(
            decode_status(&w).expect("decode").state,
            PackMlState::Other(99)
        );
    }

    #[test]
    fn wrong_length_is_an_error() {
        assert_eq!(
            decode_status(&[0; 63]),
            Err(MapError::Length {
                expected: 64,
                got: 63
            })
        );
        assert!(decode_status(&[0; 65]).is_err());
        assert!(decode_status(&[]).is_err());
    }

    #[test]
    fn field_outside_block_is_an_error_not_a_panic() {
        let mut map = RegisterMap {
            status_len: 13,
            ..RegisterMap::default()
        };
        let err = map
            .decode_status(&[0; 13])
            .expect_err("processed low word is at 13");
        assert_eq!(
            err,
            MapError::OutOfBlock {
                field: "processed",
                address: 13
            }
        );
        map.status_start = 5;
        map.status_len = 64;
        assert!(map.decode_status(&[0; 64]).is_err());
    }

    #[test]
    fn serial_text_is_two_characters_a_register_high_byte_first() {
        // "S100-000042" as a PLC writes it: 'S' 0x53 in the high byte of the first register.
        let words = text_to_words("S100-000042", usize::from(SERIAL_REGISTERS));
        assert_eq!(words.len(), 10);
        assert_eq!(words[0], 0x5331, "'S' then '1'");
        assert_eq!(words[5], 0x3200, "'2' and a NUL pad");
        assert_eq!(words[6..], [0; 4]);
        assert_eq!(text_from_words(&words, true), "S100-000042");
        // Odd length, space padding, low byte first (many Siemens and AB strings).
        let swapped: Vec<u16> = text_to_words("AB7  ", 3)
            .iter()
            .map(|w| w.swap_bytes())
            .collect();
        assert_eq!(text_from_words(&swapped, false), "AB7");
        assert_eq!(text_from_words(&[0x2020, 0x4142, 0x2020], true), "AB");
        // Text ends at the first NUL; what follows is padding, not serial.
        assert_eq!(text_from_words(&[0x4142, 0x0043, 0x4445], true), "AB");
        assert_eq!(text_from_words(&[0; 10], true), "");
        // A byte that is not printable ASCII is shown, not guessed.
        assert_eq!(text_from_words(&[0x41C3, 0x0942], true), "A\\xC3\\x09B");
        // 20 characters fill ten registers exactly; more are cut off.
        let long = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        assert_eq!(
            text_from_words(&text_to_words(long, 10), true),
            "ABCDEFGHIJKLMNOPQRST"
        );
        assert_eq!(text_to_words("é", 1), [0x3F00]);
    }

    #[test]
    fn u32_words_round_trip() {
        for v in [0, 1, 0xFFFF, 0x1_0000, 0xDEAD_BEEF, u32::MAX] {
            let [h, l] = u32_to_words(v);
            assert_eq!(words_to_u32(h, l), v);
        }
    }
}
