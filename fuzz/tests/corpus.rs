//! Replays every committed corpus file and every regression input through the harnesses (with
//! the memory watch), uninstrumented but with overflow checks: `cd fuzz && cargo test`. A crash
//! found by fuzzing is fixed where it is and its input added under `regressions/<target>/` (and
//! `corpus/<target>/`), so this test keeps it fixed.

use std::path::Path;

/// The broker's allocator, as in the fuzz targets and the `weir` binary: inputs with lying array
/// counts reserve address space only.
#[global_allocator]
static ALLOCATOR: weir_fuzz::alloc_guard::ReservingAllocator = weir_fuzz::alloc_guard::ReservingAllocator;

fn replay(dir: &str, harness: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let Ok(entries) = std::fs::read_dir(&dir) else { return 0 };
    let mut n = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        eprintln!("{}", path.display());
        weir_fuzz::watch::run(&data, harness);
        n += 1;
    }
    n
}

#[test]
fn request_corpus() {
    assert!(replay("corpus/request", weir_fuzz::request) > 0);
    replay("regressions/request", weir_fuzz::request);
}

#[test]
fn record_batch_corpus() {
    assert!(replay("corpus/record_batch", weir_fuzz::record_batch) > 0);
    replay("regressions/record_batch", weir_fuzz::record_batch);
}

#[test]
fn raft_frame_corpus() {
    assert!(replay("corpus/raft_frame", weir_fuzz::raft_frame) > 0);
    replay("regressions/raft_frame", weir_fuzz::raft_frame);
}
