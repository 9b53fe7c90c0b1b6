//! AFL++ entry point for `weir_fuzz::record_batch` (see fuzz/README.md). Without AFL++ it reads one
//! input from stdin, which is how a saved crash is reproduced.

/// The broker's allocator: a count near `i32::MAX` reserved by a generated decoder costs
/// nothing instead of aborting, exactly as in the `weir` binary.
#[global_allocator]
static ALLOCATOR: weir_fuzz::alloc_guard::ReservingAllocator = weir_fuzz::alloc_guard::ReservingAllocator;

fn main() {
    weir_fuzz::watch::install();
    afl::fuzz(false, |data: &[u8]| weir_fuzz::watch::run(data, weir_fuzz::record_batch));
}
