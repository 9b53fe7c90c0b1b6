//! The client side of the wire, for a broker that talks to another broker (a transaction
//! coordinator sending WriteTxnMarkers, a partition leader verifying a transaction with
//! AddPartitionsToTxn v4): requests encoded into frames, response frames decoded. No I/O.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};

use crate::ProtocolError;

/// `request` as a whole frame (size prefix included) for `api_key` at `version`.
pub fn encode_request<M: Encodable + HeaderVersion>(api_key: ApiKey, version: i16, correlation_id: i32, client_id: &str, request: &M) -> Result<Bytes, ProtocolError> {
    let header = RequestHeader::default()
        .with_request_api_key(api_key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_string(client_id.to_owned())));
    let header_version = M::header_version(version);
    let encode_error = |e: anyhow::Error| ProtocolError::Encode(e.to_string());
    let size = header.compute_size(header_version).map_err(encode_error)? + request.compute_size(version).map_err(encode_error)?;
    let size = i32::try_from(size).map_err(|_| ProtocolError::Encode(format!("request of {size} bytes")))?;
    let mut buf = BytesMut::with_capacity(size as usize + 4);
    buf.put_i32(size);
    header.encode(&mut buf, header_version).map_err(encode_error)?;
    request.encode(&mut buf, version).map_err(encode_error)?;
    Ok(buf.freeze())
}

/// The response in `frame` (the bytes after the size prefix) to a request sent at `version`,
/// with its correlation id.
pub fn decode_response<M: Decodable + HeaderVersion>(mut frame: Bytes, version: i16) -> Result<(i32, M), ProtocolError> {
    let malformed = |e: anyhow::Error| ProtocolError::Malformed { api: "response", version, reason: e.to_string() };
    let header = ResponseHeader::decode(&mut frame, M::header_version(version)).map_err(malformed)?;
    let body = M::decode(&mut frame, version).map_err(malformed)?;
    Ok((header.correlation_id, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};

    #[test]
    fn a_request_frame_decodes_as_the_server_reads_it() {
        let request = WriteTxnMarkersRequest::default();
        let frame = encode_request(ApiKey::WriteTxnMarkers, 1, 7, "weir", &request).unwrap();
        let size = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        assert_eq!(size, frame.len() - 4);
        let decoded = crate::request::decode_request(frame.slice(4..)).unwrap();
        assert_eq!(decoded.header.correlation_id, 7);

        let response = WriteTxnMarkersResponse::default();
        let encoded = crate::response::encode_response(7, 1, &response, &[]).unwrap().to_vec();
        let (correlation_id, back) = decode_response::<WriteTxnMarkersResponse>(Bytes::from(encoded).slice(4..), 1).unwrap();
        assert_eq!((correlation_id, back), (7, response));
    }
}
