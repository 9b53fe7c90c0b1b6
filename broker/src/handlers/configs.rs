//! DescribeConfigs for topics and the broker, with each value's source (and synonyms).

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use super::str_bytes;
use crate::config::{Settings, BROKER_CONFIGS, TOPIC_CONFIGS};
use crate::server::Shared;

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

/// Kafka's `ConfigSource` ids.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

pub fn describe_configs(shared: &Arc<Shared>, request: DescribeConfigsRequest, version: i16) -> DescribeConfigsResponse {
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            let keys = resource.configuration_keys.as_ref().map(|keys| keys.iter().map(|k| k.to_string()).collect::<Vec<_>>());
            let result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            let entries = match resource.resource_type {
                RESOURCE_TOPIC => match shared.metadata.topic(&resource.resource_name) {
                    Some(topic) => Ok(topic_config_entries(&shared.settings, &topic.configs, keys.as_deref())),
                    None => Err((ResponseError::UnknownTopicOrPartition, format!("topic {} does not exist", &*resource.resource_name))),
                },
                RESOURCE_BROKER => {
                    let name = resource.resource_name.to_string();
                    if name.is_empty() || name == shared.settings.node_id.to_string() {
                        Ok(broker_config_entries(&shared.settings, keys.as_deref()))
                    } else {
                        Err((ResponseError::InvalidRequest, format!("broker {name} is not this broker ({})", shared.settings.node_id)))
                    }
                }
                other => Err((ResponseError::InvalidRequest, format!("resource type {other} is not supported"))),
            };
            match entries {
                Ok(entries) => result.with_configs(
                    entries
                        .into_iter()
                        .map(|mut entry| {
                            if !request.include_synonyms {
                                entry.synonyms.clear();
                            }
                            if version < 3 {
                                entry.config_type = 0;
                            }
                            if !request.include_documentation {
                                entry.documentation = None;
                            }
                            entry
                        })
                        .collect(),
                ),
                Err((error, message)) => result.with_error_code(error.code()).with_error_message(Some(str_bytes(message))),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn wanted(keys: Option<&[String]>, name: &str) -> bool {
    keys.is_none_or(|keys| keys.is_empty() || keys.iter().any(|k| k == name))
}

fn synonym(name: &str, value: &str, source: i8) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym::default().with_name(str_bytes(name)).with_value(Some(str_bytes(value))).with_source(source)
}

/// Every topic config with its effective value for a topic with `overrides`.
pub fn topic_config_entries(settings: &Settings, overrides: &BTreeMap<String, String>, keys: Option<&[String]>) -> Vec<DescribeConfigsResourceResult> {
    TOPIC_CONFIGS
        .iter()
        .filter(|d| wanted(keys, d.name))
        .map(|d| {
            let mut synonyms = Vec::new();
            if let Some(v) = overrides.get(d.name) {
                synonyms.push(synonym(d.name, v, SOURCE_TOPIC));
            }
            if let Some(v) = settings.explicit.get(d.broker_name) {
                synonyms.push(synonym(d.broker_name, v, SOURCE_STATIC_BROKER));
            }
            synonyms.push(synonym(d.broker_name, d.default, SOURCE_DEFAULT));
            let effective = synonyms[0].clone();
            DescribeConfigsResourceResult::default()
                .with_name(str_bytes(d.name))
                .with_value(effective.value)
                .with_config_source(effective.source)
                .with_synonyms(synonyms)
                .with_config_type(d.kind as i8)
                .with_documentation(Some(str_bytes(d.doc)))
        })
        .collect()
}

fn broker_config_entries(settings: &Settings, keys: Option<&[String]>) -> Vec<DescribeConfigsResourceResult> {
    let broker_only = BROKER_CONFIGS.iter().map(|(name, default, kind)| (*name, *default, *kind));
    let topic_defaults = TOPIC_CONFIGS.iter().map(|d| (d.broker_name, d.default, d.kind));
    broker_only
        .chain(topic_defaults)
        .filter(|(name, _, _)| wanted(keys, name))
        .map(|(name, default, kind)| {
            let (value, source) = match settings.explicit.get(name) {
                Some(v) => (v.as_str(), SOURCE_STATIC_BROKER),
                None => (default, SOURCE_DEFAULT),
            };
            let value = match name {
                "node.id" => settings.node_id.to_string(),
                _ => value.to_owned(),
            };
            DescribeConfigsResourceResult::default()
                .with_name(str_bytes(name))
                .with_value(Some(StrBytes::from_string(value.clone())))
                .with_read_only(true)
                .with_config_source(source)
                .with_synonyms(vec![synonym(name, &value, source)])
                .with_config_type(kind as i8)
        })
        .collect()
}
