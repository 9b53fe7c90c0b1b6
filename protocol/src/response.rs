//! Encoding responses into frames. Record data in Fetch responses is not copied: the encoder
//! recognises the record buffers it was handed and links them into the frame as they are, so a
//! response is a list of chunks, some of which point straight into the log's memory map.

use std::collections::HashMap;
use std::ops::Range;

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ResponseHeader;
use kafka_protocol::protocol::buf::ByteBufMut;
use kafka_protocol::protocol::{Encodable, HeaderVersion};

use crate::ProtocolError;

/// One encoded response, size prefix included, as the chunks to write in order.
#[derive(Debug, Default)]
pub struct ResponseFrame {
    chunks: Vec<Bytes>,
}

impl ResponseFrame {
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }
    /// The frame as one contiguous buffer (copies; for tests and clients).
    pub fn to_vec(&self) -> Vec<u8> {
        self.chunks.iter().flat_map(|c| c.iter().copied()).collect()
    }
}

/// Encodes `body` as the response to the request with `correlation_id`, at `version`.
/// `zero_copy` lists buffers referenced by the body (Fetch records) to link instead of copy.
pub fn encode_response<M: Encodable + HeaderVersion>(
    correlation_id: i32,
    version: i16,
    body: &M,
    zero_copy: &[Bytes],
) -> Result<ResponseFrame, ProtocolError> {
    let header_version = M::header_version(version);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let encode_error = |e: anyhow::Error| ProtocolError::Encode(e.to_string());
    let size = header.compute_size(header_version).map_err(encode_error)?
        + body.compute_size(version).map_err(encode_error)?;
    let size = i32::try_from(size).map_err(|_| ProtocolError::Encode(format!("response of {size} bytes")))?;
    let mut buf = ChunkedBuf::new(zero_copy);
    buf.put_i32(size);
    header.encode(&mut buf, header_version).map_err(encode_error)?;
    body.encode(&mut buf, version).map_err(encode_error)?;
    buf.finish()
}

/// A `BufMut` that copies small writes into a growing buffer and links registered buffers.
struct ChunkedBuf {
    linked: HashMap<(usize, usize), Bytes>,
    chunks: Vec<Bytes>,
    frozen_len: usize,
    current: BytesMut,
    /// Set if the encoder tried to rewrite bytes already linked away (no response does).
    rewound: bool,
    scratch: Vec<u8>,
}

impl ChunkedBuf {
    fn new(zero_copy: &[Bytes]) -> Self {
        ChunkedBuf {
            linked: zero_copy
                .iter()
                .filter(|b| !b.is_empty())
                .map(|b| ((b.as_ptr() as usize, b.len()), b.clone()))
                .collect(),
            chunks: Vec::new(),
            frozen_len: 0,
            current: BytesMut::with_capacity(256),
            rewound: false,
            scratch: Vec::new(),
        }
    }

    fn finish(mut self) -> Result<ResponseFrame, ProtocolError> {
        if self.rewound {
            return Err(ProtocolError::Encode("encoder rewrote linked bytes".into()));
        }
        if !self.current.is_empty() {
            self.chunks.push(self.current.freeze());
        }
        Ok(ResponseFrame { chunks: self.chunks })
    }
}

unsafe impl BufMut for ChunkedBuf {
    fn remaining_mut(&self) -> usize {
        self.current.remaining_mut()
    }
    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: forwarded; the caller initialised `cnt` bytes of `chunk_mut()`.
        unsafe { self.current.advance_mut(cnt) }
    }
    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.current.chunk_mut()
    }
    fn put_slice(&mut self, src: &[u8]) {
        match self.linked.get(&(src.as_ptr() as usize, src.len())) {
            Some(linked) => {
                if !self.current.is_empty() {
                    self.frozen_len += self.current.len();
                    self.chunks.push(self.current.split().freeze());
                }
                self.frozen_len += linked.len();
                self.chunks.push(linked.clone());
            }
            None => self.current.extend_from_slice(src),
        }
    }
}

impl ByteBufMut for ChunkedBuf {
    fn offset(&self) -> usize {
        self.frozen_len + self.current.len()
    }
    fn seek(&mut self, offset: usize) {
        match offset.checked_sub(self.frozen_len) {
            Some(local) => self.current.resize(local, 0),
            None => self.rewound = true,
        }
    }
    fn range(&mut self, r: Range<usize>) -> &mut [u8] {
        if r.start >= self.frozen_len && r.end - self.frozen_len <= self.current.len() {
            return &mut self.current[r.start - self.frozen_len..r.end - self.frozen_len];
        }
        self.rewound = true;
        self.scratch.resize(r.len(), 0);
        &mut self.scratch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::fetch_response::{FetchResponse, FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::{ApiVersionsResponse, TopicName};
    use kafka_protocol::protocol::{Decodable, StrBytes};

    #[test]
    fn fetch_records_are_linked_not_copied() {
        let records = Bytes::from(vec![7u8; 10_000]);
        let response = FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
            .with_topic(TopicName(StrBytes::from_static_str("t")))
            .with_partitions(vec![PartitionData::default().with_records(Some(records.clone()))])]);
        let frame = encode_response(9, 12, &response, std::slice::from_ref(&records)).unwrap();
        assert!(frame.chunks().iter().any(|c| c.as_ptr() == records.as_ptr()));

        let bytes = Bytes::from(frame.to_vec());
        assert_eq!(i32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize, bytes.len() - 4);
        let mut body = bytes.slice(4..);
        let header = ResponseHeader::decode(&mut body, 1).unwrap();
        assert_eq!(header.correlation_id, 9);
        let decoded = FetchResponse::decode(&mut body, 12).unwrap();
        assert_eq!(decoded.responses[0].partitions[0].records.as_ref(), Some(&records));
    }

    #[test]
    fn api_versions_response_uses_header_v0() {
        let frame = encode_response(5, 3, &ApiVersionsResponse::default(), &[]).unwrap();
        let bytes = frame.to_vec();
        assert_eq!(&bytes[4..8], &5i32.to_be_bytes());
        // v3 body: error code, then a compact array; header v0 has no tagged-field byte.
        assert_eq!(&bytes[8..10], &0i16.to_be_bytes());
    }
}
