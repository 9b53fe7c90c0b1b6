//! The group coordinator: consumer groups (classic protocol) and their committed offsets.
//! Membership lives in memory; committed offsets and each group's generation are written to
//! the internal topic `__consumer_offsets` (through the same log as any topic) and read back
//! from it. A single broker coordinates every group and loads them all when it starts. In a
//! cluster the coordinator of a group is the leader of its offsets partition: it loads that
//! partition's groups when it becomes leader, forgets them when it stops leading, and a commit
//! is answered once the Raft group committed it.

mod group;
pub mod records;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::records::Record;
use parking_lot::Mutex;
use tracing::{info, warn};

pub use group::{Group, GroupState, JoinOutcome, JoinRequest, SyncOutcome};
use records::{partition_for, CommittedOffset, GroupRecord, RecordKey};

use crate::config::{GroupSettings, Settings};
use crate::metadata::{Metadata, Refusal};
use crate::partition::Partition;
use crate::{now_ms, BrokerError};

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

pub struct GroupCoordinator {
    groups: Mutex<HashMap<String, Group>>,
    settings: GroupSettings,
    next_expiry_check: Mutex<i64>,
    /// Cluster mode: the offsets partitions this broker leads and has loaded (`None`: a
    /// single node, which coordinates every group).
    loaded: Option<Mutex<HashSet<i32>>>,
}

/// One group as `/metrics` shows it.
pub struct GroupSnapshot {
    pub id: String,
    /// Kafka's state name (`Stable`, `Empty`, …).
    pub state: &'static str,
    pub members: usize,
    /// Committed offset by (topic, partition).
    pub offsets: Vec<((String, i32), i64)>,
}

/// A batch of `__consumer_offsets` records appended for one group.
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
    /// a quorum — and returns its end offset.
    pub async fn durable(self, fsync: bool) -> Result<i64, ResponseError> {
        match self.committed {
            Some(committed) => committed.await,
            None if fsync => self.partition.flush_to(self.end_offset).await.map(|()| self.end_offset).map_err(|_| ResponseError::KafkaStorageError),
            None => Ok(self.end_offset),
        }
    }
}

impl GroupCoordinator {
    /// A single node rebuilds every group and committed offset from `__consumer_offsets`, if
    /// it exists; a cluster broker starts with none (it loads a partition's groups when it
    /// becomes its leader).
    pub fn load(metadata: &Metadata, settings: &Settings) -> Result<GroupCoordinator, BrokerError> {
        let loaded = metadata.cluster().map(|_| Mutex::new(HashSet::new()));
        let coordinator = GroupCoordinator { groups: Mutex::new(HashMap::new()), settings: settings.groups, next_expiry_check: Mutex::new(0), loaded };
        if coordinator.loaded.is_none() {
            if let Some(topic) = metadata.topic(OFFSETS_TOPIC) {
                for partition in topic.hosted() {
                    coordinator.load_partition(metadata, partition)?;
                }
            }
        }
        Ok(coordinator)
    }

    /// Rebuilds the groups of one `__consumer_offsets` partition from its committed records.
    pub fn load_partition(&self, metadata: &Metadata, partition: &Partition) -> Result<(), BrokerError> {
        let now = now_ms();
        let mut groups: HashMap<String, Group> = HashMap::new();
        let mut applied = 0usize;
        {
            let log = partition.log();
            let (mut offset, end) = (log.log_start_offset(), log.high_watermark());
            while offset < end {
                let read = log.read(offset, 1 << 20, end)?;
                let Some(last) = weir_protocol::batch::Batches::new(&read.records).last().map(|(_, h)| h.last_offset()) else { break };
                let records = crate::internal_log::decode_records(read.records)
                    .map_err(|e| BrokerError::Metadata(format!("{OFFSETS_TOPIC}-{}: {e}", partition.index)))?;
                for record in records.iter().filter(|r| r.offset >= offset) {
                    applied += 1;
                    apply(&mut groups, record, now);
                }
                offset = last + 1;
            }
        }
        // Offsets of topics deleted before their tombstones were written are dropped too.
        for group in groups.values_mut() {
            let orphaned: Vec<(String, i32)> = group.offsets.keys().filter(|(t, _)| metadata.topic(t).is_none()).cloned().collect();
            for (topic, partition) in orphaned {
                group.remove_offset(&topic, partition, None);
            }
        }
        info!(partition = partition.index, groups = groups.len(), records = applied, "loaded consumer groups");
        self.groups.lock().extend(groups);
        if let Some(loaded) = &self.loaded {
            loaded.lock().insert(partition.index);
        }
        Ok(())
    }

