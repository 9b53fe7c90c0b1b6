//! Partition administration that admin tools call: DeleteRecords, DescribeLogDirs,
//! DescribeProducers, ElectLeaders, and List/AlterPartitionReassignments. A single broker leads
//! every partition, so elections are never needed and nothing is ever being reassigned; the
//! answers are the ones Kafka gives a cluster in that state.

use std::path::Path;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_partition_reassignments_response::{ReassignablePartitionResponse, ReassignableTopicResponse};
use kafka_protocol::messages::delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
use kafka_protocol::messages::describe_log_dirs_response::{DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic};
use kafka_protocol::messages::describe_producers_response::{PartitionResponse, ProducerState, TopicResponse};
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, DeleteRecordsRequest, DeleteRecordsResponse,
    DescribeLogDirsRequest, DescribeLogDirsResponse, DescribeProducersRequest, DescribeProducersResponse, ElectLeadersRequest,
    ElectLeadersResponse, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, ProducerId,
};
use tracing::warn;

use super::produce::storage_refusal;
use super::str_bytes;
use super::topics::validate_replicas;
use crate::metadata::{is_internal, Refusal, Topic};
use crate::partition::Partition;
use crate::server::Shared;

/// DeleteRecords offset meaning "up to the high watermark".
const HIGH_WATERMARK: i64 = -1;

/// The partition `index` of `topic` as hosted here: UNKNOWN_TOPIC_OR_PARTITION, or
/// NOT_LEADER_OR_FOLLOWER when another broker holds it.
fn partition_of(topic: Option<&Topic>, index: i32) -> Result<Arc<Partition>, ResponseError> {
    topic.ok_or(ResponseError::UnknownTopicOrPartition)?.partition(index).cloned()
}

/// DeleteRecords (KIP-107): moves each partition's log start offset up to the requested offset
/// (-1: the high watermark) and answers the new low watermark. Internal topics and topics
/// without the `delete` cleanup policy are refused, as Kafka refuses them.
pub fn delete_records(shared: &Arc<Shared>, request: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|wanted| {
            let topic = shared.metadata.topic(&wanted.name);
            let partitions = wanted
                .partitions
                .iter()
                .map(|p| {
                    let result = DeleteRecordsPartitionResult::default().with_partition_index(p.partition_index);
                    match delete_one(shared, topic.as_deref(), p.partition_index, p.offset) {
                        Ok(low_watermark) => result.with_low_watermark(low_watermark),
                        Err(error) => result.with_low_watermark(-1).with_error_code(error.code()),
                    }
                })
                .collect();
            DeleteRecordsTopicResult::default().with_name(wanted.name).with_partitions(partitions)
        })
        .collect();
    DeleteRecordsResponse::default().with_topics(topics)
}

fn delete_one(shared: &Shared, topic: Option<&Topic>, index: i32, offset: i64) -> Result<i64, ResponseError> {
    let partition = partition_of(topic, index)?;
    let topic = topic.ok_or(ResponseError::UnknownTopicOrPartition)?;
    if is_internal(&topic.name) {
        return Err(ResponseError::InvalidTopicException);
    }
    let policy = topic.configs.get("cleanup.policy").or_else(|| shared.settings.topic_defaults.get("cleanup.policy"));
    if !policy.is_some_and(|p| p.split(',').any(|p| p.trim() == "delete")) {
        return Err(ResponseError::PolicyViolation);
    }
    let mut log = partition.log();
    let high_watermark = log.high_watermark();
    let target = match offset {
        HIGH_WATERMARK => high_watermark,
        o if o < 0 || o > high_watermark => return Err(ResponseError::OffsetOutOfRange),
        o => o,
    };
    log.delete_records_before(target).map_err(|e| storage_refusal(e).error)
}

/// DescribeLogDirs: the one data directory, with the size of every partition in it (or of the
/// requested ones; unknown ones are left out, as Kafka does) and the disk's total and usable
/// bytes (v4+).
pub fn describe_log_dirs(shared: &Arc<Shared>, request: DescribeLogDirsRequest) -> DescribeLogDirsResponse {
    let hosted = shared.metadata.topics();
    let wanted: Vec<(Arc<Topic>, Vec<i32>)> = match request.topics {
        None => hosted.iter().map(|t| (t.clone(), (0..t.partitions.len() as i32).collect())).collect(),
        Some(requested) => requested
            .into_iter()
            .filter_map(|r| Some((shared.metadata.topic(&r.topic)?, r.partitions)))
            .collect(),
    };
    let topics = wanted
        .into_iter()
        .filter_map(|(topic, indexes)| {
            let partitions: Vec<DescribeLogDirsPartition> = indexes
                .into_iter()
                .filter_map(|i| {
                    let partition = partition_of(Some(&topic), i).ok()?;
                    let size = partition.log().size() as i64;
                    Some(DescribeLogDirsPartition::default().with_partition_index(i).with_partition_size(size).with_offset_lag(0))
                })
                .collect();
            (!partitions.is_empty()).then(|| DescribeLogDirsTopic::default().with_name(super::topic_name(&topic.name)).with_partitions(partitions))
        })
        .collect();
    let dir = shared.metadata.log_dir().path();
    let (total_bytes, usable_bytes) = disk_space(dir);
    let path = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    let result = DescribeLogDirsResult::default()
        .with_log_dir(str_bytes(path.display().to_string()))
        .with_topics(topics)
        .with_total_bytes(total_bytes)
        .with_usable_bytes(usable_bytes);
    DescribeLogDirsResponse::default().with_results(vec![result])
}

