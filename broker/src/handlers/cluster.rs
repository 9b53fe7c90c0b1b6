//! Metadata and DescribeCluster: who the brokers are, and where each partition leads.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::metadata_response::{MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic};
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse, MetadataRequest, MetadataResponse};

use super::{str_bytes, topic_name};
use crate::metadata::Topic;
use crate::partition::Partition;
use crate::server::Shared;

/// Single-node: every partition's leader is this broker, at leader epoch 0.
pub const LEADER_EPOCH: i32 = 0;

/// A partition this broker leads, after checking the client's idea of the leader epoch
/// (newer than ours: UNKNOWN_LEADER_EPOCH; older: FENCED_LEADER_EPOCH; -1: unchecked).
pub fn led_partition(topic: Option<&Topic>, partition: i32, current_leader_epoch: i32) -> Result<Arc<Partition>, ResponseError> {
    let partition = topic
        .and_then(|t| t.partitions.get(usize::try_from(partition).ok()?))
        .ok_or(ResponseError::UnknownTopicOrPartition)?;
    match current_leader_epoch {
        e if e > LEADER_EPOCH => Err(ResponseError::UnknownLeaderEpoch),
        e if e < LEADER_EPOCH && e != -1 => Err(ResponseError::FencedLeaderEpoch),
        _ => Ok(partition.clone()),
    }
}

pub fn metadata(shared: &Arc<Shared>, request: MetadataRequest, version: i16) -> MetadataResponse {
    let node = BrokerId(shared.settings.node_id);
    let topics = match request.topics {
        // v0 sends an empty list for "all topics"; v1+ sends null.
        None => shared.metadata.topics().iter().map(|t| describe_topic(t, node, version)).collect(),
        Some(requested) if requested.is_empty() && version == 0 => {
            shared.metadata.topics().iter().map(|t| describe_topic(t, node, version)).collect()
        }
        Some(requested) => requested
            .into_iter()
            .map(|wanted| match wanted.name {
                Some(name) => {
                    // v0–v3 always allow auto-creation; v4+ asks.
                    let allow = version < 4 || request.allow_auto_topic_creation;
                    match shared.metadata.get_or_auto_create(&name, allow) {
                        Ok(topic) => describe_topic(&topic, node, version),
                        Err(refusal) => MetadataResponseTopic::default().with_name(Some(name)).with_error_code(refusal.code()),
                    }
                }
                None => match shared.metadata.topic_by_id(wanted.topic_id) {
                    Some(topic) => describe_topic(&topic, node, version),
                    None => MetadataResponseTopic::default()
                        .with_topic_id(wanted.topic_id)
                        .with_error_code(ResponseError::UnknownTopicId.code()),
                },
            })
            .collect(),
    };
    MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(node)
            .with_host(str_bytes(shared.host.clone()))
            .with_port(shared.port)])
        .with_cluster_id((version >= 2).then(|| str_bytes(shared.metadata.cluster_id.clone())))
        .with_controller_id(if version >= 1 { node } else { BrokerId(-1) })
        .with_topics(topics)
}

fn describe_topic(topic: &Topic, node: BrokerId, version: i16) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_name(Some(topic_name(&topic.name)))
        .with_topic_id(if version >= 10 { topic.id } else { uuid::Uuid::nil() })
        .with_is_internal(version >= 1 && crate::metadata::is_internal(&topic.name))
        .with_partitions(
            topic
                .partitions
                .iter()
                .map(|p| {
                    MetadataResponsePartition::default()
                        .with_partition_index(p.index)
                        .with_leader_id(node)
                        .with_leader_epoch(if version >= 7 { LEADER_EPOCH } else { -1 })
                        .with_replica_nodes(vec![node])
                        .with_isr_nodes(vec![node])
                })
                .collect(),
        )
}

pub fn describe_cluster(shared: &Arc<Shared>, request: DescribeClusterRequest) -> DescribeClusterResponse {
    let node = BrokerId(shared.settings.node_id);
    let response = DescribeClusterResponse::default().with_endpoint_type(request.endpoint_type);
    // Endpoint type 1 is brokers; 2 (controllers, KIP-919) is not served by a combined node here.
    if request.endpoint_type != 1 {
        return response
            .with_error_code(ResponseError::UnsupportedEndpointType.code())
            .with_error_message(Some(str_bytes("only broker endpoints are served")));
    }
    response
        .with_cluster_id(str_bytes(shared.metadata.cluster_id.clone()))
        .with_controller_id(node)
        .with_brokers(vec![DescribeClusterBroker::default()
            .with_broker_id(node)
            .with_host(str_bytes(shared.host.clone()))
            .with_port(shared.port)])
}
