//! The cluster metadata a single broker owns: cluster id, topics (id, partition count, config
//! overrides) and the producer-id allocator. Persisted as one checksummed file, rewritten
//! atomically on every change; the partitions' logs live in the data directory beside it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use uuid::Uuid;
use weir_storage::{checkpoint, LogDir};

use kafka_protocol::messages::create_partitions_request::CreatePartitionsAssignment;

use crate::config::{canonical_topic_configs, Settings, TopicSettings};
use crate::handlers::topics::validate_replicas;
use crate::metrics::{Metrics, TopicStats};
use crate::partition::{Flusher, Partition};
use crate::{now_ms, BrokerError};

const METADATA_FILE: &str = "metadata.checkpoint";
/// Producer ids are handed out from blocks persisted ahead of use, as Kafka's ProducerIdManager.
const PRODUCER_ID_BLOCK: i64 = 1000;
const MAX_TOPIC_NAME: usize = 249;

/// A request refused with a Kafka error code and a message for the client.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub error: ResponseError,
    pub message: String,
}

impl Refusal {
    pub fn new(error: ResponseError, message: impl Into<String>) -> Refusal {
        Refusal { error, message: message.into() }
    }
    pub fn code(&self) -> i16 {
        self.error.code()
    }
}

pub struct Topic {
    pub name: Arc<str>,
    pub id: Uuid,
    pub partitions: Vec<Arc<Partition>>,
    /// Only the configs set on this topic; the rest come from the broker.
    pub configs: BTreeMap<String, String>,
    pub settings: TopicSettings,
    /// Traffic counters (records and bytes in and out) for `/metrics`.
    pub stats: TopicStats,
}

#[derive(Serialize, Deserialize)]
struct PersistedTopic {
    name: String,
    id: Uuid,
    partitions: i32,
    configs: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct Persisted {
    cluster_id: String,
    producer_id_block_end: i64,
    topics: Vec<PersistedTopic>,
    /// Dynamic broker configs (AlterConfigs on the broker resource), by resource name: `""`
    /// is the cluster default, otherwise this broker's id.
    #[serde(default)]
    broker_configs: BTreeMap<String, BTreeMap<String, String>>,
}

struct ProducerIds {
    next: i64,
    block_end: i64,
}

pub struct Metadata {
    settings: Settings,
    log_dir: LogDir,
    path: PathBuf,
    pub cluster_id: String,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    producer_ids: Mutex<ProducerIds>,
    /// Serialises changes, so the file always matches memory.
    changes: Mutex<()>,
    /// Dynamic broker configs by resource name (`""`: cluster default; the broker id).
    broker_configs: RwLock<BTreeMap<String, BTreeMap<String, String>>>,
    /// `settings` with the dynamic broker configs applied (the topic defaults change).
    effective: RwLock<Settings>,
    metrics: Arc<Metrics>,
    /// Flushes every partition of the data directory (group commit across partitions).
    flusher: Flusher,
}

impl Metadata {
    pub fn open(settings: &Settings, log_dir: LogDir, metrics: Arc<Metrics>) -> Result<Metadata, BrokerError> {
        let path = log_dir.path().join(METADATA_FILE);
        let persisted = match checkpoint::read(&path)? {
            Some(bytes) => serde_json::from_slice::<Persisted>(&bytes).map_err(|e| BrokerError::Metadata(format!("{}: {e}", path.display())))?,
            None => Persisted { cluster_id: new_cluster_id(), producer_id_block_end: 0, topics: Vec::new(), broker_configs: BTreeMap::new() },
        };
        let effective = dynamic_settings(settings, &persisted.broker_configs);
        let metadata = Metadata {
            settings: settings.clone(),
            path,
            cluster_id: persisted.cluster_id.clone(),
            topics: RwLock::new(BTreeMap::new()),
            producer_ids: Mutex::new(ProducerIds { next: persisted.producer_id_block_end, block_end: persisted.producer_id_block_end }),
            changes: Mutex::new(()),
            broker_configs: RwLock::new(persisted.broker_configs.clone()),
            effective: RwLock::new(effective),
            log_dir,
            metrics,
            flusher: Flusher::start(),
        };
        let now = now_ms();
        let mut topics = BTreeMap::new();
        for t in &persisted.topics {
            let topic = metadata.open_topic(&t.name, t.id, t.partitions, t.configs.clone(), now)?;
            topics.insert(t.name.clone(), Arc::new(topic));
        }
        for (topic, partition) in metadata.log_dir.partitions_on_disk()? {
            if topics.get(&topic).is_none_or(|t| partition >= t.partitions.len() as i32) {
                warn!(topic, partition, "partition directory belongs to no topic; leaving it alone");
            }
        }
        *metadata.topics.write() = topics;
        metadata.persist()?;
        Ok(metadata)
    }

