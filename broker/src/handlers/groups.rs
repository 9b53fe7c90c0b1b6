//! The consumer-group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups, OffsetDelete.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::offset_delete_response::{OffsetDeleteResponsePartition, OffsetDeleteResponseTopic};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use tokio::sync::oneshot;
use tracing::warn;

use super::{encode, str_bytes, topic_name, Reply};
use crate::groups::records::{CommittedOffset, RecordKey};
use crate::groups::{Group, JoinOutcome, JoinRequest, SyncOutcome};
use crate::now_ms;
use crate::server::Shared;

const GROUP_KEY_TYPE: i8 = 0;
const TRANSACTION_KEY_TYPE: i8 = 1;

/// FindCoordinator: a single broker coordinates every group and transactional id; in a
/// cluster, the leader of the key's partition of `__consumer_offsets` (groups) or
/// `__transaction_state` (transactional ids) does. Like Kafka, it creates the internal topic on
/// the first lookup. `error_message` is "NONE" on success and Kafka's description of the error
/// otherwise.
pub async fn find_coordinator(shared: &Arc<Shared>, request: FindCoordinatorRequest, version: i16) -> FindCoordinatorResponse {
    let topic_name = match request.key_type {
        GROUP_KEY_TYPE => Some(crate::groups::OFFSETS_TOPIC),
        TRANSACTION_KEY_TYPE => Some(crate::transactions::TRANSACTION_TOPIC),
        _ => None,
    };
    let internal = match topic_name {
        None => Err(ResponseError::InvalidRequest),
        Some(name) => shared.metadata.internal_topic(name).await.map_err(|refusal| {
            warn!(error = refusal.message, "could not create {name}");
            ResponseError::CoordinatorNotAvailable
        }),
    };
    let coordinator = |key: &str| -> Result<(i32, String, i32), ResponseError> {
        let topic = internal.as_ref().map_err(|e| *e)?;
        super::cluster::coordinator_node(shared, topic, key).ok_or(ResponseError::CoordinatorNotAvailable)
    };
    let message = |error: Option<ResponseError>| Some(str_bytes(error.map_or_else(|| "NONE".to_owned(), |e| e.to_string())));
    if version >= 4 {
        let coordinators = request
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let found = coordinator(&key);
                let c = Coordinator::default().with_key(key).with_error_message(message(found.as_ref().err().copied()));
                match found {
                    Err(e) => c.with_error_code(e.code()).with_node_id(BrokerId(-1)).with_host(str_bytes("")).with_port(-1),
                    Ok((node, host, port)) => c.with_node_id(BrokerId(node)).with_host(str_bytes(host)).with_port(port),
                }
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let found = coordinator(&request.key);
    let response = FindCoordinatorResponse::default().with_error_message(message(found.as_ref().err().copied()));
    match found {
        Err(e) => response.with_error_code(e.code()).with_node_id(BrokerId(-1)).with_host(str_bytes("")).with_port(-1),
        Ok((node, host, port)) => response.with_node_id(BrokerId(node)).with_host(str_bytes(host)).with_port(port),
    }
}

/// Creates `__consumer_offsets` if no FindCoordinator did yet (a client that knows its
/// coordinator already, or a single broker's first commit).
pub async fn ensure_offsets_topic(shared: &Arc<Shared>) {
    if shared.metadata.topic(crate::groups::OFFSETS_TOPIC).is_none() {
        if let Err(refusal) = shared.metadata.internal_topic(crate::groups::OFFSETS_TOPIC).await {
            warn!(error = refusal.message, "could not create {}", crate::groups::OFFSETS_TOPIC);
        }
    }
}

pub fn join_group(shared: &Arc<Shared>, header: RequestHeader, request: JoinGroupRequest) -> Reply {
    let version = header.request_api_version;
    let settings = shared.groups.settings();
    let session = request.session_timeout_ms as i64;
    let rebalance = if version >= 1 { request.rebalance_timeout_ms as i64 } else { session };
    let (reply, outcome) = oneshot::channel();
    if let Some(error) = shared.groups.coordinator_error(&shared.metadata, &request.group_id) {
        let _ = reply.send(JoinOutcome { error: error.code(), generation: -1, ..Default::default() });
    } else if session < settings.min_session_timeout_ms || session > settings.max_session_timeout_ms {
        let _ = reply.send(JoinOutcome { error: ResponseError::InvalidSessionTimeout.code(), generation: -1, ..Default::default() });
    } else {
        let join = JoinRequest {
            member_id: request.member_id.to_string(),
            instance_id: request.group_instance_id.as_ref().map(|s| s.to_string()),
            client_id: header.client_id.as_ref().map(|s| s.to_string()).unwrap_or_default(),
            client_host: String::new(),
            session_timeout_ms: session,
            rebalance_timeout_ms: rebalance,
            protocol_type: request.protocol_type.to_string(),
            protocols: request.protocols.iter().map(|p| (p.name.to_string(), p.metadata.clone())).collect(),
            require_known_member_id: version >= 4,
        };
        let now = now_ms();
        shared.groups.with_group(&request.group_id, true, |group| {
            if group.join(join, reply, now, settings.initial_rebalance_delay_ms) {
                shared.groups.record_generation(&shared.metadata, group);
            }
        });
    }
    let wait = Duration::from_millis(rebalance.max(0) as u64 + 10_000);
    Reply::Later(Box::pin(async move {
        let outcome = match tokio::time::timeout(wait, outcome).await {
            Ok(Ok(outcome)) => outcome,
            _ => JoinOutcome { error: ResponseError::RebalanceInProgress.code(), generation: -1, ..Default::default() },
        };
        let mut response = JoinGroupResponse::default()
            .with_error_code(outcome.error)
            .with_generation_id(outcome.generation)
            .with_protocol_name(outcome.protocol.map(StrBytes::from_string).or(if version >= 7 { None } else { Some(StrBytes::default()) }))
            .with_leader(str_bytes(outcome.leader))
            .with_member_id(str_bytes(outcome.member_id))
            .with_members(
                outcome
                    .members
                    .into_iter()
                    .map(|(id, instance, metadata)| {
                        let member = JoinGroupResponseMember::default().with_member_id(str_bytes(id)).with_metadata(metadata);
                        if version >= 5 { member.with_group_instance_id(instance.map(StrBytes::from_string)) } else { member }
                    })
                    .collect(),
            );
        if version >= 7 {
            response.protocol_type = outcome.protocol_type.map(StrBytes::from_string);
        }
        encode(&header, &response, &[])
    }))
}

pub fn sync_group(shared: &Arc<Shared>, header: RequestHeader, request: SyncGroupRequest) -> Reply {
    let version = header.request_api_version;
    let (reply, outcome) = oneshot::channel();
    let assignments = request.assignments.into_iter().map(|a| (a.member_id.to_string(), a.assignment)).collect();
    let instance = request.group_instance_id.as_ref().map(|s| s.to_string());
    if let Some(error) = shared.groups.coordinator_error(&shared.metadata, &request.group_id) {
        let response = SyncGroupResponse::default().with_error_code(error.code());
        return encode(&header, &response, &[]).map_or(Reply::Fail, Reply::Now);
    }
    let found = shared.groups.with_group(&request.group_id, false, |group| {
        if group.sync(&request.member_id, instance.as_deref(), request.generation_id, assignments, reply) {
            shared.groups.record_generation(&shared.metadata, group);
        }
    });
    if found.is_none() {
        let response = SyncGroupResponse::default().with_error_code(ResponseError::UnknownMemberId.code());
        return encode(&header, &response, &[]).map_or(Reply::Fail, Reply::Now);
    }
    Reply::Later(Box::pin(async move {
        let outcome = match tokio::time::timeout(Duration::from_secs(300), outcome).await {
            Ok(Ok(outcome)) => outcome,
            _ => SyncOutcome { error: ResponseError::RebalanceInProgress.code(), ..Default::default() },
        };
        let mut response = SyncGroupResponse::default().with_error_code(outcome.error).with_assignment(outcome.assignment);
        if version >= 5 {
            response.protocol_type = outcome.protocol_type.map(StrBytes::from_string);
            response.protocol_name = outcome.protocol.map(StrBytes::from_string);
        }
        encode(&header, &response, &[])
    }))
}

pub fn heartbeat(shared: &Arc<Shared>, request: HeartbeatRequest) -> HeartbeatResponse {
    if let Some(error) = shared.groups.coordinator_error(&shared.metadata, &request.group_id) {
        return HeartbeatResponse::default().with_error_code(error.code());
    }
    let instance = request.group_instance_id.as_ref().map(|s| s.to_string());
    let error = shared
        .groups
        .with_group(&request.group_id, false, |g| g.heartbeat(&request.member_id, instance.as_deref(), request.generation_id, now_ms()))
        .unwrap_or(ResponseError::UnknownMemberId);
    HeartbeatResponse::default().with_error_code(error.code())
}

pub fn leave_group(shared: &Arc<Shared>, request: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
    let leaving: Vec<(String, Option<String>)> = if version >= 3 {
        request.members.iter().map(|m| (m.member_id.to_string(), m.group_instance_id.as_ref().map(|s| s.to_string()))).collect()
    } else {
        vec![(request.member_id.to_string(), None)]
    };
    let now = now_ms();
    if let Some(error) = shared.groups.coordinator_error(&shared.metadata, &request.group_id) {
        return LeaveGroupResponse::default().with_error_code(error.code());
    }
    let results: Vec<(String, Option<String>, ResponseError)> = shared
        .groups
        .with_group(&request.group_id, false, |group| {
            let results = leaving
                .iter()
                .map(|(id, instance)| {
                    let error = match group.leave(id, instance.as_deref(), now) {
                        Ok(true) => {
                            shared.groups.record_generation(&shared.metadata, group);
                            ResponseError::Unknown(0)
                        }
                        Ok(false) => ResponseError::Unknown(0),
                        Err(e) => e,
                    };
                    (id.clone(), instance.clone(), error)
                })
                .collect();
            results
        })
        .unwrap_or_else(|| leaving.iter().map(|(id, i)| (id.clone(), i.clone(), ResponseError::UnknownMemberId)).collect());
    if version >= 3 {
        let members = results
            .into_iter()
            .map(|(id, instance, e)| {
                MemberResponse::default()
                    .with_member_id(str_bytes(id))
                    .with_group_instance_id(instance.map(StrBytes::from_string))
                    .with_error_code(e.code())
            })
            .collect();
        LeaveGroupResponse::default().with_members(members)
    } else {
        LeaveGroupResponse::default().with_error_code(results.first().map_or(0, |r| r.2.code()))
    }
}

pub fn offset_commit(shared: &Arc<Shared>, header: RequestHeader, request: OffsetCommitRequest) -> Reply {
    let instance = request.group_instance_id.as_ref().map(|s| s.to_string());
    let simple = request.generation_id_or_member_epoch < 0 && request.member_id.is_empty();
    let allowed = match shared.groups.coordinator_error(&shared.metadata, &request.group_id) {
        Some(error) => Err(error),
        None => shared
            .groups
            .with_group(&request.group_id, simple, |g| g.accepts_commit(&request.member_id, instance.as_deref(), request.generation_id_or_member_epoch))
            // A member's commit to a group this coordinator does not have (KIP-848 changed the code).
            .unwrap_or(Err(if header.request_api_version >= 9 { ResponseError::GroupIdNotFound } else { ResponseError::IllegalGeneration })),
    };
    let now = now_ms();
    let max_metadata = shared.groups.settings().max_metadata_bytes;
    let mut to_write = Vec::new();
    let mut topics: Vec<OffsetCommitResponseTopic> = request
        .topics
        .iter()
        .map(|t| {
            let exists = shared.metadata.topic(&t.name);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let metadata = p.committed_metadata.as_ref().map(|m| m.to_string()).unwrap_or_default();
                    let error = commit_error(exists.as_deref(), p.partition_index, &allowed, &metadata, max_metadata);
                    if error.is_none() {
                        let key = RecordKey::Offset { group: request.group_id.to_string(), topic: t.name.to_string(), partition: p.partition_index };
                        let value = CommittedOffset { offset: p.committed_offset, leader_epoch: p.committed_leader_epoch, metadata, commit_timestamp: now };
                        to_write.push((key, value));
                    }
                    OffsetCommitResponsePartition::default().with_partition_index(p.partition_index).with_error_code(error.map_or(0, |e| e.code()))
                })
                .collect();
            OffsetCommitResponseTopic::default().with_name(t.name.clone()).with_partitions(partitions)
        })
        .collect();
    if to_write.is_empty() {
        let response = OffsetCommitResponse::default().with_topics(topics);
        return encode(&header, &response, &[]).map_or(Reply::Fail, Reply::Now);
    }
    let entries: Vec<(RecordKey, Option<Bytes>)> = to_write.iter().map(|(k, v)| (k.clone(), Some(v.encode()))).collect();
    let written = shared.groups.append(&shared.metadata, &request.group_id, &entries);
    let shared = shared.clone();
    let group_id = request.group_id.to_string();
    Reply::Later(Box::pin(async move {
        // A commit is acknowledged only once it is on disk, like an acks=all produce.
        let result = match written {
            Ok(w) => w.durable(shared.settings.fsync_acks_all).await.map_err(crate::coordinator::as_coordinator),
            Err(refusal) => Err(refusal.error),
        };
        match result {
            Ok(position) => {
                // Not re-created: a group deleted meanwhile stays deleted.
                shared.groups.with_group(&group_id, false, |group| {
                    for (key, value) in to_write {
                        if let RecordKey::Offset { topic, partition, .. } = key {
                            group.apply_commit(topic, partition, value, position);
                        }
                    }
                });
            }
            Err(error) => {
                for topic in &mut topics {
                    for partition in &mut topic.partitions {
                        if partition.error_code == 0 {
                            partition.error_code = error.code();
                        }
                    }
                }
            }
        }
        encode(&header, &OffsetCommitResponse::default().with_topics(topics), &[])
    }))
}

