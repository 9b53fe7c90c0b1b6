//! Idempotent-producer bookkeeping per partition: for each producer id, its epoch and the last
//! few batches it wrote, so a retried batch is recognised and answered with its original offset,
//! and a gap in sequence numbers is refused. Rebuilt from batch headers when a log opens.

use std::collections::{HashMap, VecDeque};

use thiserror::Error;
use weir_protocol::batch::BatchHeader;

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
}

impl SequenceError {
    pub fn error_code(&self) -> i16 {
        match self {
            SequenceError::OutOfOrder { .. } => 45,   // OUT_OF_ORDER_SEQUENCE_NUMBER
            SequenceError::StaleEpoch { .. } => 47,   // INVALID_PRODUCER_EPOCH
            SequenceError::InvalidSequence { .. } => 87, // INVALID_RECORD
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
}

#[derive(Default)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<WrittenBatch>,
}

#[derive(Default)]
pub(crate) struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
}

impl ProducerStates {
    /// `Ok(Some(batch))` if `header` repeats a batch already written; `Ok(None)` if it may be
    /// appended; an error if it must be refused.
    pub fn check(&self, header: &BatchHeader) -> Result<Option<WrittenBatch>, SequenceError> {
        let producer_id = header.producer_id;
        if producer_id < 0 {
            return Ok(None);
        }
        if header.base_sequence < 0 {
            return Err(SequenceError::InvalidSequence { producer_id, got: header.base_sequence });
        }
        let Some(entry) = self.producers.get(&producer_id) else {
            // Unknown producer (new, or its state aged out with the log): any sequence starts it.
            return Ok(None);
        };
        if header.producer_epoch < entry.epoch {
            return Err(SequenceError::StaleEpoch { producer_id, current: entry.epoch, got: header.producer_epoch });
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
        }
    }

    /// Every producer with a batch in the log, by producer id.
    pub fn active(&self) -> Vec<ActiveProducer> {
        let mut active: Vec<ActiveProducer> = self
            .producers
            .iter()
            .filter_map(|(&producer_id, entry)| {
                let last = entry.batches.back()?;
                Some(ActiveProducer { producer_id, producer_epoch: entry.epoch, last_sequence: last.last_sequence, last_timestamp: last.max_timestamp })
            })
            .collect();
        active.sort_by_key(|p| p.producer_id);
        active
    }

