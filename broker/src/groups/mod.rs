//! The group coordinator: consumer groups (classic protocol) and their committed offsets.
//! Membership lives in memory; committed offsets and each group's generation are written to
//! the internal topic `__consumer_offsets` (through the same log as any topic) and read back
//! from it. A single broker coordinates every group and loads them all when it starts. In a
//! cluster the coordinator of a group is the leader of its offsets partition: it loads that
//! partition's groups when it becomes leader, forgets them when it stops leading, and a commit
//! is answered once the Raft group committed it.
//!
//! Offsets committed inside a transaction (TxnOffsetCommit, KIP-98/KIP-447) are written as the
//! producer's transactional records and stay pending until the transaction coordinator's
//! marker reaches the offsets partition: a COMMIT applies them, an ABORT drops them.

mod group;
pub mod records;

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::records::Record;
use parking_lot::Mutex;
use tracing::{info, warn};

pub use group::{Group, GroupState, JoinOutcome, JoinRequest, SyncOutcome};
use records::{CommittedOffset, GroupRecord, RecordKey};

use crate::config::{GroupSettings, Settings};
pub use crate::coordinator::Written;
use crate::coordinator::{partition_for, Coordinated};
use crate::metadata::{Metadata, Refusal};
use crate::partition::Partition;
use crate::{now_ms, BrokerError};

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

pub struct GroupCoordinator {
    groups: Mutex<HashMap<String, Group>>,
    settings: GroupSettings,
    next_expiry_check: Mutex<i64>,
    /// The offsets partitions this broker coordinates.
    coordinated: Coordinated,
    /// Offsets committed in transactions not yet ended, by producer id.
    pending: Mutex<HashMap<i64, Vec<PendingOffset>>>,
}