/// Total and available bytes of the filesystem holding `dir` (-1 when unknown).
fn disk_space(dir: &Path) -> (i64, i64) {
    match crate::metrics::snapshot::disk_space(dir) {
        Some((available, total)) => (total.min(i64::MAX as u64) as i64, available.min(i64::MAX as u64) as i64),
        None => {
            warn!(dir = %dir.display(), "cannot read the file system's size");
            (-1, -1)
        }
    }
}

/// DescribeProducers (KIP-664): the idempotent producers with batches in each partition.
/// Transactions are not offered, so no producer has an open transaction.
pub fn describe_producers(shared: &Arc<Shared>, request: DescribeProducersRequest) -> DescribeProducersResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|wanted| {
            let topic = shared.metadata.topic(&wanted.name);
            let partitions = wanted
                .partition_indexes
                .iter()
                .map(|&index| {
                    let response = PartitionResponse::default().with_partition_index(index).with_error_message(None);
                    match partition_of(topic.as_deref(), index) {
                        Ok(partition) => {
                            let producers = partition
                                .log()
                                .active_producers()
                                .into_iter()
                                .map(|p| {
                                    ProducerState::default()
                                        .with_producer_id(ProducerId(p.producer_id))
                                        .with_producer_epoch(p.producer_epoch as i32)
                                        .with_last_sequence(p.last_sequence)
                                        .with_last_timestamp(p.last_timestamp)
                                        .with_coordinator_epoch(-1)
                                        .with_current_txn_start_offset(p.current_txn_start_offset)
                                })
                                .collect();
                            response.with_active_producers(producers)
                        }
                        Err(error) => response.with_error_code(error.code()),
                    }
                })
                .collect();
            TopicResponse::default().with_name(wanted.name).with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}

/// ElectLeaders: the only broker already leads every partition, so each existing partition
/// gets ELECTION_NOT_NEEDED. With no partitions named (all), Kafka leaves those out.
pub fn elect_leaders(shared: &Arc<Shared>, request: ElectLeadersRequest) -> ElectLeadersResponse {
    let Some(requested) = request.topic_partitions else {
        let results = shared
            .metadata
            .topics()
            .iter()
            .map(|t| ReplicaElectionResult::default().with_topic(super::topic_name(&t.name)).with_partition_result(Vec::new()))
            .collect();
        return ElectLeadersResponse::default().with_replica_election_results(results);
    };
    let results = requested
        .into_iter()
        .map(|wanted| {
            let topic = shared.metadata.topic(&wanted.topic);
            let partitions = wanted
                .partitions
                .iter()
                .map(|&index| {
                    let (error, message) = match (&topic, partition_of(topic.as_deref(), index)) {
                        (_, Ok(_)) => (ResponseError::ElectionNotNeeded, "Leader election not needed for topic partition.".to_owned()),
                        (None, Err(e)) => (e, format!("No such topic as {}", wanted.topic.as_str())),
                        (Some(_), Err(e)) => (e, format!("No such partition as {}-{index}", wanted.topic.as_str())),
                    };
                    PartitionResult::default().with_partition_id(index).with_error_code(error.code()).with_error_message(Some(str_bytes(message)))
                })
                .collect();
            ReplicaElectionResult::default().with_topic(wanted.topic).with_partition_result(partitions)
        })
        .collect();
    ElectLeadersResponse::default().with_replica_election_results(results)
}

/// ListPartitionReassignments: nothing is ever being reassigned on a single broker.
pub fn list_partition_reassignments(_shared: &Arc<Shared>, _request: ListPartitionReassignmentsRequest) -> ListPartitionReassignmentsResponse {
    ListPartitionReassignmentsResponse::default().with_error_message(None).with_topics(Vec::new())
}

/// AlterPartitionReassignments: a reassignment to the current replica set (this broker) is a
/// no-op success; other brokers are not registered; cancelling (null replicas) finds nothing
/// in progress.
pub fn alter_partition_reassignments(shared: &Arc<Shared>, request: AlterPartitionReassignmentsRequest) -> AlterPartitionReassignmentsResponse {
    let brokers = [shared.settings.node_id];
    let responses = request
        .topics
        .iter()
        .map(|wanted| {
            let topic = shared.metadata.topic(&wanted.name);
            let partitions = wanted
                .partitions
                .iter()
                .map(|p| {
                    let response = ReassignablePartitionResponse::default().with_partition_index(p.partition_index).with_error_message(None);
                    let outcome = match (&topic, partition_of(topic.as_deref(), p.partition_index), &p.replicas) {
                        (None, _, _) => Err(Refusal::new(ResponseError::UnknownTopicOrPartition, format!("Unable to find a topic named {}.", wanted.name.as_str()))),
                        (Some(_), Err(_), _) => Err(Refusal::new(
                            ResponseError::UnknownTopicOrPartition,
                            format!("Unable to find partition {}:{}.", wanted.name.as_str(), p.partition_index),
                        )),
                        (Some(_), Ok(_), None) => Err(Refusal::new(ResponseError::NoReassignmentInProgress, "")),
                        (Some(_), Ok(_), Some(replicas)) => {
                            let replicas: Vec<i32> = replicas.iter().map(|b| b.0).collect();
                            validate_replicas(&replicas, &brokers, None)
                        }
                    };
                    match outcome {
                        Ok(()) => response,
                        Err(refusal) if refusal.message.is_empty() => response.with_error_code(refusal.code()),
                        Err(refusal) => response.with_error_code(refusal.code()).with_error_message(Some(str_bytes(refusal.message))),
                    }
                })
                .collect();
            ReassignableTopicResponse::default().with_name(wanted.name.clone()).with_partitions(partitions)
        })
        .collect();
    AlterPartitionReassignmentsResponse::default()
        .with_allow_replication_factor_change(request.allow_replication_factor_change)
        .with_error_message(None)
        .with_responses(responses)
}
