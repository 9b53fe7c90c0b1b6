//! Idempotent and transactional producer bookkeeping per partition: for each producer id, its
//! epoch and the last few batches it wrote, so a retried batch is recognised and answered with
//! its original offset, and a gap in sequence numbers is refused; and its open transaction, so
//! the partition knows its last stable offset and which transactions were aborted (KIP-98).
//! Rebuilt from batch headers (and transaction markers) when a log opens.

use std::collections::{BTreeSet, HashMap, VecDeque};

use thiserror::Error;
use weir_protocol::batch::{BatchHeader, TransactionMarker};

/// Kafka keeps the last five batches per producer: the most a client has in flight.
const CACHED_BATCHES: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SequenceError {
    #[error("producer {producer_id}: expected sequence {expected}, got {got}")]
    OutOfOrder { producer_id: i64, expected: i32, got: i32 },
    #[error("producer {producer_id}: epoch {got} is older than {current}")]
    StaleEpoch { producer_id: i64, current: i16, got: i16 },
    #[error("producer {producer_id}: a producer id with sequence {got}")]
    InvalidSequence { producer_id: i64, got: i32 },
    #[error("producer {producer_id}: a marker from coordinator epoch {got}, older than {current}")]
    CoordinatorFenced { producer_id: i64, current: i32, got: i32 },
    #[error("producer {producer_id}: a non-transactional batch while its transaction is open")]
    TransactionOpen { producer_id: i64 },
}

impl SequenceError {
    pub fn error_code(&self) -> i16 {
        match self {
            SequenceError::OutOfOrder { .. } => 45,   // OUT_OF_ORDER_SEQUENCE_NUMBER
            SequenceError::StaleEpoch { .. } => 47,   // INVALID_PRODUCER_EPOCH
            SequenceError::InvalidSequence { .. } => 87, // INVALID_RECORD
            SequenceError::CoordinatorFenced { .. } => 52, // TRANSACTION_COORDINATOR_FENCED
            SequenceError::TransactionOpen { .. } => 48, // INVALID_TXN_STATE
        }
    }
}

/// Where an already-written batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenBatch {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub base_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
}

/// An idempotent producer as DescribeProducers reports it (KIP-664).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveProducer {
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// Sequence number of its last record in this partition.
    pub last_sequence: i32,
    /// Max timestamp of its last batch, in ms.
    pub last_timestamp: i64,
    /// First offset of its open transaction in this partition, -1 when none.
    pub current_txn_start_offset: i64,
    /// Epoch of the transaction coordinator that wrote its last marker here, -1 when none.
    pub coordinator_epoch: i32,
}

/// A producer's transaction in this partition, from its first offset to its marker at
/// `last_offset`. An aborted one is an entry of Kafka's `.txnindex`: a read_committed consumer
/// drops the producer's batches in that range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionRange {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
}

struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<WrittenBatch>,
    /// First offset of its open transaction, if one is open here.
    txn_first_offset: Option<i64>,
    /// Epoch of the coordinator that wrote its last marker here (-1: none): markers from an
    /// older coordinator are fenced.
    coordinator_epoch: i32,
    /// Markers recorded for it since this state was built: a change between a KIP-890
    /// verification and the append it allowed means its transaction ended meanwhile.
    markers: u64,
}

impl Default for ProducerEntry {
    fn default() -> Self {
        ProducerEntry { epoch: 0, batches: VecDeque::new(), txn_first_offset: None, coordinator_epoch: -1, markers: 0 }
    }
}

#[derive(Default)]
pub(crate) struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions: (first offset, producer id).
    open: BTreeSet<(i64, i64)>,
    /// Transactions whose marker is written but may not be committed yet: they stay unstable
    /// until the high watermark passes the marker (`last_offset`).
    ended: Vec<TransactionRange>,
    /// Aborted transactions, in marker order.
    aborted: Vec<TransactionRange>,
}

