//! MD5 of two streams of messages at once on one core. An image build hashes nearly every
//! byte twice, each file's MD5 and the image's; computing both in the two lanes of one
//! vector register ([`rounds`]) costs little more than one, and leaves the other core to
//! read and write.

mod rounds;

use std::io;

/// An MD5 computation in progress: whole 64-byte blocks go straight from the input to the
/// compression function; only bytes short of a block wait in `tail`.
#[derive(Clone)]
pub struct Md5 {
    state: [u32; 4],
    len: u64,
    tail: [u8; 64],
    tail_len: usize,
}

impl Default for Md5 {
    fn default() -> Self {
        Self {
            state: [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476],
            len: 0,
            tail: [0; 64],
            tail_len: 0,
        }
    }
}

impl Md5 {
    /// Takes bytes of `data` into the tail while it is partly filled, or all of them when
    /// they are short of a block; returns the rest, which starts on a block boundary of the
    /// message and is empty or at least a block long.
    fn absorb<'d>(&mut self, mut data: &'d [u8]) -> &'d [u8] {
        if self.tail_len > 0 {
            let take = (64 - self.tail_len).min(data.len());
            self.tail[self.tail_len..self.tail_len + take].copy_from_slice(&data[..take]);
            self.tail_len += take;
            self.len += take as u64;
            data = &data[take..];
            if self.tail_len == 64 {
                rounds::compress(&mut self.state, std::slice::from_ref(&self.tail));
                self.tail_len = 0;
            }
        }
        if self.tail_len == 0 && data.len() < 64 {
            self.tail[..data.len()].copy_from_slice(data);
            self.tail_len = data.len();
            self.len += data.len() as u64;
            return &[];
        }
        data
    }

    /// Counts `blocks` whole blocks as compressed into the state.
    fn compressed(&mut self, blocks: usize) {
        self.len += 64 * blocks as u64;
    }

    /// The digest of the message so far; the computation starts over for the next one.
    pub fn finish(&mut self) -> [u8; 16] {
        let bits = self.len.wrapping_mul(8);
        let mut pad = [0u8; 72];
        pad[0] = 0x80;
        let pad_len = 1 + (119 - self.tail_len) % 64;
        pad[pad_len..pad_len + 8].copy_from_slice(&bits.to_le_bytes());
        let rest = self.absorb(&pad[..pad_len + 8]);
        let (blocks, short) = rest.as_chunks::<64>();
        rounds::compress(&mut self.state, blocks);
        debug_assert!(short.is_empty() && self.tail_len == 0);
        let mut digest = [0u8; 16];
        for (out, word) in digest.chunks_exact_mut(4).zip(self.state) {
            out.copy_from_slice(&word.to_le_bytes());
        }
        *self = Self::default();
        digest
    }
}

/// One stream of messages being fed: the current stretch and whether it ends a message.
struct Lane<'m, 'd, I> {
    md5: &'m mut Md5,
    rest: &'d [u8],
    ends: bool,
    input: I,
}

impl<'m, 'd, I: Iterator<Item = (&'d [u8], bool)>> Lane<'m, 'd, I> {
    /// A lane feeding `input` to `md5`.
    fn new(md5: &'m mut Md5, input: I) -> Self {
        Self {
            md5,
            rest: &[],
            ends: false,
            input,
        }
    }

    /// The whole blocks ready to compress now, finishing messages (`done` gets their
    /// digests) and taking stretches as needed; empty once the input is used up.
    fn ready(
        &mut self,
        done: &mut impl FnMut([u8; 16]) -> io::Result<()>,
    ) -> io::Result<&'d [[u8; 64]]> {
        loop {
            self.rest = self.md5.absorb(self.rest);
            let (blocks, _) = self.rest.as_chunks::<64>();
            if !blocks.is_empty() {
                return Ok(blocks);
            }
            if self.ends {
                done(self.md5.finish())?;
                self.ends = false;
            }
            match self.input.next() {
                Some((data, ends)) => (self.rest, self.ends) = (data, ends),
                None => return Ok(&[]),
            }
        }
    }

    /// Marks the first `blocks` ready blocks as compressed.
    fn consume(&mut self, blocks: usize) {
        self.md5.compressed(blocks);
        self.rest = &self.rest[64 * blocks..];
    }
}

