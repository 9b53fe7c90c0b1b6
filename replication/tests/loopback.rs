//! Three replicas over real sockets on loopback: they elect a leader, commit proposals on every
//! replica, survive malformed frames on the Raft port, and move leadership on request.

#[path = "support/loopback.rs"]
mod loopback;

use std::io::Write;
use std::time::{Duration, Instant};

use bytes::Bytes;

fn batch(id: i64) -> Bytes {
    loopback::batch(id, 1, 16)
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_replicate_over_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let members = loopback::start(dir.path(), 3, true).await;
    let leader = loopback::leader(&members, Duration::from_secs(20)).await;
    let mut last = None;
    for id in 0..50 {
        let info = members[leader].handle.propose(batch(id), None).await.expect("committed");
        if let Some(previous) = last {
            assert_eq!(info.base_offset, previous + 1, "offsets follow each other");
        }
        last = Some(info.base_offset);
    }
    let end = last.unwrap() + 1;
    wait_for("every replica's high watermark", || members.iter().all(|m| m.handle.status().borrow().high_watermark >= end)).await;

    // Garbage on a follower's Raft port closes that connection only.
    let follower = (leader + 1) % 3;
    for garbage in [&[0xffu8; 64][..], &[0, 0, 0, 9, 7, 1, 2, 3, 4, 5, 6, 7, 8][..], &[0x04, 0, 0, 0][..]] {
        let mut stream = std::net::TcpStream::connect(&members[follower].raft_addr).unwrap();
        stream.write_all(garbage).unwrap();
    }
    let info = members[leader].handle.propose(batch(99), None).await.expect("still replicating");
    wait_for("the follower after garbage", || members[follower].handle.status().borrow().high_watermark > info.last_offset).await;

    // Leadership moves on request, and the new leader takes proposals.
    let target = members[follower].id;
    members[leader].handle.transfer_leadership(target);
    wait_for("the transfer", || members[follower].handle.status().borrow().is_leader).await;
    members[follower].handle.propose(batch(100), None).await.expect("committed by the new leader");
    let refused = members[leader].handle.propose(batch(101), None).await;
    assert!(refused.is_err(), "the old leader refuses proposals");
}
