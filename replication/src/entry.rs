//! Raft entries as record batches. A normal entry's data *is* a record batch (offsets and term
//! already stamped by the leader). raft-rs's own entries — the empty entry a new leader appends,
//! and configuration changes — have no batch, so they are stored as control batches: one
//! control record whose key is Kafka's control key (int16 version 0, int16 type) with a type
//! clients skip (KRaft's LeaderChange = 2 for the leader's entry, VotersRecord = 6 for a
//! configuration change), and, for a change, the raft-rs message as the value. They are built
//! from nothing but the entry itself, so every replica writes the same bytes for the same
//! index and term.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use raft::eraftpb::{Entry, EntryType};
use weir_protocol::batch;

use crate::ReplicationError;

/// Control-record type of a new leader's (empty) entry.
const LEADER_ENTRY: i16 = 2;
/// Control-record type of a configuration change (`ConfChange`).
const CONF_CHANGE: i16 = 6;
/// Control-record type of a joint configuration change (`ConfChangeV2`).
const CONF_CHANGE_V2: i16 = 7;

/// The batch to store for `entry`: its data when it carries a batch, else a control batch.
pub fn to_batch(entry: &Entry) -> Result<Bytes, ReplicationError> {
    let kind = match entry.get_entry_type() {
        EntryType::EntryNormal if entry.data.is_empty() => LEADER_ENTRY,
        EntryType::EntryNormal => return Ok(entry.data.clone()),
        EntryType::EntryConfChange => CONF_CHANGE,
        EntryType::EntryConfChangeV2 => CONF_CHANGE_V2,
    };
    control_batch(kind, entry.data.clone())
}

/// A batch of one control record of `kind`, carrying `value`.
fn control_batch(kind: i16, value: Bytes) -> Result<Bytes, ReplicationError> {
    let mut key = BytesMut::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&kind.to_be_bytes());
    let record = Record {
        transactional: false,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 0,
        key: Some(key.freeze()),
        value: Some(value),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, [&record], &RecordEncodeOptions { version: 2, compression: Compression::None })
        .map_err(|e| ReplicationError::Encode(e.to_string()))?;
    Ok(buf.freeze())
}

/// The raft-rs entry a stored batch stands for (`index` and `term` from the log).
pub fn from_batch(index: u64, term: u64, batch: Bytes) -> Entry {
    let mut entry = Entry::default();
    entry.index = index;
    entry.term = term;
    match control_record(&batch) {
        Some((LEADER_ENTRY, _)) => {}
        Some((CONF_CHANGE, value)) => {
            entry.set_entry_type(EntryType::EntryConfChange);
            entry.data = value;
        }
        Some((CONF_CHANGE_V2, value)) => {
            entry.set_entry_type(EntryType::EntryConfChangeV2);
            entry.data = value;
        }
        _ => entry.data = batch,
    }
    entry
}

/// `(type, value)` of a batch that is one of Weir's own Raft control records.
fn control_record(batch: &Bytes) -> Option<(i16, Bytes)> {
    let (kind, value) = batch::control_record(batch)?;
    matches!(kind, LEADER_ENTRY | CONF_CHANGE | CONF_CHANGE_V2).then(|| (kind, batch.slice(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raft_entries_round_trip_through_batches() {
        let mut leader = Entry::default();
        leader.term = 3;
        let stored = to_batch(&leader).unwrap();
        assert!(batch::validate(&stored).is_ok(), "a well-formed batch");
        assert!(batch::BatchHeader::parse(&stored).unwrap().is_control());
        assert_eq!(to_batch(&leader).unwrap(), stored, "the same bytes every time");
        let back = from_batch(7, 3, stored);
        assert_eq!((back.index, back.term, back.get_entry_type(), back.data.len()), (7, 3, EntryType::EntryNormal, 0));

        let mut change = Entry::default();
        change.set_entry_type(EntryType::EntryConfChange);
        change.data = Bytes::from_static(b"conf-change-bytes");
        let back = from_batch(8, 3, to_batch(&change).unwrap());
        assert_eq!((back.get_entry_type(), &back.data[..]), (EntryType::EntryConfChange, &b"conf-change-bytes"[..]));

        let mut normal = Entry::default();
        normal.data = control_batch(0, Bytes::new()).unwrap(); // a commit marker: a client batch
        assert_eq!(from_batch(9, 3, to_batch(&normal).unwrap()).data, normal.data);
    }
}
