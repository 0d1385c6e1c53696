//! Executable-aware prediction of x86-64 relative references (specified in docs/FORMAT.md,
//! "References").
//!
//! Code that only moved between two builds still differs wherever it names another place
//! relatively: a `call rel32` whose callee moved by a different amount than the call itself,
//! a RIP-relative load of data that moved. Plain difference bytes pay for every such field.
//! Here both ends find the same candidate fields in the old bytes of each copy ([`scan`]), the
//! encoder learns from the chunk's own fields how far their targets moved ([`RefMap::learn`],
//! a few intervals of old target offsets, each with one shift), and the decoder predicts each
//! field from the map before adding the difference bytes: a field whose target moved as its
//! interval says costs zero difference bytes however far its code moved.

use std::io::Read;

use super::format::{CHUNK_NEW, DeltaError, put_varint, read_varint, unzigzag, zigzag};

/// What a byte starts, for [`scan`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lead {
    None,
    /// `E8` call / `E9` jmp: the field follows.
    Rel32,
    /// `0F`: a `0F 80`..`0F 8F` conditional jump, or a two-byte opcode with a ModRM byte.
    Escape,
    /// A one-byte opcode with a ModRM byte: RIP-relative when ModRM is `00 xxx 101`.
    ModRm,
}

/// One-byte opcodes taking a ModRM byte that are looked at for a RIP-relative operand.
const MODRM_OPCODES: [u8; 34] = [
    0x01, 0x03, 0x09, 0x0B, 0x21, 0x23, 0x29, 0x2B, 0x31, 0x33, 0x38, 0x39, 0x3A, 0x3B, 0x63, 0x69,
    0x80, 0x81, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8B, 0x8D, 0xC6, 0xC7, 0xD9, 0xF6,
    0xF7, 0xFF,
];

/// Second bytes after `0F` of opcodes taking a ModRM byte that are looked at for a
/// RIP-relative operand (SSE moves and arithmetic, `movzx`/`movsx`, `cmovcc`, `imul`).
const ESCAPED_MODRM_OPCODES: [u8; 48] = [
    0x10, 0x11, 0x12, 0x13, 0x16, 0x17, 0x28, 0x29, 0x2A, 0x2E, 0x2F, 0x40, 0x41, 0x42, 0x43, 0x44,
    0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F, 0x51, 0x54, 0x55, 0x56, 0x57,
    0x58, 0x59, 0x5A, 0x5C, 0x5D, 0x5E, 0x5F, 0x6E, 0x6F, 0x7E, 0x7F, 0xAF, 0xB6, 0xB7, 0xBE, 0xBF,
];

const fn leads() -> [Lead; 256] {
    let mut table = [Lead::None; 256];
    table[0xE8] = Lead::Rel32;
    table[0xE9] = Lead::Rel32;
    table[0x0F] = Lead::Escape;
    let mut i = 0;
    while i < MODRM_OPCODES.len() {
        table[MODRM_OPCODES[i] as usize] = Lead::ModRm;
        i += 1;
    }
    table
}

const fn escaped() -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < ESCAPED_MODRM_OPCODES.len() {
        table[ESCAPED_MODRM_OPCODES[i] as usize] = true;
        i += 1;
    }
    table
}

static LEADS: [Lead; 256] = leads();
static ESCAPED: [bool; 256] = escaped();

/// Whether a ModRM byte names a RIP-relative operand (`mod` 00, `r/m` 101).
fn rip_relative(modrm: u8) -> bool {
    modrm & 0xC7 == 0x05
}

/// The offset of the first reference field in `bytes` found by scanning from `from`: at
/// each offset the first pattern that matches with its 4-byte field inside `bytes` is taken;
/// otherwise the scan moves one byte on. Callers resume after the field found, so fields
/// never overlap and every copy is scanned the same way by encoder and decoder.
pub fn next_field(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    // Most offsets cannot start a pattern: skip them 32 at a time.
    while let Some(block) = bytes.get(i..).and_then(<[u8]>::first_chunk::<33>) {
        let mut starts = pattern_starts(block);
        while starts != 0 {
            if let Some(at) = field_at(bytes, i + starts.trailing_zeros() as usize) {
                return Some(at);
            }
            starts &= starts - 1;
        }
        i += 32;
    }
    (i..bytes.len()).find_map(|i| field_at(bytes, i))
}

