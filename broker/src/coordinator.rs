//! What the group coordinator and the transaction coordinator share. Each keeps its state in a
//! compacted internal topic (`__consumer_offsets`, `__transaction_state`); the coordinator of a
//! key (a group id, a transactional id) is the leader of the key's partition there — Java's
//! `String.hashCode` modulo the partition count, as Kafka computes it — and it serves a key only
//! once it has loaded that partition. A single broker leads and loads every partition.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::records::Record;
use parking_lot::Mutex;

use crate::metadata::{Metadata, Refusal};
use crate::partition::Partition;
use crate::BrokerError;

/// The partition of an internal topic with `partitions` partitions that holds `key`, from Java's
/// `String.hashCode` of it. Kafka takes `Utils.abs(hash) % partitions`; Weir has always
/// cleared the sign bit instead, which places keys with a negative hash code elsewhere than
/// Kafka would. Clients never see the difference (FindCoordinator names the coordinator), and
/// changing it would move the groups already stored in existing data directories.
pub fn partition_for(key: &str, partitions: i32) -> i32 {
    let hash = key.encode_utf16().fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(unit as i32));
    (hash & i32::MAX) % partitions.max(1)
}

/// The partitions of one internal topic this broker coordinates (leads and has loaded).
pub struct Coordinated {
    topic: &'static str,
    /// `None` on a single node, which coordinates every key.
    loaded: Option<Mutex<HashSet<i32>>>,
}

impl Coordinated {
    pub fn new(topic: &'static str, cluster: bool) -> Coordinated {
        Coordinated { topic, loaded: cluster.then(|| Mutex::new(HashSet::new())) }
    }

    /// Why this broker may not serve `key` now: COORDINATOR_NOT_AVAILABLE before the topic
    /// exists, NOT_COORDINATOR when another broker leads the key's partition,
    /// COORDINATOR_LOAD_IN_PROGRESS while it is being loaded here.
    pub fn error(&self, metadata: &Metadata, key: &str) -> Option<ResponseError> {
        let Some(topic) = metadata.topic(self.topic) else { return Some(ResponseError::CoordinatorNotAvailable) };
        let loaded = self.loaded.as_ref()?;
        let index = partition_for(key, topic.partition_count());
        if loaded.lock().contains(&index) {
            return None;
        }
        match topic.partition(index) {
            Ok(partition) if partition.leadership(-1).is_leader => Some(ResponseError::CoordinatorLoadInProgress),
            _ => Some(ResponseError::NotCoordinator),
        }
    }

    /// Whether partition `index` is loaded here (always, on a single node).
    pub fn is_loaded(&self, index: i32) -> bool {
        self.loaded.as_ref().is_none_or(|loaded| loaded.lock().contains(&index))
    }

    pub fn set_loaded(&self, index: i32, loaded: bool) {
        if let Some(set) = &self.loaded {
            if loaded {
                set.lock().insert(index);
            } else {
                set.lock().remove(&index);
            }
        }
    }

    /// The partition holding `key`, hosted here.
    pub fn partition(&self, metadata: &Metadata, key: &str) -> Result<Arc<Partition>, Refusal> {
        let topic = metadata
            .topic(self.topic)
            .ok_or_else(|| Refusal::new(ResponseError::CoordinatorNotAvailable, format!("{} does not exist yet", self.topic)))?;
        topic
            .partition(partition_for(key, topic.partition_count()))
            .map_err(|_| Refusal::new(ResponseError::NotCoordinator, format!("this broker does not lead the key's {} partition", self.topic)))
            .cloned()
    }
}

/// A batch appended to a coordinator's partition.
pub struct Written {
    pub partition: Arc<Partition>,
    /// The offset after the batch (in a cluster, before it commits: at most that offset).
    pub end_offset: i64,
    /// Cluster mode: resolves with the real end offset once a quorum committed the batch.
    committed: Option<Committed>,
}

/// Resolves with a batch's end offset once its Raft group committed it.
type Committed = Pin<Box<dyn Future<Output = Result<i64, ResponseError>> + Send>>;

impl Written {
    /// Waits until the batch is durable — flushed (single node, when `fsync`), or committed by
    /// a quorum — and returns its end offset. Errors are the partition's: a lost leadership is
    /// NOT_LEADER_OR_FOLLOWER (a coordinator says NOT_COORDINATOR, see [`as_coordinator`]),
    /// a refusal of the log keeps its code (INVALID_PRODUCER_EPOCH for a fenced producer).
    pub async fn durable(self, fsync: bool) -> Result<i64, ResponseError> {
        match self.committed {
            Some(committed) => committed.await,
            None if fsync => self.partition.flush_to(self.end_offset).await.map(|()| self.end_offset).map_err(|_| ResponseError::KafkaStorageError),
            None => Ok(self.end_offset),
        }
    }
}

/// Appends `batch` (from [`crate::internal_log`], `records` records) to a coordinator's
/// partition: proposed now in a cluster (in call order), appended at once on a single node.
pub fn append(partition: Arc<Partition>, batch: Bytes, records: usize) -> Result<Written, Refusal> {
    if let Some(replicated) = &partition.replica {
        let end_offset = partition.log().log_end_offset() + records as i64;
        let proposed = replicated.handle.propose(batch, None);
        let committed = async move { proposed.await.map(|info| info.last_offset + 1).map_err(|e| crate::handlers::produce::replication_refusal(e).error) };
        return Ok(Written { partition, end_offset, committed: Some(Box::pin(committed)) });
    }
    let info = partition
        .log()
        .append(&batch, crate::handlers::cluster::LEADER_EPOCH, None, crate::now_ms())
        .map_err(crate::handlers::produce::storage_refusal)?;
    partition.appended.notify_waiters();
    Ok(Written { partition, end_offset: info.last_offset + 1, committed: None })
}

/// A partition's error as a coordinator answers it: its lost leadership is NOT_COORDINATOR.
pub fn as_coordinator(error: ResponseError) -> ResponseError {
    match error {
        ResponseError::NotLeaderOrFollower => ResponseError::NotCoordinator,
        other => other,
    }
}

/// Calls `visit` with every record of `partition` below its high watermark, control records
/// (transaction markers) included, in offset order: how a coordinator loads its state.
pub fn for_each_record(partition: &Partition, mut visit: impl FnMut(&Record)) -> Result<usize, BrokerError> {
    let log = partition.log();
    let (mut offset, end) = (log.log_start_offset(), log.high_watermark());
    let mut visited = 0;
    while offset < end {
        let read = log.read(offset, 1 << 20, end)?;
        let Some(last) = weir_protocol::batch::Batches::new(&read.records).last().map(|(_, h)| h.last_offset()) else { break };
        let records: Vec<Record> = crate::internal_log::decode_all_records(read.records)
            .map_err(|e| BrokerError::Metadata(format!("{}-{}: {e}", partition.topic, partition.index)))?;
        for record in records.iter().filter(|r| r.offset >= offset) {
            visited += 1;
            visit(record);
        }
        if last < offset {
            // Batches out of order: the log is not what a coordinator wrote.
            return Err(BrokerError::Metadata(format!("{}-{}: a batch at {last} after offset {offset}", partition.topic, partition.index)));
        }
        offset = last + 1;
    }
    Ok(visited)
}

#[cfg(test)]
mod tests {
    #[test]
    fn partitions_match_java_hash_code() {
        // "test-group".hashCode() == 627841412.
        assert_eq!(super::partition_for("test-group", 50), 12);
        assert_eq!(super::partition_for("", 50), 0);
    }
}