/// Why one partition's offset commit (plain or transactional) is refused, in Kafka's order: the
/// partition exists, the group accepts the commit (`allowed`), the metadata fits.
pub(super) fn commit_error(topic: Option<&crate::metadata::Topic>, partition: i32, allowed: &Result<(), ResponseError>, metadata: &str, max_metadata: usize) -> Option<ResponseError> {
    let unknown = topic.is_none_or(|t| partition < 0 || partition >= t.partition_count());
    match allowed {
        _ if unknown => Some(ResponseError::UnknownTopicOrPartition),
        Err(e) => Some(*e),
        Ok(()) if metadata.len() > max_metadata => Some(ResponseError::OffsetMetadataTooLarge),
        Ok(()) => None,
    }
}

/// Per topic, each partition's committed offset (if any).
type CommittedByTopic = Vec<(TopicName, Vec<(i32, Option<CommittedOffset>)>)>;

/// `(offset, leader epoch, metadata)` as OffsetFetch reports them; -1s when nothing is committed.
fn offset_fields(committed: Option<CommittedOffset>) -> (i64, i32, Option<StrBytes>) {
    let (offset, epoch, metadata) = committed.map_or((-1, -1, String::new()), |c| (c.offset, c.leader_epoch, c.metadata));
    (offset, epoch, Some(str_bytes(metadata)))
}