    /// Forgets the groups of an offsets partition this broker no longer leads; their members
    /// hear NOT_COORDINATOR and find the new coordinator.
    pub fn unload_partition(&self, index: i32, partitions: i32) {
        if let Some(loaded) = &self.loaded {
            loaded.lock().remove(&index);
        }
        self.groups.lock().retain(|id, _| partition_for(id, partitions) != index);
        info!(partition = index, "unloaded consumer groups");
    }

    /// Why this broker may not serve `group` now: NOT_COORDINATOR when another broker leads its
    /// offsets partition, COORDINATOR_LOAD_IN_PROGRESS while it is being loaded here.
    pub fn coordinator_error(&self, metadata: &Metadata, group: &str) -> Option<ResponseError> {
        let loaded = self.loaded.as_ref()?;
        let Some(topic) = metadata.topic(OFFSETS_TOPIC) else { return Some(ResponseError::CoordinatorNotAvailable) };
        let index = partition_for(group, topic.partition_count());
        if loaded.lock().contains(&index) {
            return None;
        }
        match topic.partition(index) {
            Ok(partition) if partition.leadership(-1).is_leader => Some(ResponseError::CoordinatorLoadInProgress),
            _ => Some(ResponseError::NotCoordinator),
        }
    }

    pub fn settings(&self) -> GroupSettings {
        self.settings
    }

    /// Runs `f` on the group, creating it (empty) if `create` and it does not exist.
    pub fn with_group<R>(&self, id: &str, create: bool, f: impl FnOnce(&mut Group) -> R) -> Option<R> {
        let mut groups = self.groups.lock();
        if create && !groups.contains_key(id) {
            groups.insert(id.to_owned(), Group::new(id, now_ms()));
        }
        groups.get_mut(id).map(f)
    }

    /// Runs `f` on the group if it exists (`None` otherwise), without creating it.
    pub fn inspect<R>(&self, id: &str, f: impl FnOnce(Option<&Group>) -> R) -> R {
        f(self.groups.lock().get(id))
    }

    /// Forgets every group's committed offsets for a deleted topic, writing tombstones so they
    /// stay forgotten (Kafka's `onPartitionsDeleted`): a re-created topic starts with none.
    pub fn remove_topic_offsets(&self, metadata: &Metadata, topic: &str) {
        let mut groups = self.groups.lock();
        for group in groups.values_mut() {
            let partitions: Vec<i32> = group.offsets.keys().filter(|(t, _)| t == topic).map(|(_, p)| *p).collect();
            if partitions.is_empty() {
                continue;
            }
            let tombstones: Vec<(RecordKey, Option<Bytes>)> = partitions
                .iter()
                .map(|&partition| (RecordKey::Offset { group: group.id.clone(), topic: topic.to_owned(), partition }, None))
                .collect();
            let tombstone_at = match self.append(metadata, &group.id, &tombstones) {
                Ok(written) => Some(written.end_offset),
                Err(e) => {
                    // Still forgotten in memory; the next start drops offsets of missing topics too.
                    warn!(group = group.id, topic, error = e.message, "could not write tombstones for a deleted topic's offsets");
                    None
                }
            };
            for partition in partitions {
                group.remove_offset(topic, partition, tombstone_at);
            }
            info!(group = group.id, topic, "removed committed offsets of a deleted topic");
        }
    }

    /// Every group's state, member count and committed offsets, for `/metrics`.
    pub fn snapshot(&self) -> Vec<GroupSnapshot> {
        self.groups
            .lock()
            .values()
            .map(|g| GroupSnapshot {
                id: g.id.clone(),
                state: g.state.name(),
                members: g.members.len(),
                offsets: g.offsets.iter().map(|(k, v)| (k.clone(), v.offset)).collect(),
            })
            .collect()
    }

    /// Every group's id, protocol type and state.
    pub fn list(&self) -> Vec<(String, String, GroupState)> {
        self.groups.lock().values().map(|g| (g.id.clone(), g.protocol_type.clone().unwrap_or_default(), g.state)).collect()
    }

    /// Deletes an empty group with its offsets.
    pub fn delete(&self, metadata: &Metadata, id: &str) -> Result<(), ResponseError> {
        let mut groups = self.groups.lock();
        let group = groups.get(id).ok_or(ResponseError::GroupIdNotFound)?;
        if !group.members.is_empty() {
            return Err(ResponseError::NonEmptyGroup);
        }
        let mut tombstones: Vec<(RecordKey, Option<Bytes>)> = group
            .offsets
            .keys()
            .map(|(topic, partition)| (RecordKey::Offset { group: id.to_owned(), topic: topic.clone(), partition: *partition }, None))
            .collect();
        tombstones.push((RecordKey::Group { group: id.to_owned() }, None));
        self.append(metadata, id, &tombstones).map_err(|r| r.error)?;
        groups.remove(id);
        Ok(())
    }

