//! CreateTopics, DeleteTopics and CreatePartitions.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse,
};

use super::configs::topic_config_entries;
use super::{str_bytes, topic_name};
use crate::metadata::Refusal;
use crate::server::Shared;

pub fn create_topics(shared: &Arc<Shared>, request: CreateTopicsRequest, version: i16) -> CreateTopicsResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|wanted| {
            let result = CreatableTopicResult::default().with_name(wanted.name.clone());
            let configs: BTreeMap<String, String> = wanted
                .configs
                .iter()
                .filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string())))
                .collect();
            let outcome = if !wanted.assignments.is_empty() {
                let node = shared.settings.node_id;
                if wanted.assignments.iter().all(|a| a.broker_ids.len() == 1 && a.broker_ids[0].0 == node) {
                    shared.metadata.create_topic(&wanted.name, wanted.assignments.len() as i32, 1, configs, request.validate_only)
                } else {
                    Err(Refusal::new(ResponseError::InvalidReplicaAssignment, format!("the only broker is {node}")))
                }
            } else {
                shared.metadata.create_topic(&wanted.name, wanted.num_partitions, wanted.replication_factor, configs, request.validate_only)
            };
            match outcome {
                Ok(topic) => {
                    let partitions = if request.validate_only {
                        if wanted.num_partitions == -1 { shared.settings.num_partitions } else { wanted.num_partitions }
                    } else {
                        topic.partitions.len() as i32
                    };
                    let result = if version >= 7 { result.with_topic_id(topic.id) } else { result };
                    if version >= 5 {
                        let result = result.with_num_partitions(partitions).with_replication_factor(1);
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
        })
        .collect();
    CreateTopicsResponse::default().with_topics(topics)
}

pub fn delete_topics(shared: &Arc<Shared>, request: DeleteTopicsRequest, version: i16) -> DeleteTopicsResponse {
    // v6 names topics by name or id; earlier versions by name only.
    let wanted: Vec<(Option<String>, uuid::Uuid)> = if version >= 6 {
        request.topics.into_iter().map(|t| (t.name.map(|n| n.to_string()), t.topic_id)).collect()
    } else {
        request.topic_names.into_iter().map(|n| (Some(n.to_string()), uuid::Uuid::nil())).collect()
    };
    let responses = wanted
        .into_iter()
        .map(|(name, id)| {
            let name = name.or_else(|| shared.metadata.topic_by_id(id).map(|t| t.name.to_string()));
            let result = DeletableTopicResult::default().with_name(name.as_deref().map(topic_name));
            let Some(name) = name else {
                return result.with_topic_id(id).with_error_code(ResponseError::UnknownTopicId.code());
            };
            match shared.metadata.delete_topic(&name) {
                Ok(deleted_id) if version >= 6 => result.with_topic_id(deleted_id),
                Ok(_) => result,
                Err(refusal) => {
                    let result = result.with_error_code(refusal.code());
                    if version >= 5 { result.with_error_message(Some(str_bytes(refusal.message))) } else { result }
                }
            }
        })
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}

pub fn create_partitions(shared: &Arc<Shared>, request: CreatePartitionsRequest) -> CreatePartitionsResponse {
    let results = request
        .topics
        .into_iter()
        .map(|wanted| {
            let result = CreatePartitionsTopicResult::default().with_name(wanted.name.clone());
            match shared.metadata.create_partitions(&wanted.name, wanted.count, request.validate_only) {
                Ok(()) => result,
                Err(refusal) => result.with_error_code(refusal.code()).with_error_message(Some(str_bytes(refusal.message))),
            }
        })
        .collect();
    CreatePartitionsResponse::default().with_results(results)
}
