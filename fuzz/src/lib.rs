//! The fuzz harnesses: what the broker does with bytes a client sent, minus the I/O.
//!
//! Each harness is a plain function of `&[u8]`, so the AFL++ entry points (`src/bin/*.rs`), the
//! corpus replay test (`tests/corpus.rs`) and a crash reproduction all run exactly the same code.
//! A harness must not panic or abort on any input; it asserts a few invariants of its own
//! (marked "invariant") that a bug in Weir would break.
//!
//! Targets:
//! - [`request`]: the connection read loop (`frame::decode_frame` then `request::decode_request`
//!   for every complete frame), and for the requests whose payload the broker parses further,
//!   that parsing too: a Produce's record batches ([`produced_records`]) and a JoinGroup's
//!   consumer-protocol metadata (`handlers::groups::subscribed_topics`).
//! - [`record_batch`]: one partition's Produce `records` field, as received and again with its
//!   length and CRC repaired (random mutations almost never keep a CRC-32C right, and everything
//!   behind the checksum would go unexplored otherwise).
//! - [`raft_frame`]: a Raft connection's byte stream between brokers (`replication::codec`):
//!   frames split off and decoded; every decoded message must encode and decode back to itself.

#[path = "../../broker/src/alloc_guard.rs"]
pub mod alloc_guard;
pub mod watch;

use bytes::{Buf, Bytes, BytesMut};
use weir_protocol::batch::{self, BatchHeader, Batches};
use weir_protocol::frame::{decode_frame, DEFAULT_MAX_FRAME_BYTES};
use weir_protocol::kafka_protocol::messages::{ConsumerProtocolSubscription, RequestKind};
use weir_protocol::kafka_protocol::protocol::Decodable;
use weir_protocol::request::decode_request;
use weir_protocol::ProtocolError;

/// Kafka's default `max.message.bytes` (the broker's default topic setting).
const MAX_MESSAGE_BYTES: usize = 1024 * 1024 + 12;

/// A connection's byte stream: frames are split off and decoded one after another until the
/// stream ends or the broker would close the connection.
pub fn request(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    loop {
        let frame = match decode_frame(&mut buf, DEFAULT_MAX_FRAME_BYTES) {
            Ok(Some(frame)) => frame,
            Ok(None) | Err(_) => return,
        };
        match decode_request(frame) {
            Ok(request) => handle(request.body),
            Err(ProtocolError::Malformed { reason, .. }) if reason == "decoder panicked" => {
                // Weir survives this (catch_unwind), but it is a bug in the decoder: keep it.
                watch::caught_panic();
                return;
            }
            // The broker answers an unsupported ApiVersions and closes on everything else.
            Err(ProtocolError::UnsupportedVersion { api_key: 18, .. }) => {}
            Err(_) => return,
        }
    }
}

/// What the handlers parse beyond the decoded message.
fn handle(body: RequestKind) {
    match body {
        RequestKind::Produce(produce) => {
            for topic in produce.topic_data {
                for partition in topic.partition_data {
                    produced_records(&partition.records.unwrap_or_default());
                }
            }
        }
        RequestKind::JoinGroup(join) => {
            // handlers::groups::subscribed_topics, on each protocol's metadata.
            for protocol in join.protocols {
                let mut metadata = protocol.metadata;
                if metadata.remaining() < 2 {
                    continue;
                }
                let version = metadata.get_i16();
                let _ = ConsumerProtocolSubscription::decode(&mut metadata, version.min(3));
            }
        }
        _ => {}
    }
}

/// One partition's records field, as received and, when it is at least a header long, with its
/// batch length and CRC made right.
pub fn record_batch(data: &[u8]) {
    produced_records(data);
    if data.len() >= batch::HEADER_LEN {
        let mut repaired = data.to_vec();
        let length = (data.len() - batch::LOG_OVERHEAD) as i32;
        repaired[8..12].copy_from_slice(&length.to_be_bytes());
        let crc = batch::compute_crc(&repaired);
        repaired[17..21].copy_from_slice(&crc.to_be_bytes());
        produced_records(&repaired);
    }
}