    pub fn log_dir(&self) -> &LogDir {
        &self.log_dir
    }

    fn open_topic(&self, name: &str, id: Uuid, partitions: i32, configs: BTreeMap<String, String>, now: i64) -> Result<Topic, BrokerError> {
        let settings = self.effective.read().topic_settings(&configs);
        let name: Arc<str> = name.into();
        let partitions = (0..partitions)
            .map(|p| {
                let log = self.log_dir.open_log(&name, p, settings.log.clone(), now)?;
                Ok(self.partition(name.clone(), p, log))
            })
            .collect::<Result<Vec<_>, BrokerError>>()?;
        let stats = self.metrics.topic(&name);
        Ok(Topic { name, id, partitions, configs, settings, stats })
    }

    /// A partition served from `log`, flushed by the data directory's flusher, timed by metrics.
    fn partition(&self, topic: Arc<str>, index: i32, log: weir_storage::Log) -> Arc<Partition> {
        Arc::new(Partition::new(topic, index, log, self.flusher.clone()).with_flush_metric(self.metrics.flush_duration.clone()))
    }

    fn persist(&self) -> Result<(), BrokerError> {
        let topics = self.topics.read();
        let persisted = Persisted {
            cluster_id: self.cluster_id.clone(),
            producer_id_block_end: self.producer_ids.lock().block_end,
            topics: topics
                .values()
                .map(|t| PersistedTopic { name: t.name.to_string(), id: t.id, partitions: t.partitions.len() as i32, configs: t.configs.clone() })
                .collect(),
            broker_configs: self.broker_configs.read().clone(),
        };
        let bytes = serde_json::to_vec_pretty(&persisted).map_err(|e| BrokerError::Metadata(e.to_string()))?;
        checkpoint::write(&self.path, &bytes)?;
        Ok(())
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().get(name).cloned()
    }

    pub fn topic_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        self.topics.read().values().find(|t| t.id == id).cloned()
    }

    pub fn topics(&self) -> Vec<Arc<Topic>> {
        self.topics.read().values().cloned().collect()
    }

    /// The topic, created with broker defaults if `auto.create.topics.enable` allows (Metadata
    /// only; `__consumer_offsets` gets its own partition count and configs, as Kafka's
    /// AutoTopicCreationManager does).
    pub fn get_or_auto_create(&self, name: &str, allowed_by_client: bool) -> Result<Arc<Topic>, Refusal> {
        if let Some(topic) = self.topic(name) {
            return Ok(topic);
        }
        validate_topic_name(name)?;
        if !(allowed_by_client && self.settings.auto_create_topics) || (is_internal(name) && name != crate::groups::OFFSETS_TOPIC) {
            return Err(Refusal::new(ResponseError::UnknownTopicOrPartition, format!("topic {name} does not exist")));
        }
        if name == crate::groups::OFFSETS_TOPIC {
            return self.internal_topic(name, self.settings.groups.offsets_partitions);
        }
        match self.create_topic(name, -1, -1, BTreeMap::new(), false) {
            Err(r) if r.error == ResponseError::TopicAlreadyExists => self.topic(name).ok_or(r),
            other => other,
        }
    }

