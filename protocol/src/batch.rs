//! A view over the Kafka v2 record batch (magic 2). Weir stores batches exactly as produced, so
//! everything the broker needs to know about one — offsets, timestamps, producer state, checksum —
//! comes from its fixed 61-byte header; records are walked only when cheap (uncompressed) or
//! rarely needed (timestamp lookups).

use std::fmt;

/// Bytes in a v2 batch header.
pub const HEADER_LEN: usize = 61;
/// Bytes before the `batch_length` field ends: base offset (8) + batch length (4).
pub const LOG_OVERHEAD: usize = 12;

const BASE_OFFSET: usize = 0;
const BATCH_LENGTH: usize = 8;
const LEADER_EPOCH: usize = 12;
const MAGIC: usize = 16;
const CRC: usize = 17;
const ATTRIBUTES: usize = 21;
const LAST_OFFSET_DELTA: usize = 23;
const BASE_TIMESTAMP: usize = 27;
const MAX_TIMESTAMP: usize = 35;
const PRODUCER_ID: usize = 43;
const PRODUCER_EPOCH: usize = 51;
const BASE_SEQUENCE: usize = 53;
const RECORDS_COUNT: usize = 57;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
const TRANSACTIONAL_BIT: i16 = 0x10;
const CONTROL_BIT: i16 = 0x20;

/// Why a batch was refused. Each maps to the Kafka error code a producer expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// Too short, a length that does not fit, or a checksum mismatch: CORRUPT_MESSAGE.
    Corrupt(String),
    /// Magic 0 or 1: UNSUPPORTED_FOR_MESSAGE_FORMAT.
    UnsupportedMagic(i8),
    /// A compression codec id Kafka does not define: UNSUPPORTED_COMPRESSION_TYPE.
    UnsupportedCompression(i16),
    /// Well-formed but not acceptable (record count, control batch from a client): INVALID_RECORD.
    Invalid(String),
}

impl BatchError {
    /// The Kafka error code for this refusal.
    pub fn error_code(&self) -> i16 {
        match self {
            BatchError::Corrupt(_) => 2,
            BatchError::UnsupportedMagic(_) => 43,
            BatchError::UnsupportedCompression(_) => 76,
            BatchError::Invalid(_) => 87,
        }
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::Corrupt(why) => write!(f, "corrupt batch: {why}"),
            BatchError::UnsupportedMagic(m) => write!(f, "record format magic {m} is not supported"),
            BatchError::UnsupportedCompression(c) => write!(f, "compression codec {c} is not supported"),
            BatchError::Invalid(why) => write!(f, "invalid batch: {why}"),
        }
    }
}

impl std::error::Error for BatchError {}

/// The decoded fixed header of one v2 batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    /// Bytes after the `batch_length` field; the whole batch is `LOG_OVERHEAD + batch_length`.
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(x)
}

impl BatchHeader {
    /// Reads a header from the front of `bytes` without checking anything but its length.
    pub fn parse(bytes: &[u8]) -> Option<BatchHeader> {
        if bytes.len() < HEADER_LEN {
            return None;
        }
        Some(BatchHeader {
            base_offset: i64_at(bytes, BASE_OFFSET),
            batch_length: i32_at(bytes, BATCH_LENGTH),
            partition_leader_epoch: i32_at(bytes, LEADER_EPOCH),
            magic: bytes[MAGIC] as i8,
            crc: u32::from_be_bytes([bytes[CRC], bytes[CRC + 1], bytes[CRC + 2], bytes[CRC + 3]]),
            attributes: i16_at(bytes, ATTRIBUTES),
            last_offset_delta: i32_at(bytes, LAST_OFFSET_DELTA),
            base_timestamp: i64_at(bytes, BASE_TIMESTAMP),
            max_timestamp: i64_at(bytes, MAX_TIMESTAMP),
            producer_id: i64_at(bytes, PRODUCER_ID),
            producer_epoch: i16_at(bytes, PRODUCER_EPOCH),
            base_sequence: i32_at(bytes, BASE_SEQUENCE),
            records_count: i32_at(bytes, RECORDS_COUNT),
        })
    }