impl ProducerStates {
    /// `Ok(Some(batch))` if `header` repeats a batch already written; `Ok(None)` if it may be
    /// appended; an error if it must be refused.
    pub fn check(&self, header: &BatchHeader, marker: Option<TransactionMarker>) -> Result<Option<WrittenBatch>, SequenceError> {
        let producer_id = header.producer_id;
        if producer_id < 0 {
            return Ok(None);
        }
        if header.is_control() {
            // A transaction marker (Kafka's `appendEndTxnMarker`): fenced when its producer
            // epoch or its coordinator's epoch is older than the last seen here.
            let (Some(entry), Some(marker)) = (self.producers.get(&producer_id), marker) else { return Ok(None) };
            if header.producer_epoch < entry.epoch {
                return Err(SequenceError::StaleEpoch { producer_id, current: entry.epoch, got: header.producer_epoch });
            }
            if marker.coordinator_epoch < entry.coordinator_epoch {
                return Err(SequenceError::CoordinatorFenced { producer_id, current: entry.coordinator_epoch, got: marker.coordinator_epoch });
            }
            return Ok(None);
        }
        // A coordinator's own transactional write (offsets in a transaction) has no sequence.
        let unsequenced = header.base_sequence < 0 && header.is_transactional();
        if header.base_sequence < 0 && !unsequenced {
            return Err(SequenceError::InvalidSequence { producer_id, got: header.base_sequence });
        }
        let Some(entry) = self.producers.get(&producer_id) else {
            // Unknown producer (new, or its state aged out with the log): any sequence starts it.
            return Ok(None);
        };
        if header.producer_epoch < entry.epoch {
            return Err(SequenceError::StaleEpoch { producer_id, current: entry.epoch, got: header.producer_epoch });
        }
        if !header.is_transactional() && header.producer_epoch == entry.epoch && entry.txn_first_offset.is_some() {
            return Err(SequenceError::TransactionOpen { producer_id });
        }
        if unsequenced {
            return Ok(None);
        }
        if header.producer_epoch > entry.epoch {
            return match header.base_sequence {
                0 => Ok(None),
                got => Err(SequenceError::OutOfOrder { producer_id, expected: 0, got }),
            };
        }
        if let Some(written) = entry.batches.iter().find(|b| {
            b.first_sequence == header.base_sequence && b.last_sequence == header.last_sequence()
        }) {
            return Ok(Some(*written));
        }
        let expected = match entry.batches.back() {
            Some(last) if last.last_sequence == i32::MAX => 0,
            Some(last) => last.last_sequence + 1,
            None => header.base_sequence,
        };
        if header.base_sequence != expected {
            return Err(SequenceError::OutOfOrder { producer_id, expected, got: header.base_sequence });
        }
        Ok(None)
    }

    /// Forgets a prepared batch whose proposal was dropped (it must be its producer's newest).
    pub fn forget(&mut self, producer_id: i64, base_offset: i64) {
        if let Some(entry) = self.producers.get_mut(&producer_id) {
            if entry.batches.back().is_some_and(|b| b.base_offset == base_offset) {
                entry.batches.pop_back();
            }
            if entry.txn_first_offset == Some(base_offset) {
                entry.txn_first_offset = None;
                self.open.remove(&(base_offset, producer_id));
            }
        }
    }

    /// The first offset no read_committed consumer may read yet: the start of the oldest
    /// transaction that is open, or ended by a marker not yet below `high_watermark`; `None`
    /// when every transaction is settled.
    pub fn first_unstable(&self, high_watermark: i64) -> Option<i64> {
        let open = self.open.first().map(|&(first, _)| first);
        let ended = self.ended.iter().filter(|t| t.last_offset >= high_watermark).map(|t| t.first_offset).min();
        open.into_iter().chain(ended).min()
    }

    /// Forgets ended transactions whose markers are below `high_watermark` (settled for good).
    pub fn settle(&mut self, high_watermark: i64) {
        self.ended.retain(|t| t.last_offset >= high_watermark);
    }

    /// Aborted transactions overlapping `[from, upper)`, in marker order (Fetch's
    /// `aborted_transactions`).
    pub fn aborted_between(&self, from: i64, upper: i64) -> Vec<TransactionRange> {
        // In marker order: skip those ending before `from` without looking at them.
        let start = self.aborted.partition_point(|a| a.last_offset < from);
        self.aborted[start..].iter().filter(|a| a.first_offset < upper).copied().collect()
    }

