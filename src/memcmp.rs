//! The module's `memcmp`, eight bytes at a time.
//!
//! Every `==`, `starts_with` and `Ord` of strings and byte slices ends in a
//! call to `memcmp`: the settings reader's field names, `paths::is_within`
//! on every allowed and forbidden prefix, serde_json's object keys. The one
//! wasi-libc gives a wasm32-wasip1 module (musl's `src/string/memcmp.c`)
//! compares a byte per iteration; measured in the engine (`make
//! bench-instructions`, fluent-bit request), it was the function with the
//! most instructions of the evaluation, 7 % of it. Reading eight bytes per
//! step (wasm's `i64.load` takes any alignment) and locating the first
//! difference in the word gives the same answer in fewer steps. Defining
//! the symbol here keeps the linker from taking musl's (an archive member
//! is only linked for a symbol still undefined).

/// `memcmp`'s answer for two slices of equal length (the common length
/// otherwise): negative, zero or positive as `a` sorts before, equal to or
/// after `b`, bytes compared as unsigned. Only the sign is specified; this
/// returns the difference of the first differing bytes, as musl does.
pub fn compare(a: &[u8], b: &[u8]) -> i32 {
    // SAFETY: both are valid for the common length.
    unsafe { compare_raw(a.as_ptr(), b.as_ptr(), a.len().min(b.len())) }
}

/// The difference of the first differing bytes of two little-endian words
/// read at the same offset (`x != y`).
#[inline(always)]
fn first_difference(x: u64, y: u64) -> i32 {
    // Little-endian: the lowest differing bit is in the first differing
    // byte.
    let shift = (x ^ y).trailing_zeros() & !7;
    i32::from((x >> shift) as u8) - i32::from((y >> shift) as u8)
}

/// # Safety
/// `a` and `b` are valid for reads of `n` bytes.
#[inline(always)]
unsafe fn compare_raw(a: *const u8, b: *const u8, n: usize) -> i32 {
    // Most comparisons are of keys and names shorter than 32 bytes, where
    // a byte loop over the last `n % 8` bytes was half the cost: the tail
    // is instead one word read ending at `n`, overlapping bytes already
    // found equal (so its first difference is still the first of all).
    // SAFETY (every read): each offset plus its width is at most `n`; the
    // caller guarantees `n` readable bytes behind both pointers.
    let word =
        |p: *const u8, at: usize| unsafe { u64::from_le(p.add(at).cast::<u64>().read_unaligned()) };
    let half = |p: *const u8, at: usize| unsafe {
        u64::from(u32::from_le(p.add(at).cast::<u32>().read_unaligned()))
    };
    if n >= 8 {
        let mut at = 0;
        loop {
            let (x, y) = (word(a, at), word(b, at));
            if x != y {
                return first_difference(x, y);
            }
            if at + 8 == n {
                return 0;
            }
            at = if at + 16 <= n { at + 8 } else { n - 8 };
        }
    }
    if n >= 4 {
        for at in [0, n - 4] {
            let (x, y) = (half(a, at), half(b, at));
            if x != y {
                return first_difference(x, y);
            }
        }
        return 0;
    }
    for at in 0..n {
        // SAFETY: `at < n`.
        let (x, y) = unsafe { (*a.add(at), *b.add(at)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// The C symbol the compiler calls.
///
/// # Safety
/// `a` and `b` are valid for reads of `n` bytes (`memcmp`'s contract).
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the caller's contract.
    unsafe { compare_raw(a, b, n) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(a: &[u8], b: &[u8]) -> i32 {
        a.iter()
            .zip(b)
            .find(|(x, y)| x != y)
            .map_or(0, |(x, y)| i32::from(*x) - i32::from(*y))
    }

    /// Every length up to 40, every position of a first difference, both
    /// orders, bytes on both sides of 0x80 (unsigned comparison).
    #[test]
    fn agrees_with_a_byte_by_byte_comparison() {
        for n in 0..40usize {
            let base: Vec<u8> = (0..n).map(|i| (i * 37 % 251) as u8).collect();
            assert_eq!(compare(&base, &base), 0);
            for at in 0..n {
                for replacement in [0u8, 1, 0x7f, 0x80, 0xff] {
                    let mut other = base.clone();
                    other[at] = replacement;
                    // Later bytes differ too: only the first difference counts.
                    for later in other.iter_mut().skip(at + 1) {
                        *later = later.wrapping_add(3);
                    }
                    assert_eq!(compare(&base, &other), reference(&base, &other), "{n} {at}");
                    assert_eq!(compare(&other, &base), reference(&other, &base), "{n} {at}");
                }
            }
        }
    }

    #[test]
    fn compares_the_common_length_only() {
        assert_eq!(compare(b"abcdefghij", b"abcdefghijkl"), 0);
        assert!(compare(b"abcdefghiz", b"abcdefghijkl") > 0);
    }
}
