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
/// (newer than ours: UNKNOWN_LEADER_EPOCH; older: FENCED_LEADER_EPOCH; -1: unchecked). A
/// partition another broker holds or leads: NOT_LEADER_OR_FOLLOWER.
pub fn led_partition(topic: Option<&Topic>, partition: i32, current_leader_epoch: i32) -> Result<Arc<Partition>, ResponseError> {
    let partition = topic.ok_or(ResponseError::UnknownTopicOrPartition)?.partition(partition)?;
    let leadership = partition.leadership(-1);
    match current_leader_epoch {
        e if e > leadership.epoch => Err(ResponseError::UnknownLeaderEpoch),
        e if e < leadership.epoch && e != -1 => Err(ResponseError::FencedLeaderEpoch),
        _ if !leadership.is_leader => Err(ResponseError::NotLeaderOrFollower),
        _ => Ok(partition.clone()),
    }
}

/// Leader, leader epoch, replicas and in-sync replicas of partition `index` of `topic`: from
/// this broker's replica when it leads it (the freshest view), else as its leader last
/// published it in the cluster metadata.
pub fn partition_state(shared: &Shared, topic: &Topic, index: i32) -> PartitionState {
    let node = shared.settings.node_id;
    let Some(cluster) = shared.metadata.cluster() else {
        return PartitionState { leader: node, epoch: LEADER_EPOCH, replicas: vec![node], isr: vec![node] };
    };
    let published = cluster.state.read().topics.get(&*topic.name).and_then(|t| t.partitions.get(index as usize).cloned());
    let Some(published) = published else { return PartitionState { leader: -1, epoch: -1, replicas: Vec::new(), isr: Vec::new() } };
    let local = topic.partition(index).ok().map(|p| p.leadership(node));
    match local {
        Some(local) if local.is_leader => PartitionState { leader: node, epoch: local.epoch, replicas: published.replicas, isr: local.isr },
        Some(local) if local.leader >= 0 && local.epoch >= published.leader_epoch => {
            let isr = if published.leader_epoch == local.epoch { published.isr } else { vec![local.leader] };
            PartitionState { leader: local.leader, epoch: local.epoch, replicas: published.replicas, isr }
        }
        _ => PartitionState { leader: published.leader, epoch: published.leader_epoch, replicas: published.replicas, isr: published.isr },
    }
}

/// KIP-951: where a client told NOT_LEADER_OR_FOLLOWER should go instead — the partition's
/// leader, its epoch, and the leader's client endpoint — when one is known (cluster mode).
pub fn leader_hint(shared: &Shared, topic: &Topic, index: i32) -> Option<(i32, i32, String, i32)> {
    let cluster = shared.metadata.cluster()?;
    let state = partition_state(shared, topic, index);
    let broker = cluster.state.read().brokers.get(&state.leader).cloned()?;
    Some((state.leader, state.epoch, broker.host, broker.port))
}

/// `(node id, host, port)` of the coordinator of `key` (a group id, a transactional id): this
/// broker on a single node, else the leader of the key's partition of the internal `topic`.
pub fn coordinator_node(shared: &Shared, topic: &Topic, key: &str) -> Option<(i32, String, i32)> {
    let Some(cluster) = shared.metadata.cluster() else { return Some((shared.settings.node_id, shared.host.clone(), shared.port)) };
    let index = crate::coordinator::partition_for(key, topic.partition_count());
    let leader = partition_state(shared, topic, index).leader;
    let broker = cluster.state.read().brokers.get(&leader).cloned()?;
    Some((broker.node_id, broker.host, broker.port))
}

