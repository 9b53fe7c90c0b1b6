//! CreateTopics, DeleteTopics and CreatePartitions.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse,
};

use super::configs::topic_config_entries;
use super::{str_bytes, topic_name};
use crate::metadata::{Refusal, Topic};
use crate::server::Shared;

pub async fn create_topics(shared: &Arc<Shared>, request: CreateTopicsRequest, version: i16) -> CreateTopicsResponse {
    let duplicates = duplicate_names(request.topics.iter().map(|t| t.name.as_str()));
    let mut topics = Vec::with_capacity(request.topics.len());
    for wanted in request.topics {
        topics.push({
            let result = CreatableTopicResult::default().with_name(wanted.name.clone()).with_error_message(None);
            let outcome = if duplicates.contains(wanted.name.as_str()) {
                Err(Refusal::new(ResponseError::InvalidRequest, "Duplicate topic name."))
            } else {
                create_one(shared, &wanted, request.validate_only).await
            };
            match outcome {
                Ok((topic, partitions, replication_factor)) => {
                    let result = if version >= 7 { result.with_topic_id(topic.id) } else { result };
                    if version >= 5 {
                        let result = result.with_num_partitions(partitions).with_replication_factor(replication_factor);
                        let configs = topic_config_entries(shared, &topic.configs, None)
                            .into_iter()
                            .map(|c| {
                                CreatableTopicConfigs::default()
                                    .with_name(c.name)
                                    .with_value(c.value)
                                    .with_read_only(c.read_only)
                                    .with_config_source(c.config_source)
                                    .with_is_sensitive(c.is_sensitive)
                            })
                            .collect();
                        result.with_configs(Some(configs))
                    } else {
                        result
                    }
                }
                Err(refusal) => {
                    let result = result.with_error_code(refusal.code()).with_error_message(Some(str_bytes(refusal.message)));
                    if version >= 5 { result.with_num_partitions(-1).with_replication_factor(-1) } else { result }
                }
            }
        });
    }
    CreateTopicsResponse::default().with_topics(topics)
}

/// Names that appear more than once in one request (Kafka refuses each with INVALID_REQUEST).
fn duplicate_names<'a>(names: impl Iterator<Item = &'a str>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    names.filter(|name| !seen.insert(*name)).map(str::to_owned).collect()
}

/// One CreateTopics entry: the topic (empty when `validate_only`), its partition count and
/// replication factor.
async fn create_one(shared: &Shared, wanted: &CreatableTopic, validate_only: bool) -> Result<(Arc<Topic>, i32, i16), Refusal> {
    let mut configs = BTreeMap::new();
    for config in &wanted.configs {
        let Some(value) = &config.value else {
            return Err(Refusal::new(ResponseError::InvalidConfig, format!("Null value not supported for topic configs: {}", config.name.as_str())));
        };
        configs.insert(config.name.to_string(), value.to_string());
    }
    let (partitions, replication_factor) = if wanted.assignments.is_empty() {
        (wanted.num_partitions, wanted.replication_factor)
    } else {
        shared.metadata.check_new_topic_name(&wanted.name)?;
        let count = manual_assignment(wanted, &shared.metadata.brokers())?;
        (count, wanted.assignments.first().map_or(-1, |a| a.broker_ids.len() as i16))
    };
    let topic = shared.metadata.create_topic(&wanted.name, partitions, replication_factor, configs, validate_only).await?;
    let count = match partitions {
        -1 => shared.settings.num_partitions,
        n => n,
    };
    let replication_factor = match replication_factor {
        -1 => shared.settings.default_replication_factor,
        n => n,
    };
    Ok((topic, count, replication_factor))
}

