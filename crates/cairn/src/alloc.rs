//! The binary's allocator: mimalloc, except for the blocks redb caches its
//! pages in, which come from a slab of exactly their size.
//!
//! mimalloc instead of glibc's malloc: a node allocates per request, per
//! proposal and per redb page copy from many threads; under CAS load from 64
//! clients glibc's allocator (`_int_malloc`, `_int_free`, `unlink_chunk`,
//! `malloc_consolidate`) took ~15% of the nodes' CPU, and its per-thread
//! arenas grow resident memory.
//!
//! The slab: redb keeps each cached 4 KiB page as an `Arc<[u8]>`, one block of
//! 4,112 bytes (the two reference counts, then the page). mimalloc serves that
//! from its 5,120-byte size class, and each thread's heap keeps its own
//! partly used pages of that class as the cache evicts pages one by one: at a
//! million files a 256 MiB cache held ~1.8 times its size resident, and since
//! pages are read on one thread and evicted on another, mimalloc spent CPU
//! abandoning and reclaiming its pages. Blocks of exactly that size instead
//! come from 1 MiB chunks cut into 4,112-byte slots, and a freed slot goes on
//! one free list that the next such block takes from (ARCHITECTURE.md,
//! "Decisions", has what it bought).
//! The slab never returns chunks, so it stays as large as the most such blocks
//! ever live at once: redb's cache, which `cache_bytes` bounds.
//!
//! Only the binary sets it: the libraries and the simulation keep the system
//! allocator.
//!
//! And no transparent huge pages (`without_huge_pages`, first thing in
//! `main`): mimalloc asks the kernel for them (`madvise`), so each fault in
//! its arenas and in the slab's chunks zeroed and mapped 2 MiB however little
//! of it was used. At a million files with a 256 MiB cache the node held
//! 349–350 MiB resident after a bench, 392 MiB at the peak; with them off
//! 320–325 and 354–359 (docs/benchmarks.md, session 11).
//!
//! And freed memory goes back to the kernel after 10 ms (`purge_soon`), not
//! mimalloc v3's default of a second: a node's threads free in bursts (a
//! 256-file transaction's request, its command, its entry), and what
//! mimalloc held for a second after each was 20–30 MiB resident that no
//! data needed. With a 64 MiB cache at a million files the load's peak went
//! 146–148 → 132 MiB; CAS throughput on 3 nodes was unchanged (three
//! alternated rounds; purging at once instead cost 6–12%).

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::{c_int, c_long};
use std::ptr::{self, NonNull};
use std::sync::Mutex;

/// The size of one redb page held in an `Arc<[u8]>`.
const SLOT_BYTES: usize = 4096 + 2 * size_of::<usize>();
/// The alignment every slot has (`Arc`'s: a `usize`'s).
const SLOT_ALIGN: usize = align_of::<usize>();
/// A chunk the slab cuts into slots: 255 slots and 16 bytes to spare.
const CHUNK_BYTES: usize = 1 << 20;

/// Turns transparent huge pages off for the whole process (Linux's
/// `PR_SET_THP_DISABLE`; every later page fault takes a small page). Best
/// effort: a kernel without the flag keeps its default.
pub fn without_huge_pages() {
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (v3.3, the version
/// the pinned `libmimalloc-sys` builds).
const MI_OPTION_PURGE_DELAY: c_int = 15;
/// How long mimalloc keeps freed memory before it returns it to the kernel.
const PURGE_DELAY_MS: c_long = 10;

unsafe extern "C" {
    #[cfg(test)]
    fn mi_option_get(option: c_int) -> c_long;
    fn mi_option_set(option: c_int, value: c_long);
}

/// Has mimalloc return freed memory after `PURGE_DELAY_MS`, unless the
/// environment says otherwise (`MIMALLOC_PURGE_DELAY`, read by mimalloc).
pub fn purge_soon() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mimalloc's option setter; every value is valid for this option.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
    }
}

pub struct NodeAllocator {
    slab: Mutex<Slab>,
}

impl NodeAllocator {
    pub const fn new() -> Self {
        Self {
            slab: Mutex::new(Slab {
                free: None,
                next: ptr::null_mut(),
                end: ptr::null_mut(),
            }),
        }
    }
}

/// Free slots (each holds the address of the next free one in its first
/// bytes), then the uncut rest of the newest chunk, `next..end`.
struct Slab {
    free: Option<NonNull<u8>>,
    next: *mut u8,
    end: *mut u8,
}

// SAFETY: the slab's pointers are to memory only it hands out; the mutex
// serializes every use of them.
unsafe impl Send for Slab {}

fn in_slab(layout: Layout) -> bool {
    layout.size() == SLOT_BYTES && layout.align() <= SLOT_ALIGN
}

