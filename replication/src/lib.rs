//! Weir's replication: Raft groups over the segment log (the partition log *is* the Raft log:
//! one entry per record batch, written once). One raft-rs `RawNode` per partition replica
//! ([`Replica`]), the `raft::Storage` implementation over [`weir_storage::Log`]
//! ([`storage::RaftLog`]), and Raft's own entries stored as control batches ([`entry`]).
//!
//! This crate parses no Kafka requests. A [`Replica`] does no network I/O: [`driver`] runs one
//! in a tokio task and [`transport`] carries the messages of all groups between brokers, one
//! connection per peer, in Weir's own bounded frame format ([`codec`]). See `README.md`.

pub mod codec;
pub mod driver;
pub mod entry;
mod logging;
mod replica;
pub mod storage;
pub mod transport;

pub use logging::tracing_logger;
pub use raft;
pub use raft::eraftpb::Message;
pub use replica::{node_id, raft_id, rejoining, Amnesia, Outcome, Proposal, Replica, ReplicaConfig};

use thiserror::Error;

/// Everything that can go wrong in a replica.
#[derive(Debug, Error)]
pub enum ReplicationError {
    #[error(transparent)]
    Storage(#[from] weir_storage::StorageError),
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    /// Only the leader takes proposals (`leader` 0: none known). Kafka: NOT_LEADER_OR_FOLLOWER.
    #[error("not the leader (leader: {leader})")]
    NotLeader { leader: u64 },
    /// Raft dropped the proposal (too much uncommitted, or leadership moving): retriable.
    #[error("proposal dropped")]
    ProposalDropped,
    /// A term above `i32::MAX` cannot be a Kafka leader epoch: refused, never wrapped.
    #[error("term {0} does not fit a leader epoch")]
    TermTooLarge(u64),
    /// A message from a node outside the group's configuration (dropped).
    #[error("message from {from}, which is not a member of the group")]
    NotAMember { from: u64 },
    /// A replica that may have lost its storage withholds its vote until it has caught up
    /// ([`Amnesia`]).
    #[error("vote for {from} in term {term} withheld: this replica has not caught up since its storage started empty")]
    VoteWithheld { from: u64, term: u64 },
    #[error("message for {to} delivered to {here}")]
    Misrouted { to: u64, here: u64 },
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("encoding: {0}")]
    Encode(String),
    /// A frame from a peer that does not decode (the connection is closed).
    #[error("malformed Raft frame: {0}")]
    Malformed(String),
}
