//! A raw Kafka protocol client over the `kafka-protocol` crate's generated messages, for tests
//! that must choose the exact request version, pipeline requests, or read response fields no
//! client library exposes (null vs empty strings, `record_errors`). Blocking, one connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

/// How long a test waits for any one response.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

pub struct RawClient {
    stream: TcpStream,
    next_correlation_id: i32,
}

impl RawClient {
    pub fn connect(addr: &str) -> RawClient {
        let stream = TcpStream::connect(addr).expect("connect to weir");
        stream.set_read_timeout(Some(RESPONSE_TIMEOUT)).expect("read timeout");
        stream.set_nodelay(true).expect("nodelay");
        RawClient { stream, next_correlation_id: 1 }
    }

    /// Sends a request without waiting for its response; returns its correlation id.
    pub fn send<R: Request>(&mut self, version: i16, body: &R) -> i32 {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("weir-raw-test")));
        let mut buf = BytesMut::new();
        header.encode(&mut buf, R::header_version(version)).expect("encode request header");
        body.encode(&mut buf, version).expect("encode request body");
        let mut frame = (buf.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&buf);
        self.stream.write_all(&frame).expect("send request");
        correlation_id
    }

    /// Reads the next response, which must be `R`'s at `version` for `correlation_id`.
    pub fn receive<R: Request>(&mut self, version: i16, correlation_id: i32) -> R::Response {
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).expect("read response size (did the broker close the connection?)");
        let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
        self.stream.read_exact(&mut body).expect("read response");
        let mut body = Bytes::from(body);
        let header = ResponseHeader::decode(&mut body, R::Response::header_version(version)).expect("decode response header");
        assert_eq!(header.correlation_id, correlation_id, "responses come back in request order");
        R::Response::decode(&mut body, version).expect("decode response body")
    }

    /// The connection itself, to check how the broker closes it.
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Sends a request and waits for its response.
    pub fn call<R: Request>(&mut self, version: i16, body: &R) -> R::Response {
        let id = self.send(version, body);
        self.receive::<R>(version, id)
    }
}

/// One v2 batch of `(key, value)` records with CreateTime `timestamp`, compressed with
/// `compression`, as a producer without idempotence writes it.
pub fn batch(records: &[(Option<&[u8]>, &[u8])], timestamp: i64, compression: kafka_protocol::records::Compression) -> Bytes {
    producer_batch(records, timestamp, compression, None)
}

/// Like [`batch`], from a producer `(producer id, epoch, base sequence, transactional)`.
pub fn producer_batch(records: &[(Option<&[u8]>, &[u8])], timestamp: i64, compression: kafka_protocol::records::Compression, producer: Option<(i64, i16, i32, bool)>) -> Bytes {
    use kafka_protocol::records::{Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
    // Base sequence -1 without a producer (no idempotence).
    let (producer_id, producer_epoch, base_sequence, transactional) = producer.unwrap_or((-1, -1, -1, false));
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // Sequences must track offsets to stay one batch.
            sequence: base_sequence + i as i32,
            timestamp,
            key: key.map(Bytes::copy_from_slice),
            value: Some(Bytes::copy_from_slice(value)),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression }).expect("encode batch");
    buf.freeze()
}