    /// Forgets aborted transactions whose markers are below `log_start_offset` (deleted).
    pub fn forget_aborted_below(&mut self, log_start_offset: i64) {
        self.aborted.retain(|a| a.last_offset >= log_start_offset);
    }

    /// How many markers were recorded for the producer since this state was built.
    pub fn markers(&self, producer_id: i64) -> u64 {
        self.producers.get(&producer_id).map_or(0, |e| e.markers)
    }

    /// `(epoch, first offset)` of the producer's open transaction here, if it has one.
    pub fn open_transaction(&self, producer_id: i64) -> Option<(i16, i64)> {
        let entry = self.producers.get(&producer_id)?;
        entry.txn_first_offset.map(|first| (entry.epoch, first))
    }

    /// Every producer with a batch in the log, by producer id.
    pub fn active(&self) -> Vec<ActiveProducer> {
        let mut active: Vec<ActiveProducer> = self
            .producers
            .iter()
            .filter(|(_, entry)| !entry.batches.is_empty() || entry.txn_first_offset.is_some())
            .map(|(&producer_id, entry)| ActiveProducer {
                producer_id,
                producer_epoch: entry.epoch,
                last_sequence: entry.batches.back().map_or(-1, |b| b.last_sequence),
                last_timestamp: entry.batches.back().map_or(-1, |b| b.max_timestamp),
                current_txn_start_offset: entry.txn_first_offset.unwrap_or(-1),
                coordinator_epoch: entry.coordinator_epoch,
            })
            .collect();
        active.sort_by_key(|p| p.producer_id);
        active
    }

    /// Remembers a batch that is now in the log, or on its way there (`header` carries its
    /// assigned offsets; `marker` is what [`weir_protocol::batch::transaction_marker`] found in
    /// a control batch). Recording the same batch twice (prepared, then appended) is harmless.
    pub fn record(&mut self, header: &BatchHeader, marker: Option<TransactionMarker>) {
        let producer_id = header.producer_id;
        if producer_id < 0 {
            return;
        }
        let entry = self.producers.entry(producer_id).or_default();
        if header.is_control() {
            let Some(marker) = marker else { return };
            // A coordinator that fenced the producer writes its marker at the bumped epoch.
            if header.producer_epoch > entry.epoch {
                entry.epoch = header.producer_epoch;
                entry.batches.clear();
            }
            entry.coordinator_epoch = entry.coordinator_epoch.max(marker.coordinator_epoch);
            entry.markers += 1;
            if let Some(first_offset) = entry.txn_first_offset.filter(|&first| first < header.base_offset) {
                entry.txn_first_offset = None;
                self.open.remove(&(first_offset, producer_id));
                let ended = TransactionRange { producer_id, first_offset, last_offset: header.base_offset };
                self.ended.push(ended);
                if !marker.commit {
                    self.aborted.push(ended);
                }
            }
            return;
        }
        if header.producer_epoch == entry.epoch && entry.batches.iter().any(|b| b.base_offset == header.base_offset) {
            return;
        }
        if header.producer_epoch != entry.epoch {
            entry.epoch = header.producer_epoch;
            entry.batches.clear();
        }
        if header.is_transactional() && entry.txn_first_offset.is_none() {
            entry.txn_first_offset = Some(header.base_offset);
            self.open.insert((header.base_offset, producer_id));
        }
        if header.base_sequence < 0 {
            return;
        }
        if entry.batches.len() == CACHED_BATCHES {
            entry.batches.pop_front();
        }
        entry.batches.push_back(WrittenBatch {
            first_sequence: header.base_sequence,
            last_sequence: header.last_sequence(),
            base_offset: header.base_offset,
            last_offset: header.last_offset(),
            max_timestamp: header.max_timestamp,
        });
    }
}

/// Bytes per cached batch in a snapshot: sequences (2 × i32), offsets and timestamp (3 × i64).
const SNAPSHOT_BATCH: usize = 32;
/// First bytes of a snapshot that carries transactions ("WTX1"); older snapshots start with
/// their producer count and hold idempotent state only.
const SNAPSHOT_MAGIC: u32 = 0x5754_5831;

