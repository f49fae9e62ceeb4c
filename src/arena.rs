//! A per-evaluation bump arena: the allocator of the wasm module.
//!
//! policy-server builds a fresh instance for every evaluation (see
//! `../shared/kubewarden-contract.md`), so nothing an evaluation allocates
//! outlives it. Measured natively (callgrind, `policy-bench`'s native-loop on
//! the fluent-bit request), a quarter of an evaluation went to `malloc` and
//! `free`: building the request's `serde_json::Value` tree and the compiled
//! settings, then freeing them node by node. Inside [`Arena::within`] an
//! allocation is a pointer bump in a chunk the arena owns and a free is a
//! no-op (or a step back, when it frees the newest block); the chunks are
//! reset wholesale when the evaluation ends. Outside it, every call goes to
//! the backing allocator (dlmalloc on wasm32-wasip1), so what waPC allocates
//! around an evaluation (the request buffer, the registry of handlers) lives
//! and dies as before.
//!
//! The one rule for callers: nothing allocated inside `within` may be used
//! after it returns. `within` copies its result out before resetting, and no
//! code of the policy keeps state across evaluations (no statics, no
//! caches).

use std::alloc::{GlobalAlloc, Layout};

/// Drops `value`, except in the wasm module: there everything an
/// evaluation allocates is arena memory, reclaimed wholesale when it ends,
/// and dropping a large tree (the request's `Value`, the compiled
/// settings) would walk every node only to free nothing.
pub fn discard<T>(value: T) {
    #[cfg(target_arch = "wasm32")]
    std::mem::forget(value);
    #[cfg(not(target_arch = "wasm32"))]
    drop(value);
}

/// Puts `new` in `slot` and discards the value it replaces (settings
/// defaults a field or section read from the payload replaces).
pub fn replace<T>(slot: &mut T, new: T) {
    discard(std::mem::replace(slot, new));
}

use std::cell::Cell;
use std::ptr;

/// The first chunk; later chunks double (a 5 MB object needs a few).
const FIRST_CHUNK: usize = 256 * 1024;
/// Chunks an arena can own: 256 KiB doubled 20 times exceeds wasm32's 4 GiB.
const MAX_CHUNKS: usize = 20;
const CHUNK_ALIGN: usize = 16;

#[derive(Clone, Copy)]
struct Chunk {
    start: usize,
    end: usize,
}

/// A bump arena over a backing allocator `B`. `Cell`s: the wasm module is
/// single-threaded (no `threads` feature), see the `Sync` impl below.
pub struct Arena<B: GlobalAlloc> {
    backing: B,
    active: Cell<bool>,
    chunks: [Cell<Chunk>; MAX_CHUNKS],
    chunk_count: Cell<usize>,
    /// The chunk being bumped, the next free byte in it and its end (0
    /// before the first chunk): the end is kept apart so that the fast
    /// path of `bump` reads two cells and indexes nothing.
    current: Cell<usize>,
    next: Cell<usize>,
    end: Cell<usize>,
    /// The newest allocation: freeing or growing it is done in place.
    last: Cell<usize>,
}

// SAFETY: wasm32-wasip1 modules built without the `threads` target feature
// have one thread; the arena is only installed as the global allocator there.
// Native tests use their own `Arena` values on one thread.
unsafe impl<B: GlobalAlloc> Sync for Arena<B> {}

impl<B: GlobalAlloc> Arena<B> {
    pub const fn new(backing: B) -> Self {
        Self {
            backing,
            active: Cell::new(false),
            chunks: [const { Cell::new(Chunk { start: 0, end: 0 }) }; MAX_CHUNKS],
            chunk_count: Cell::new(0),
            current: Cell::new(0),
            next: Cell::new(0),
            end: Cell::new(0),
            last: Cell::new(0),
        }
    }

    /// Runs `evaluate` with its allocations in the arena, copies the bytes it
    /// returns to the backing allocator, then resets the arena. Re-entrant
    /// calls run inside the outer scope.
    pub fn within(&self, evaluate: impl FnOnce() -> Vec<u8>) -> Vec<u8> {
        if self.active.get() {
            return evaluate();
        }
        self.active.set(true);
        let in_arena = evaluate();
        self.active.set(false);
        // Allocated by the backing allocator: `active` is off.
        let out = in_arena.as_slice().to_vec();
        // Freed as an arena block (a no-op), before the reset.
        drop(in_arena);
        self.reset();
        out
    }

