//! A Raft group of replicas in one process, talking over real TCP on loopback, and the batches
//! the tests propose (shared by the loopback and simulation tests and the loopback benchmark).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use weir_storage::SharedLog;
use tokio::net::TcpListener;
use weir_replication::driver::{self, ReplicaHandle};
use weir_replication::transport::{self, Transport};
use weir_replication::{Replica, ReplicaConfig};
use weir_storage::{Log, LogConfig};

pub const GROUP: u64 = 1;

pub struct Member {
    pub id: u64,
    pub raft_addr: String,
    pub handle: ReplicaHandle,
}

/// Starts `size` replicas of one group in `dir`, each with its own Raft listener on 127.0.0.1.
pub async fn start(dir: &Path, size: u64, fsync: bool) -> Vec<Member> {
    let ids: Vec<u64> = (1..=size).collect();
    let mut listeners = Vec::new();
    let mut addrs = HashMap::new();
    for &id in &ids {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        addrs.insert(id, listener.local_addr().expect("addr").to_string());
        listeners.push(listener);
    }
    let mut members = Vec::new();
    for (listener, &id) in listeners.into_iter().zip(&ids) {
        let slot: Arc<OnceLock<ReplicaHandle>> = Arc::new(OnceLock::new());
        let router_slot = slot.clone();
        tokio::spawn(transport::serve(listener, Arc::new(move |group, message| {
            if let (GROUP, Some(handle)) = (group, router_slot.get()) {
                handle.step(message);
            }
        })));
        let peers: HashMap<u64, String> = addrs.iter().filter(|(&p, _)| p != id).map(|(&p, a)| (p, a.clone())).collect();
        let unreachable_slot = slot.clone();
        let transport = Transport::start(peers, Arc::new(move |_, peer| {
            if let Some(handle) = unreachable_slot.get() {
                handle.report_unreachable(peer);
            }
        }));
        let path = dir.join(format!("r{id}"));
        let log = Log::open(&path, LogConfig::default(), false, 0).expect("open log");
        let config = ReplicaConfig { fsync, ..ReplicaConfig::new(id) };
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let replica = Replica::open(Arc::new(SharedLog::new(log)), &path, &ids, config, &logger).expect("open replica");
        let handle = driver::spawn(replica, GROUP, transport);
        let _ = slot.set(handle.clone());
        members.push(Member { id, raft_addr: addrs[&id].clone(), handle });
    }
    members
}

/// Waits (bounded) until one member leads and may take proposals; returns its position.
pub async fn leader(members: &[Member], timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(at) = members.iter().position(|m| m.handle.status().borrow().is_leader) {
            return at;
        }
        assert!(Instant::now() < deadline, "no leader within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An uncompressed batch of `records` records of `value_bytes` bytes each, with CreateTime
/// `timestamp` (tests tell batches apart by it).
pub fn batch(timestamp: i64, records: usize, value_bytes: usize) -> Bytes {
    let records: Vec<Record> = (0..records)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // Base sequence -1 (no idempotence); sequences track offsets to stay one batch.
            sequence: i as i32 - 1,
            timestamp,
            key: Some(Bytes::from(format!("key-{timestamp}"))),
            value: Some(Bytes::from(vec![b'v'; value_bytes])),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression: Compression::None }).expect("encode");
    buf.freeze()
}
