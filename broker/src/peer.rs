//! Requests from this broker to another over the Kafka protocol: the transaction coordinator's
//! WriteTxnMarkers to partition leaders, and a partition leader's AddPartitionsToTxn
//! verification (KIP-890) to a remote coordinator. One short-lived connection per request:
//! both are rare next to client traffic.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weir_protocol::client::{decode_response, encode_request};

/// The largest response a peer may send back (these responses are a few kilobytes).
const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// Sends `request` (`api_key` at `version`) to the broker at `addr` and returns its response;
/// an error (as text) when it cannot connect, answer within `timeout`, or be understood.
pub async fn send<Req, Resp>(addr: &str, api_key: ApiKey, version: i16, request: &Req, timeout: Duration) -> Result<Resp, String>
where
    Req: Encodable + HeaderVersion,
    Resp: Decodable + HeaderVersion,
{
    let frame = encode_request(api_key, version, 1, "weir-broker", request).map_err(|e| e.to_string())?;
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| format!("connect to {addr}: {e}"))?;
        stream.write_all(&frame).await.map_err(|e| format!("send to {addr}: {e}"))?;
        let mut size = [0u8; 4];
        stream.read_exact(&mut size).await.map_err(|e| format!("read from {addr}: {e}"))?;
        let size = usize::try_from(i32::from_be_bytes(size)).map_err(|_| format!("{addr} sent a negative frame size"))?;
        if size > MAX_RESPONSE_BYTES {
            return Err(format!("{addr} sent a {size}-byte response"));
        }
        let mut body = vec![0u8; size];
        stream.read_exact(&mut body).await.map_err(|e| format!("read from {addr}: {e}"))?;
        let (_, response) = decode_response::<Resp>(Bytes::from(body), version).map_err(|e| e.to_string())?;
        Ok(response)
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| format!("{addr} did not answer within {timeout:?}"))?
}