/// The offsets among the first 32 of `block` that may start a pattern, as bits: `E8`, `E9`
/// or `0F`, or any byte followed by a RIP-relative ModRM byte (a superset of the patterns,
/// written so that it compiles to vector compares).
fn pattern_starts(block: &[u8; 33]) -> u32 {
    let mut starts = 0u32;
    for k in 0..32 {
        let (byte, next) = (block[k], block[k + 1]);
        let lead = (byte == 0xE8) | (byte == 0xE9) | (byte == 0x0F) | rip_relative(next);
        starts |= u32::from(lead) << k;
    }
    starts
}

/// The field of the pattern starting at offset `i` of `bytes`, if one does with its field
/// inside `bytes`.
fn field_at(bytes: &[u8], i: usize) -> Option<usize> {
    if i + 5 > bytes.len() {
        return None;
    }
    let field = match LEADS[usize::from(bytes[i])] {
        Lead::None => None,
        Lead::Rel32 => Some(i + 1),
        Lead::ModRm => rip_relative(bytes[i + 1]).then_some(i + 2),
        Lead::Escape => {
            let next = bytes[i + 1];
            if next & 0xF0 == 0x80 {
                Some(i + 2)
            } else if ESCAPED[usize::from(next)] && rip_relative(bytes[i + 2]) {
                Some(i + 3)
            } else {
                None
            }
        }
    };
    field.filter(|at| at + 4 <= bytes.len())
}

/// A field's value, little endian.
fn value(bytes: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// The old offset a field at old offset `pos` names: the end of the field plus its value.
fn target(pos: u64, value: i32) -> i64 {
    (pos as i64).wrapping_add(4).wrapping_add(i64::from(value))
}

/// How far a field copied from old offset `pos` to new offset `new_pos` moved.
fn moved(pos: u64, new_pos: u64) -> i64 {
    (new_pos as i64).wrapping_sub(pos as i64)
}

/// The value predicted for a field whose old value is `value`, which itself moved by
/// `moved`, when its target moved by `shift`: the new distance between them.
fn predict(value: i32, shift: i64, moved: i64) -> i32 {
    i64::from(value).wrapping_add(shift).wrapping_sub(moved) as i32
}

/// Intervals of old target offsets, each with how far the targets in it moved (new offset
/// minus old offset, both as the stream counts them): one chunk's reference map.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RefMap {
    /// `(start, end, shift)`, ascending and disjoint, `0 <= start < end`.
    intervals: Vec<(i64, i64, i64)>,
}

