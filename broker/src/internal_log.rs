//! Weir's own records in its internal logs (`__consumer_offsets`, `__transaction_state`, the
//! cluster metadata log): built as ordinary v2 record batches, and read back skipping Raft's
//! control batches. Also the transaction markers a coordinator writes into any partition.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

/// One uncompressed batch of `(key, value)` records stamped `now` (offsets and leader epoch are
/// the log's to assign). Errors are the encoder's, as text.
pub fn encode_batch(entries: &[(Option<Bytes>, Option<Bytes>)], now: i64) -> Result<BytesMut, String> {
    encode_batch_of(entries, now, None)
}

/// Like [`encode_batch`], as part of a producer's transaction (`(producer id, epoch)`): a
/// transactional batch without sequence numbers, as Kafka's coordinators write them (KIP-98).
pub fn encode_transactional_batch(entries: &[(Option<Bytes>, Option<Bytes>)], now: i64, producer: (i64, i16)) -> Result<BytesMut, String> {
    encode_batch_of(entries, now, Some(producer))
}

fn encode_batch_of(entries: &[(Option<Bytes>, Option<Bytes>)], now: i64, producer: Option<(i64, i16)>) -> Result<BytesMut, String> {
    let records: Vec<Record> = entries
        .iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: producer.is_some(),
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: producer.map_or(-1, |(id, _)| id),
            producer_epoch: producer.map_or(-1, |(_, epoch)| epoch),
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // Base sequence -1 in a transaction (coordinator writes carry none); each record's
            // sequence must follow its offset or the encoder starts a new batch.
            sequence: if producer.is_some() { i as i32 - 1 } else { i as i32 },
            timestamp: now,
            key: key.clone(),
            value: value.clone(),
            headers: Default::default(),
        })
        .collect();
    let mut batch = BytesMut::new();
    RecordBatchEncoder::encode(&mut batch, &records, &RecordEncodeOptions { version: 2, compression: Compression::None }).map_err(|e| e.to_string())?;
    Ok(batch)
}

/// A transaction marker batch (KIP-98): one control record ending `(producer id, epoch)`'s
/// transaction with a COMMIT or an ABORT, from the coordinator at `coordinator_epoch`.
pub fn marker_batch(producer: (i64, i16), commit: bool, coordinator_epoch: i32, now: i64) -> Result<Bytes, String> {
    let kind = if commit { weir_protocol::batch::COMMIT_MARKER } else { weir_protocol::batch::ABORT_MARKER };
    let mut key = Vec::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&kind.to_be_bytes());
    let mut value = Vec::with_capacity(6);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&coordinator_epoch.to_be_bytes());
    let record = Record {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: producer.0,
        producer_epoch: producer.1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: now,
        key: Some(Bytes::from(key)),
        value: Some(Bytes::from(value)),
        headers: Default::default(),
    };
    let mut batch = BytesMut::new();
    RecordBatchEncoder::encode(&mut batch, &[record], &RecordEncodeOptions { version: 2, compression: Compression::None }).map_err(|e| e.to_string())?;
    Ok(batch.freeze())
}

/// Every record of `bytes` (whole batches), control records included: a reader that follows
/// transactions needs their markers (`control` and `transactional` set, see
/// [`marker_of`]) and each record's producer id.
pub fn decode_all_records(mut bytes: Bytes) -> Result<Vec<Record>, String> {
    let batches = RecordBatchDecoder::decode_all(&mut bytes).map_err(|e| e.to_string())?;
    Ok(batches.into_iter().flat_map(|b| b.records).collect())
}

/// `Some(commit)` when `record` is a transaction marker (a COMMIT or ABORT control record).
pub fn marker_of(record: &Record) -> Option<bool> {
    if !record.control || !record.transactional || record.producer_id < 0 {
        return None;
    }
    match record.key.as_deref() {
        Some([_, _, a, b]) => match i16::from_be_bytes([*a, *b]) {
            weir_protocol::batch::COMMIT_MARKER => Some(true),
            weir_protocol::batch::ABORT_MARKER => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The data records of `bytes` (whole batches as the log returns them), with their offsets;
/// control records (Raft's no-ops and configuration changes) are left out.
pub fn decode_records(mut bytes: Bytes) -> Result<Vec<Record>, String> {
    let batches = RecordBatchDecoder::decode_all(&mut bytes).map_err(|e| e.to_string())?;
    Ok(batches.into_iter().flat_map(|b| b.records).filter(|r| !r.control).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_protocol::batch::{transaction_marker, BatchHeader, Batches, TransactionMarker};

    #[test]
    fn internal_batches_are_one_batch_and_markers_parse() {
        let entries: Vec<(Option<Bytes>, Option<Bytes>)> = (0..3).map(|i| (Some(Bytes::from(vec![i])), None)).collect();
        for batch in [encode_batch(&entries, 7).unwrap(), encode_transactional_batch(&entries, 7, (42, 3)).unwrap()] {
            let header = BatchHeader::parse(&batch).unwrap();
            assert_eq!((Batches::new(&batch).count(), header.size(), header.records_count), (1, batch.len(), 3));
        }
        let transactional = BatchHeader::parse(&encode_transactional_batch(&entries, 7, (42, 3)).unwrap()).unwrap();
        assert_eq!((transactional.is_transactional(), transactional.producer_id, transactional.base_sequence), (true, 42, -1));
        for commit in [true, false] {
            let marker = marker_batch((42, 3), commit, 9, 7).unwrap();
            assert_eq!(transaction_marker(&marker), Some(TransactionMarker { commit, coordinator_epoch: 9 }));
            let records = decode_all_records(marker).unwrap();
            assert_eq!(records.iter().map(marker_of).collect::<Vec<_>>(), vec![Some(commit)]);
        }
        assert_eq!(transaction_marker(&encode_batch(&entries, 7).unwrap()), None);
    }
}