    /// An internal topic (`__consumer_offsets`), created with `partitions` on first use.
    pub fn internal_topic(&self, name: &str, partitions: i32) -> Result<Arc<Topic>, Refusal> {
        if let Some(topic) = self.topic(name) {
            return Ok(topic);
        }
        let configs = BTreeMap::from([
            ("cleanup.policy".to_owned(), "compact".to_owned()),
            ("segment.bytes".to_owned(), (100 << 20).to_string()),
        ]);
        match self.create_topic(name, partitions, 1, configs, false) {
            Err(r) if r.error == ResponseError::TopicAlreadyExists => self.topic(name).ok_or(r),
            other => other,
        }
    }

    /// CreateTopics for one topic, with Kafka's checks in Kafka's order (name, collision,
    /// existence, configs, replication factor, partition count, brokers available).
    /// `partitions`/`replication_factor` of -1 mean the broker defaults.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<Arc<Topic>, Refusal> {
        let _change = self.changes.lock();
        self.check_new_topic_name(name)?;
        let configs = canonical_topic_configs(&configs).map_err(|e| Refusal::new(ResponseError::InvalidConfig, e))?;
        if replication_factor == 0 || replication_factor < -1 {
            return Err(Refusal::new(ResponseError::InvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value."));
        }
        if partitions == 0 || partitions < -1 {
            return Err(Refusal::new(ResponseError::InvalidPartitions, "Number of partitions was set to an invalid non-positive value."));
        }
        let partitions = if partitions == -1 { self.settings.num_partitions } else { partitions };
        let replication_factor = if replication_factor == -1 { self.settings.default_replication_factor } else { replication_factor };
        if replication_factor > 1 {
            return Err(Refusal::new(
                ResponseError::InvalidReplicationFactor,
                format!(
                    "Unable to replicate the partition {replication_factor} time(s): The target replication factor of {replication_factor} cannot be reached because only 1 broker(s) are registered."
                ),
            ));
        }
        let storage_error = |e: BrokerError| Refusal::new(ResponseError::KafkaStorageError, e.to_string());
        let settings = self.effective.read().topic_settings(&configs);
        if validate_only {
            return Ok(Arc::new(Topic { name: name.into(), id: Uuid::nil(), partitions: Vec::new(), configs, settings, stats: TopicStats::default() }));
        }
        for p in 0..partitions {
            let dir = self.log_dir.partition_dir(name, p);
            if dir.exists() {
                warn!(dir = %dir.display(), "removing a stale directory before creating the topic");
                std::fs::remove_dir_all(&dir).map_err(|e| storage_error(BrokerError::Io { op: format!("remove {}", dir.display()), source: e }))?;
            }
        }
        let topic = Arc::new(self.open_topic(name, Uuid::new_v4(), partitions, configs, now_ms()).map_err(storage_error)?);
        self.topics.write().insert(name.to_owned(), topic.clone());
        self.persist().map_err(storage_error)?;
        info!(topic = name, partitions, "created topic");
        Ok(topic)
    }

    /// A name a new topic may take: valid, not colliding with another topic once `.` and `_`
    /// are equated, and not taken (Kafka's order).
    pub fn check_new_topic_name(&self, name: &str) -> Result<(), Refusal> {
        validate_topic_name(name)?;
        let topics = self.topics.read();
        let folded = name.replace('.', "_");
        if let Some(clash) = topics.keys().find(|t| t.as_str() != name && t.replace('.', "_") == folded) {
            return Err(Refusal::new(ResponseError::InvalidTopicException, format!("Topic '{name}' collides with existing topic: {clash}")));
        }
        if topics.contains_key(name) {
            return Err(Refusal::new(ResponseError::TopicAlreadyExists, format!("Topic '{name}' already exists.")));
        }
        Ok(())
    }

    pub fn delete_topic(&self, name: &str) -> Result<Uuid, Refusal> {
        if !self.settings.delete_topic_enable {
            return Err(Refusal::new(ResponseError::TopicDeletionDisabled, "delete.topic.enable is false"));
        }
        let _change = self.changes.lock();
        let topic = self
            .topics
            .write()
            .remove(name)
            .ok_or_else(|| Refusal::new(ResponseError::UnknownTopicOrPartition, format!("topic {name} does not exist")))?;
        self.persist().map_err(|e| Refusal::new(ResponseError::KafkaStorageError, e.to_string()))?;
        for partition in &topic.partitions {
            partition.appended.notify_waiters();
            let dir = partition.log().dir().to_owned();
            // Readers may still hold zero-copy slices of the maps; unlinking is safe for them.
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                warn!(dir = %dir.display(), error = %e, "could not remove a deleted partition's files");
            }
        }
        info!(topic = name, "deleted topic");
        Ok(topic.id)
    }