/// What Metadata says of one partition.
pub struct PartitionState {
    /// -1: no leader known.
    pub leader: i32,
    pub epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

/// The brokers clients are told about: every registered broker in a cluster, and always this
/// one (also before its registration commits: clients must be able to reach who answers).
fn brokers(shared: &Shared) -> Vec<(i32, String, i32)> {
    let own = (shared.settings.node_id, shared.host.clone(), shared.port);
    let Some(cluster) = shared.metadata.cluster() else { return vec![own] };
    let mut brokers: Vec<(i32, String, i32)> = cluster.state.read().brokers.values().map(|b| (b.node_id, b.host.clone(), b.port)).collect();
    if !brokers.iter().any(|b| b.0 == own.0) {
        brokers.push(own);
        brokers.sort_unstable();
    }
    brokers
}

/// The controller clients are told about: the metadata group's leader once it is a registered
/// broker (it applies metadata changes first; any broker forwards them), else this broker.
fn controller(shared: &Shared) -> BrokerId {
    let leader = shared.metadata.cluster().and_then(|c| c.controller().filter(|id| c.state.read().brokers.contains_key(id)));
    BrokerId(leader.unwrap_or(shared.settings.node_id))
}

pub async fn metadata(shared: &Arc<Shared>, request: MetadataRequest, version: i16) -> MetadataResponse {
    let all = || shared.metadata.topics().iter().map(|t| describe_topic(shared, t, version)).collect();
    let topics = match request.topics {
        // v0 sends an empty list for "all topics"; v1+ sends null.
        None => all(),
        Some(requested) if requested.is_empty() && version == 0 => all(),
        Some(requested) => {
            let mut topics = Vec::with_capacity(requested.len());
            for wanted in requested {
                topics.push(match wanted.name {
                    Some(name) => {
                        // v0–v3 always allow auto-creation; v4+ asks.
                        let allow = version < 4 || request.allow_auto_topic_creation;
                        match shared.metadata.get_or_auto_create(&name, allow).await {
                            Ok(topic) => describe_topic(shared, &topic, version),
                            Err(refusal) => MetadataResponseTopic::default().with_name(Some(name)).with_error_code(refusal.code()),
                        }
                    }
                    None => match shared.metadata.topic_by_id(wanted.topic_id) {
                        Some(topic) => describe_topic(shared, &topic, version),
                        None => MetadataResponseTopic::default()
                            .with_topic_id(wanted.topic_id)
                            .with_error_code(ResponseError::UnknownTopicId.code()),
                    },
                });
            }
            topics
        }
    };
    let brokers = brokers(shared)
        .into_iter()
        .map(|(id, host, port)| MetadataResponseBroker::default().with_node_id(BrokerId(id)).with_host(str_bytes(host)).with_port(port))
        .collect();
    MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id((version >= 2).then(|| str_bytes(shared.metadata.cluster_id())))
        .with_controller_id(if version >= 1 { controller(shared) } else { BrokerId(-1) })
        .with_topics(topics)
}

fn describe_topic(shared: &Shared, topic: &Topic, version: i16) -> MetadataResponseTopic {
    let ids = |ids: Vec<i32>| ids.into_iter().map(BrokerId).collect::<Vec<_>>();
    MetadataResponseTopic::default()
        .with_name(Some(topic_name(&topic.name)))
        .with_topic_id(if version >= 10 { topic.id } else { uuid::Uuid::nil() })
        .with_is_internal(version >= 1 && crate::metadata::is_internal(&topic.name))
        .with_partitions(
            (0..topic.partition_count())
                .map(|index| {
                    let state = partition_state(shared, topic, index);
                    let error = if state.leader < 0 { ResponseError::LeaderNotAvailable.code() } else { 0 };
                    MetadataResponsePartition::default()
                        .with_error_code(error)
                        .with_partition_index(index)
                        .with_leader_id(BrokerId(state.leader))
                        .with_leader_epoch(if version >= 7 { state.epoch } else { -1 })
                        .with_replica_nodes(ids(state.replicas))
                        .with_isr_nodes(ids(state.isr))
                })
                .collect(),
        )
}

pub fn describe_cluster(shared: &Arc<Shared>, request: DescribeClusterRequest) -> DescribeClusterResponse {
    let response = DescribeClusterResponse::default().with_endpoint_type(request.endpoint_type);
    // Endpoint type 1 is brokers; 2 (controllers, KIP-919) is not served by a combined node here.
    if request.endpoint_type != 1 {
        return response
            .with_error_code(ResponseError::UnsupportedEndpointType.code())
            .with_error_message(Some(str_bytes("only broker endpoints are served")));
    }
    let brokers = brokers(shared)
        .into_iter()
        .map(|(id, host, port)| DescribeClusterBroker::default().with_broker_id(BrokerId(id)).with_host(str_bytes(host)).with_port(port))
        .collect();
    response.with_cluster_id(str_bytes(shared.metadata.cluster_id())).with_controller_id(controller(shared)).with_brokers(brokers)
}
