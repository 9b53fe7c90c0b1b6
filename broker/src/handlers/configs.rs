//! DescribeConfigs (api 32), AlterConfigs (api 33) and IncrementalAlterConfigs (api 44, KIP-339)
//! for topics and the broker, after Kafka 4.0's `ConfigHelper`, `ConfigAdminManager` and
//! `ConfigurationControlManager`:
//!
//! - Topic configs: every `TopicConfig` with its value, source (DYNAMIC_TOPIC_CONFIG when the
//!   topic overrides it, else the source of its broker synonym) and synonyms. Altering them
//!   replaces the topic's override set (AlterConfigs) or applies SET/DELETE/APPEND/SUBTRACT to it;
//!   errors are INVALID_CONFIG with Kafka's messages, UNKNOWN_TOPIC_OR_PARTITION.
//! - Broker configs: resource name = this broker's id (every config) or `""` (the cluster
//!   defaults set dynamically). Only Kafka's dynamic configs can be altered; others are refused
//!   with INVALID_REQUEST (`Cannot update these configs dynamically: Set(…)`), as Kafka does.
//! - BROKER_LOGGER (type 8): described (the `root` level); not alterable in Weir.
//!
//! Dynamic changes are persisted in the metadata file and survive restarts.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym};
use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest,
    DescribeConfigsResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::str_bytes;
use crate::config::{broker_config, broker_synonyms, canonical, topic_config, ConfigType, Dynamic, Settings, BROKER_CONFIGS, TOPIC_CONFIGS};
use crate::metadata::{validate_topic_name, Refusal};
use crate::server::Shared;

/// Kafka's `ConfigResource.Type` ids.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
const RESOURCE_BROKER_LOGGER: i8 = 8;

/// Kafka's `ConfigSource` ids.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_DYNAMIC_BROKER: i8 = 2;
const SOURCE_DYNAMIC_DEFAULT_BROKER: i8 = 3;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;
const SOURCE_DYNAMIC_BROKER_LOGGER: i8 = 6;

/// Kafka's `AlterConfigOp.OpType` ids.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

fn refuse<T>(error: ResponseError, message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::new(error, message))
}

/// A config value's lookup in one layer.
type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Where broker config values come from, highest priority first (`DynamicBrokerConfig`).
struct Layers {
    per_broker: BTreeMap<String, String>,
    cluster: BTreeMap<String, String>,
    /// `settings` with the dynamic configs applied.
    effective: Settings,
}

impl Layers {
    fn of(shared: &Shared) -> Layers {
        Layers {
            per_broker: shared.metadata.broker_configs(&shared.settings.node_id.to_string()),
            cluster: shared.metadata.broker_configs(""),
            effective: shared.metadata.effective_settings(),
        }
    }

    fn static_value(&self, name: &str) -> Option<&str> {
        self.effective.explicit.get(name).map(String::as_str)
    }

    /// Kafka's `ConfigHelper.configSynonyms`: each synonym of `name` found in each layer, layer
    /// by layer, then everything before the first entry named `name` dropped (so a topic's
    /// `retention.ms` shows no `log.retention.hours` entries unless `log.retention.ms` is set).
    fn synonyms(&self, name: &str, sensitive: bool) -> Vec<DescribeConfigsSynonym> {
        let mut names = broker_synonyms(name);
        if names.is_empty() {
            names.push((name, 1));
        }
        let mut found = Vec::new();
        let layers: [(Lookup, i8); 4] = [
            (&|n| self.per_broker.get(n).cloned(), SOURCE_DYNAMIC_BROKER),
            (&|n| self.cluster.get(n).cloned(), SOURCE_DYNAMIC_DEFAULT_BROKER),
            (&|n| self.static_value(n).map(str::to_owned), SOURCE_STATIC_BROKER),
            (&|n| broker_config(n).and_then(|d| d.default).map(str::to_owned), SOURCE_DEFAULT),
        ];
        for (lookup, source) in layers {
            for (synonym, _) in &names {
                if let Some(value) = lookup(synonym) {
                    found.push(synonym_entry(synonym, (!sensitive).then_some(value.as_str()), source));
                }
            }
        }
        let first = found.iter().position(|s| s.name.as_str() == name).unwrap_or(found.len());
        found.split_off(first)
    }
}