    /// Forgets every block; keeps the first chunk for the next evaluation of
    /// a reused instance, returns the others to the backing allocator.
    fn reset(&self) {
        for cell in &self.chunks[1..self.chunk_count.get().max(1)] {
            let chunk = cell.replace(Chunk { start: 0, end: 0 });
            // SAFETY: allocated in `grow` with this layout.
            unsafe {
                self.backing.dealloc(
                    chunk.start as *mut u8,
                    Layout::from_size_align_unchecked(chunk.end - chunk.start, CHUNK_ALIGN),
                );
            }
        }
        self.chunk_count.set(self.chunk_count.get().min(1));
        self.current.set(0);
        let first = self.chunks[0].get();
        self.next.set(first.start);
        self.end.set(first.end);
        self.last.set(0);
    }

    fn owns(&self, p: usize) -> bool {
        // The current chunk first: it holds nearly every block freed.
        let current = self.chunks[self.current.get()].get();
        (current.start <= p && p < current.end)
            || self.chunks[..self.chunk_count.get()].iter().any(|c| {
                let c = c.get();
                c.start <= p && p < c.end
            })
    }

    /// A new chunk large enough for `layout`, or `false` when the backing
    /// allocator has no more memory.
    fn grow(&self, layout: Layout) -> bool {
        let count = self.chunk_count.get();
        if count == MAX_CHUNKS {
            return false;
        }
        let doubled = FIRST_CHUNK << count;
        let Some(size) = layout.size().checked_add(layout.align()) else {
            return false;
        };
        let size = doubled.max(size);
        let Ok(chunk_layout) = Layout::from_size_align(size, CHUNK_ALIGN) else {
            return false;
        };
        // SAFETY: a non-zero size.
        let start = unsafe { self.backing.alloc(chunk_layout) } as usize;
        if start == 0 {
            return false;
        }
        self.chunks[count].set(Chunk {
            start,
            end: start + size,
        });
        self.chunk_count.set(count + 1);
        self.current.set(count);
        self.next.set(start);
        self.end.set(start + size);
        true
    }

    /// The block for `layout` in the current chunk. Every allocation of an
    /// evaluation comes here: measured in the engine (`make
    /// bench-instructions`), a few hundred per request, so the fast path is
    /// inlined and aligns with a mask (alignments are powers of two) rather
    /// than `next_multiple_of`'s division.
    #[inline(always)]
    fn bump(&self, layout: Layout) -> *mut u8 {
        let mask = layout.align() - 1;
        if let Some(at) = self.next.get().checked_add(mask).map(|n| n & !mask)
            && let Some(end) = at.checked_add(layout.size())
            && end <= self.end.get()
        {
            self.next.set(end);
            self.last.set(at);
            return at as *mut u8;
        }
        self.bump_in_new_chunk(layout)
    }

    #[cold]
    #[inline(never)]
    fn bump_in_new_chunk(&self, layout: Layout) -> *mut u8 {
        if !self.grow(layout) {
            return ptr::null_mut();
        }
        // `grow` sized the new chunk for `layout` with any alignment.
        self.bump(layout)
    }
}

