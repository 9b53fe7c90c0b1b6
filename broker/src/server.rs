//! The network side: accept connections, and per connection read frames, hand requests to the
//! handlers in arrival order, and write responses back in that same order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};
use weir_protocol::frame::decode_frame;
use weir_protocol::request::decode_request;
use weir_protocol::response::ResponseFrame;
use kafka_protocol::error::ResponseError;
use weir_protocol::ProtocolError;

use crate::config::Settings;
use crate::handlers::{self, Reply, Response};
use crate::groups::GroupCoordinator;
use crate::transactions::TransactionCoordinator;
use crate::metadata::Metadata;

/// Responses a connection may have outstanding before it stops reading (backpressure).
const MAX_IN_FLIGHT: usize = 64;

/// What every connection shares.
pub struct Shared {
    pub settings: Settings,
    pub metadata: Metadata,
    pub groups: GroupCoordinator,
    pub transactions: TransactionCoordinator,
    /// Advertised host and port.
    pub host: String,
    pub port: i32,
    pub shutdown: watch::Receiver<bool>,
    /// Metrics handles (no-ops without an HTTP listener).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Readiness checks.
    pub health: Arc<crate::health::Health>,
}

pub async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut shutdown = shared.shutdown.clone();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    shared.metrics.connections_accepted.increment(1);
                    connections.spawn(serve_connection(shared.clone(), stream, peer));
                }
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    // In-flight requests finish; long polls end early on shutdown.
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain).await.is_err() {
        warn!("connections did not finish within 10 s; closing them");
    }
}

async fn serve_connection(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    shared.metrics.connections.increment(1.0);
    serve_connection_inner(&shared, stream, peer).await;
    shared.metrics.connections.decrement(1.0);
}

async fn serve_connection_inner(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let (mut reader, writer) = stream.into_split();
    let (queue, queued) = mpsc::channel(MAX_IN_FLIGHT);
    let writer = tokio::spawn(write_responses(writer, queued, peer));
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut shutdown = shared.shutdown.clone();
    'connection: loop {
        loop {
            match decode_frame(&mut buf, shared.settings.max_frame_bytes) {
                Ok(Some(frame)) => {
                    if !dispatch(shared, frame, &queue, peer).await {
                        break 'connection;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    warn!(client = %peer, error = %e, "closing connection");
                    break 'connection;
                }
            }
        }
        tokio::select! {
            read = reader.read_buf(&mut buf) => match read {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    debug!(client = %peer, error = %e, "read failed");
                    break;
                }
            },
            _ = shutdown.changed() => break,
        }
    }
    drop(queue);
    let _ = writer.await;
}

/// Decodes and handles one request; false when the connection must close.
async fn dispatch(shared: &Arc<Shared>, frame: bytes::Bytes, queue: &mpsc::Sender<oneshot::Receiver<Option<ResponseFrame>>>, peer: SocketAddr) -> bool {
    let (reply, timer) = match decode_request(frame) {
        Ok(request) => {
            let timer = shared.metrics.start_request(request.api_key as i16);
            (handlers::handle(shared, request).await, timer)
        }
        Err(ProtocolError::UnsupportedVersion { api_key: 18, version, correlation_id }) => {
            debug!(client = %peer, version, "ApiVersions version not supported; answering with the supported ranges");
            let timer = shared.metrics.start_request(18);
            let response = handlers::unsupported_version_response(correlation_id)
                .map(|frame| Response { frame, errors: vec![(ResponseError::UnsupportedVersion.code(), 1)] });
            (response.map_or(Reply::Fail, Reply::Now), timer)
        }
        Err(e) => {
            // Kafka closes the connection on requests it cannot parse or does not serve.
            warn!(client = %peer, error = %e, "closing connection");
            return false;
        }
    };
    let (done, pending) = oneshot::channel();
    match reply {
        Reply::Nothing => {
            shared.metrics.finish_request(timer, &[]);
            return true;
        }
        Reply::Fail => return false,
        Reply::Close => {
            shared.metrics.finish_request(timer, &[]);
            debug!(client = %peer, "closing connection after a failed acks=0 produce");
            return false;
        }
        Reply::Now(response) => {
            shared.metrics.finish_request(timer, &response.errors);
            let _ = done.send(Some(response.frame));
        }
        Reply::Later(future) => {
            let shared = shared.clone();
            tokio::spawn(async move {
                let response = future.await;
                if let Some(response) = &response {
                    shared.metrics.finish_request(timer, &response.errors);
                }
                let _ = done.send(response.map(|r| r.frame));
            });
        }
    }
    queue.send(pending).await.is_ok()
}

async fn write_responses(writer: OwnedWriteHalf, mut queued: mpsc::Receiver<oneshot::Receiver<Option<ResponseFrame>>>, peer: SocketAddr) {
    let mut writer = BufWriter::with_capacity(64 * 1024, writer);
    loop {
        // Responses already written go out before waiting on one that is not ready: a
        // pipelining client (≤ 5 produce requests in flight) must see each acknowledgement as
        // soon as it exists, not when the requests behind it are done too. Responses that are
        // ready together still share one write.
        let mut pending = match queued.try_recv() {
            Ok(pending) => pending,
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => {
                if writer.flush().await.is_err() {
                    return;
                }
                match queued.recv().await {
                    Some(pending) => pending,
                    None => break,
                }
            }
        };
        let response = match pending.try_recv() {
            Err(oneshot::error::TryRecvError::Empty) => {
                if writer.flush().await.is_err() {
                    return;
                }
                pending.await.ok()
            }
            ready => ready.ok(),
        };
        let Some(Some(frame)) = response else {
            warn!(client = %peer, "a response could not be produced; closing connection");
            break;
        };
        for chunk in frame.chunks() {
            if writer.write_all(chunk).await.is_err() {
                return;
            }
        }
    }
    let _ = writer.flush().await;
    let _ = writer.shutdown().await;
    info!(client = %peer, "connection closed");
}