fn synonym_entry(name: &str, value: Option<&str>, source: i8) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym::default().with_name(str_bytes(name)).with_value(value.map(str_bytes)).with_source(source)
}

fn entry(name: &str, value: Option<String>, kind: i8, doc: Option<&str>, synonyms: Vec<DescribeConfigsSynonym>) -> DescribeConfigsResourceResult {
    let source = synonyms.first().map_or(SOURCE_DEFAULT, |s| s.source);
    DescribeConfigsResourceResult::default()
        .with_name(str_bytes(name))
        .with_value(value.map(StrBytes::from_string))
        .with_config_source(source)
        .with_synonyms(synonyms)
        .with_config_type(kind)
        .with_documentation(doc.map(str_bytes))
}

fn wanted(keys: Option<&[String]>, name: &str) -> bool {
    keys.is_none_or(|keys| keys.is_empty() || keys.iter().any(|k| k == name))
}

pub fn describe_configs(shared: &Arc<Shared>, request: DescribeConfigsRequest, version: i16) -> DescribeConfigsResponse {
    let layers = Layers::of(shared);
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            let keys = resource.configuration_keys.as_ref().map(|keys| keys.iter().map(|k| k.to_string()).collect::<Vec<_>>());
            let result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone())
                .with_error_message(None);
            let name = resource.resource_name.as_str();
            let entries = match resource.resource_type {
                RESOURCE_TOPIC => describe_topic(shared, &layers, name, keys.as_deref()),
                RESOURCE_BROKER => describe_broker(shared, &layers, name, keys.as_deref()),
                RESOURCE_BROKER_LOGGER => describe_broker_logger(shared, name, keys.as_deref()),
                other => refuse(ResponseError::InvalidRequest, format!("Unsupported resource type: {other}")),
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
                // Kafka sends UNKNOWN_TOPIC_OR_PARTITION without a message.
                Err(refusal) if refusal.error == ResponseError::UnknownTopicOrPartition => result.with_error_code(refusal.code()),
                Err(refusal) => result.with_error_code(refusal.code()).with_error_message(Some(str_bytes(refusal.message))),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn describe_topic(shared: &Shared, layers: &Layers, name: &str, keys: Option<&[String]>) -> Result<Vec<DescribeConfigsResourceResult>, Refusal> {
    validate_topic_name(name)?;
    let topic = shared.metadata.topic(name).ok_or_else(|| Refusal::new(ResponseError::UnknownTopicOrPartition, ""))?;
    Ok(topic_entries(layers, &topic.configs, keys))
}

/// Every topic config with its effective value for a topic with `overrides`, as DescribeConfigs
/// and CreateTopics (v5+) report them.
pub fn topic_config_entries(shared: &Shared, overrides: &BTreeMap<String, String>, keys: Option<&[String]>) -> Vec<DescribeConfigsResourceResult> {
    topic_entries(&Layers::of(shared), overrides, keys)
}

fn topic_entries(layers: &Layers, overrides: &BTreeMap<String, String>, keys: Option<&[String]>) -> Vec<DescribeConfigsResourceResult> {
    TOPIC_CONFIGS
        .iter()
        .filter(|d| wanted(keys, d.name))
        .map(|d| {
            let value = overrides.get(d.name).or_else(|| layers.effective.topic_defaults.get(d.name)).cloned().unwrap_or_else(|| d.default.to_owned());
            let mut synonyms = Vec::new();
            if overrides.contains_key(d.name) {
                synonyms.push(synonym_entry(d.name, Some(&value), SOURCE_TOPIC));
            }
            if let Some(broker_name) = d.synonym {
                synonyms.extend(layers.synonyms(broker_name, false));
            }
            entry(d.name, Some(value), d.kind as i8, Some(d.doc), synonyms)
        })
        .collect()
}

/// The broker id named by a broker resource (`""` is the cluster default: `None`).
fn broker_id(shared: &Shared, name: &str, what: &str) -> Result<Option<i32>, Refusal> {
    if name.is_empty() {
        return Ok(None);
    }
    let id: i32 = name.parse().map_err(|_| Refusal::new(ResponseError::InvalidRequest, format!("{what} id must be an integer, but it is: {name}")))?;
    if id != shared.settings.node_id {
        return refuse(ResponseError::InvalidRequest, format!("Unexpected broker id, expected {} or empty string, but received {name}", shared.settings.node_id));
    }
    Ok(Some(id))
}

fn describe_broker(shared: &Shared, layers: &Layers, name: &str, keys: Option<&[String]>) -> Result<Vec<DescribeConfigsResourceResult>, Refusal> {
    let per_broker = broker_id(shared, name, "Broker")?.is_some();
    let mut names: Vec<&str> = if per_broker {
        // Every config, and names set dynamically that Weir does not know (Kafka keeps them).
        let mut names: Vec<&str> = BROKER_CONFIGS.iter().map(|d| d.name).collect();
        names.extend(layers.per_broker.keys().chain(layers.cluster.keys()).map(String::as_str).filter(|n| broker_config(n).is_none()));
        names
    } else {
        // The cluster-default resource lists only what is set as a cluster default.
        layers.cluster.keys().map(String::as_str).collect()
    };
    names.sort_unstable();
    names.dedup();
    Ok(names
        .into_iter()
        .filter(|n| wanted(keys, n))
        .map(|n| {
            let def = broker_config(n);
            let sensitive = def.is_some_and(|d| d.kind == ConfigType::Password);
            let mut synonyms = layers.synonyms(n, sensitive);
            if !per_broker {
                synonyms.retain(|s| s.source == SOURCE_DYNAMIC_DEFAULT_BROKER);
            }
            let value = if n == "node.id" && per_broker {
                Some(shared.settings.node_id.to_string())
            } else if per_broker {
                layers.per_broker.get(n).or(layers.cluster.get(n)).map(String::as_str).or(layers.static_value(n)).or(def.and_then(|d| d.default)).map(str::to_owned)
            } else {
                layers.cluster.get(n).cloned()
            };
            let mut result = entry(n, if sensitive { None } else { value }, def.map_or(0, |d| d.kind as i8), def.map(|d| d.doc), synonyms);
            result.read_only = def.is_none_or(|d| d.dynamic == Dynamic::No);
            result.is_sensitive = sensitive;
            result
        })
        .collect())
}

fn describe_broker_logger(shared: &Shared, name: &str, keys: Option<&[String]>) -> Result<Vec<DescribeConfigsResourceResult>, Refusal> {
    if name.is_empty() {
        return refuse(ResponseError::InvalidRequest, "Broker id must not be empty");
    }
    let id: i32 = name.parse().map_err(|_| Refusal::new(ResponseError::InvalidRequest, format!("Broker id must be an integer, but it is: {name}")))?;
    if id != shared.settings.node_id {
        return refuse(ResponseError::InvalidRequest, format!("Unexpected broker id, expected {} but received {name}", shared.settings.node_id));
    }
    // Log4j level names; Weir's levels come from RUST_LOG at start and cannot be altered.
    let level = match tracing::level_filters::LevelFilter::current().into_level() {
        None => "OFF".to_owned(),
        Some(level) => level.to_string().to_ascii_uppercase(),
    };
    Ok(["root"]
        .into_iter()
        .filter(|n| wanted(keys, n))
        .map(|n| {
            let mut result = entry(n, Some(level.clone()), 0, None, Vec::new()).with_config_source(SOURCE_DYNAMIC_BROKER_LOGGER);
            result.read_only = true;
            result
        })
        .collect())
}

/// One resource of either alter request, with its operations (AlterConfigs: all SET).
struct AlterResource {
    resource_type: i8,
    name: String,
    /// `(name, operation, value)`
    ops: Vec<(String, i8, Option<String>)>,
}

/// Kafka's request-level checks, then the change (or only its validation).
async fn alter_resources(shared: &Shared, resources: Vec<AlterResource>, validate_only: bool, incremental: bool) -> Vec<(i8, String, Result<(), Refusal>)> {
    let mut seen: BTreeMap<(i8, String), usize> = BTreeMap::new();
    for r in &resources {
        *seen.entry((r.resource_type, r.name.clone())).or_default() += 1;
    }
    let mut results = Vec::with_capacity(resources.len());
    for r in resources {
        let outcome = if seen.get(&(r.resource_type, r.name.clone())).copied().unwrap_or(0) > 1 {
            refuse(ResponseError::InvalidRequest, "Each resource must appear at most once.")
        } else {
            alter_resource(shared, &r, validate_only, incremental).await
        };
        results.push((r.resource_type, r.name, outcome));
    }
    results
}

async fn alter_resource(shared: &Shared, r: &AlterResource, validate_only: bool, incremental: bool) -> Result<(), Refusal> {
    let mut names: Vec<&str> = r.ops.iter().map(|(n, _, _)| n.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return refuse(ResponseError::InvalidRequest, "Error due to duplicate config keys");
    }
    let nulls: Vec<&str> = r.ops.iter().filter(|(_, op, v)| v.is_none() && *op != OP_DELETE).map(|(n, _, _)| n.as_str()).collect();
    if !nulls.is_empty() {
        return refuse(ResponseError::InvalidRequest, format!("Null value not supported for : {}", nulls.join(", ")));
    }
    if let Some((_, op, _)) = r.ops.iter().find(|(_, op, _)| !(OP_SET..=OP_SUBTRACT).contains(op)) {
        return refuse(ResponseError::InvalidRequest, format!("Unknown operations type {op}"));
    }
    match r.resource_type {
        RESOURCE_TOPIC => {
            validate_topic_name(&r.name)?;
            let current = shared.metadata.topic(&r.name).map(|t| t.configs.clone()).unwrap_or_default();
            let mut configs = if incremental { current } else { BTreeMap::new() };
            for (name, op, value) in &r.ops {
                let def = topic_config(name);
                apply_op(&mut configs, name, *op, value.as_deref(), def.map(|d| (d.kind, Some(d.default))), |op| {
                    format!("Can't {op} to key {name} because its type is not LIST.")
                })?;
            }
            shared.metadata.alter_topic_configs(&r.name, &configs, validate_only).await
        }
        RESOURCE_BROKER => {
            let per_broker = broker_id(shared, &r.name, "Node")?.is_some();
            let mut configs = if incremental { shared.metadata.broker_configs(&r.name) } else { BTreeMap::new() };
            for (name, op, value) in &r.ops {
                let def = broker_config(name);
                if def.is_none() && (*op == OP_APPEND || *op == OP_SUBTRACT) {
                    return refuse(ResponseError::InvalidConfig, format!("Unknown config name: {name}"));
                }
                apply_op(&mut configs, name, *op, value.as_deref(), def.map(|d| (d.kind, d.default)), |op| {
                    format!("Config value {} is not allowed for config key: {name}", op.to_ascii_lowercase())
                })?;
            }
            let configs = validate_broker_configs(configs, per_broker)?;
            if validate_only {
                return Ok(());
            }
            shared.metadata.set_broker_configs(&r.name, configs).await
        }
        RESOURCE_BROKER_LOGGER if incremental => {
            refuse(ResponseError::InvalidRequest, "Weir cannot change log levels at runtime; set RUST_LOG when starting the broker")
        }
        other => refuse(ResponseError::InvalidRequest, format!("Unknown resource type {other}")),
    }
}

/// Applies one SET/DELETE/APPEND/SUBTRACT to an override set, with Kafka's list semantics:
/// APPEND adds the values not yet present to the current list (or the default), SUBTRACT
/// removes them; both only for LIST configs (INVALID_CONFIG `not_list(op)` otherwise).
fn apply_op(
    configs: &mut BTreeMap<String, String>,
    name: &str,
    op: i8,
    value: Option<&str>,
    def: Option<(ConfigType, Option<&str>)>,
    not_list: impl Fn(&str) -> String,
) -> Result<(), Refusal> {
    match (op, value) {
        (OP_SET, Some(value)) => {
            configs.insert(name.to_owned(), value.to_owned());
        }
        (OP_DELETE, _) => {
            configs.remove(name);
        }
        (OP_APPEND | OP_SUBTRACT, Some(value)) => {
            let word = if op == OP_APPEND { "APPEND" } else { "SUBTRACT" };
            let Some((ConfigType::List, default)) = def else {
                return refuse(ResponseError::InvalidConfig, not_list(word));
            };
            let current = configs.get(name).map(String::as_str).or(default).unwrap_or("");
            let mut list: Vec<String> = current.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect();
            for item in value.split(',') {
                if op == OP_APPEND {
                    if !list.iter().any(|i| i == item) {
                        list.push(item.to_owned());
                    }
                } else if let Some(at) = list.iter().position(|i| i == item) {
                    list.remove(at);
                }
            }
            configs.insert(name.to_owned(), list.join(","));
        }
        _ => return refuse(ResponseError::InvalidRequest, format!("Null value not supported for : {name}")),
    }
    Ok(())
}

/// Kafka's `DynamicBrokerConfig.validateConfigs` over the whole new dynamic set: only dynamic
/// configs, per-broker ones only with a broker id, values by type and range. Kafka reports all
/// of these as INVALID_REQUEST (KAFKA-13609). Returns the values in canonical form.
fn validate_broker_configs(configs: BTreeMap<String, String>, per_broker: bool) -> Result<BTreeMap<String, String>, Refusal> {
    let set = |names: Vec<&str>| format!("Set({})", names.join(", "));
    let static_only: Vec<&str> = configs.keys().map(String::as_str).filter(|n| broker_config(n).is_some_and(|d| d.dynamic == Dynamic::No)).collect();
    if !static_only.is_empty() {
        return refuse(ResponseError::InvalidRequest, format!("Cannot update these configs dynamically: {}", set(static_only)));
    }
    let mut canonical_configs = BTreeMap::new();
    for (name, value) in &configs {
        let value = match broker_config(name) {
            Some(def) => canonical(name, def.kind, def.check, value).map_err(|e| Refusal::new(ResponseError::InvalidRequest, e))?,
            None => value.clone(),
        };
        canonical_configs.insert(name.clone(), value);
    }
    if !per_broker {
        let per_broker_only: Vec<&str> = configs.keys().map(String::as_str).filter(|n| broker_config(n).is_some_and(|d| d.dynamic == Dynamic::PerBroker)).collect();
        if !per_broker_only.is_empty() {
            return refuse(
                ResponseError::InvalidRequest,
                format!("Cannot update these configs at default cluster level, broker id must be specified: {}", set(per_broker_only)),
            );
        }
    }
    Ok(canonical_configs)
}

fn error_fields(outcome: &Result<(), Refusal>) -> (i16, Option<StrBytes>) {
    match outcome {
        Ok(()) => (0, None),
        Err(refusal) => (refusal.code(), Some(str_bytes(refusal.message.clone()))),
    }
}

pub async fn alter_configs(shared: &Arc<Shared>, request: AlterConfigsRequest) -> AlterConfigsResponse {
    let resources = request
        .resources
        .into_iter()
        .map(|r| AlterResource {
            resource_type: r.resource_type,
            name: r.resource_name.to_string(),
            ops: r.configs.into_iter().map(|c| (c.name.to_string(), OP_SET, c.value.map(|v| v.to_string()))).collect(),
        })
        .collect();
    let responses = alter_resources(shared, resources, request.validate_only, false)
        .await
        .into_iter()
        .map(|(resource_type, name, outcome)| {
            let (code, message) = error_fields(&outcome);
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(resource_type)
                .with_resource_name(str_bytes(name))
                .with_error_code(code)
                .with_error_message(message)
        })
        .collect();
    AlterConfigsResponse::default().with_responses(responses)
}

pub async fn incremental_alter_configs(shared: &Arc<Shared>, request: IncrementalAlterConfigsRequest) -> IncrementalAlterConfigsResponse {
    let resources = request
        .resources
        .into_iter()
        .map(|r| AlterResource {
            resource_type: r.resource_type,
            name: r.resource_name.to_string(),
            ops: r.configs.into_iter().map(|c| (c.name.to_string(), c.config_operation, c.value.map(|v| v.to_string()))).collect(),
        })
        .collect();
    let responses = alter_resources(shared, resources, request.validate_only, true)
        .await
        .into_iter()
        .map(|(resource_type, name, outcome)| {
            let (code, message) = error_fields(&outcome);
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(resource_type)
                .with_resource_name(str_bytes(name))
                .with_error_code(code)
                .with_error_message(message)
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}