    /// Total bytes of the batch, header included.
    pub fn size(&self) -> usize {
        LOG_OVERHEAD + self.batch_length.max(0) as usize
    }
    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }
    pub fn compression(&self) -> i16 {
        self.attributes & COMPRESSION_MASK
    }
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }
    /// The sequence number of the batch's last record (sequences wrap at `i32::MAX`).
    pub fn last_sequence(&self) -> i32 {
        let last = self.base_sequence as i64 + self.last_offset_delta as i64;
        if last > i32::MAX as i64 {
            (last - i32::MAX as i64 - 1) as i32
        } else {
            last as i32
        }
    }
}

/// CRC-32C over everything the batch checksum covers (attributes to the end).
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[ATTRIBUTES..])
}

/// The magic byte (record format version) of the batch at the front of `bytes`, if it has one.
pub fn magic(bytes: &[u8]) -> Option<i8> {
    bytes.get(MAGIC).map(|&m| m as i8)
}

/// Checks one complete batch (`batch.len()` must be exactly its size) the way a broker must before
/// appending it: magic, length, checksum, codec, and that the record count agrees with the
/// offset range. Uncompressed batches also have their record framing walked, which costs a
/// varint per record and no allocation.
pub fn validate(batch: &[u8]) -> Result<BatchHeader, BatchError> {
    if let Some(old) = magic(batch).filter(|&m| m != 2) {
        return Err(BatchError::UnsupportedMagic(old));
    }
    let header = BatchHeader::parse(batch)
        .ok_or_else(|| BatchError::Corrupt(format!("{} bytes is shorter than a batch header", batch.len())))?;
    if header.batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32 || header.size() != batch.len() {
        return Err(BatchError::Corrupt(format!(
            "batch length {} does not match the {} bytes present",
            header.batch_length,
            batch.len()
        )));
    }
    let crc = compute_crc(batch);
    if crc != header.crc {
        return Err(BatchError::Corrupt(format!("crc {:#010x} but computed {crc:#010x}", header.crc)));
    }
    if header.compression() > 4 {
        return Err(BatchError::UnsupportedCompression(header.compression()));
    }
    // In i64: `last_offset_delta + 1` overflows i32 at i32::MAX (found by fuzzing; a release
    // build wrapped it to i32::MIN and accepted a batch claiming i32::MIN records).
    if header.last_offset_delta < 0 || header.records_count as i64 != header.last_offset_delta as i64 + 1 {
        return Err(BatchError::Invalid(format!(
            "record count {} does not match last offset delta {}",
            header.records_count, header.last_offset_delta
        )));
    }
    if header.compression() == 0 {
        let walked = count_records(&batch[HEADER_LEN..])
            .ok_or_else(|| BatchError::Corrupt("record lengths do not add up to the batch".into()))?;
        if walked != header.records_count as i64 {
            return Err(BatchError::Invalid(format!(
                "header says {} records but the batch holds {walked}",
                header.records_count
            )));
        }
    }
    Ok(header)
}

/// Counts the length-prefixed records in an uncompressed records section; `None` if they do not
/// exactly fill it.
fn count_records(mut records: &[u8]) -> Option<i64> {
    let mut count = 0i64;
    while !records.is_empty() {
        let (len, used) = read_varint(records)?;
        if len < 0 {
            return None;
        }
        records = records.get(used + len as usize..)?;
        count += 1;
    }
    Some(count)
}

/// Reads a zig-zag varint (Kafka's `varint`), returning the value and the bytes it took.
pub fn read_varint(bytes: &[u8]) -> Option<(i64, usize)> {
    let mut raw: u64 = 0;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        raw |= ((byte & 0x7f) as u64) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((((raw >> 1) as i64) ^ -((raw & 1) as i64), i + 1));
        }
    }
    None
}

/// At most this many decompressed bytes of one batch are walked by [`record_times`]: a batch is
/// at most `max.message.bytes` compressed, but a few kilobytes of zstd or snappy can claim
/// gigabytes, and the broker must not allocate what a client's batch claims.
pub const MAX_DECOMPRESSED_BYTES: usize = 64 << 20;