    /// Appends records for `group` to its `__consumer_offsets` partition (created on first use).
    /// Its partition must exist: `__consumer_offsets` is created by FindCoordinator, before any
    /// group request.
    pub fn append(&self, metadata: &Metadata, group: &str, entries: &[(RecordKey, Option<Bytes>)]) -> Result<Written, Refusal> {
        let topic = metadata
            .topic(OFFSETS_TOPIC)
            .ok_or_else(|| Refusal::new(ResponseError::CoordinatorNotAvailable, format!("{OFFSETS_TOPIC} does not exist yet")))?;
        let partition = topic
            .partition(partition_for(group, topic.partition_count()))
            .map_err(|_| Refusal::new(ResponseError::NotCoordinator, "this broker does not lead the group's offsets partition"))?
            .clone();
        let now = now_ms();
        let entries: Vec<(Option<Bytes>, Option<Bytes>)> = entries.iter().map(|(key, value)| (Some(key.encode()), value.clone())).collect();
        let batch = crate::internal_log::encode_batch(&entries, now).map_err(|e| Refusal::new(ResponseError::UnknownServerError, e))?;
        if let Some(replicated) = &partition.replica {
            // Proposed now (in call order); the position is a lower bound until it commits.
            let end_offset = partition.log().log_end_offset() + entries.len() as i64;
            let proposed = replicated.handle.propose(batch.freeze(), None);
            let committed = async move { proposed.await.map(|info| info.last_offset + 1).map_err(|_| ResponseError::NotCoordinator) };
            return Ok(Written { partition, end_offset, committed: Some(Box::pin(committed)) });
        }
        let info = partition
            .log()
            .append(&batch, crate::handlers::cluster::LEADER_EPOCH, None, now)
            .map_err(crate::handlers::produce::storage_refusal)?;
        partition.appended.notify_waiters();
        Ok(Written { partition, end_offset: info.last_offset + 1, committed: None })
    }

    /// Records a group's generation, and once it is stable its members and assignments (fire
    /// and forget: it keeps generations increasing and spares members a rebalance when the
    /// coordinator restarts or moves; offsets carry the durability promise).
    pub fn record_generation(&self, metadata: &Metadata, group: &Group) {
        let record = group.to_record();
        if let Err(e) = self.append(metadata, &group.id, &[(RecordKey::Group { group: group.id.clone() }, Some(record.encode()))]) {
            warn!(group = group.id, error = e.message, "could not record the group's generation");
        }
    }

    /// Session expiry, rebalance deadlines, and offset expiry for empty groups.
    pub fn tick(&self, metadata: &Metadata, now: i64) {
        let mut groups = self.groups.lock();
        for group in groups.values_mut() {
            if group.tick(now) {
                self.record_generation(metadata, group);
            }
        }
        let mut next = self.next_expiry_check.lock();
        if now < *next {
            return;
        }
        *next = now + self.settings.retention_check_interval_ms;
        let retention = self.settings.offsets_retention_ms;
        for group in groups.values_mut().filter(|g| g.state == GroupState::Empty && now - g.empty_since > retention) {
            let expired: Vec<(String, i32)> =
                group.offsets.iter().filter(|(_, c)| now - c.commit_timestamp > retention).map(|(k, _)| k.clone()).collect();
            if expired.is_empty() {
                continue;
            }
            let tombstones: Vec<(RecordKey, Option<Bytes>)> = expired
                .iter()
                .map(|(topic, partition)| (RecordKey::Offset { group: group.id.clone(), topic: topic.clone(), partition: *partition }, None))
                .collect();
            if let Ok(written) = self.append(metadata, &group.id, &tombstones) {
                for (topic, partition) in &expired {
                    group.remove_offset(topic, *partition, Some(written.end_offset));
                }
                info!(group = group.id, partitions = expired.len(), "expired committed offsets");
            }
        }
        groups.retain(|_, g| !(g.state == GroupState::Empty && g.offsets.is_empty() && now - g.empty_since > retention));
    }
}

fn apply(groups: &mut HashMap<String, Group>, record: &Record, now: i64) {
    let Some(key) = record.key.clone().and_then(RecordKey::decode) else { return };
    match key {
        RecordKey::Offset { group, topic, partition } => {
            let entry = groups.entry(group.clone()).or_insert_with(|| Group::new(&group, now));
            match record.value.clone().and_then(CommittedOffset::decode) {
                Some(committed) => entry.apply_commit(topic, partition, committed, record.offset),
                None => entry.remove_offset(&topic, partition, Some(record.offset)),
            }
        }
        RecordKey::Group { group } => match record.value.clone().and_then(GroupRecord::decode) {
            Some(saved) => groups.entry(group.clone()).or_insert_with(|| Group::new(&group, now)).restore(saved, now),
            None => {
                groups.remove(&group);
            }
        },
    }
}