    /// CreatePartitions for one topic, with Kafka's checks in Kafka's order; `assignments`
    /// (one replica list per new partition) must name only `brokers`.
    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
        assignments: Option<&[CreatePartitionsAssignment]>,
        brokers: &[i32],
        validate_only: bool,
    ) -> Result<(), Refusal> {
        let _change = self.changes.lock();
        let topic = self
            .topic(name)
            .ok_or_else(|| Refusal::new(ResponseError::UnknownTopicOrPartition, format!("topic {name} does not exist")))?;
        let current = topic.partitions.len() as i32;
        if count < current {
            return Err(Refusal::new(
                ResponseError::InvalidPartitions,
                format!("The topic {name} currently has {current} partition(s); {count} would not be an increase."),
            ));
        }
        if count == current {
            return Err(Refusal::new(ResponseError::InvalidPartitions, format!("Topic already has {current} partition(s).")));
        }
        if let Some(assignments) = assignments {
            let additional = count - current;
            if assignments.len() as i32 != additional {
                return Err(Refusal::new(
                    ResponseError::InvalidReplicaAssignment,
                    format!("Attempted to add {additional} additional partition(s), but only {} assignment(s) were specified.", assignments.len()),
                ));
            }
            for assignment in assignments {
                let replicas: Vec<i32> = assignment.broker_ids.iter().map(|b| b.0).collect();
                validate_replicas(&replicas, brokers, Some(1))?;
            }
        }
        if validate_only {
            return Ok(());
        }
        let now = now_ms();
        let mut partitions = topic.partitions.clone();
        for p in current..count {
            let log = self
                .log_dir
                .open_log(name, p, topic.settings.log.clone(), now)
                .map_err(|e| Refusal::new(ResponseError::KafkaStorageError, e.to_string()))?;
            partitions.push(self.partition(topic.name.clone(), p, log));
        }
        let grown = Topic { name: topic.name.clone(), id: topic.id, partitions, configs: topic.configs.clone(), settings: topic.settings.clone(), stats: topic.stats.clone() };
        self.topics.write().insert(name.to_owned(), Arc::new(grown));
        self.persist().map_err(|e| Refusal::new(ResponseError::KafkaStorageError, e.to_string()))?;
        info!(topic = name, count, "added partitions");
        Ok(())
    }

    /// Replaces a topic's config overrides with `configs` (AlterConfigs / IncrementalAlterConfigs
    /// after the operations are applied), validated as at creation; the live partitions take the
    /// new settings at once (segment sizes from the next roll). Errors: INVALID_CONFIG with
    /// Kafka's message, UNKNOWN_TOPIC_OR_PARTITION, KAFKA_STORAGE_ERROR.
    pub fn alter_topic_configs(&self, name: &str, configs: &BTreeMap<String, String>, validate_only: bool) -> Result<(), Refusal> {
        let configs = canonical_topic_configs(configs).map_err(|e| Refusal::new(ResponseError::InvalidConfig, e))?;
        let _change = self.changes.lock();
        let topic = self
            .topic(name)
            .ok_or_else(|| Refusal::new(ResponseError::UnknownTopicOrPartition, format!("The topic '{name}' does not exist.")))?;
        if validate_only {
            return Ok(());
        }
        let settings = self.effective.read().topic_settings(&configs);
        for partition in &topic.partitions {
            partition.log().set_config(settings.log.clone());
        }
        let altered = Topic { name: topic.name.clone(), id: topic.id, partitions: topic.partitions.clone(), configs, settings, stats: topic.stats.clone() };
        self.topics.write().insert(name.to_owned(), Arc::new(altered));
        self.persist().map_err(|e| Refusal::new(ResponseError::KafkaStorageError, e.to_string()))?;
        info!(topic = name, "altered topic configs");
        Ok(())
    }

    /// The dynamic broker configs of `resource` (`""`: the cluster default, or a broker id).
    pub fn broker_configs(&self, resource: &str) -> BTreeMap<String, String> {
        self.broker_configs.read().get(resource).cloned().unwrap_or_default()
    }

    /// The broker settings with the dynamic broker configs applied.
    pub fn effective_settings(&self) -> Settings {
        self.effective.read().clone()
    }

    /// Replaces the dynamic configs of broker resource `resource` (already validated), then
    /// re-resolves every topic's settings from the new broker defaults and persists.
    pub fn set_broker_configs(&self, resource: &str, configs: BTreeMap<String, String>) -> Result<(), Refusal> {
        let _change = self.changes.lock();
        {
            let mut all = self.broker_configs.write();
            if configs.is_empty() {
                all.remove(resource);
            } else {
                all.insert(resource.to_owned(), configs);
            }
            *self.effective.write() = dynamic_settings(&self.settings, &all);
        }
        let effective = self.effective.read().clone();
        let mut topics = self.topics.write();
        for topic in topics.values_mut() {
            let settings = effective.topic_settings(&topic.configs);
            for partition in &topic.partitions {
                partition.log().set_config(settings.log.clone());
            }
            *topic = Arc::new(Topic { name: topic.name.clone(), id: topic.id, partitions: topic.partitions.clone(), configs: topic.configs.clone(), settings, stats: topic.stats.clone() });
        }
        drop(topics);
        self.persist().map_err(|e| Refusal::new(ResponseError::KafkaStorageError, e.to_string()))?;
        info!(resource, "altered broker configs");
        Ok(())
    }

    /// A fresh producer id for an idempotent producer.
    pub fn next_producer_id(&self) -> Result<i64, Refusal> {
        let mut ids = self.producer_ids.lock();
        if ids.next >= ids.block_end {
            ids.block_end = ids.next + PRODUCER_ID_BLOCK;
            drop(ids);
            self.persist().map_err(|e| Refusal::new(ResponseError::KafkaStorageError, e.to_string()))?;
            ids = self.producer_ids.lock();
        }
        let id = ids.next;
        ids.next += 1;
        Ok(id)
    }
}