/// The offset and timestamp of each record of one v2 batch, decompressing its records first if
/// needed (at most [`MAX_DECOMPRESSED_BYTES`]; records past that are not seen). Only each
/// record's length, offset delta and timestamp delta are read: keys, values and headers are
/// skipped by length, so a record claiming two billion headers costs nothing (the
/// `kafka-protocol` record decoder reserves a map of that many entries first; found by fuzzing).
/// LogAppendTime batches give every record the batch's max timestamp, as Kafka does. The walk
/// stops after the header's record count, at the end of the data, or at the first record whose
/// framing does not fit.
pub fn record_times(batch: bytes::Bytes) -> Result<RecordTimes, BatchError> {
    let header = BatchHeader::parse(&batch)
        .ok_or_else(|| BatchError::Corrupt(format!("{} bytes is shorter than a batch header", batch.len())))?;
    let end = header.size().min(batch.len());
    let records = decompress(header.compression(), batch.slice(HEADER_LEN.min(end)..end), MAX_DECOMPRESSED_BYTES)?;
    Ok(RecordTimes { header, records, left: header.records_count.max(0) })
}

/// Decompresses a batch's records, stopping after `limit` bytes of output (the rest is dropped,
/// not an error). The codecs are those `kafka-protocol` uses, driven here so output is bounded.
fn decompress(compression: i16, body: bytes::Bytes, limit: usize) -> Result<bytes::Bytes, BatchError> {
    use std::io::Read;
    let corrupt = |e: std::io::Error| BatchError::Corrupt(format!("records do not decompress: {e}"));
    let reader: Box<dyn Read + '_> = match compression {
        0 => return Ok(body),
        1 => Box::new(flate2::read::MultiGzDecoder::new(&body[..])),
        2 => return snappy(&body, limit),
        3 => Box::new(lz4::Decoder::new(&body[..]).map_err(corrupt)?),
        4 => Box::new(zstd::stream::read::Decoder::new(&body[..]).map_err(corrupt)?),
        other => return Err(BatchError::UnsupportedCompression(other)),
    };
    let mut out = Vec::new();
    reader.take(limit as u64).read_to_end(&mut out).map_err(corrupt)?;
    Ok(out.into())
}

/// Kafka's snappy: xerial framing (an 8-byte magic, version and compatible version, then blocks of
/// a 4-byte length and a raw snappy block), or one raw block without the magic, as snappy-java
/// reads it. Each block's claimed length is checked against the budget before it is allocated.
fn snappy(body: &[u8], limit: usize) -> Result<bytes::Bytes, BatchError> {
    const MAGIC: &[u8] = b"\x82SNAPPY\0";
    const XERIAL_HEADER: usize = 16;
    let corrupt = |e: snap::Error| BatchError::Corrupt(format!("records do not decompress: {e}"));
    let mut out = Vec::new();
    let mut decoder = snap::raw::Decoder::new();
    let mut block = |compressed: &[u8], out: &mut Vec<u8>| -> Result<bool, BatchError> {
        let len = snap::raw::decompress_len(compressed).map_err(corrupt)?;
        let Some(end) = out.len().checked_add(len).filter(|&end| end <= limit) else {
            return Ok(false);
        };
        let start = out.len();
        out.resize(end, 0);
        decoder.decompress(compressed, &mut out[start..]).map_err(corrupt)?;
        Ok(true)
    };
    if !body.starts_with(MAGIC) {
        block(body, &mut out)?;
        return Ok(out.into());
    }
    let mut rest = body.get(XERIAL_HEADER..).unwrap_or_default();
    while let Some(size) = rest.get(..4) {
        let size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize;
        let compressed = rest
            .get(4..4usize.saturating_add(size))
            .ok_or_else(|| BatchError::Corrupt("snappy block longer than the batch".into()))?;
        if !block(compressed, &mut out)? {
            break;
        }
        rest = &rest[4 + size..];
    }
    Ok(out.into())
}

/// Iterator of `(offset, timestamp)` from [`record_times`].
pub struct RecordTimes {
    header: BatchHeader,
    records: bytes::Bytes,
    left: i32,
}

impl Iterator for RecordTimes {
    type Item = (i64, i64);

    fn next(&mut self) -> Option<(i64, i64)> {
        if self.left == 0 {
            return None;
        }
        let (len, used) = read_varint(&self.records)?;
        let len = usize::try_from(len).ok()?;
        let record = self.records.get(used..used.checked_add(len)?)?;
        // attributes (1 byte), timestamp delta (varlong), offset delta (varint)
        let (timestamp_delta, t) = read_varint(record.get(1..)?)?;
        let (offset_delta, _) = read_varint(record.get(1 + t..)?)?;
        self.records = self.records.slice(used + len..);
        self.left -= 1;
        let timestamp = if self.header.is_log_append_time() {
            self.header.max_timestamp
        } else {
            self.header.base_timestamp.wrapping_add(timestamp_delta)
        };
        Some((self.header.base_offset.wrapping_add(offset_delta), timestamp))
    }
}

