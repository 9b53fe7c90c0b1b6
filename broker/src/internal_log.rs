//! Weir's own records in its internal logs (`__consumer_offsets`, the cluster metadata log):
//! built as ordinary v2 record batches, and read back skipping Raft's control batches.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

/// One uncompressed batch of `(key, value)` records stamped `now` (offsets and leader epoch are
/// the log's to assign). Errors are the encoder's, as text.
pub fn encode_batch(entries: &[(Option<Bytes>, Option<Bytes>)], now: i64) -> Result<BytesMut, String> {
    let records: Vec<Record> = entries
        .iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32,
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

/// The data records of `bytes` (whole batches as the log returns them), with their offsets;
/// control records (Raft's no-ops and configuration changes) are left out.
pub fn decode_records(mut bytes: Bytes) -> Result<Vec<Record>, String> {
    let batches = RecordBatchDecoder::decode_all(&mut bytes).map_err(|e| e.to_string())?;
    Ok(batches.into_iter().flat_map(|b| b.records).filter(|r| !r.control).collect())
}