impl ProducerStates {
    /// The state as bytes, for a producer-state snapshot file (Kafka's `.snapshot`).
    #[cfg(test)]
    pub fn encode(&self) -> Vec<u8> {
        self.encode_below(i64::MAX)
    }

    /// The state of the batches below `offset` only (batches in flight above it are left out),
    /// as bytes: producers with their cached batches and open transaction, then the ended and
    /// the aborted transactions, all below `offset`.
    pub fn encode_below(&self, offset: i64) -> Vec<u8> {
        let mut ids: Vec<&i64> = self.producers.keys().collect();
        ids.sort_unstable();
        let kept: Vec<(i64, &ProducerEntry, Vec<&WrittenBatch>, i64)> = ids
            .into_iter()
            .filter_map(|id| {
                let entry = &self.producers[id];
                let batches: Vec<&WrittenBatch> = entry.batches.iter().filter(|b| b.last_offset < offset).collect();
                // Open below `offset`: still open, or ended by a marker at or above it (ended
                // transactions are forgotten once settled, aborted ones are not).
                let ended_above = self
                    .ended
                    .iter()
                    .chain(&self.aborted)
                    .find(|t| t.producer_id == *id && t.first_offset < offset && t.last_offset >= offset)
                    .map(|t| t.first_offset);
                let txn_first = entry.txn_first_offset.filter(|&first| first < offset).or(ended_above).unwrap_or(-1);
                // A transactional producer is kept with its epochs even without batches: a
                // marker that fenced it must keep fencing it after a restart.
                (!batches.is_empty() || txn_first >= 0 || entry.coordinator_epoch >= 0).then_some((*id, entry, batches, txn_first))
            })
            .collect();
        let mut bytes = Vec::with_capacity(16 + kept.len() * (23 + CACHED_BATCHES * SNAPSHOT_BATCH));
        bytes.extend_from_slice(&SNAPSHOT_MAGIC.to_be_bytes());
        bytes.extend_from_slice(&(kept.len() as u32).to_be_bytes());
        for (id, entry, batches, txn_first) in kept {
            bytes.extend_from_slice(&id.to_be_bytes());
            bytes.extend_from_slice(&entry.epoch.to_be_bytes());
            bytes.extend_from_slice(&txn_first.to_be_bytes());
            bytes.extend_from_slice(&entry.coordinator_epoch.to_be_bytes());
            bytes.push(batches.len() as u8);
            for b in batches {
                bytes.extend_from_slice(&b.first_sequence.to_be_bytes());
                bytes.extend_from_slice(&b.last_sequence.to_be_bytes());
                bytes.extend_from_slice(&b.base_offset.to_be_bytes());
                bytes.extend_from_slice(&b.last_offset.to_be_bytes());
                bytes.extend_from_slice(&b.max_timestamp.to_be_bytes());
            }
        }
        for list in [&self.ended, &self.aborted] {
            let below: Vec<&TransactionRange> = list.iter().filter(|t| t.last_offset < offset).collect();
            bytes.extend_from_slice(&(below.len() as u32).to_be_bytes());
            for t in below {
                bytes.extend_from_slice(&t.producer_id.to_be_bytes());
                bytes.extend_from_slice(&t.first_offset.to_be_bytes());
                bytes.extend_from_slice(&t.last_offset.to_be_bytes());
            }
        }
        bytes
    }