/// Kafka's internal topics (`Topic.isInternal`): clients may read them but never write them.
pub fn is_internal(name: &str) -> bool {
    matches!(name, crate::groups::OFFSETS_TOPIC | "__transaction_state")
}

/// Kafka's rules: 1–249 characters from `[a-zA-Z0-9._-]`, and not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), Refusal> {
    let invalid = |why: &str| Err(Refusal::new(ResponseError::InvalidTopicException, format!("topic name {name:?} {why}")));
    if name.is_empty() {
        return invalid("is empty");
    }
    if name == "." || name == ".." {
        return invalid("is not allowed");
    }
    if name.len() > MAX_TOPIC_NAME {
        return invalid("is longer than 249 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-') {
        return invalid("may contain only ASCII letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

/// `settings` with the persisted dynamic broker configs of this broker layered on.
fn dynamic_settings(settings: &Settings, broker_configs: &BTreeMap<String, BTreeMap<String, String>>) -> Settings {
    let empty = BTreeMap::new();
    let cluster = broker_configs.get("").unwrap_or(&empty);
    let own = broker_configs.get(&settings.node_id.to_string()).unwrap_or(&empty);
    settings.with_dynamic(cluster, own)
}

/// Kafka's cluster ids are a UUID in URL-safe base64 without padding (22 characters).
fn new_cluster_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bits = Uuid::new_v4().as_u128();
    (0..22).map(|i| ALPHABET[((bits >> (6 * i)) & 63) as usize] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka() {
        assert!(validate_topic_name("orders.v1_x-y").is_ok());
        for bad in ["", ".", "..", "has space", "ümlaut", &"x".repeat(250)] {
            assert!(validate_topic_name(bad).is_err(), "{bad}");
        }
        assert_eq!(new_cluster_id().len(), 22);
    }
}