impl RefMap {
    /// Whether the map predicts nothing (a chunk then codes none).
    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }

    /// The shift the map gives for target `target`, if an interval holds it.
    fn shift(&self, target: i64) -> Option<i64> {
        let i = self.intervals.partition_point(|iv| iv.1 <= target);
        self.intervals
            .get(i)
            .filter(|iv| iv.0 <= target)
            .map(|iv| iv.2)
    }

    /// Appends the map: its count, then per interval the gap from the previous interval's
    /// end (from 0 for the first), its length and its shift less the previous one's (from 0).
    pub fn put(&self, out: &mut Vec<u8>) {
        put_varint(out, self.intervals.len() as u64);
        let (mut end, mut shift) = (0i64, 0i64);
        for &(start, stop, moved_by) in &self.intervals {
            put_varint(out, (start - end) as u64);
            put_varint(out, (stop - start) as u64);
            put_varint(out, zigzag(moved_by.wrapping_sub(shift)));
            (end, shift) = (stop, moved_by);
        }
    }

    /// Reads a map written by [`RefMap::put`] for a chunk of `chunk_new` new bytes, which
    /// may hold at most one interval per 4 of them.
    pub fn read<R: Read + ?Sized>(r: &mut R, chunk_new: u64) -> Result<Self, DeltaError> {
        let what = "reference map";
        let count = read_varint(r, what)?;
        if count == 0 || count > chunk_new / 4 {
            return Err(DeltaError::BadChunk(format!(
                "reference map of {count} intervals for a chunk of {chunk_new} bytes"
            )));
        }
        let too_far = || DeltaError::BadChunk("reference map beyond 2^63".into());
        let (mut end, mut shift) = (0i64, 0i64);
        let mut intervals = Vec::new();
        for _ in 0..count {
            let gap = i64::try_from(read_varint(r, what)?).map_err(|_| too_far())?;
            let len = i64::try_from(read_varint(r, what)?).map_err(|_| too_far())?;
            if len == 0 {
                return Err(DeltaError::BadChunk("empty reference interval".into()));
            }
            let start = end.checked_add(gap).ok_or_else(too_far)?;
            end = start.checked_add(len).ok_or_else(too_far)?;
            shift = shift.wrapping_add(unzigzag(read_varint(r, what)?));
            intervals.push((start, end, shift));
        }
        Ok(Self { intervals })
    }

    /// Replaces, in `bytes` (a copy's old bytes, from old offset `pos`, going to new offset
    /// `new_pos`), every reference field whose target the map holds by its prediction.
    pub fn predict_copy(&self, bytes: &mut [u8], pos: u64, new_pos: u64) {
        let mut from = 0;
        while let Some(at) = next_field(bytes, from) {
            let (pos, new_pos) = (pos + at as u64, new_pos + at as u64);
            let old = value(bytes, at);
            if let Some(shift) = self.shift(target(pos, old)) {
                let predicted = predict(old, shift, moved(pos, new_pos));
                bytes[at..at + 4].copy_from_slice(&predicted.to_le_bytes());
            }
            from = at + 4;
        }
    }
}

/// A reference field the encoder found in a copy.
#[derive(Debug, Clone, Copy)]
struct Field {
    /// Old offset of its target.
    target: i64,
    /// How far the field itself moved.
    moved: i64,
    /// Where its difference bytes are in the chunk's.
    diff_at: u32,
    /// Its old value.
    old: i32,
    /// Its new value.
    new: i32,
}

impl Field {
    /// How far its target actually moved.
    fn shift(&self) -> i64 {
        self.moved
            .wrapping_add(i64::from(self.new))
            .wrapping_sub(i64::from(self.old))
    }
}

/// Fields an interval must fix beyond those it breaks before it is worth coding (about the
/// bytes an interval costs against the bytes a wrong field costs, measured on native pairs).
const MIN_GAIN: usize = 8;

/// Fields one chunk may collect (one per 16 new bytes; code has one per 30 or so): a chunk
/// with more codes no map, which bounds the collector's memory.
const MAX_FIELDS: usize = (CHUNK_NEW / 16) as usize;

/// The reference fields of one chunk's copies, collected by the encoder as it codes them.
#[derive(Debug, Default)]
pub struct ChunkFields {
    fields: Vec<Field>,
    overflowed: bool,
}

impl ChunkFields {
    /// Bytes the collector may hold.
    pub const MAX_BYTES: usize = MAX_FIELDS * std::mem::size_of::<Field>();

    /// Collects the fields of a copy of `old` (from old offset `pos`) onto `new` (at new
    /// offset `new_pos`) whose difference bytes start at `diff_at` in the chunk's.
    pub fn scan_copy(&mut self, old: &[u8], new: &[u8], pos: u64, new_pos: u64, diff_at: usize) {
        let mut from = 0;
        while let Some(at) = next_field(old, from) {
            from = at + 4;
            let (pos, new_pos) = (pos + at as u64, new_pos + at as u64);
            let field = Field {
                target: target(pos, value(old, at)),
                moved: moved(pos, new_pos),
                diff_at: (diff_at + at) as u32,
                old: value(old, at),
                new: value(new, at),
            };
            if field.target < 0 || self.overflowed {
                continue;
            }
            if self.fields.len() == MAX_FIELDS {
                self.overflowed = true;
                self.fields = Vec::new();
                continue;
            }
            self.fields.push(field);
        }
    }

