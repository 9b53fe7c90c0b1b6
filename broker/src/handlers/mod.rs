//! One module per Kafka API family. Each handler takes a typed request and returns typed
//! responses; `handle` routes and encodes.

mod api_versions;
pub mod cluster;
mod configs;
mod error_codes;
mod fetch;
mod groups;
mod offsets;
mod partitions;
pub mod produce;
mod producer_id;
pub mod topics;
mod transactions;

use std::future::Future;
use std::pin::Pin;

use kafka_protocol::messages::{RequestHeader, RequestKind, TopicName};
use kafka_protocol::protocol::{Encodable, HeaderVersion, StrBytes};
use tracing::error;
use weir_protocol::request::{api_name, Request};
use weir_protocol::response::{encode_response, ResponseFrame};

use crate::server::Shared;

pub use api_versions::unsupported_version_response;
pub use error_codes::ErrorCodes;

/// An encoded response, with the error codes it carries (for metrics).
pub struct Response {
    pub frame: ResponseFrame,
    /// Each non-zero error code in the response and how often it occurs.
    pub errors: Vec<(i16, u32)>,
}

/// What a request turns into.
pub enum Reply {
    /// No response at all (Produce with acks=0).
    Nothing,
    Now(Response),
    /// A response that must wait (a flush for acks=all, a long-polling fetch). Responses still
    /// leave in request order; the connection keeps reading meanwhile.
    Later(Pin<Box<dyn Future<Output = Option<Response>> + Send>>),
    /// Encoding failed: a bug, logged; the connection is closed.
    Fail,
    /// Close the connection after the responses before it: how Kafka tells an acks=0 producer
    /// that a produce failed.
    Close,
}

pub async fn handle(shared: &std::sync::Arc<Shared>, request: Request) -> Reply {
    let header = request.header;
    let version = header.request_api_version;
    match request.body {
        RequestKind::ApiVersions(r) => reply(&header, &api_versions::handle(&r, version)),
        RequestKind::Metadata(r) => reply(&header, &cluster::metadata(shared, r, version).await),
        RequestKind::DescribeCluster(r) => reply(&header, &cluster::describe_cluster(shared, r)),
        RequestKind::Produce(r) => produce::handle(shared, header, r).await,
        RequestKind::Fetch(r) => fetch::handle(shared, header, r),
        RequestKind::ListOffsets(r) => reply(&header, &offsets::list_offsets(shared, r, version)),
        RequestKind::OffsetForLeaderEpoch(r) => reply(&header, &offsets::offset_for_leader_epoch(shared, r)),
        RequestKind::CreateTopics(r) => reply(&header, &topics::create_topics(shared, r, version).await),
        RequestKind::DeleteTopics(r) => reply(&header, &topics::delete_topics(shared, r, version).await),
        RequestKind::CreatePartitions(r) => reply(&header, &topics::create_partitions(shared, r).await),
        RequestKind::DescribeConfigs(r) => reply(&header, &configs::describe_configs(shared, r, version)),
        RequestKind::AlterConfigs(r) => reply(&header, &configs::alter_configs(shared, r).await),
        RequestKind::IncrementalAlterConfigs(r) => reply(&header, &configs::incremental_alter_configs(shared, r).await),
        RequestKind::InitProducerId(r) => reply(&header, &producer_id::init_producer_id(shared, r, version).await),
        RequestKind::AddPartitionsToTxn(r) => reply(&header, &transactions::add_partitions_to_txn(shared, r, version).await),
        RequestKind::AddOffsetsToTxn(r) => reply(&header, &transactions::add_offsets_to_txn(shared, r, version).await),
        RequestKind::EndTxn(r) => reply(&header, &transactions::end_txn(shared, r, version).await),
        RequestKind::TxnOffsetCommit(r) => {
            groups::ensure_offsets_topic(shared).await;
            transactions::txn_offset_commit(shared, header, r).await
        }
        RequestKind::WriteTxnMarkers(r) => reply(&header, &transactions::write_txn_markers(shared, r).await),
        RequestKind::DescribeTransactions(r) => reply(&header, &transactions::describe_transactions(shared, r)),
        RequestKind::ListTransactions(r) => reply(&header, &transactions::list_transactions(shared, r)),
        RequestKind::FindCoordinator(r) => reply(&header, &groups::find_coordinator(shared, r, version).await),
        RequestKind::JoinGroup(r) => {
            groups::ensure_offsets_topic(shared).await;
            groups::join_group(shared, header, r)
        }
        RequestKind::SyncGroup(r) => groups::sync_group(shared, header, r),
        RequestKind::Heartbeat(r) => reply(&header, &groups::heartbeat(shared, r)),
        RequestKind::LeaveGroup(r) => reply(&header, &groups::leave_group(shared, r, version)),
        RequestKind::OffsetCommit(r) => {
            groups::ensure_offsets_topic(shared).await;
            groups::offset_commit(shared, header, r)
        }
        RequestKind::OffsetFetch(r) => reply(&header, &groups::offset_fetch(shared, r, version)),
        RequestKind::DescribeGroups(r) => reply(&header, &groups::describe_groups(shared, r, version)),
        RequestKind::ListGroups(r) => reply(&header, &groups::list_groups(shared, r, version)),
        RequestKind::DeleteGroups(r) => reply(&header, &groups::delete_groups(shared, r)),
        RequestKind::OffsetDelete(r) => reply(&header, &groups::offset_delete(shared, r)),
        RequestKind::DeleteRecords(r) => reply(&header, &partitions::delete_records(shared, r)),
        RequestKind::DescribeLogDirs(r) => reply(&header, &partitions::describe_log_dirs(shared, r)),
        RequestKind::DescribeProducers(r) => reply(&header, &partitions::describe_producers(shared, r)),
        RequestKind::ElectLeaders(r) => reply(&header, &partitions::elect_leaders(shared, r)),
        RequestKind::ListPartitionReassignments(r) => reply(&header, &partitions::list_partition_reassignments(shared, r)),
        RequestKind::AlterPartitionReassignments(r) => reply(&header, &partitions::alter_partition_reassignments(shared, r)),
        _ => {
            // `decode_request` only lets through the APIs in SUPPORTED_APIS, all routed above.
            error!(api = api_name(request.api_key), "no handler for a supported API");
            Reply::Fail
        }
    }
}

/// Encodes `body` as the response to `header`'s request.
pub fn encode<M: Encodable + HeaderVersion + ErrorCodes>(header: &RequestHeader, body: &M, zero_copy: &[bytes::Bytes]) -> Option<Response> {
    match encode_response(header.correlation_id, header.request_api_version, body, zero_copy) {
        Ok(frame) => Some(Response { frame, errors: body.error_counts() }),
        Err(e) => {
            error!(api_key = header.request_api_key, version = header.request_api_version, error = %e, "cannot encode response");
            None
        }
    }
}

fn reply<M: Encodable + HeaderVersion + ErrorCodes>(header: &RequestHeader, body: &M) -> Reply {
    encode(header, body, &[]).map_or(Reply::Fail, Reply::Now)
}

pub fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

pub fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}