/// Writes the broker-assigned base offset. Not covered by the CRC.
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[BASE_OFFSET..BASE_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Writes the partition leader epoch. Not covered by the CRC.
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    batch[LEADER_EPOCH..LEADER_EPOCH + 4].copy_from_slice(&epoch.to_be_bytes());
}

/// Stamps the batch with the broker's clock (`message.timestamp.type=LogAppendTime`): sets the
/// timestamp-type attribute and the max timestamp, then recomputes the CRC they are covered by.
pub fn set_log_append_time(batch: &mut [u8], now_ms: i64) {
    let attributes = i16_at(batch, ATTRIBUTES) | TIMESTAMP_TYPE_BIT;
    batch[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP..MAX_TIMESTAMP + 8].copy_from_slice(&now_ms.to_be_bytes());
    let crc = compute_crc(batch);
    batch[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Kafka's codec ids (the low three attribute bits).
pub mod codec {
    pub const NONE: i16 = 0;
    pub const GZIP: i16 = 1;
    pub const SNAPPY: i16 = 2;
    pub const LZ4: i16 = 3;
    /// Needs Produce v7+ / Fetch v10+ (KIP-110).
    pub const ZSTD: i16 = 4;
}

/// One record as the per-record append rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordInfo {
    /// Position within the batch (Kafka's `batch_index` in Produce `record_errors`).
    pub index: usize,
    /// The record's CreateTime, in ms.
    pub timestamp: i64,
    pub has_key: bool,
}

/// Calls `visit` with each record's timestamp and key presence until it returns false. A
/// compressed batch's records are decompressed first, at most [`MAX_DECOMPRESSED_BYTES`] (a batch
/// claiming more is refused, not allocated), so callers do this only when a topic rule needs
/// it. Every record's framing is checked on the way (lengths and counts within the bytes
/// present). The batch must already have passed [`validate`].
pub fn visit_records(batch: &[u8], visit: impl FnMut(RecordInfo) -> bool) -> Result<(), BatchError> {
    let header = BatchHeader::parse(batch).ok_or_else(|| BatchError::Corrupt("shorter than a batch header".into()))?;
    let records = records_of(batch, &header)?;
    walk_records(&records, &header, visit).map(|_| ())
}

/// The records section of a batch, decompressed (bounded by [`MAX_DECOMPRESSED_BYTES`]).
fn records_of(batch: &[u8], header: &BatchHeader) -> Result<bytes::Bytes, BatchError> {
    let end = header.size().min(batch.len());
    let body = bytes::Bytes::copy_from_slice(batch.get(HEADER_LEN..end).unwrap_or_default());
    let records = decompress(header.compression(), body, MAX_DECOMPRESSED_BYTES)?;
    if header.compression() != codec::NONE && records.len() >= MAX_DECOMPRESSED_BYTES {
        return Err(BatchError::Invalid(format!("records decompress to more than {MAX_DECOMPRESSED_BYTES} bytes")));
    }
    Ok(records)
}

/// Walks a records section, checking each record's framing whole (key, value and every header
/// within the record's length; counts bounded by the bytes left), and that it holds exactly the
/// header's record count. Returns how many records it visited.
fn walk_records(mut rest: &[u8], header: &BatchHeader, mut visit: impl FnMut(RecordInfo) -> bool) -> Result<usize, BatchError> {
    let corrupt = || BatchError::Corrupt("record framing does not add up".into());
    let mut index = 0;
    while !rest.is_empty() {
        let (len, used) = read_varint(rest).ok_or_else(corrupt)?;
        let len = usize::try_from(len).map_err(|_| corrupt())?;
        let record = rest.get(used..used.checked_add(len).ok_or_else(corrupt)?).ok_or_else(corrupt)?;
        let mut at = 1; // attributes (int8)
        let field = |at: &mut usize| -> Result<i64, BatchError> {
            let (value, n) = record.get(*at..).and_then(read_varint).ok_or_else(corrupt)?;
            *at += n;
            Ok(value)
        };
        let timestamp_delta = field(&mut at)?;
        field(&mut at)?; // offset delta
        let key_len = field(&mut at)?;
        let skip = |at: &mut usize, len: i64, nullable: bool| -> Result<(), BatchError> {
            match len {
                -1 if nullable => Ok(()),
                len if len >= 0 && (len as usize) <= record.len().saturating_sub(*at) => {
                    *at += len as usize;
                    Ok(())
                }
                _ => Err(corrupt()),
            }
        };
        skip(&mut at, key_len, true)?;
        let value_len = field(&mut at)?;
        skip(&mut at, value_len, true)?;
        let headers = field(&mut at)?;
        // Each header takes at least two bytes (two length varints).
        if headers < 0 || headers as usize > record.len().saturating_sub(at) / 2 {
            return Err(corrupt());
        }
        for _ in 0..headers {
            let key = field(&mut at)?;
            skip(&mut at, key, false)?;
            let value = field(&mut at)?;
            skip(&mut at, value, true)?;
        }
        if at != record.len() {
            return Err(corrupt());
        }
        let info = RecordInfo { index, timestamp: header.base_timestamp.saturating_add(timestamp_delta), has_key: key_len >= 0 };
        rest = &rest[used + len..];
        index += 1;
        if !visit(info) {
            return Ok(index);
        }
    }
    if index as i64 != header.records_count as i64 {
        return Err(BatchError::Invalid(format!("header says {} records but the batch holds {index}", header.records_count)));
    }
    Ok(index)
}

/// The most records a batch may hold to be recompressed ([`recompress`]).
pub const MAX_RECOMPRESSED_RECORDS: i32 = 1 << 18;

/// Re-encodes a batch with another codec, keeping its records, producer id, epoch, base
/// sequence and transactional flag (Kafka's `compression.type` topic config, as LogValidator
/// does when the topic's codec differs from the producer's). Offsets restart at 0; the broker
/// assigns them at append. The records are decompressed within [`MAX_DECOMPRESSED_BYTES`] and
/// their framing checked whole before the record decoder sees them (it reserves what counts
/// claim).
pub fn recompress(batch: &[u8], to: i16) -> Result<bytes::Bytes, BatchError> {
    use kafka_protocol::records::{Compression, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions};
    let compression = match to {
        codec::NONE => Compression::None,
        codec::GZIP => Compression::Gzip,
        codec::SNAPPY => Compression::Snappy,
        codec::LZ4 => Compression::Lz4,
        codec::ZSTD => Compression::Zstd,
        other => return Err(BatchError::UnsupportedCompression(other)),
    };
    let header = BatchHeader::parse(batch).ok_or_else(|| BatchError::Corrupt("shorter than a batch header".into()))?;
    // The record decoder builds every record in memory (~150 bytes each before its data): bound
    // how many a client's batch may make it build.
    if header.records_count > MAX_RECOMPRESSED_RECORDS {
        return Err(BatchError::Invalid(format!(
            "{} records are more than the {MAX_RECOMPRESSED_RECORDS} a batch may hold to be recompressed",
            header.records_count
        )));
    }
    let records = records_of(batch, &header)?;
    walk_records(&records, &header, |_| true)?;
    // The same batch, uncompressed, for the record decoder.
    let mut plain = Vec::with_capacity(HEADER_LEN + records.len());
    plain.extend_from_slice(&batch[..HEADER_LEN]);
    plain.extend_from_slice(&records);
    let length = i32::try_from(plain.len() - LOG_OVERHEAD).map_err(|_| BatchError::Invalid("batch too large".into()))?;
    plain[BATCH_LENGTH..BATCH_LENGTH + 4].copy_from_slice(&length.to_be_bytes());
    let attributes = header.attributes & !COMPRESSION_MASK;
    plain[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    let crc = compute_crc(&plain);
    plain[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
    let mut bytes = bytes::Bytes::from(plain);
    let set = RecordBatchDecoder::decode(&mut bytes).map_err(|e| BatchError::Corrupt(format!("records do not decode: {e}")))?;
    let mut out = bytes::BytesMut::with_capacity(batch.len());
    RecordBatchEncoder::encode(&mut out, &set.records, &RecordEncodeOptions { version: 2, compression })
        .map_err(|e| BatchError::Invalid(format!("cannot recompress: {e}")))?;
    let out = out.freeze();
    // One batch in, one batch out: the encoder splits only records that differ in producer
    // fields, and a batch's records never do.
    match Batches::new(&out).count() {
        1 => Ok(out),
        n => Err(BatchError::Invalid(format!("recompressing produced {n} batches"))),
    }
}

/// A transaction marker (KIP-98): the control record a transaction coordinator writes to end a
/// producer's transaction in a partition. Key: version (int16, 0), type (int16: 0 ABORT,
/// 1 COMMIT); value: version (int16, 0), coordinator epoch (int32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionMarker {
    pub commit: bool,
    pub coordinator_epoch: i32,
}

/// Control-record type of an ABORT marker.
pub const ABORT_MARKER: i16 = 0;
/// Control-record type of a COMMIT marker.
pub const COMMIT_MARKER: i16 = 1;

/// The one record of a control batch, as Kafka's control batches (and Raft's in Weir) hold it:
/// its type — the key is version 0 (int16) and type (int16) — and where its value is in
/// `batch` (cut at the batch's end). `None` unless `batch` is an uncompressed control batch of
/// one record with such a key.
pub fn control_record(batch: &[u8]) -> Option<(i16, std::ops::Range<usize>)> {
    let header = BatchHeader::parse(batch)?;
    if !header.is_control() || header.records_count != 1 || header.compression() != codec::NONE {
        return None;
    }
    // length, attributes (1 byte), timestamp delta, offset delta, key length, key, value length
    let varint = |at: &mut usize| -> Option<i64> {
        let (value, used) = read_varint(batch.get(*at..)?)?;
        *at += used;
        Some(value)
    };
    let mut at = HEADER_LEN;
    varint(&mut at)?;
    at += 1;
    varint(&mut at)?;
    varint(&mut at)?;
    let key_len = usize::try_from(varint(&mut at)?).ok()?;
    let key = batch.get(at..at.checked_add(key_len)?)?;
    at += key_len;
    let [0, 0, kind_high, kind_low] = *key else { return None };
    let value_len = usize::try_from(varint(&mut at)?).ok()?;
    Some((i16::from_be_bytes([kind_high, kind_low]), at..at.checked_add(value_len)?.min(batch.len())))
}

/// The marker `batch` holds, if it is a transaction marker: a producer's transactional control
/// record ([`control_record`]) of type COMMIT or ABORT. Anything else (data, Raft's own control
/// batches, a malformed record) is `None`.
pub fn transaction_marker(batch: &[u8]) -> Option<TransactionMarker> {
    let header = BatchHeader::parse(batch)?;
    if !header.is_transactional() || header.producer_id < 0 {
        return None;
    }
    let (kind, value) = control_record(batch)?;
    let coordinator_epoch = batch.get(value)?.get(2..6).map_or(0, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    match kind {
        ABORT_MARKER => Some(TransactionMarker { commit: false, coordinator_epoch }),
        COMMIT_MARKER => Some(TransactionMarker { commit: true, coordinator_epoch }),
        _ => None,
    }
}

/// Walks consecutive batches in a buffer, yielding `(position, header)` for each complete one.
/// Stops at the end, at a partial batch, or at a header whose length is impossible.
pub struct Batches<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Batches<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Batches { bytes, position: 0 }
    }
    /// Where the walk stopped: the end of the last complete batch yielded so far.
    pub fn position(&self) -> usize {
        self.position
    }
}

impl Iterator for Batches<'_> {
    type Item = (usize, BatchHeader);

    fn next(&mut self) -> Option<Self::Item> {
        let header = BatchHeader::parse(&self.bytes[self.position..])?;
        if header.batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32 {
            return None;
        }
        let end = self.position.checked_add(header.size())?;
        if end > self.bytes.len() {
            return None;
        }
        let at = self.position;
        self.position = end;
        Some((at, header))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

    pub(crate) fn encode(records: usize, compression: Compression) -> Vec<u8> {
        let records: Vec<Record> = (0..records)
            .map(|i| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: i as i32,
                timestamp: 1_000 + i as i64,
                key: Some(Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(vec![b'v'; 100])),
                headers: Default::default(),
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &RecordEncodeOptions { version: 2, compression },
        )
        .unwrap();
        buf.to_vec()
    }

    #[test]
    fn validates_good_batches_of_every_codec() {
        for codec in [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let batch = encode(5, codec);
            let header = validate(&batch).unwrap();
            assert_eq!(header.records_count, 5);
            assert_eq!(header.last_offset_delta, 4);
            assert_eq!(header.max_timestamp, 1_004);
        }
    }

    #[test]
    fn flipped_bit_is_corrupt() {
        let mut batch = encode(3, Compression::None);
        let last = batch.len() - 1;
        batch[last] ^= 0x01;
        assert!(matches!(validate(&batch), Err(BatchError::Corrupt(_))));
    }

    #[test]
    fn old_magic_and_bad_counts_are_refused() {
        let mut batch = encode(3, Compression::None);
        batch[MAGIC] = 1;
        assert_eq!(validate(&batch), Err(BatchError::UnsupportedMagic(1)));

        let mut batch = encode(3, Compression::None);
        batch[RECORDS_COUNT..RECORDS_COUNT + 4].copy_from_slice(&7i32.to_be_bytes());
        let crc = compute_crc(&batch);
        batch[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(validate(&batch), Err(BatchError::Invalid(_))));
    }

    #[test]
    fn log_append_time_keeps_the_batch_valid() {
        let mut batch = encode(2, Compression::Lz4);
        set_base_offset(&mut batch, 42);
        set_partition_leader_epoch(&mut batch, 7);
        set_log_append_time(&mut batch, 99_999);
        let header = validate(&batch).unwrap();
        assert_eq!((header.base_offset, header.partition_leader_epoch), (42, 7));
        assert!(header.is_log_append_time());
        assert_eq!(header.max_timestamp, 99_999);
    }

    #[test]
    fn walks_consecutive_batches_and_stops_at_a_torn_one() {
        let mut bytes = encode(2, Compression::None);
        bytes.extend(encode(3, Compression::Gzip));
        let whole = bytes.len();
        bytes.extend(&encode(1, Compression::None)[..20]);
        let mut walk = Batches::new(&bytes);
        assert_eq!(walk.by_ref().map(|(_, h)| h.records_count).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(walk.position(), whole);
    }

    /// Fuzzing (record_batch target): last offset delta i32::MAX overflowed the count check.
    #[test]
    fn fuzz_last_offset_delta_i32_max_does_not_overflow_the_count_check() {
        for records_count in [i32::MIN, i32::MAX, 0] {
            let mut batch = encode(1, Compression::Snappy);
            batch[LAST_OFFSET_DELTA..LAST_OFFSET_DELTA + 4].copy_from_slice(&i32::MAX.to_be_bytes());
            batch[RECORDS_COUNT..RECORDS_COUNT + 4].copy_from_slice(&records_count.to_be_bytes());
            let crc = compute_crc(&batch);
            batch[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
            assert!(matches!(validate(&batch), Err(BatchError::Invalid(_))), "{records_count}");
        }
    }

    #[test]
    fn record_times_of_every_codec() {
        for codec in [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let mut batch = encode(3, codec);
            set_base_offset(&mut batch, 10);
            let times: Vec<_> = record_times(Bytes::from(batch.clone())).unwrap().collect();
            assert_eq!(times, vec![(10, 1_000), (11, 1_001), (12, 1_002)], "{codec:?}");
            set_log_append_time(&mut batch, 5);
            let times: Vec<_> = record_times(Bytes::from(batch)).unwrap().collect();
            assert_eq!(times, vec![(10, 5), (11, 5), (12, 5)], "{codec:?}");
        }
    }

    /// Fuzzing (record_batch target): a record claiming i32::MAX headers made kafka-protocol's
    /// record decoder reserve (and hashbrown initialise) a 4 GiB table; the walk skips headers.
    #[test]
    fn fuzz_record_claiming_i32_max_headers_is_walked_without_reserving_them() {
        let mut records = BytesMut::new();
        // attributes 0, timestamp delta 0, offset delta 0, key -1, value -1, then a header count of
        // i32::MAX (zig-zag varint) with no headers behind it.
        let body = [0u8, 0, 0, 1, 1, 0xfe, 0xff, 0xff, 0xff, 0x0f];
        records.extend_from_slice(&[(body.len() as u8) << 1]);
        records.extend_from_slice(&body);
        let mut batch = encode(1, Compression::None);
        batch.truncate(HEADER_LEN);
        batch.extend_from_slice(&records);
        let length = (batch.len() - LOG_OVERHEAD) as i32;
        batch[BATCH_LENGTH..BATCH_LENGTH + 4].copy_from_slice(&length.to_be_bytes());
        let crc = compute_crc(&batch);
        batch[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
        validate(&batch).unwrap();
        let times: Vec<_> = record_times(Bytes::from(batch)).unwrap().collect();
        assert_eq!(times, vec![(0, 1_000)]);
    }

    /// A few bytes of snappy (xerial framing, as Kafka's clients write it, or raw) can claim a
    /// 4 GiB block; kafka-protocol's decompressor zero-fills what each block claims.
    #[test]
    fn snappy_blocks_claiming_gigabytes_are_not_allocated() {
        let claim = [0xff, 0xff, 0xff, 0xff, 0x0f]; // varint 2^32 - 1: the block's "uncompressed length"
        let mut xerial = b"\x82SNAPPY\0\0\0\0\x01\0\0\0\x01".to_vec();
        for _ in 0..8 {
            xerial.extend_from_slice(&(claim.len() as u32).to_be_bytes());
            xerial.extend_from_slice(&claim);
        }
        for body in [xerial, claim.to_vec()] {
            let out = decompress(2, Bytes::from(body), MAX_DECOMPRESSED_BYTES).unwrap();
            assert!(out.is_empty());
        }
    }

    #[test]
    fn decompression_stops_at_the_limit() {
        let zeros = vec![0u8; 4 << 20];
        let zstd = zstd::encode_all(&zeros[..], 3).unwrap();
        assert!(zstd.len() < 4096);
        assert_eq!(decompress(4, Bytes::from(zstd), 1 << 20).unwrap().len(), 1 << 20);
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gzip, &zeros).unwrap();
        assert_eq!(decompress(1, Bytes::from(gzip.finish().unwrap()), 1 << 20).unwrap().len(), 1 << 20);
    }

    #[test]
    fn record_visits_agree_between_codecs() {
        for codec in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let mut seen = Vec::new();
            visit_records(&encode(4, codec), |r| {
                seen.push((r.index, r.timestamp, r.has_key));
                true
            })
            .unwrap();
            assert_eq!(seen, vec![(0, 1_000, true), (1, 1_001, true), (2, 1_002, true), (3, 1_003, true)], "{codec:?}");
        }
    }

    #[test]
    fn recompression_keeps_records_and_producer_fields() {
        let original = encode(3, Compression::None);
        let gzip = recompress(&original, codec::GZIP).unwrap();
        let header = validate(&gzip).unwrap();
        assert_eq!(header.compression(), codec::GZIP);
        assert_eq!(header.records_count, 3);
        let back = recompress(&gzip, codec::NONE).unwrap();
        assert_eq!(&back[HEADER_LEN..], &original[HEADER_LEN..], "records are byte-identical after a round trip");
    }

    /// The produce path's record walk and recompression meet the same bombs the fuzzer found:
    /// neither allocates what a batch claims.
    #[test]
    fn record_walks_and_recompression_refuse_bombs() {
        // 80 MiB of zeros as one zstd "records section" of a well-formed batch.
        let mut batch = encode(1, Compression::Zstd);
        let bomb = zstd::encode_all(&vec![0u8; 80 << 20][..], 3).unwrap();
        batch.truncate(HEADER_LEN);
        batch.extend_from_slice(&bomb);
        let length = (batch.len() - LOG_OVERHEAD) as i32;
        batch[BATCH_LENGTH..BATCH_LENGTH + 4].copy_from_slice(&length.to_be_bytes());
        let crc = compute_crc(&batch);
        batch[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
        assert!(visit_records(&batch, |_| true).is_err());
        assert!(recompress(&batch, codec::GZIP).is_err());

        // One record claiming i32::MAX headers.
        let body = [0u8, 0, 0, 1, 1, 0xfe, 0xff, 0xff, 0xff, 0x0f];
        let mut batch = encode(1, Compression::None);
        batch.truncate(HEADER_LEN);
        batch.push((body.len() as u8) << 1);
        batch.extend_from_slice(&body);
        let length = (batch.len() - LOG_OVERHEAD) as i32;
        batch[BATCH_LENGTH..BATCH_LENGTH + 4].copy_from_slice(&length.to_be_bytes());
        let crc = compute_crc(&batch);
        batch[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
        assert!(visit_records(&batch, |_| true).is_err());
        assert!(recompress(&batch, codec::ZSTD).is_err());
    }

    #[test]
    fn sequences_wrap() {
        let header = BatchHeader { base_sequence: i32::MAX - 1, last_offset_delta: 3, ..BatchHeader::parse(&encode(1, Compression::None)).unwrap() };
        assert_eq!(header.last_sequence(), 1);
    }
}
