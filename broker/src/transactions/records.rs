//! `__transaction_state` records in Kafka's format (`TransactionLogKey` v0 and
//! `TransactionLogValue` v0), so Kafka's tools read Weir's transaction log: the key is the
//! transactional id, the value its producer, state and partitions; a null value (tombstone)
//! forgets an expired transactional id.

use std::collections::BTreeSet;

use bytes::{BufMut, Bytes, BytesMut};

use super::state::{TxnMetadata, TxnState};

/// The key of a transactional id's record.
pub fn encode_key(transactional_id: &str) -> Bytes {
    let mut buf = BytesMut::with_capacity(4 + transactional_id.len());
    buf.put_i16(0);
    put_string(&mut buf, transactional_id);
    buf.freeze()
}

/// The transactional id of a key; `None` for anything else.
pub fn decode_key(mut bytes: &[u8]) -> Option<String> {
    if take_i16(&mut bytes)? != 0 {
        return None;
    }
    let id = take_string(&mut bytes)?;
    bytes.is_empty().then_some(id)
}

pub fn encode_value(metadata: &TxnMetadata) -> Bytes {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i16(0);
    buf.put_i64(metadata.producer_id);
    buf.put_i16(metadata.producer_epoch);
    buf.put_i32(metadata.timeout_ms);
    buf.put_i8(metadata.state.code());
    let topics = super::partitions_by_topic(&metadata.partitions);
    buf.put_i32(topics.len() as i32);
    for (topic, partitions) in topics {
        put_string(&mut buf, &topic);
        buf.put_i32(partitions.len() as i32);
        for partition in partitions {
            buf.put_i32(partition);
        }
    }
    buf.put_i64(metadata.last_update_ms);
    buf.put_i64(metadata.start_ms);
    buf.freeze()
}

/// A value written by [`encode_value`]; `None` if it does not parse.
pub fn decode_value(mut bytes: &[u8]) -> Option<TxnMetadata> {
    if take_i16(&mut bytes)? != 0 {
        return None;
    }
    let producer_id = take_i64(&mut bytes)?;
    let producer_epoch = take_i16(&mut bytes)?;
    let timeout_ms = take_i32(&mut bytes)?;
    let state = TxnState::from_code(*bytes.first()? as i8)?;
    bytes = &bytes[1..];
    let mut partitions = BTreeSet::new();
    let topics = take_i32(&mut bytes)?;
    for _ in 0..topics.max(0) {
        let topic = take_string(&mut bytes)?;
        let count = take_i32(&mut bytes)?;
        if count < 0 || count as usize > bytes.len() / 4 {
            return None;
        }
        for _ in 0..count {
            partitions.insert((topic.clone(), take_i32(&mut bytes)?));
        }
    }
    let last_update_ms = take_i64(&mut bytes)?;
    let start_ms = take_i64(&mut bytes)?;
    Some(TxnMetadata { producer_id, producer_epoch, timeout_ms, state, partitions, start_ms, last_update_ms, last_producer_epoch: -1 })
}

fn put_string(buf: &mut BytesMut, s: &str) {
    buf.put_i16(s.len() as i16);
    buf.put_slice(s.as_bytes());
}

fn take<const N: usize>(bytes: &mut &[u8]) -> Option<[u8; N]> {
    let (head, rest) = bytes.split_first_chunk::<N>()?;
    *bytes = rest;
    Some(*head)
}

fn take_i16(bytes: &mut &[u8]) -> Option<i16> {
    take(bytes).map(i16::from_be_bytes)
}

fn take_i32(bytes: &mut &[u8]) -> Option<i32> {
    take(bytes).map(i32::from_be_bytes)
}

fn take_i64(bytes: &mut &[u8]) -> Option<i64> {
    take(bytes).map(i64::from_be_bytes)
}

fn take_string(bytes: &mut &[u8]) -> Option<String> {
    let len = usize::try_from(take_i16(bytes)?).ok()?;
    let s = bytes.get(..len)?;
    *bytes = &bytes[len..];
    String::from_utf8(s.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let metadata = TxnMetadata {
            producer_id: 4000,
            producer_epoch: 3,
            timeout_ms: 60_000,
            state: TxnState::Ongoing,
            partitions: BTreeSet::from([("a".to_owned(), 0), ("a".to_owned(), 2), ("b".to_owned(), 1)]),
            start_ms: 10,
            last_update_ms: 20,
            last_producer_epoch: -1,
        };
        assert_eq!(decode_value(&encode_value(&metadata)), Some(metadata));
        assert_eq!(decode_key(&encode_key("txn-1")), Some("txn-1".to_owned()));
        assert_eq!(decode_value(&encode_value(&TxnMetadata::default())[..10]), None);
        assert_eq!(decode_key(&[0, 1, 0]), None);
    }
}