    /// Learns the chunk's map from the fields collected, rewrites the difference bytes
    /// (`add` under addition, `xor` under XOR) of every field it predicts, and starts over
    /// for the next chunk.
    pub fn finish(&mut self, add: &mut [u8], xor: &mut [u8]) -> RefMap {
        let map = if self.overflowed {
            RefMap::default()
        } else {
            learn(&mut self.fields)
        };
        for f in self.fields.iter() {
            if let Some(shift) = map.shift(f.target) {
                let predicted = predict(f.old, shift, f.moved).to_le_bytes();
                let at = f.diff_at as usize;
                for (i, (&n, p)) in f.new.to_le_bytes().iter().zip(predicted).enumerate() {
                    add[at + i] = n.wrapping_sub(p);
                    xor[at + i] = n ^ p;
                }
            }
        }
        self.fields.clear();
        self.overflowed = false;
        map
    }
}

/// The map that predicts the most of `fields` (sorted here) exactly. Stretches of at least
/// two fields, in target order, whose targets moved by the same amount are candidates;
/// consecutive candidates with the same shift merge across the stray fields between them
/// (false finds, references that changed); a merged interval is kept when it fixes at least
/// [`MIN_GAIN`] more fields than it breaks (fields the plain copy got right).
fn learn(fields: &mut [Field]) -> RefMap {
    fields.sort_unstable_by_key(|f| (f.target, f.shift()));
    let mut merged: Vec<(usize, usize, i64)> = Vec::new();
    let mut at = 0;
    while at < fields.len() {
        let shift = fields[at].shift();
        let len = fields[at..]
            .iter()
            .take_while(|f| f.shift() == shift)
            .count();
        if len >= 2 {
            match merged.last_mut() {
                Some(last) if last.2 == shift => last.1 = at + len,
                _ => merged.push((at, at + len, shift)),
            }
        }
        at += len;
    }
    let intervals = merged
        .into_iter()
        .filter(|&(from, to, shift)| {
            let (fixed, broken) =
                fields[from..to].iter().fold((0, 0), |(fixed, broken), f| {
                    match (f.shift() == shift, f.moved == f.shift()) {
                        (true, false) => (fixed + 1, broken),
                        (false, true) => (fixed, broken + 1),
                        _ => (fixed, broken),
                    }
                });
            fixed >= broken + MIN_GAIN
        })
        .map(|(from, to, shift)| (fields[from].target, fields[to - 1].target + 1, shift));
    // Two stretches may share their boundary target (one field per shift): the later starts
    // after the earlier, so that intervals stay disjoint.
    let mut disjoint: Vec<(i64, i64, i64)> = Vec::new();
    for (start, end, shift) in intervals {
        let start = disjoint.last().map_or(start, |last| start.max(last.1));
        if start < end {
            disjoint.push((start, end, shift));
        }
    }
    RefMap {
        intervals: disjoint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(bytes: &[u8]) -> Vec<usize> {
        let mut found = Vec::new();
        let mut from = 0;
        while let Some(at) = next_field(bytes, from) {
            found.push(at);
            from = at + 4;
        }
        found
    }

    #[test]
    fn finds_calls_jumps_and_rip_relative_operands() {
        let code = [
            0xE8, 1, 2, 3, 4, // call rel32
            0x0F, 0x85, 1, 2, 3, 4, // jne rel32
            0x48, 0x8B, 0x05, 1, 2, 3, 4, // mov rax, [rip + disp32]
            0xF2, 0x0F, 0x10, 0x0D, 1, 2, 3, 4, // movsd xmm1, [rip + disp32]
            0x48, 0x8B, 0x45, 0x08, // mov rax, [rbp + 8]: not RIP-relative
            0x0F, 0x10, 0x45, 0x00, // movups xmm0, [rbp]: not RIP-relative
            0xE9, 1, 2, 3, // a jmp whose field would end past the bytes
        ];
        assert_eq!(fields(&code), [1, 7, 14, 22]);
    }

    #[test]
    fn block_scan_finds_what_a_byte_scan_finds() {
        // Bytes rich in pattern leads and ModRM bytes, at every alignment and length.
        let alphabet = [
            0xE8, 0xE9, 0x0F, 0x85, 0x8B, 0x05, 0x10, 0x0D, 0x48, 0x00, 0xFF,
        ];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let bytes: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                alphabet[(state % alphabet.len() as u64) as usize]
            })
            .collect();
        for len in [0, 4, 5, 32, 33, 37, 64, 100, 4096] {
            for from in [0, 1, 7, 31] {
                let bytes = &bytes[..len];
                let byte_scan = (from..bytes.len()).find_map(|i| field_at(bytes, i));
                assert_eq!(next_field(bytes, from), byte_scan, "len {len} from {from}");
            }
        }
        let mut from = 0;
        while let Some(at) = next_field(&bytes, from) {
            assert_eq!(
                (from..bytes.len()).find_map(|i| field_at(&bytes, i)),
                Some(at)
            );
            from = at + 4;
        }
    }

    #[test]
    fn fields_never_overlap() {
        // The call's field holds E8: the scan resumes after the field, not inside it.
        assert_eq!(fields(&[0xE8, 0xE8, 0, 0, 0, 0xE8, 0, 0, 0, 0]), [1, 6]);
    }

    #[test]
    fn maps_round_trip() {
        let map = RefMap {
            intervals: vec![(0, 10, -5), (10, 11, 7), (4096, 1 << 40, 1 << 33)],
        };
        let mut out = Vec::new();
        map.put(&mut out);
        assert_eq!(RefMap::read(&mut &out[..], 16).expect("valid map"), map);
        assert!(
            RefMap::read(&mut &out[..], 8).is_err(),
            "3 intervals need 12 bytes"
        );
        for bad in [&[0u8][..], &[1, 0, 0, 0], &[1, 0, 0xFF]] {
            assert!(RefMap::read(&mut &bad[..], 16).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn learned_maps_zero_the_fields_of_moved_code() {
        // Old: 200 calls, each to the call 100 places on; new: the same calls with a gap
        // of 1000 bytes after the first 100 calls, so the first half's calls all change.
        let call = |from: usize, to: usize| {
            let mut c = vec![0xE8];
            c.extend(((to as i64 - from as i64 - 5) as i32).to_le_bytes());
            c
        };
        let place = |i: usize, gap: usize| i * 5 + if i >= 100 { gap } else { 0 };
        let build = |gap: usize| {
            let mut out = vec![0u8; place(200, gap) + 500];
            for i in 0..200 {
                let c = call(place(i, gap), place((i + 100) % 200, gap));
                out[place(i, gap)..place(i, gap) + 5].copy_from_slice(&c);
            }
            out
        };
        let (old, new) = (build(0), build(1000));
        let mut collected = ChunkFields::default();
        let (mut add, mut xor) = (vec![0u8; 1000], vec![0u8; 1000]);
        for (new_at, old_at, len) in [(0, 0, 500), (1500, 500, 500)] {
            let (o, n) = (&old[old_at..old_at + len], &new[new_at..new_at + len]);
            for i in 0..len {
                add[old_at + i] = n[i].wrapping_sub(o[i]);
                xor[old_at + i] = n[i] ^ o[i];
            }
            collected.scan_copy(o, n, old_at as u64, new_at as u64, old_at);
        }
        assert!(add.iter().any(|&b| b != 0));
        let map = collected.finish(&mut add, &mut xor);
        assert!(!map.is_empty());
        assert!(
            add.iter().chain(&xor).all(|&b| b == 0),
            "every field predicted"
        );
        let mut predicted = old[..500].to_vec();
        map.predict_copy(&mut predicted, 0, 0);
        assert_eq!(predicted, new[..500]);
    }
}