/// Committed offsets of `group` for the requested partitions (`None`: all it has). Every
/// requested partition is answered, with no offset when nothing is committed, even for a group
/// that does not exist (as Kafka does; librdkafka consumers wait for every partition).
fn committed(shared: &Shared, group: &str, wanted: Option<Vec<(TopicName, Vec<i32>)>>) -> CommittedByTopic {
    let lookup = |g: Option<&Group>| match wanted {
        Some(wanted) => wanted
            .into_iter()
            .map(|(topic, partitions)| {
                let found = partitions.into_iter().map(|p| (p, g.and_then(|g| g.offsets.get(&(topic.to_string(), p)).cloned()))).collect();
                (topic, found)
            })
            .collect(),
        None => {
            let mut by_topic: CommittedByTopic = Vec::new();
            for ((topic, partition), offset) in g.iter().flat_map(|g| &g.offsets) {
                match by_topic.last_mut() {
                    Some((t, list)) if t.0.as_str() == topic => list.push((*partition, Some(offset.clone()))),
                    _ => by_topic.push((topic_name(topic), vec![(*partition, Some(offset.clone()))])),
                }
            }
            by_topic
        }
    };
    shared.groups.inspect(group, lookup)
}

pub fn offset_fetch(shared: &Arc<Shared>, request: OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
    // KIP-447 (v7+): with `require_stable`, a partition an open transaction committed an offset
    // for is UNSTABLE_OFFSET_COMMIT (retriable) with offset -1, rather than the last stable one.
    let unstable = |group: &str, topic: &str, partition: i32| request.require_stable && shared.groups.has_pending_offset(group, topic, partition);
    if version >= 8 {
        let groups = request
            .groups
            .into_iter()
            .map(|g| {
                let wanted = g.topics.map(|ts| ts.into_iter().map(|t| (t.name, t.partition_indexes)).collect());
                let topics = committed(shared, &g.group_id, wanted)
                    .into_iter()
                    .map(|(name, partitions)| {
                        let partitions = partitions
                            .into_iter()
                            .map(|(p, c)| {
                                let unstable = unstable(&g.group_id, &name, p);
                                let (offset, epoch, metadata) = offset_fields(c.filter(|_| !unstable));
                                OffsetFetchResponsePartitions::default()
                                    .with_partition_index(p)
                                    .with_committed_offset(offset)
                                    .with_committed_leader_epoch(epoch)
                                    .with_metadata(metadata)
                                    .with_error_code(if unstable { ResponseError::UnstableOffsetCommit.code() } else { 0 })
                            })
                            .collect();
                        OffsetFetchResponseTopics::default().with_name(name).with_partitions(partitions)
                    })
                    .collect();
                let error = shared.groups.coordinator_error(&shared.metadata, &g.group_id).map_or(0, |e| e.code());
                OffsetFetchResponseGroup::default().with_group_id(g.group_id).with_topics(topics).with_error_code(error)
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let wanted = request.topics.clone().map(|ts| ts.into_iter().map(|t| (t.name, t.partition_indexes)).collect());
    let topics = committed(shared, &request.group_id, wanted)
        .into_iter()
        .map(|(name, partitions)| {
            OffsetFetchResponseTopic::default().with_name(name.clone()).with_partitions(
                partitions
                    .into_iter()
                    .map(|(p, c)| {
                        let unstable = unstable(&request.group_id, &name, p);
                        let (offset, epoch, metadata) = offset_fields(c.filter(|_| !unstable));
                        let partition = OffsetFetchResponsePartition::default()
                            .with_partition_index(p)
                            .with_committed_offset(offset)
                            .with_metadata(metadata)
                            .with_error_code(if unstable { ResponseError::UnstableOffsetCommit.code() } else { 0 });
                        if version >= 5 { partition.with_committed_leader_epoch(epoch) } else { partition }
                    })
                    .collect(),
            )
        })
        .collect();
    let error = shared.groups.coordinator_error(&shared.metadata, &request.group_id).map_or(0, |e| e.code());
    OffsetFetchResponse::default().with_topics(topics).with_error_code(error)
}

fn describe(group: &Group) -> DescribedGroup {
    let protocol = group.protocol.clone().unwrap_or_default();
    DescribedGroup::default()
        .with_group_id(GroupId(str_bytes(group.id.clone())))
        .with_group_state(str_bytes(group.state.name()))
        .with_protocol_type(str_bytes(group.protocol_type.clone().unwrap_or_default()))
        .with_protocol_data(str_bytes(protocol.clone()))
        .with_members(
            group
                .members
                .values()
                .map(|m| {
                    DescribedGroupMember::default()
                        .with_member_id(str_bytes(m.id.clone()))
                        .with_group_instance_id(m.instance_id.clone().map(StrBytes::from_string))
                        .with_client_id(str_bytes(m.client_id.clone()))
                        .with_client_host(str_bytes(m.client_host.clone()))
                        .with_member_metadata(m.metadata_for(&protocol))
                        .with_member_assignment(m.assignment.clone())
                })
                .collect(),
        )
}

pub fn describe_groups(shared: &Arc<Shared>, request: DescribeGroupsRequest, version: i16) -> DescribeGroupsResponse {
    let groups = request
        .groups
        .into_iter()
        .map(|id| {
            shared.groups.with_group(&id, false, |g| {
                let mut d = describe(g);
                if version < 4 {
                    for m in &mut d.members {
                        m.group_instance_id = None;
                    }
                }
                d
            })
            .unwrap_or_else(|| {
                let dead = DescribedGroup::default().with_group_id(id).with_group_state(str_bytes("Dead"));
                if version >= 6 { dead.with_error_code(ResponseError::GroupIdNotFound.code()) } else { dead }
            })
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}

pub fn list_groups(shared: &Arc<Shared>, request: ListGroupsRequest, version: i16) -> ListGroupsResponse {
    let states: BTreeSet<String> = request.states_filter.iter().map(|s| s.to_lowercase()).collect();
    let types_ok = request.types_filter.is_empty() || request.types_filter.iter().any(|t| t.eq_ignore_ascii_case("classic"));
    let groups = shared
        .groups
        .list()
        .into_iter()
        .filter(|(_, _, state)| types_ok && (states.is_empty() || states.contains(&state.name().to_lowercase())))
        .map(|(id, protocol_type, state)| {
            let listed = ListedGroup::default().with_group_id(GroupId(str_bytes(id))).with_protocol_type(str_bytes(protocol_type));
            let listed = if version >= 4 { listed.with_group_state(str_bytes(state.name())) } else { listed };
            if version >= 5 { listed.with_group_type(str_bytes("classic")) } else { listed }
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}

pub fn delete_groups(shared: &Arc<Shared>, request: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let results = request
        .groups_names
        .into_iter()
        .map(|id| {
            let error = shared.groups.delete(&shared.metadata, &id).err().map_or(0, |e| e.code());
            kafka_protocol::messages::delete_groups_response::DeletableGroupResult::default().with_group_id(id).with_error_code(error)
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}

/// Topics the group's members subscribe to, from their consumer-protocol metadata.
fn subscribed_topics(group: &Group) -> BTreeSet<String> {
    let protocol = group.protocol.clone().unwrap_or_default();
    group
        .members
        .values()
        .filter_map(|m| {
            let mut metadata = m.metadata_for(&protocol);
            if metadata.remaining() < 2 {
                return None;
            }
            let version = metadata.get_i16();
            ConsumerProtocolSubscription::decode(&mut metadata, version.min(3)).ok()
        })
        .flat_map(|s| s.topics.into_iter().map(|t| t.to_string()))
        .collect()
}

pub fn offset_delete(shared: &Arc<Shared>, request: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let group_id = request.group_id.to_string();
    let Some((subscribed, present)) = shared.groups.with_group(&group_id, false, |g| (subscribed_topics(g), g.offsets.keys().cloned().collect::<BTreeSet<_>>())) else {
        return OffsetDeleteResponse::default().with_error_code(ResponseError::GroupIdNotFound.code());
    };
    let mut tombstones = Vec::new();
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let busy = subscribed.contains(t.name.as_str());
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let error = if busy {
                        ResponseError::GroupSubscribedToTopic.code()
                    } else {
                        if present.contains(&(t.name.to_string(), p.partition_index)) {
                            tombstones.push((RecordKey::Offset { group: group_id.clone(), topic: t.name.to_string(), partition: p.partition_index }, None));
                        }
                        0
                    };
                    OffsetDeleteResponsePartition::default().with_partition_index(p.partition_index).with_error_code(error)
                })
                .collect();
            OffsetDeleteResponseTopic::default().with_name(t.name).with_partitions(partitions)
        })
        .collect();
    if !tombstones.is_empty() {
        let written = match shared.groups.append(&shared.metadata, &group_id, &tombstones) {
            Ok(written) => written,
            Err(refusal) => return OffsetDeleteResponse::default().with_error_code(refusal.code()),
        };
        shared.groups.with_group(&group_id, false, |g| {
            for (key, _) in &tombstones {
                if let RecordKey::Offset { topic, partition, .. } = key {
                    g.remove_offset(topic, *partition, Some(written.end_offset));
                }
            }
        });
    }
    OffsetDeleteResponse::default().with_topics(topics)
}
