//! Broker-to-broker transport for Raft messages: one TCP connection per peer broker, carrying
//! the messages of *every* group; whatever is queued for a peer when its writer wakes goes out
//! as one frame (thousands of partitions' heartbeats are one write, not thousands). Per-group
//! order is kept (one queue per peer). A peer that cannot be reached is retried with backoff,
//! and the groups whose messages were lost are told, so Raft stops streaming to it.
//!
//! Frames are Weir's own codec ([`crate::codec`]): bounded, and never fed to the protobuf
//! decoder. A malformed frame closes that connection only; the listener keeps serving.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use raft::eraftpb::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::codec::{decode_frame, encode_frame, split_frame};

/// Where received messages go: `(group, message)`.
pub type Router = Arc<dyn Fn(u64, Message) + Send + Sync>;
/// Told `(group, peer)` when a message to `peer` could not be delivered.
pub type Unreachable = Arc<dyn Fn(u64, u64) + Send + Sync>;

const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The sending half: one writer task per peer.
#[derive(Clone)]
pub struct Transport {
    peers: Arc<HashMap<u64, mpsc::UnboundedSender<(u64, Message)>>>,
}

impl Transport {
    /// Starts a writer for each peer (`raft id → host:port`). Must run inside a tokio runtime.
    pub fn start(peers: HashMap<u64, String>, unreachable: Unreachable) -> Transport {
        let senders = peers
            .into_iter()
            .map(|(id, addr)| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(write_to_peer(id, addr, rx, unreachable.clone()));
                (id, tx)
            })
            .collect();
        Transport { peers: Arc::new(senders) }
    }

    /// Queues `message` (of `group`) for its destination; messages to unknown peers are dropped.
    pub fn send(&self, group: u64, message: Message) {
        match self.peers.get(&message.to) {
            Some(peer) => {
                let _ = peer.send((group, message));
            }
            None => debug!(to = message.to, group, "no address for this peer; message dropped"),
        }
    }
}

async fn write_to_peer(peer: u64, addr: String, mut queue: mpsc::UnboundedReceiver<(u64, Message)>, unreachable: Unreachable) {
    let mut connection: Option<TcpStream> = None;
    let mut backoff = BACKOFF_MIN;
    let mut frame = BytesMut::new();
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = queue.try_recv() {
            batch.push(more);
        }
        if connection.is_none() {
            match TcpStream::connect(&addr).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    connection = Some(stream);
                    backoff = BACKOFF_MIN;
                }
                Err(e) => {
                    debug!(peer, %addr, error = %e, "peer unreachable");
                    for (group, _) in &batch {
                        unreachable(*group, peer);
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            }
        }
        frame.clear();
        encode_frame(&batch, &mut frame);
        if let Some(stream) = connection.as_mut() {
            if let Err(e) = stream.write_all(&frame).await {
                debug!(peer, %addr, error = %e, "write to peer failed; reconnecting");
                connection = None;
                for (group, _) in &batch {
                    unreachable(*group, peer);
                }
            }
        }
    }
}

/// Serves the Raft port: each connection's frames are decoded and routed by group. A malformed
/// frame closes its connection (logged); the listener goes on.
pub async fn serve(listener: TcpListener, router: Router) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let router = router.clone();
                tokio::spawn(async move {
                    if let Err(why) = read_from_peer(stream, router).await {
                        warn!(%peer, error = %why, "closing Raft connection");
                    }
                });
            }
            Err(e) => {
                warn!(error = %e, "Raft accept failed");
                tokio::time::sleep(BACKOFF_MIN).await;
            }
        }
    }
}

async fn read_from_peer(mut stream: TcpStream, router: Router) -> Result<(), crate::ReplicationError> {
    let _ = stream.set_nodelay(true);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        while let Some(frame) = split_frame(&mut buf)? {
            for (group, message) in decode_frame(frame)? {
                router(group, message);
            }
        }
        match stream.read_buf(&mut buf).await {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(crate::ReplicationError::Malformed(format!("read: {e}"))),
        }
    }
}