pub async fn delete_topics(shared: &Arc<Shared>, request: DeleteTopicsRequest, version: i16) -> DeleteTopicsResponse {
    // v6 names topics by name or id; earlier versions by name only.
    let wanted: Vec<(Option<String>, uuid::Uuid)> = if version >= 6 {
        request.topics.into_iter().map(|t| (t.name.map(|n| n.to_string()), t.topic_id)).collect()
    } else {
        request.topic_names.into_iter().map(|n| (Some(n.to_string()), uuid::Uuid::nil())).collect()
    };
    let mut responses = Vec::with_capacity(wanted.len());
    for (name, id) in wanted {
        let name = name.or_else(|| shared.metadata.topic_by_id(id).map(|t| t.name.to_string()));
        let result = DeletableTopicResult::default().with_name(name.as_deref().map(topic_name));
        let Some(name) = name else {
            responses.push(result.with_topic_id(id).with_error_code(ResponseError::UnknownTopicId.code()));
            continue;
        };
        let deleted = shared.metadata.delete_topic(&name).await;
        if deleted.is_ok() {
            shared.groups.remove_topic_offsets(&shared.metadata, &name);
        }
        responses.push(match deleted {
            Ok(deleted_id) if version >= 6 => result.with_topic_id(deleted_id),
            Ok(_) => result,
            Err(refusal) => {
                let result = result.with_error_code(refusal.code());
                if version >= 5 { result.with_error_message(Some(str_bytes(refusal.message))) } else { result }
            }
        });
    }
    DeleteTopicsResponse::default().with_responses(responses)
}

pub async fn create_partitions(shared: &Arc<Shared>, request: CreatePartitionsRequest) -> CreatePartitionsResponse {
    let duplicates = duplicate_names(request.topics.iter().map(|t| t.name.as_str()));
    let mut results = Vec::with_capacity(request.topics.len());
    for wanted in request.topics {
        let result = CreatePartitionsTopicResult::default().with_name(wanted.name.clone()).with_error_message(None);
        let outcome = if duplicates.contains(wanted.name.as_str()) {
            Err(Refusal::new(ResponseError::InvalidRequest, "Duplicate topic name."))
        } else {
            shared.metadata.create_partitions(&wanted.name, wanted.count, wanted.assignments.as_deref(), request.validate_only).await
        };
        results.push(match outcome {
            Ok(()) => result,
            Err(refusal) => result.with_error_code(refusal.code()).with_error_message(Some(str_bytes(refusal.message))),
        });
    }
    CreatePartitionsResponse::default().with_results(results)
}

/// CreateTopics with explicit `assignments`: the partition count they imply, after Kafka's
/// checks (no count or replication factor beside them; partitions numbered 0..n; each replica
/// list valid, all of one length).
fn manual_assignment(wanted: &CreatableTopic, brokers: &[i32]) -> Result<i32, Refusal> {
    if wanted.replication_factor != -1 {
        return Err(Refusal::new(ResponseError::InvalidRequest, "A manual partition assignment was specified, but replication factor was not set to -1."));
    }
    if wanted.num_partitions != -1 {
        return Err(Refusal::new(ResponseError::InvalidRequest, "A manual partition assignment was specified, but numPartitions was not set to -1."));
    }
    let mut indexes: Vec<i32> = wanted.assignments.iter().map(|a| a.partition_index).collect();
    indexes.sort_unstable();
    if indexes.iter().enumerate().any(|(i, &p)| p != i as i32) {
        return Err(Refusal::new(ResponseError::InvalidReplicaAssignment, "Partitions should be a consecutive 0-based integer sequence"));
    }
    let first_len = wanted.assignments.first().map(|a| a.broker_ids.len());
    for assignment in &wanted.assignments {
        let replicas: Vec<i32> = assignment.broker_ids.iter().map(|b| b.0).collect();
        validate_replicas(&replicas, brokers, first_len)?;
    }
    Ok(wanted.assignments.len() as i32)
}

/// Kafka's checks of one manual replica list (`validateManualPartitionAssignment`): not empty,
/// no broker twice, every broker registered, and as many replicas as the topic's other
/// partitions have.
pub fn validate_replicas(replicas: &[i32], brokers: &[i32], replication_factor: Option<usize>) -> Result<(), Refusal> {
    let invalid = |message: String| Err(Refusal::new(ResponseError::InvalidReplicaAssignment, message));
    if replicas.is_empty() {
        return invalid("The manual partition assignment includes an empty replica list.".into());
    }
    let mut sorted = replicas.to_vec();
    sorted.sort_unstable();
    if let Some(twice) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return invalid(format!("The manual partition assignment includes the broker {} more than once.", twice[0]));
    }
    if let Some(unknown) = replicas.iter().find(|b| !brokers.contains(b)) {
        return invalid(format!("The manual partition assignment includes broker {unknown}, but no such broker is registered."));
    }
    match replication_factor {
        Some(rf) if rf != replicas.len() => invalid(format!(
            "The manual partition assignment includes a partition with {} replica(s), but this is not consistent with previous partitions, which have {rf} replica(s).",
            replicas.len()
        )),
        _ => Ok(()),
    }
}