/// What the broker does with a Produce partition's `records`: the header walk and validation of
/// `handlers::produce::validate`, the stamping of `weir_storage::Log::append`, and the record
/// walk (decompression included) that ListOffsets-by-timestamp runs on a stored batch.
pub fn produced_records(records: &[u8]) {
    if let Some(header) = BatchHeader::parse(records) {
        touch_header(&header);
    }
    for (at, header) in Batches::new(records) {
        let _ = batch::validate(&records[at..at + header.size()]);
    }
    // What every replica reads from an appended control batch (a transaction marker).
    let _ = batch::transaction_marker(records);
    let Some(header) = produce_validate(records) else {
        return;
    };
    touch_header(&header);

    // Log::append stamps the base offset and leader epoch (outside the CRC) and, for
    // LogAppendTime topics, the timestamp (then recomputes the CRC).
    let mut stored = records.to_vec();
    batch::set_base_offset(&mut stored, 0);
    batch::set_partition_leader_epoch(&mut stored, 0);
    let mut appended_at = stored.clone();
    batch::set_log_append_time(&mut appended_at, 1_700_000_000_000);
    for stamped in [&stored, &appended_at] {
        // invariant: stamping a batch that passed validation leaves it valid and the same size.
        let again = batch::validate(stamped).expect("a stamped valid batch must stay valid");
        assert_eq!((again.records_count, again.size()), (header.records_count, header.size()));
    }

    // handlers::offsets::first_record_at_or_after walks a stored batch's record times
    // (decompressing). Group loading's full `RecordBatchDecoder::decode_all` reads only
    // `__consumer_offsets`, which the broker writes.
    if let Ok(times) = batch::record_times(Bytes::from(stored)) {
        for _ in times {}
    }
}

/// The broker's `handlers::produce::validate`: exactly one whole batch, within
/// `max.message.bytes`, passing `batch::validate`.
fn produce_validate(records: &[u8]) -> Option<BatchHeader> {
    let mut walk = Batches::new(records);
    let first = walk.next();
    let (Some((_, header)), None) = (first, walk.next()) else {
        let _ = batch::magic(records);
        return None;
    };
    if header.size() != records.len() || records.len() > MAX_MESSAGE_BYTES {
        return None;
    }
    let validated = batch::validate(records).ok()?;
    // invariant: validation and the walk read the same header.
    assert_eq!(validated, header);
    Some(header)
}

/// Every derived value the broker computes from a client's header (storage's producer-state
/// checks use the sequence and offset helpers).
fn touch_header(header: &BatchHeader) {
    let _ = (
        header.size(),
        header.compression(),
        header.is_log_append_time(),
        header.is_transactional(),
        header.is_control(),
        header.has_producer_id(),
        header.last_sequence(),
    );
    if header.last_offset_delta >= 0 {
        // The log computes these after stamping its own base offset.
        let stamped = BatchHeader { base_offset: 0, ..*header };
        let _ = (stamped.last_offset(), stamped.next_offset());
    }
}

/// A Raft port's byte stream: frames are split off and decoded until the stream ends or the
/// broker would close the connection. Invariant: what decodes re-encodes to a frame that decodes
/// to the same messages.
pub fn raft_frame(data: &[u8]) {
    use weir_replication::codec::{decode_frame as decode_raft, encode_frame, split_frame};
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = split_frame(&mut buf) {
        let Ok(messages) = decode_raft(frame) else { return };
        let mut again = BytesMut::new();
        encode_frame(&messages, &mut again);
        let frame = split_frame(&mut again).ok().flatten().expect("invariant: an encoded frame splits");
        assert_eq!(decode_raft(frame).ok().as_ref(), Some(&messages), "invariant: frames round-trip");
    }
}