/// Feeds two streams of stretches, each `(bytes, ends a message)`, to `a` and `b`, two
/// blocks at a time (one per lane) while both have whole blocks, one at a time when only
/// one does. `a_done` and `b_done` get the digest of each message that ends; a message not
/// ended stays in `a` or `b` for the next call.
pub fn hash_two<'d>(
    a: &mut Md5,
    a_input: impl Iterator<Item = (&'d [u8], bool)>,
    mut a_done: impl FnMut([u8; 16]) -> io::Result<()>,
    b: &mut Md5,
    b_input: impl Iterator<Item = (&'d [u8], bool)>,
    mut b_done: impl FnMut([u8; 16]) -> io::Result<()>,
) -> io::Result<()> {
    let (mut a, mut b) = (Lane::new(a, a_input), Lane::new(b, b_input));
    loop {
        let (xa, xb) = (a.ready(&mut a_done)?, b.ready(&mut b_done)?);
        let n = xa.len().min(xb.len());
        if n > 0 {
            rounds::compress_pair(&mut a.md5.state, &xa[..n], &mut b.md5.state, &xb[..n]);
            a.consume(n);
            b.consume(n);
        } else if !xa.is_empty() {
            rounds::compress(&mut a.md5.state, xa);
            a.consume(xa.len());
        } else if !xb.is_empty() {
            rounds::compress(&mut b.md5.state, xb);
            b.consume(xb.len());
        } else {
            return Ok(());
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift) for this module's tests.
#[cfg(test)]
fn test_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use md5::Digest;

    use super::*;

    #[test]
    fn digests_match_md5_for_every_tail_length() {
        for len in (0..300).chain([4096, 100_000]) {
            let data = test_bytes(len, len as u64);
            let mut md5 = Md5::default();
            let (mut got, mut image) = (Vec::new(), Md5::default());
            // The message cut into stretches of 1, 2, 3 ... bytes on one lane, the whole of
            // it on the other.
            let mut pieces = Vec::new();
            let (mut at, mut step) = (0, 1);
            while at < data.len() {
                let end = (at + step).min(data.len());
                pieces.push((&data[at..end], end == data.len()));
                (at, step) = (end, step + 1);
            }
            if data.is_empty() {
                pieces.push((&data[..], true));
            }
            hash_two(
                &mut md5,
                pieces.into_iter(),
                |d| {
                    got.push(d);
                    Ok(())
                },
                &mut image,
                std::iter::once((&data[..], false)),
                |_| Ok(()),
            )
            .expect("hashes");
            let expected: [u8; 16] = md5::Md5::digest(&data).into();
            assert_eq!(got, [expected], "length {len}");
            assert_eq!(image.finish(), expected, "length {len}, other lane");
        }
    }

    #[test]
    fn many_messages_against_one_stream_across_calls() {
        let files: Vec<Vec<u8>> = (0..40)
            .map(|i| test_bytes(i * 997 % 9000, i as u64))
            .collect();
        let all: Vec<u8> = files.concat();
        let (mut md5, mut image, mut got) = (Md5::default(), Md5::default(), Vec::new());
        for half in files.chunks(20) {
            let stretches = half.iter().map(|f| (&f[..], true));
            let whole: Vec<u8> = half.concat();
            hash_two(
                &mut md5,
                stretches,
                |d| {
                    got.push(d);
                    Ok(())
                },
                &mut image,
                std::iter::once((&whole[..], false)),
                |_| Ok(()),
            )
            .expect("hashes");
        }
        let expected: Vec<[u8; 16]> = files.iter().map(|f| md5::Md5::digest(f).into()).collect();
        assert_eq!(got, expected);
        assert_eq!(image.finish(), <[u8; 16]>::from(md5::Md5::digest(&all)));
    }
}
