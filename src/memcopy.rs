//! The module's `memcpy` and `memmove`: short copies as loads and stores.
//!
//! With the `bulk-memory` feature, LLVM lowers every copy whose length is
//! not a constant (a `String` clone, a `Vec` grown, a slice extended) to a
//! `memory.copy` instruction, which wasmtime runs as a libcall: measured
//! in the engine (callgrind, `policy-bench/instructions.sh`) about 190
//! instructions a copy whatever its length, about 110 copies in a
//! StorageClass evaluation and 200 in a DaemonSet's, most of them short.
//! `.cargo/config.toml` builds the module without `bulk-memory` (its
//! `target-cpu=mvp`), so those copies call `memcpy` (or `memmove`), defined
//! here and inlined where LTO sees fit: a copy of up to 64 bytes is a few
//! loads then as many stores, a longer one still the one `memory.copy`
//! (`bulk_copy`). The standard library is prebuilt with `bulk-memory` and
//! keeps its own `memory.copy`s. Measured: 4 K to 5 K instructions fewer
//! on every request, for 650 bytes of module.
//!
//! Every load comes before the first store, so overlapping ranges are
//! copied as `memmove` must copy them; the code has no loop, which LLVM
//! could recognise as a copy and turn back into a call to `memcpy`.

/// Copies `n` bytes from `src` to `dst`; the ranges may overlap.
///
/// # Safety
/// `src` is valid for reads and `dst` for writes of `n` bytes.
#[cfg(any(target_arch = "wasm32", test))]
#[inline(always)]
unsafe fn copy_raw(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY (every access): each offset plus its width is at most `n`,
    // the caller's bounds; the widths are chosen by the branch taken.
    unsafe {
        if n >= 8 {
            if n > 64 {
                return bulk_copy(dst, src, n);
            }
            let word = |at: usize| src.add(at).cast::<u64>().read_unaligned();
            let put = |at: usize, value: u64| dst.add(at).cast::<u64>().write_unaligned(value);
            if n <= 16 {
                let (head, tail) = (word(0), word(n - 8));
                put(0, head);
                put(n - 8, tail);
            } else if n <= 32 {
                let (a, b, c, d) = (word(0), word(8), word(n - 16), word(n - 8));
                put(0, a);
                put(8, b);
                put(n - 16, c);
                put(n - 8, d);
            } else {
                let (a, b, c, d) = (word(0), word(8), word(16), word(24));
                let (e, f, g, h) = (word(n - 32), word(n - 24), word(n - 16), word(n - 8));
                put(0, a);
                put(8, b);
                put(16, c);
                put(24, d);
                put(n - 32, e);
                put(n - 24, f);
                put(n - 16, g);
                put(n - 8, h);
            }
        } else if n >= 4 {
            let (head, tail) = (
                src.cast::<u32>().read_unaligned(),
                src.add(n - 4).cast::<u32>().read_unaligned(),
            );
            dst.cast::<u32>().write_unaligned(head);
            dst.add(n - 4).cast::<u32>().write_unaligned(tail);
        } else if n > 0 {
            // 1 to 3 bytes: the first, the middle and the last.
            let (first, middle, last) = (*src, *src.add(n / 2), *src.add(n - 1));
            *dst = first;
            *dst.add(n / 2) = middle;
            *dst.add(n - 1) = last;
        }
    }
}

/// A long copy, as the one `memory.copy` instruction (this function alone
/// is compiled with `bulk-memory`).
///
/// # Safety
/// As [`copy_raw`].
#[cfg(target_arch = "wasm32")]
#[target_feature(enable = "bulk-memory")]
unsafe fn bulk_copy(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's contract.
    unsafe { core::ptr::copy(src, dst, n) }
}

#[cfg(all(not(target_arch = "wasm32"), test))]
unsafe fn bulk_copy(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's contract.
    unsafe { core::ptr::copy(src, dst, n) }
}

/// The C symbol the compiler calls.
///
/// # Safety
/// `memcpy`'s contract.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's contract.
    unsafe { copy_raw(dst, src, n) };
    dst
}

/// The C symbol the compiler calls.
///
/// # Safety
/// `memmove`'s contract.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's contract; overlapping ranges are copied as
    // memmove copies them (every load before the first store).
    unsafe { copy_raw(dst, src, n) };
    dst
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length up to 80 (each branch and both ends of each), every
    /// offset of an overlapping source before and after the destination in
    /// one buffer, against `copy_within` (memmove's meaning).
    #[test]
    fn copies_as_memmove_does_at_every_length_and_overlap() {
        let pattern: Vec<u8> = (0..200).map(|i| (i * 37 % 251) as u8).collect();
        for n in 0..=80usize {
            for src in 0..=24usize {
                for dst in 0..=24usize {
                    let mut expected = pattern.clone();
                    expected.copy_within(src..src + n, dst);
                    let mut actual = pattern.clone();
                    // SAFETY: both ranges lie inside `actual` (24 + 80 < 200).
                    unsafe {
                        let base = actual.as_mut_ptr();
                        copy_raw(base.add(dst), base.add(src), n);
                    }
                    assert_eq!(actual, expected, "n {n} src {src} dst {dst}");
                }
            }
        }
    }
}
