//! The MD5 compression function (RFC 1321), written once as a macro over the operations it
//! needs and instantiated for one message in `u32`s and for two messages side by side in the
//! lanes of a 128-bit vector (SSE2, or AVX-512VL's rotate and three-input logic when the CPU
//! has them). MD5 is a chain of dependent steps, so one message leaves most of a core's
//! execution units idle; a second message in the next lane rides along almost for free.

/// The 64 additive constants.
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

/// Little-endian word `i` of a block.
fn word(block: &[u8; 64], i: usize) -> u32 {
    u32::from_le_bytes([
        block[4 * i],
        block[4 * i + 1],
        block[4 * i + 2],
        block[4 * i + 3],
    ])
}

/// One block's 64 steps on the state variables `$a..$d` with message words `$m`, given the
/// operations: `$add(x, y)`, `$konst(k)` (a constant in every lane), the round functions
/// `$f $g $h $i (b, c, d)` and `$rol(x, s)`. Adds the block's result into the state.
macro_rules! md5_block {
    ($a:ident, $b:ident, $c:ident, $d:ident, $m:ident,
     $add:ident, $konst:ident, $f:ident, $g:ident, $h:ident, $i:ident, $rol:ident) => {{
        let (a0, b0, c0, d0) = ($a, $b, $c, $d);
        macro_rules! step {
            ($fun:ident, $w:ident, $x:ident, $y:ident, $z:ident, $t:expr, $k:expr, $s:literal) => {
                let t = $add($add($w, $fun!($x, $y, $z)), $add($m[$k], $konst!(K[$t])));
                $w = $add($x, $rol!(t, $s));
            };
        }
        macro_rules! round {
            ($fun:ident, $r:literal, $k0:literal, $dk:literal, $s1:literal, $s2:literal, $s3:literal, $s4:literal) => {
                for q in 0..4 {
                    let t = 16 * $r + 4 * q;
                    let k = |j: usize| ($k0 + $dk * (4 * q + j)) % 16;
                    step!($fun, $a, $b, $c, $d, t, k(0), $s1);
                    step!($fun, $d, $a, $b, $c, t + 1, k(1), $s2);
                    step!($fun, $c, $d, $a, $b, t + 2, k(2), $s3);
                    step!($fun, $b, $c, $d, $a, t + 3, k(3), $s4);
                }
            };
        }
        round!($f, 0, 0, 1, 7, 12, 17, 22);
        round!($g, 1, 1, 5, 5, 9, 14, 20);
        round!($h, 2, 5, 3, 4, 11, 16, 23);
        round!($i, 3, 0, 7, 6, 10, 15, 21);
        $a = $add($a, a0);
        $b = $add($b, b0);
        $c = $add($c, c0);
        $d = $add($d, d0);
    }};
}

#[cfg(any(test, not(target_arch = "x86_64")))]
macro_rules! scalar_konst {
    ($k:expr) => {
        $k
    };
}
#[cfg(any(test, not(target_arch = "x86_64")))]
macro_rules! scalar_f {
    ($b:expr, $c:expr, $d:expr) => {
        $d ^ ($b & ($c ^ $d))
    };
}
#[cfg(any(test, not(target_arch = "x86_64")))]
macro_rules! scalar_g {
    ($b:expr, $c:expr, $d:expr) => {
        $c ^ ($d & ($b ^ $c))
    };
}
#[cfg(any(test, not(target_arch = "x86_64")))]
macro_rules! scalar_h {
    ($b:expr, $c:expr, $d:expr) => {
        $b ^ $c ^ $d
    };
}
#[cfg(any(test, not(target_arch = "x86_64")))]
macro_rules! scalar_i {
    ($b:expr, $c:expr, $d:expr) => {
        $c ^ ($b | !$d)
    };
}
#[cfg(any(test, not(target_arch = "x86_64")))]
macro_rules! scalar_rol {
    ($x:expr, $s:literal) => {
        $x.rotate_left($s)
    };
}

