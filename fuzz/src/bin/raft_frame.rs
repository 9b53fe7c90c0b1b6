//! AFL++ entry point for `weir_fuzz::raft_frame` (see fuzz/README.md). Without AFL++ it reads
//! one input from stdin, which is how a saved crash is reproduced.

#[global_allocator]
static ALLOCATOR: weir_fuzz::alloc_guard::ReservingAllocator = weir_fuzz::alloc_guard::ReservingAllocator;

fn main() {
    weir_fuzz::watch::install();
    afl::fuzz(false, |data: &[u8]| weir_fuzz::watch::run(data, weir_fuzz::raft_frame));
}
