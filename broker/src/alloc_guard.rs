//! A global allocator that keeps a lying length in a request from aborting the broker.
//!
//! The generated decoders reserve `Vec::with_capacity(n)` for an array whose count `n` comes
//! off the wire before they find out the frame is too short to hold it. A count of two billion
//! asks for hundreds of gigabytes; the system allocator refuses and Rust aborts the process.
//! This allocator serves very large requests with `MAP_NORESERVE` mappings instead: address
//! space is promised, memory is used only as pages are touched, so the doomed reservation costs
//! nothing and the decoder fails normally on the next read. Everything else goes to the system
//! allocator.

use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations at least this large are mapped lazily.
const LAZY_THRESHOLD: usize = 256 << 20;
const PAGE: usize = 4096;

pub struct ReservingAllocator;

fn is_lazy(layout: &Layout) -> bool {
    layout.size() >= LAZY_THRESHOLD && layout.align() <= PAGE
}

// SAFETY: defers to `System` except for large, page-aligned requests, which are served by
// anonymous private mappings (page-aligned, zero-filled) and returned by munmap of that size.
unsafe impl GlobalAlloc for ReservingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !is_lazy(&layout) {
            // SAFETY: same contract as ours.
            return unsafe { System.alloc(layout) };
        }
        // SAFETY: a fresh anonymous mapping; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                layout.size(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            std::ptr::null_mut()
        } else {
            ptr.cast()
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_lazy(&layout) {
            // SAFETY: `ptr` came from our mmap of exactly `layout.size()` bytes.
            unsafe { libc::munmap(ptr.cast(), layout.size()) };
        } else {
            // SAFETY: `ptr` came from `System` with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_lazy(&layout) {
            // SAFETY: anonymous mappings are zero-filled.
            unsafe { self.alloc(layout) }
        } else {
            // SAFETY: same contract as ours.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: caller upholds realloc's contract; `new_size` with `layout.align()` is valid.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if !is_lazy(&layout) && !is_lazy(&new_layout) {
            // SAFETY: both sides belong to `System`.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: allocate, copy the overlap, free the old block: each through the matching path.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}
