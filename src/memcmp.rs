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

/// # Safety
/// `a` and `b` are valid for reads of `n` bytes.
#[inline(always)]
unsafe fn compare_raw(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    // SAFETY (every read): `i + 8 <= n`, then `i < n`; the caller
    // guarantees `n` readable bytes behind both pointers.
    while i + 8 <= n {
        let (x, y) = unsafe {
            (
                a.add(i).cast::<u64>().read_unaligned(),
                b.add(i).cast::<u64>().read_unaligned(),
            )
        };
        if x != y {
            // Little-endian: the lowest differing bit is in the first
            // differing byte.
            i += ((u64::from_le(x) ^ u64::from_le(y)).trailing_zeros() / 8) as usize;
            break;
        }
        i += 8;
    }
    while i < n {
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
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