/// Compresses `blocks` into one message's `state`: the ends of messages, and stretches only
/// one of the two messages has. On x86_64 the `md5-asm` crate's assembly, a quarter faster
/// than [`compress_portable`] here.
pub fn compress(state: &mut [u32; 4], blocks: &[[u8; 64]]) {
    #[cfg(target_arch = "x86_64")]
    md5_asm::compress(state, blocks);
    #[cfg(not(target_arch = "x86_64"))]
    compress_portable(state, blocks);
}

/// [`compress`] in portable Rust: for CPUs without the assembly, and as the reference the
/// lanes are tested against.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn compress_portable(state: &mut [u32; 4], blocks: &[[u8; 64]]) {
    let [mut a, mut b, mut c, mut d] = *state;
    let add = u32::wrapping_add;
    for block in blocks {
        let m: [u32; 16] = std::array::from_fn(|i| word(block, i));
        md5_block!(
            a,
            b,
            c,
            d,
            m,
            add,
            scalar_konst,
            scalar_f,
            scalar_g,
            scalar_h,
            scalar_i,
            scalar_rol
        );
    }
    *state = [a, b, c, d];
}

#[cfg(target_arch = "x86_64")]
mod lanes {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_and_si128, _mm_cvtsi128_si32, _mm_or_si128, _mm_rol_epi32,
        _mm_set_epi32, _mm_set1_epi32, _mm_slli_epi32, _mm_srli_epi32, _mm_srli_si128,
        _mm_ternarylogic_epi32, _mm_xor_si128,
    };

    use super::{K, word};

    macro_rules! vec_konst {
        ($k:expr) => {
            _mm_set1_epi32($k as i32)
        };
    }
    macro_rules! sse_f {
        ($b:expr, $c:expr, $d:expr) => {
            _mm_xor_si128($d, _mm_and_si128($b, _mm_xor_si128($c, $d)))
        };
    }
    macro_rules! sse_g {
        ($b:expr, $c:expr, $d:expr) => {
            _mm_xor_si128($c, _mm_and_si128($d, _mm_xor_si128($b, $c)))
        };
    }
    macro_rules! sse_h {
        ($b:expr, $c:expr, $d:expr) => {
            _mm_xor_si128(_mm_xor_si128($b, $c), $d)
        };
    }
    macro_rules! sse_i {
        ($b:expr, $c:expr, $d:expr) => {
            _mm_xor_si128($c, _mm_or_si128($b, _mm_xor_si128($d, _mm_set1_epi32(-1))))
        };
    }
    macro_rules! sse_rol {
        ($x:expr, $s:literal) => {{
            let x = $x;
            _mm_or_si128(_mm_slli_epi32::<$s>(x), _mm_srli_epi32::<{ 32 - $s }>(x))
        }};
    }
    // AVX-512VL: each round function is one three-input logic op (its truth table as the
    // immediate), and rotation is one instruction.
    macro_rules! avx_f {
        ($b:expr, $c:expr, $d:expr) => {
            _mm_ternarylogic_epi32::<0xCA>($b, $c, $d)
        };
    }
    macro_rules! avx_g {
        ($b:expr, $c:expr, $d:expr) => {
            _mm_ternarylogic_epi32::<0xE4>($b, $c, $d)
        };
    }
    macro_rules! avx_h {
        ($b:expr, $c:expr, $d:expr) => {
            _mm_ternarylogic_epi32::<0x96>($b, $c, $d)
        };
    }
    macro_rules! avx_i {
        ($b:expr, $c:expr, $d:expr) => {
            _mm_ternarylogic_epi32::<0x39>($b, $c, $d)
        };
    }
    macro_rules! avx_rol {
        ($x:expr, $s:literal) => {
            _mm_rol_epi32::<$s>($x)
        };
    }

    /// Two states side by side, message 0 in lane 0 and message 1 in lane 1.
    macro_rules! compress_pair_with {
        ($s0:ident, $b0:ident, $s1:ident, $b1:ident,
         $f:ident, $g:ident, $h:ident, $i:ident, $rol:ident) => {{
            let pack = |j: usize| _mm_set_epi32(0, 0, $s1[j] as i32, $s0[j] as i32);
            let (mut a, mut b, mut c, mut d) = (pack(0), pack(1), pack(2), pack(3));
            let add = |x, y| _mm_add_epi32(x, y);
            for (x0, x1) in $b0.iter().zip($b1) {
                let m: [__m128i; 16] =
                    std::array::from_fn(|i| _mm_set_epi32(0, 0, word(x1, i) as i32, word(x0, i) as i32));
                md5_block!(a, b, c, d, m, add, vec_konst, $f, $g, $h, $i, $rol);
            }
            let lane0 = |v: __m128i| _mm_cvtsi128_si32(v) as u32;
            let lane1 = |v: __m128i| _mm_cvtsi128_si32(_mm_srli_si128::<4>(v)) as u32;
            *$s0 = [lane0(a), lane0(b), lane0(c), lane0(d)];
            *$s1 = [lane1(a), lane1(b), lane1(c), lane1(d)];
        }};
    }

    /// SSE2 (every x86_64 CPU): three operations per round function, three per rotation.
    #[target_feature(enable = "sse2")]
    pub fn pair_sse2(s0: &mut [u32; 4], b0: &[[u8; 64]], s1: &mut [u32; 4], b1: &[[u8; 64]]) {
        compress_pair_with!(s0, b0, s1, b1, sse_f, sse_g, sse_h, sse_i, sse_rol);
    }

    /// AVX-512VL: one operation per round function and per rotation, so each step's chain
    /// of dependent operations is four long.
    #[target_feature(enable = "avx512f,avx512vl")]
    pub fn pair_avx512(s0: &mut [u32; 4], b0: &[[u8; 64]], s1: &mut [u32; 4], b1: &[[u8; 64]]) {
        compress_pair_with!(s0, b0, s1, b1, avx_f, avx_g, avx_h, avx_i, avx_rol);
    }

    /// Compresses two messages with [`pair_avx512`] when `avx512` is asked for and the CPU
    /// has it (detected once, then cached by std), else with [`pair_sse2`].
    #[allow(unsafe_code)]
    pub fn pair(
        avx512: bool,
        s0: &mut [u32; 4],
        b0: &[[u8; 64]],
        s1: &mut [u32; 4],
        b1: &[[u8; 64]],
    ) {
        let has_avx512 = std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl");
        if avx512 && has_avx512 {
            // SAFETY: the CPU was just checked to have the features `pair_avx512` enables.
            unsafe { pair_avx512(s0, b0, s1, b1) }
        } else {
            // SAFETY: SSE2 is part of every x86_64 CPU.
            unsafe { pair_sse2(s0, b0, s1, b1) }
        }
    }
}