/// An offset committed in a transaction, applied when its transaction commits.
#[derive(Clone)]
struct PendingOffset {
    group: String,
    topic: String,
    partition: i32,
    committed: CommittedOffset,
    /// Where its record is in `__consumer_offsets`.
    position: i64,
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

impl GroupCoordinator {
    /// A single node rebuilds every group and committed offset from `__consumer_offsets`, if
    /// it exists; a cluster broker starts with none (it loads a partition's groups when it
    /// becomes its leader).
    pub fn load(metadata: &Metadata, settings: &Settings) -> Result<GroupCoordinator, BrokerError> {
        let cluster = metadata.cluster().is_some();
        let coordinator = GroupCoordinator {
            groups: Mutex::new(HashMap::new()),
            settings: settings.groups,
            next_expiry_check: Mutex::new(0),
            coordinated: Coordinated::new(OFFSETS_TOPIC, cluster),
            pending: Mutex::new(HashMap::new()),
        };
        if !cluster {
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
        let mut pending: HashMap<i64, Vec<PendingOffset>> = HashMap::new();
        let applied = crate::coordinator::for_each_record(partition, |record| {
            if let Some(commit) = crate::internal_log::marker_of(record) {
                for offset in pending.remove(&record.producer_id).unwrap_or_default().into_iter().filter(|_| commit) {
                    let group = groups.entry(offset.group.clone()).or_insert_with(|| Group::new(&offset.group, now));
                    group.apply_commit(offset.topic, offset.partition, offset.committed, offset.position);
                }
            } else if record.transactional && !record.control {
                if let Some(offset) = pending_offset(record) {
                    pending.entry(record.producer_id).or_default().push(offset);
                }
            } else if !record.control {
                apply(&mut groups, record, now);
            }
        })?;
        // Offsets of topics deleted before their tombstones were written are dropped too.
        for group in groups.values_mut() {
            let orphaned: Vec<(String, i32)> = group.offsets.keys().filter(|(t, _)| metadata.topic(t).is_none()).cloned().collect();
            for (topic, partition) in orphaned {
                group.remove_offset(&topic, partition, None);
            }
        }
        info!(partition = partition.index, groups = groups.len(), records = applied, "loaded consumer groups");
        self.groups.lock().extend(groups);
        let mut all_pending = self.pending.lock();
        for (producer_id, offsets) in pending {
            all_pending.entry(producer_id).or_default().extend(offsets);
        }
        self.coordinated.set_loaded(partition.index, true);
        Ok(())
    }

    /// Forgets the groups of an offsets partition this broker no longer leads; their members
    /// hear NOT_COORDINATOR and find the new coordinator.
    pub fn unload_partition(&self, index: i32, partitions: i32) {
        self.coordinated.set_loaded(index, false);
        self.groups.lock().retain(|id, _| partition_for(id, partitions) != index);
        for offsets in self.pending.lock().values_mut() {
            offsets.retain(|o| partition_for(&o.group, partitions) != index);
        }
        info!(partition = index, "unloaded consumer groups");
    }

    /// Why this broker may not serve `group` now: NOT_COORDINATOR when another broker leads its
    /// offsets partition, COORDINATOR_LOAD_IN_PROGRESS while it is being loaded here.
    pub fn coordinator_error(&self, metadata: &Metadata, group: &str) -> Option<ResponseError> {
        // A single node creates `__consumer_offsets` on a group's first request.
        if metadata.cluster().is_none() {
            return None;
        }
        self.coordinated.error(metadata, group)
    }

    /// Writes offsets committed in `producer`'s transaction (TxnOffsetCommit) as its
    /// transactional records; once durable, [`GroupCoordinator::add_pending`] keeps them until
    /// the transaction ends.
    pub fn write_in_transaction(&self, metadata: &Metadata, group: &str, producer: (i64, i16), offsets: &[(String, i32, CommittedOffset)]) -> Result<Written, Refusal> {
        let entries: Vec<(Option<Bytes>, Option<Bytes>)> = offsets
            .iter()
            .map(|(topic, partition, committed)| {
                let key = RecordKey::Offset { group: group.to_owned(), topic: topic.clone(), partition: *partition };
                (Some(key.encode()), Some(committed.encode()))
            })
            .collect();
        let batch = crate::internal_log::encode_transactional_batch(&entries, now_ms(), producer).map_err(|e| Refusal::new(ResponseError::UnknownServerError, e))?;
        crate::coordinator::append(self.coordinated.partition(metadata, group)?, batch.freeze(), entries.len())
    }

    /// Keeps offsets written by [`GroupCoordinator::write_in_transaction`] (ending at
    /// `end_offset` of `partition`) pending until the producer's transaction ends — unless it
    /// already has: its marker came first.
    pub fn add_pending(&self, partition: &Partition, group: &str, producer_id: i64, offsets: Vec<(String, i32, CommittedOffset)>, end_offset: i64) {
        // Under the pending lock, which a marker's `end_transaction` takes after its append.
        let mut pending = self.pending.lock();
        if partition.log().open_transaction(producer_id).is_none() {
            return;
        }
        let first = end_offset - offsets.len() as i64;
        let producer_pending = pending.entry(producer_id).or_default();
        for (i, (topic, index, committed)) in offsets.into_iter().enumerate() {
            producer_pending.push(PendingOffset { group: group.to_owned(), topic, partition: index, committed, position: first + i as i64 });
        }
    }

    /// Whether this broker has loaded offsets partition `index` (a transaction marker may reach
    /// it only then, or the pending offsets it ends would not be known yet).
    pub fn is_loaded(&self, index: i32) -> bool {
        self.coordinated.is_loaded(index)
    }

    /// A transaction marker reached offsets partition `index`: the producer's pending offsets
    /// of the groups there are applied (`commit`) or dropped.
    pub fn end_transaction(&self, index: i32, partitions: i32, producer_id: i64, commit: bool) {
        let ended: Vec<PendingOffset> = {
            let mut pending = self.pending.lock();
            let Some(offsets) = pending.get_mut(&producer_id) else { return };
            let (ended, kept): (Vec<PendingOffset>, Vec<PendingOffset>) = offsets.drain(..).partition(|o| partition_for(&o.group, partitions) == index);
            *offsets = kept;
            if offsets.is_empty() {
                pending.remove(&producer_id);
            }
            ended
        };
        if !commit {
            return;
        }
        let now = now_ms();
        let mut groups = self.groups.lock();
        for offset in ended {
            let group = groups.entry(offset.group.clone()).or_insert_with(|| Group::new(&offset.group, now));
            group.apply_commit(offset.topic, offset.partition, offset.committed, offset.position);
        }
    }

    /// Whether an open transaction committed an offset for the group's partition (OffsetFetch
    /// with `require_stable` answers UNSTABLE_OFFSET_COMMIT then, KIP-447).
    pub fn has_pending_offset(&self, group: &str, topic: &str, partition: i32) -> bool {
        self.pending.lock().values().flatten().any(|o| o.group == group && o.topic == topic && o.partition == partition)
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

    /// Appends records for `group` to its `__consumer_offsets` partition. Its partition must
    /// exist: `__consumer_offsets` is created by FindCoordinator, before any group request.
    pub fn append(&self, metadata: &Metadata, group: &str, entries: &[(RecordKey, Option<Bytes>)]) -> Result<Written, Refusal> {
        let entries: Vec<(Option<Bytes>, Option<Bytes>)> = entries.iter().map(|(key, value)| (Some(key.encode()), value.clone())).collect();
        let batch = crate::internal_log::encode_batch(&entries, now_ms()).map_err(|e| Refusal::new(ResponseError::UnknownServerError, e))?;
        crate::coordinator::append(self.coordinated.partition(metadata, group)?, batch.freeze(), entries.len())
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

/// An offset commit written in a transaction, pending until the transaction ends.
fn pending_offset(record: &Record) -> Option<PendingOffset> {
    let RecordKey::Offset { group, topic, partition } = record.key.clone().and_then(RecordKey::decode)? else { return None };
    let committed = record.value.clone().and_then(CommittedOffset::decode)?;
    Some(PendingOffset { group, topic, partition, committed, position: record.offset })
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