    /// Remembers a batch that is now in the log, or on its way there (`header` carries its
    /// assigned offsets). Recording the same batch twice (prepared, then appended) is harmless.
    pub fn record(&mut self, header: &BatchHeader) {
        if header.producer_id < 0 {
            return;
        }
        let entry = self.producers.entry(header.producer_id).or_default();
        if header.producer_epoch == entry.epoch && entry.batches.iter().any(|b| b.base_offset == header.base_offset) {
            return;
        }
        if header.producer_epoch != entry.epoch {
            entry.epoch = header.producer_epoch;
            entry.batches.clear();
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

impl ProducerStates {
    /// The state as bytes, for a producer-state snapshot file (Kafka's `.snapshot`).
    #[cfg(test)]
    pub fn encode(&self) -> Vec<u8> {
        self.encode_below(i64::MAX)
    }

    /// The state of the batches below `offset` only (batches in flight above it are left out),
    /// as bytes.
    pub fn encode_below(&self, offset: i64) -> Vec<u8> {
        let kept: Vec<(i64, i16, Vec<&WrittenBatch>)> = {
            let mut ids: Vec<&i64> = self.producers.keys().collect();
            ids.sort_unstable();
            ids.into_iter()
                .filter_map(|id| {
                    let entry = &self.producers[id];
                    let batches: Vec<&WrittenBatch> = entry.batches.iter().filter(|b| b.last_offset < offset).collect();
                    (!batches.is_empty()).then_some((*id, entry.epoch, batches))
                })
                .collect()
        };
        let mut bytes = Vec::with_capacity(4 + kept.len() * (11 + CACHED_BATCHES * SNAPSHOT_BATCH));
        bytes.extend_from_slice(&(kept.len() as u32).to_be_bytes());
        for (id, epoch, batches) in kept {
            bytes.extend_from_slice(&id.to_be_bytes());
            bytes.extend_from_slice(&epoch.to_be_bytes());
            bytes.push(batches.len() as u8);
            for b in batches {
                bytes.extend_from_slice(&b.first_sequence.to_be_bytes());
                bytes.extend_from_slice(&b.last_sequence.to_be_bytes());
                bytes.extend_from_slice(&b.base_offset.to_be_bytes());
                bytes.extend_from_slice(&b.last_offset.to_be_bytes());
                bytes.extend_from_slice(&b.max_timestamp.to_be_bytes());
            }
        }
        bytes
    }

    /// The state from [`ProducerStates::encode`]'s bytes; `None` if they do not parse.
    pub fn decode(mut bytes: &[u8]) -> Option<ProducerStates> {
        fn take<const N: usize>(bytes: &mut &[u8]) -> Option<[u8; N]> {
            let (head, rest) = bytes.split_first_chunk::<N>()?;
            *bytes = rest;
            Some(*head)
        }
        let count = u32::from_be_bytes(take(&mut bytes)?);
        let mut producers = HashMap::new();
        for _ in 0..count {
            let id = i64::from_be_bytes(take(&mut bytes)?);
            let epoch = i16::from_be_bytes(take(&mut bytes)?);
            let batches = take::<1>(&mut bytes)?[0] as usize;
            if batches > CACHED_BATCHES {
                return None;
            }
            let mut entry = ProducerEntry { epoch, batches: VecDeque::with_capacity(batches) };
            for _ in 0..batches {
                entry.batches.push_back(WrittenBatch {
                    first_sequence: i32::from_be_bytes(take(&mut bytes)?),
                    last_sequence: i32::from_be_bytes(take(&mut bytes)?),
                    base_offset: i64::from_be_bytes(take(&mut bytes)?),
                    last_offset: i64::from_be_bytes(take(&mut bytes)?),
                    max_timestamp: i64::from_be_bytes(take(&mut bytes)?),
                });
            }
            producers.insert(id, entry);
        }
        bytes.is_empty().then_some(ProducerStates { producers })
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
        assert_eq!(states.check(&first), Ok(None));
        states.record(&first);
        // A retry of the same batch is a duplicate pointing at its original offsets.
        assert_eq!(states.check(&batch(7, 0, 0, 3, -1)).unwrap().unwrap().base_offset, 100);
        // The next sequence is fine; a gap is not.
        assert_eq!(states.check(&batch(7, 0, 3, 1, -1)), Ok(None));
        assert!(matches!(states.check(&batch(7, 0, 5, 1, -1)), Err(SequenceError::OutOfOrder { expected: 3, .. })));
        // A bumped epoch restarts at zero; an old epoch is fenced.
        assert!(matches!(states.check(&batch(7, 1, 3, 1, -1)), Err(SequenceError::OutOfOrder { .. })));
        states.record(&batch(7, 1, 0, 1, 103));
        assert!(matches!(states.check(&batch(7, 0, 4, 1, -1)), Err(SequenceError::StaleEpoch { .. })));
        // Recording the same batch again changes nothing.
        states.record(&batch(7, 1, 0, 1, 103));
        assert_eq!(states.check(&batch(7, 1, 1, 1, -1)), Ok(None));
    }

    #[test]
    fn snapshots_round_trip() {
        let mut states = ProducerStates::default();
        for i in 0..8 {
            states.record(&batch(3, 0, i * 2, 2, 100 + i as i64 * 2));
        }
        states.record(&batch(9, 4, 0, 1, 200));
        let decoded = ProducerStates::decode(&states.encode()).unwrap();
        assert_eq!(decoded.encode(), states.encode());
        assert_eq!(decoded.check(&batch(3, 0, 14, 2, -1)).unwrap().unwrap().base_offset, 114);
        assert!(ProducerStates::decode(&states.encode()[..10]).is_none());
    }
}