/// Compresses `b0` into `s0` and `b1` into `s1`, two messages at once; the two block lists
/// must be equally long.
pub fn compress_pair(s0: &mut [u32; 4], b0: &[[u8; 64]], s1: &mut [u32; 4], b1: &[[u8; 64]]) {
    debug_assert_eq!(b0.len(), b1.len());
    #[cfg(target_arch = "x86_64")]
    lanes::pair(true, s0, b0, s1, b1);
    #[cfg(not(target_arch = "x86_64"))]
    {
        compress(s0, b0);
        compress(s1, b1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(seed: u64, n: usize) -> Vec<[u8; 64]> {
        super::super::test_bytes(64 * n, seed)
            .as_chunks::<64>()
            .0
            .to_vec()
    }

    #[test]
    fn every_pair_implementation_matches_two_single_ones() {
        let (b0, b1) = (blocks(1, 37), blocks(2, 37));
        let init = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
        let (mut r0, mut r1) = (init, init);
        compress_portable(&mut r0, &b0);
        compress_portable(&mut r1, &b1);
        let (mut a0, mut a1) = (init, init);
        compress(&mut a0, &b0);
        compress(&mut a1, &b1);
        assert_eq!((a0, a1), (r0, r1), "single messages");
        let (mut s0, mut s1) = (init, init);
        compress_pair(&mut s0, &b0, &mut s1, &b1);
        assert_eq!((s0, s1), (r0, r1));
        #[cfg(target_arch = "x86_64")]
        {
            let (mut s0, mut s1) = (init, init);
            lanes::pair(false, &mut s0, &b0, &mut s1, &b1);
            assert_eq!((s0, s1), (r0, r1), "SSE2 lanes");
        }
    }
}