// SAFETY: blocks handed out inside `within` are disjoint ranges of chunks the
// arena owns and keeps until `reset`; everything else is the backing
// allocator's, and a block is freed or resized by whichever allocator made it.
unsafe impl<B: GlobalAlloc> GlobalAlloc for Arena<B> {
    #[inline(always)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if self.active.get() {
            self.bump(layout)
        } else {
            // SAFETY: the caller's contract, passed on.
            unsafe { self.backing.alloc(layout) }
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let p = block as usize;
        if self.owns(p) {
            // The newest block is given back; any other waits for the reset.
            if self.active.get() && p == self.last.get() && p + layout.size() == self.next.get() {
                self.next.set(p);
                self.last.set(0);
            }
        } else {
            // SAFETY: the backing allocator made it.
            unsafe { self.backing.dealloc(block, layout) }
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = block as usize;
        let owned = self.owns(p);
        if !owned && !self.active.get() {
            // SAFETY: the caller's contract, passed on.
            return unsafe { self.backing.realloc(block, layout, new_size) };
        }
        if owned
            && self.active.get()
            && p == self.last.get()
            && p.checked_add(new_size)
                .is_some_and(|end| end <= self.end.get())
        {
            self.next.set(p + new_size);
            return block;
        }
        // SAFETY: `layout.align()` is a valid alignment and the caller
        // guarantees `new_size` fits with it.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a valid layout; `alloc` picks the arena or the backing.
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            // SAFETY: both blocks are valid for the smaller size and distinct.
            unsafe {
                ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).expect("valid layout")
    }

    #[test]
    fn outside_a_scope_the_backing_allocator_serves() {
        let arena = Arena::new(System);
        unsafe {
            let p = arena.alloc(layout(64, 8));
            assert!(!p.is_null());
            assert!(!arena.owns(p as usize));
            arena.dealloc(p, layout(64, 8));
        }
        assert_eq!(arena.chunk_count.get(), 0);
    }

    #[test]
    fn inside_a_scope_blocks_are_aligned_disjoint_and_reclaimed_wholesale() {
        let arena = Arena::new(System);
        let out = arena.within(|| unsafe {
            let mut blocks = Vec::new();
            for (i, align) in [1usize, 8, 16, 4, 2, 64]
                .iter()
                .cycle()
                .take(600)
                .enumerate()
            {
                let size = 1 + (i * 37) % 3000;
                let p = arena.alloc(layout(size, *align));
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0);
                assert!(arena.owns(p as usize));
                ptr::write_bytes(p, (i % 251) as u8, size);
                blocks.push((p, size, (i % 251) as u8));
            }
            // Disjoint: every block still holds its own byte.
            for (p, size, byte) in &blocks {
                let bytes = std::slice::from_raw_parts(*p, *size);
                assert!(bytes.iter().all(|b| b == byte));
            }
            // 600 blocks of up to 3 KB need more than the first chunk.
            assert!(arena.chunk_count.get() > 1);
            b"verdict".to_vec()
        });
        assert_eq!(out, b"verdict");
        assert!(!arena.owns(out.as_ptr() as usize));
        assert_eq!(arena.chunk_count.get(), 1);
        assert_eq!(arena.next.get(), arena.chunks[0].get().start);
    }

    #[test]
    fn the_newest_block_grows_and_shrinks_in_place() {
        let arena = Arena::new(System);
        arena.within(|| unsafe {
            let a = arena.alloc(layout(10, 1));
            ptr::write_bytes(a, 7, 10);
            let grown = arena.realloc(a, layout(10, 1), 1000);
            assert_eq!(grown, a);
            assert_eq!(std::slice::from_raw_parts(grown, 10), &[7; 10]);
            let b = arena.alloc(layout(10, 1));
            // `a` is no longer the newest: it moves, its bytes with it.
            let moved = arena.realloc(grown, layout(1000, 1), 2000);
            assert_ne!(moved, grown);
            assert_eq!(std::slice::from_raw_parts(moved, 10), &[7; 10]);
            // Freeing the newest block gives its bytes back.
            let before = arena.next.get();
            arena.dealloc(moved, layout(2000, 1));
            assert!(arena.next.get() < before);
            arena.dealloc(b, layout(10, 1));
            Vec::new()
        });
    }

    #[test]
    fn backing_blocks_moved_into_a_scope_and_freed_there_go_back() {
        let arena = Arena::new(System);
        let outside = unsafe { arena.alloc(layout(32, 8)) };
        unsafe { ptr::write_bytes(outside, 3, 32) };
        arena.within(|| unsafe {
            let moved = arena.realloc(outside, layout(32, 8), 64);
            assert!(arena.owns(moved as usize));
            assert_eq!(std::slice::from_raw_parts(moved, 32), &[3; 32]);
            Vec::new()
        });
    }

    #[test]
    fn scopes_nest_and_the_arena_is_reused() {
        let arena = Arena::new(System);
        for _ in 0..3 {
            let out = arena.within(|| {
                arena.within(|| {
                    let block = unsafe { arena.alloc(layout(100, 8)) };
                    assert!(arena.owns(block as usize));
                    b"inner".to_vec()
                })
            });
            assert_eq!(out, b"inner");
        }
        assert_eq!(arena.chunk_count.get(), 1);
    }
}