impl NodeAllocator {
    /// A slot, or null when a chunk cannot be had.
    fn take_slot(&self) -> *mut u8 {
        let mut slab = self
            .slab
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(slot) = slab.free {
            // SAFETY: a free slot holds the address of the next free slot.
            slab.free = NonNull::new(unsafe { slot.as_ptr().cast::<*mut u8>().read() });
            return slot.as_ptr();
        }
        if (slab.end as usize) - (slab.next as usize) < SLOT_BYTES {
            // SAFETY: a non-zero size and a valid alignment.
            let chunk = unsafe {
                mimalloc::MiMalloc.alloc(Layout::from_size_align_unchecked(CHUNK_BYTES, 4096))
            };
            if chunk.is_null() {
                return chunk;
            }
            slab.next = chunk;
            // SAFETY: one past the chunk's end.
            slab.end = unsafe { chunk.add(CHUNK_BYTES) };
        }
        let slot = slab.next;
        // SAFETY: at least SLOT_BYTES remain in the chunk.
        slab.next = unsafe { slot.add(SLOT_BYTES) };
        slot
    }

    fn give_slot(&self, slot: *mut u8) {
        let mut slab = self
            .slab
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let next = slab.free.map_or(ptr::null_mut(), NonNull::as_ptr);
        // SAFETY: the slot is ours again and SLOT_ALIGN-aligned, room for a pointer.
        unsafe { slot.cast::<*mut u8>().write(next) };
        slab.free = NonNull::new(slot);
    }
}

// SAFETY: slab slots are SLOT_BYTES long, SLOT_ALIGN-aligned and handed out
// once until given back; everything else is mimalloc's.
unsafe impl GlobalAlloc for NodeAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if in_slab(layout) {
            return self.take_slot();
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if in_slab(layout) {
            let slot = self.take_slot();
            if !slot.is_null() {
                // SAFETY: the slot is SLOT_BYTES long and ours.
                unsafe { slot.write_bytes(0, SLOT_BYTES) };
            }
            return slot;
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if in_slab(layout) {
            return self.give_slot(ptr);
        }
        // SAFETY: allocated by mimalloc with this layout (the slab's never are).
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract: new_size is valid for the alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if !in_slab(layout) && !in_slab(new_layout) {
            // SAFETY: the caller's contract, passed on; neither side is a slot.
            return unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) };
        }
        // SAFETY: a valid layout; the old block is live and readable for the
        // smaller of the two sizes, then given back once copied.
        unsafe {
            let moved = self.alloc(new_layout);
            if !moved.is_null() {
                ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            moved
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn slot_layout() -> Layout {
        Layout::from_size_align(SLOT_BYTES, SLOT_ALIGN).unwrap()
    }

    #[test]
    fn slots_are_distinct_aligned_and_reused_once_freed() {
        let allocator = NodeAllocator::new();
        let layout = slot_layout();
        // More than one chunk's worth.
        let slots: Vec<*mut u8> = (0..600)
            .map(|_| unsafe { allocator.alloc(layout) })
            .collect();
        let distinct: HashSet<usize> = slots.iter().map(|slot| *slot as usize).collect();
        assert_eq!(distinct.len(), slots.len());
        for (i, slot) in slots.iter().enumerate() {
            assert!(!slot.is_null());
            assert_eq!(*slot as usize % SLOT_ALIGN, 0);
            // Each slot is writable over its whole length without touching another.
            unsafe { slot.write_bytes(i as u8, SLOT_BYTES) };
        }
        for (i, slot) in slots.iter().enumerate() {
            let bytes = unsafe { std::slice::from_raw_parts(*slot, SLOT_BYTES) };
            assert!(
                bytes.iter().all(|byte| *byte == i as u8),
                "slot {i} was overwritten"
            );
        }
        for slot in &slots[..10] {
            unsafe { allocator.dealloc(*slot, layout) };
        }
        let again: HashSet<usize> = (0..10)
            .map(|_| unsafe { allocator.alloc(layout) } as usize)
            .collect();
        let freed: HashSet<usize> = slots[..10].iter().map(|slot| *slot as usize).collect();
        assert_eq!(again, freed, "freed slots are handed out before new ones");
        let zeroed = unsafe { allocator.alloc_zeroed(layout) };
        let bytes = unsafe { std::slice::from_raw_parts(zeroed, SLOT_BYTES) };
        assert!(bytes.iter().all(|byte| *byte == 0));
    }

    /// The option set is mimalloc's purge delay: its default, a second, is
    /// no other option's, and it reads back as set.
    #[test]
    fn the_purge_delay_is_the_option_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        assert_eq!(unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) }, 1000);
        purge_soon();
        assert_eq!(
            unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) },
            PURGE_DELAY_MS
        );
    }

    #[test]
    fn realloc_moves_contents_into_and_out_of_the_slab() {
        let allocator = NodeAllocator::new();
        let small = Layout::from_size_align(100, 8).unwrap();
        unsafe {
            let block = allocator.alloc(small);
            block.write_bytes(7, 100);
            let slot = allocator.realloc(block, small, SLOT_BYTES);
            assert!(
                std::slice::from_raw_parts(slot, 100)
                    .iter()
                    .all(|b| *b == 7)
            );
            slot.add(100).write_bytes(9, SLOT_BYTES - 100);
            let large = allocator.realloc(slot, slot_layout(), 10_000);
            assert!(
                std::slice::from_raw_parts(large, 100)
                    .iter()
                    .all(|b| *b == 7)
            );
            assert!(
                std::slice::from_raw_parts(large.add(100), SLOT_BYTES - 100)
                    .iter()
                    .all(|b| *b == 9)
            );
            allocator.dealloc(large, Layout::from_size_align(10_000, 8).unwrap());
        }
    }
}