    /// The state from [`ProducerStates::encode_below`]'s bytes (or a snapshot written before
    /// transactions); `None` if they do not parse.
    pub fn decode(mut bytes: &[u8]) -> Option<ProducerStates> {
        fn take<const N: usize>(bytes: &mut &[u8]) -> Option<[u8; N]> {
            let (head, rest) = bytes.split_first_chunk::<N>()?;
            *bytes = rest;
            Some(*head)
        }
        fn i64_of(bytes: &mut &[u8]) -> Option<i64> {
            take(bytes).map(i64::from_be_bytes)
        }
        let transactions = bytes.starts_with(&SNAPSHOT_MAGIC.to_be_bytes());
        if transactions {
            bytes = &bytes[4..];
        }
        let count = u32::from_be_bytes(take(&mut bytes)?);
        let mut states = ProducerStates::default();
        for _ in 0..count {
            let id = i64_of(&mut bytes)?;
            let epoch = i16::from_be_bytes(take(&mut bytes)?);
            let (txn_first, coordinator_epoch) = if transactions { (i64_of(&mut bytes)?, i32::from_be_bytes(take(&mut bytes)?)) } else { (-1, -1) };
            let batches = take::<1>(&mut bytes)?[0] as usize;
            if batches > CACHED_BATCHES {
                return None;
            }
            let mut entry = ProducerEntry { epoch, batches: VecDeque::with_capacity(batches), txn_first_offset: (txn_first >= 0).then_some(txn_first), coordinator_epoch, markers: 0 };
            for _ in 0..batches {
                entry.batches.push_back(WrittenBatch {
                    first_sequence: i32::from_be_bytes(take(&mut bytes)?),
                    last_sequence: i32::from_be_bytes(take(&mut bytes)?),
                    base_offset: i64_of(&mut bytes)?,
                    last_offset: i64_of(&mut bytes)?,
                    max_timestamp: i64_of(&mut bytes)?,
                });
            }
            if txn_first >= 0 {
                states.open.insert((txn_first, id));
            }
            states.producers.insert(id, entry);
        }
        if transactions {
            for list in [&mut states.ended, &mut states.aborted] {
                for _ in 0..u32::from_be_bytes(take(&mut bytes)?) {
                    let (producer_id, first_offset, last_offset) = (i64_of(&mut bytes)?, i64_of(&mut bytes)?, i64_of(&mut bytes)?);
                    list.push(TransactionRange { producer_id, first_offset, last_offset });
                }
            }
        }
        bytes.is_empty().then_some(states)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(producer_id: i64, epoch: i16, base_sequence: i32, records: i32, base_offset: i64) -> BatchHeader {
        BatchHeader {
            base_offset,
            batch_length: 49,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: records - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id,
            producer_epoch: epoch,
            base_sequence,
            records_count: records,
        }
    }

    #[test]
    fn duplicates_gaps_and_epochs() {
        let mut states = ProducerStates::default();
        let first = batch(7, 0, 0, 3, 100);
        assert_eq!(states.check_data(&first), Ok(None));
        states.record(&first, None);
        // A retry of the same batch is a duplicate pointing at its original offsets.
        assert_eq!(states.check_data(&batch(7, 0, 0, 3, -1)).unwrap().unwrap().base_offset, 100);
        // The next sequence is fine; a gap is not.
        assert_eq!(states.check_data(&batch(7, 0, 3, 1, -1)), Ok(None));
        assert!(matches!(states.check_data(&batch(7, 0, 5, 1, -1)), Err(SequenceError::OutOfOrder { expected: 3, .. })));
        // A bumped epoch restarts at zero; an old epoch is fenced.
        assert!(matches!(states.check_data(&batch(7, 1, 3, 1, -1)), Err(SequenceError::OutOfOrder { .. })));
        states.record(&batch(7, 1, 0, 1, 103), None);
        assert!(matches!(states.check_data(&batch(7, 0, 4, 1, -1)), Err(SequenceError::StaleEpoch { .. })));
        // Recording the same batch again changes nothing.
        states.record(&batch(7, 1, 0, 1, 103), None);
        assert_eq!(states.check_data(&batch(7, 1, 1, 1, -1)), Ok(None));
    }

    #[test]
    fn snapshots_round_trip() {
        let mut states = ProducerStates::default();
        for i in 0..8 {
            states.record(&batch(3, 0, i * 2, 2, 100 + i as i64 * 2), None);
        }
        states.record(&batch(9, 4, 0, 1, 200), None);
        let decoded = ProducerStates::decode(&states.encode()).unwrap();
        assert_eq!(decoded.encode(), states.encode());
        assert_eq!(decoded.check_data(&batch(3, 0, 14, 2, -1)).unwrap().unwrap().base_offset, 114);
        assert!(ProducerStates::decode(&states.encode()[..10]).is_none());
    }

    impl ProducerStates {
        fn check_data(&self, header: &BatchHeader) -> Result<Option<WrittenBatch>, SequenceError> {
            self.check(header, None)
        }
    }

    fn transactional(mut header: BatchHeader) -> BatchHeader {
        header.attributes |= 0x10;
        header
    }

    fn marker(producer_id: i64, epoch: i16, offset: i64, commit: bool) -> (BatchHeader, Option<TransactionMarker>) {
        let mut header = transactional(batch(producer_id, epoch, -1, 1, offset));
        header.attributes |= 0x20;
        (header, Some(TransactionMarker { commit, coordinator_epoch: 0 }))
    }

    #[test]
    fn transactions_bound_the_stable_offset_and_aborts_are_remembered() {
        let mut states = ProducerStates::default();
        states.record(&transactional(batch(1, 0, 0, 2, 10)), None);
        states.record(&transactional(batch(2, 0, 0, 1, 12)), None);
        states.record(&transactional(batch(1, 0, 2, 1, 13)), None);
        assert_eq!(states.first_unstable(14), Some(10));
        assert_eq!(states.open_transaction(1), Some((0, 10)));
        let (header, found) = marker(1, 0, 14, false);
        states.record(&header, found);
        states.record(&header, found); // prepared, then appended: once
        // Producer 2's transaction is still open; producer 1's is ended but not yet committed.
        assert_eq!(states.first_unstable(14), Some(10));
        assert_eq!(states.first_unstable(15), Some(12));
        let (header, found) = marker(2, 1, 15, true);
        states.record(&header, found);
        states.settle(16);
        assert_eq!(states.first_unstable(16), None);
        assert_eq!(states.aborted_between(0, 100), vec![TransactionRange { producer_id: 1, first_offset: 10, last_offset: 14 }]);
        assert!(states.aborted_between(15, 100).is_empty());
        // The marker's bumped epoch fences producer 2's older epoch.
        assert!(matches!(states.check_data(&transactional(batch(2, 0, 1, 1, -1))), Err(SequenceError::StaleEpoch { .. })));
        // A coordinator's unsequenced transactional write is neither deduplicated nor refused.
        assert_eq!(states.check_data(&transactional(batch(2, 1, -1, 1, -1))), Ok(None));

        let decoded = ProducerStates::decode(&states.encode()).unwrap();
        assert_eq!(decoded.encode(), states.encode());
        assert_eq!(decoded.aborted_between(0, 100).len(), 1);
        // Markers are fenced by producer epoch and by coordinator epoch.
        let (stale, found) = marker(2, 0, 30, true);
        assert!(matches!(states.check(&stale, found), Err(SequenceError::StaleEpoch { .. })));
        let (header, _) = marker(2, 1, 30, true);
        assert_eq!(states.check(&header, Some(TransactionMarker { commit: true, coordinator_epoch: 0 })), Ok(None));
        states.record(&header, Some(TransactionMarker { commit: true, coordinator_epoch: 5 }));
        assert!(matches!(states.check(&header, Some(TransactionMarker { commit: true, coordinator_epoch: 4 })), Err(SequenceError::CoordinatorFenced { .. })));
        // A plain batch while the producer's transaction is open is refused.
        states.record(&transactional(batch(3, 0, 0, 1, 31)), None);
        assert!(matches!(states.check_data(&batch(3, 0, 1, 1, -1)), Err(SequenceError::TransactionOpen { .. })));
        let (header, found) = marker(3, 0, 32, true);
        states.record(&header, found);
        states.settle(33);
        // A transactional producer's epochs survive a snapshot even with no batches cached.
        let (header, found) = marker(4, 2, 33, false);
        states.record(&header, found);
        assert_eq!(ProducerStates::decode(&states.encode()).unwrap().producers[&4].epoch, 2);

        // A snapshot below the abort marker still has the transaction open.
        let below = ProducerStates::decode(&states.encode_below(14)).unwrap();
        assert_eq!(below.first_unstable(14), Some(10));
        assert!(below.aborted_between(0, 100).is_empty());
    }
}
