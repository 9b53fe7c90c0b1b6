//! The broker's view of the cluster metadata: cluster id, topics (id, partitions, config
//! overrides), dynamic broker configs and the producer-id allocator, with the partitions this
//! broker hosts open.
//!
//! A single node owns its metadata: one checksummed file, rewritten atomically on every change.
//! In cluster mode the metadata is the replicated state of the metadata Raft group
//! ([`crate::cluster`]): a change is proposed, and applied here (partitions opened or closed)
//! when it commits, on every broker alike; its proposer answers after applying it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tracing::{error, info, warn};
use uuid::Uuid;
use weir_storage::{checkpoint, LogDir};

use kafka_protocol::messages::create_partitions_request::CreatePartitionsAssignment;

use crate::cluster::state::{assign, PartitionInfo, PRODUCER_ID_BLOCK};
use crate::cluster::{Applied, Cluster, ClusterState, Command};
use std::time::Duration;
use crate::config::{canonical_topic_configs, Settings, TopicSettings};
use crate::handlers::topics::validate_replicas;
use crate::metrics::{Metrics, TopicStats};
use crate::partition::{Flusher, Partition};
use crate::{now_ms, BrokerError};

/// A single node's metadata file; a data directory holding it is a single node's.
pub const METADATA_FILE: &str = "metadata.checkpoint";
const MAX_TOPIC_NAME: usize = 249;

/// A request refused with a Kafka error code and a message for the client.
#[derive(Debug, Clone, PartialEq)]
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
    /// Every partition by index; `None` where this broker holds no replica (cluster mode).
    pub partitions: Vec<Option<Arc<Partition>>>,
    /// Only the configs set on this topic; the rest come from the broker.
    pub configs: BTreeMap<String, String>,
    pub settings: TopicSettings,
    /// Traffic counters (records and bytes in and out) for `/metrics`.
    pub stats: TopicStats,
}

impl Topic {
    pub fn partition_count(&self) -> i32 {
        self.partitions.len() as i32
    }

    /// Partition `index` as hosted here: UNKNOWN_TOPIC_OR_PARTITION when the topic has no such
    /// partition, NOT_LEADER_OR_FOLLOWER when another broker holds it.
    pub fn partition(&self, index: i32) -> Result<&Arc<Partition>, ResponseError> {
        match usize::try_from(index).ok().and_then(|i| self.partitions.get(i)) {
            None => Err(ResponseError::UnknownTopicOrPartition),
            Some(None) => Err(ResponseError::NotLeaderOrFollower),
            Some(Some(partition)) => Ok(partition),
        }
    }

    /// The partitions this broker hosts.
    pub fn hosted(&self) -> impl Iterator<Item = &Arc<Partition>> {
        self.partitions.iter().flatten()
    }

    fn with(&self, partitions: Vec<Option<Arc<Partition>>>, configs: BTreeMap<String, String>, settings: TopicSettings) -> Topic {
        Topic { name: self.name.clone(), id: self.id, partitions, configs, settings, stats: self.stats.clone() }
    }
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
    /// A single node's cluster id (cluster mode: the replicated one).
    cluster_id: String,
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
    /// Cluster mode: the Raft groups, and where partitions opened here are announced (the
    /// broker watches their leadership).
    cluster: Option<Arc<Cluster>>,
    opened: Option<tokio::sync::mpsc::UnboundedSender<Arc<Partition>>>,
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
            cluster: None,
            opened: None,
        };
        if metadata.log_dir.partition_dir(crate::cluster::METADATA_LOG, 0).exists() {
            return Err(BrokerError::Config(format!(
                "{} holds a cluster broker's data; start it with its --voters (or use another data directory)",
                metadata.log_dir.path().display()
            )));
        }
        let now = now_ms();
        let mut topics = BTreeMap::new();
        for t in &persisted.topics {
            let topic = metadata.open_topic(&t.name, t.id, t.partitions, t.configs.clone(), None, now)?;
            topics.insert(t.name.clone(), Arc::new(topic));
        }
        for (topic, partition) in metadata.log_dir.partitions_on_disk()? {
            if topics.get(&topic).is_none_or(|t| partition >= t.partition_count()) {
                warn!(topic, partition, "partition directory belongs to no topic; leaving it alone");
            }
        }
        *metadata.topics.write() = topics;
        metadata.persist()?;
        Ok(metadata)
    }

    /// A cluster broker's metadata: the metadata group's committed log is applied (the
    /// partitions assigned here opened) before this returns. Opened partitions are announced
    /// on `opened`.
    pub fn open_cluster(
        settings: &Settings,
        log_dir: LogDir,
        metrics: Arc<Metrics>,
        cluster: Arc<Cluster>,
        opened: tokio::sync::mpsc::UnboundedSender<Arc<Partition>>,
    ) -> Result<Metadata, BrokerError> {
        let path = log_dir.path().join(METADATA_FILE);
        if path.exists() {
            return Err(BrokerError::Config(format!(
                "{} holds a single-node broker's data; a cluster broker needs an empty data directory (or its own from before)",
                log_dir.path().display()
            )));
        }
        let metadata = Metadata {
            settings: settings.clone(),
            path,
            cluster_id: String::new(),
            topics: RwLock::new(BTreeMap::new()),
            producer_ids: Mutex::new(ProducerIds { next: 0, block_end: 0 }),
            changes: Mutex::new(()),
            broker_configs: RwLock::new(BTreeMap::new()),
            effective: RwLock::new(settings.clone()),
            log_dir,
            metrics,
            flusher: Flusher::start(),
            cluster: Some(cluster),
            opened: Some(opened),
        };
        metadata.apply_committed();
        Ok(metadata)
    }

    pub fn log_dir(&self) -> &LogDir {
        &self.log_dir
    }

    /// Cluster mode's Raft side; `None` for a single node.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    pub fn cluster_id(&self) -> String {
        match &self.cluster {
            Some(cluster) => cluster.state.read().cluster_id.clone().unwrap_or_default(),
            None => self.cluster_id.clone(),
        }
    }

    /// Opens a topic's partitions: all of them (a single node), or those whose replicas
    /// (`placement`, cluster mode) include this broker.
    fn open_topic(&self, name: &str, id: Uuid, partitions: i32, configs: BTreeMap<String, String>, placement: Option<&[PartitionInfo]>, now: i64) -> Result<Topic, BrokerError> {
        let settings = self.effective.read().topic_settings(&configs);
        let name: Arc<str> = name.into();
        let partitions = (0..partitions)
            .map(|p| self.open_partition(&name, p, &settings, placement.and_then(|all| all.get(p as usize)), now))
            .collect::<Result<Vec<_>, BrokerError>>()?;
        let stats = self.metrics.topic(&name);
        Ok(Topic { name, id, partitions, configs, settings, stats })
    }

    /// Partition `index` served from its log, flushed by the data directory's flusher, timed by
    /// metrics; in cluster mode replicated by its Raft group, and only if assigned here.
    fn open_partition(&self, topic: &Arc<str>, index: i32, settings: &TopicSettings, placement: Option<&PartitionInfo>, now: i64) -> Result<Option<Arc<Partition>>, BrokerError> {
        let (Some(cluster), Some(info)) = (&self.cluster, placement) else {
            let log = self.log_dir.open_log(topic, index, settings.log.clone(), now)?;
            let partition = Partition::new(topic.clone(), index, log, self.flusher.clone());
            return Ok(Some(Arc::new(partition.with_flush_metric(self.metrics.flush_duration.clone()))));
        };
        if !info.replicas.contains(&cluster.node_id) {
            return Ok(None);
        }
        claim_partition_dir(&self.log_dir.partition_dir(topic, index), info.group)?;
        let log = Arc::new(weir_storage::SharedLog::new(self.log_dir.open_log(topic, index, settings.log.clone(), now)?));
        let handle = cluster.open_partition(info.group, log.clone(), &self.log_dir.partition_dir(topic, index), &info.replicas)?;
        let partition = Partition::replicated(topic.clone(), index, log, info.group, handle, info.replicas.clone(), self.flusher.clone());
        let partition = Arc::new(partition.with_flush_metric(self.metrics.flush_duration.clone()));
        if let Some(opened) = &self.opened {
            let _ = opened.send(partition.clone());
        }
        Ok(Some(partition))
    }

    /// Cluster mode: applies the metadata committed since the last call to the replicated
    /// state, brings this broker's topics and partitions in line with it, then answers the
    /// proposals made here. Does file I/O (opening and removing logs): call it off the async
    /// threads.
    pub fn apply_committed(&self) {
        let Some(cluster) = &self.cluster else { return };
        let _change = self.changes.lock();
        let rejoined = cluster.metadata_rejoined();
        let outcomes: Vec<_> = cluster.take_committed().iter().filter_map(|e| Some((e.origin, cluster.state.write().apply(e)?))).collect();
        self.reconcile(cluster);
        if rejoined {
            cluster.end_careful_start();
        }
        for (origin, outcome) in outcomes {
            cluster.resolve(origin, outcome);
        }
    }

    /// Makes the open topics match the replicated state: new topics and partitions opened
    /// (those assigned here), deleted ones closed and their files removed, configs applied.
    /// Idempotent; a restart replays the whole metadata log and reconciles once.
    fn reconcile(&self, cluster: &Cluster) {
        let state = cluster.state.read();
        let defaults_changed = *self.broker_configs.read() != state.broker_configs;
        if defaults_changed {
            *self.broker_configs.write() = state.broker_configs.clone();
            *self.effective.write() = dynamic_settings(&self.settings, &state.broker_configs);
        }
        let now = now_ms();
        let current = self.topics.read().clone();
        // Deleted topics (and older incarnations of re-created ones) go first: a new incarnation
        // may use the same directories.
        for (name, topic) in &current {
            if state.topics.get(name).map(|t| t.id) != Some(topic.id) {
                for partition in topic.hosted() {
                    if let Some(replicated) = &partition.replica {
                        cluster.close_partition(replicated.group);
                    }
                }
                self.remove_partition_files(topic);
                info!(topic = %name, "topic deleted");
            }
        }
        let mut next = BTreeMap::new();
        for (name, info) in &state.topics {
            let topic = match current.get(name) {
                Some(topic) if topic.id == info.id => {
                    let mut partitions = topic.partitions.clone();
                    for p in topic.partition_count()..info.partitions.len() as i32 {
                        match self.open_partition(&topic.name, p, &topic.settings, info.partitions.get(p as usize), now) {
                            Ok(partition) => partitions.push(partition),
                            Err(e) => {
                                error!(topic = name, partition = p, error = %e, "cannot open a new partition");
                                break;
                            }
                        }
                    }
                    let settings = self.effective.read().topic_settings(&info.configs);
                    if defaults_changed || topic.configs != info.configs || partitions.len() != topic.partitions.len() {
                        for partition in partitions.iter().flatten() {
                            partition.log().set_config(settings.log.clone());
                        }
                        Arc::new(topic.with(partitions, info.configs.clone(), settings))
                    } else {
                        topic.clone()
                    }
                }
                _ => match self.open_topic(name, info.id, info.partitions.len() as i32, info.configs.clone(), Some(&info.partitions), now) {
                    Ok(topic) => {
                        info!(topic = name, partitions = info.partitions.len(), "topic opened");
                        Arc::new(topic)
                    }
                    Err(e) => {
                        error!(topic = name, error = %e, "cannot open a topic's partitions");
                        continue;
                    }
                },
            };
            next.insert(name.clone(), topic);
        }
        *self.topics.write() = next;
    }

    /// Removes a deleted topic's partition directories (readers may still hold zero-copy slices
    /// of the maps; unlinking is safe for them).
    fn remove_partition_files(&self, topic: &Topic) {
        for partition in topic.hosted() {
            partition.appended.notify_waiters();
            let dir = partition.log().dir().to_owned();
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                warn!(dir = %dir.display(), error = %e, "could not remove a deleted partition's files");
            }
        }
    }

    fn persist(&self) -> Result<(), BrokerError> {
        let topics = self.topics.read();
        let persisted = Persisted {
            cluster_id: self.cluster_id.clone(),
            producer_id_block_end: self.producer_ids.lock().block_end,
            topics: topics
                .values()
                .map(|t| PersistedTopic { name: t.name.to_string(), id: t.id, partitions: t.partition_count(), configs: t.configs.clone() })
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
    pub async fn get_or_auto_create(&self, name: &str, allowed_by_client: bool) -> Result<Arc<Topic>, Refusal> {
        if let Some(topic) = self.topic(name) {
            return Ok(topic);
        }
        validate_topic_name(name)?;
        if !(allowed_by_client && self.settings.auto_create_topics) || (is_internal(name) && name != crate::groups::OFFSETS_TOPIC) {
            return Err(Refusal::new(ResponseError::UnknownTopicOrPartition, format!("topic {name} does not exist")));
        }
        if name == crate::groups::OFFSETS_TOPIC {
            return self.internal_topic(name).await;
        }
        match self.create_topic(name, -1, -1, BTreeMap::new(), false).await {
            Err(r) if r.error == ResponseError::TopicAlreadyExists => self.topic(name).ok_or(r),
            other => other,
        }
    }

    /// An internal topic, created on first use: `__consumer_offsets` with
    /// `offsets.topic.num.partitions` and `offsets.topic.replication.factor`, or
    /// `__transaction_state` with `transaction.state.log.num.partitions`, `.replication.factor`
    /// and `.min.isr` (replication factors at most the number of brokers).
    pub async fn internal_topic(&self, name: &str) -> Result<Arc<Topic>, Refusal> {
        if let Some(topic) = self.topic(name) {
            return Ok(topic);
        }
        let mut configs = BTreeMap::from([
            ("cleanup.policy".to_owned(), "compact".to_owned()),
            ("segment.bytes".to_owned(), (100 << 20).to_string()),
        ]);
        let transactions = self.settings.transactions;
        let (partitions, wanted_replicas) = match name {
            crate::transactions::TRANSACTION_TOPIC => (transactions.partitions, transactions.replication_factor),
            _ => (self.settings.groups.offsets_partitions, self.cluster.as_ref().map_or(1, |c| c.settings.offsets_replication_factor)),
        };
        // At most the cluster's size (its voters); as in Kafka, creation waits until that many
        // brokers have registered.
        let replication_factor = match &self.cluster {
            Some(cluster) => {
                let wanted = wanted_replicas.min(cluster.settings.voters.len() as i16).max(1);
                let registered = cluster.state.read().brokers.len();
                if registered < wanted as usize {
                    return Err(Refusal::new(
                        ResponseError::CoordinatorNotAvailable,
                        format!("{name} needs {wanted} brokers and only {registered} have registered"),
                    ));
                }
                wanted
            }
            None => 1,
        };
        if name == crate::transactions::TRANSACTION_TOPIC {
            configs.insert("min.insync.replicas".to_owned(), transactions.min_isr.min(replication_factor as i32).to_string());
        }
        match self.create_topic(name, partitions, replication_factor, configs, false).await {
            Err(r) if r.error == ResponseError::TopicAlreadyExists => self.topic(name).ok_or(r),
            other => other,
        }
    }

    /// CreateTopics for one topic, with Kafka's checks in Kafka's order (name, collision,
    /// existence, configs, replication factor, partition count, brokers available).
    /// `partitions`/`replication_factor` of -1 mean the broker defaults. In cluster mode the
    /// replicas are spread over the registered brokers and the answer comes after the
    /// metadata change committed.
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<Arc<Topic>, Refusal> {
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
        if let Some(cluster) = &self.cluster {
            wait_for_brokers(cluster, replication_factor as usize).await;
        }
        let brokers = self.brokers();
        if replication_factor as usize > brokers.len() {
            return Err(Refusal::new(
                ResponseError::InvalidReplicationFactor,
                format!(
                    "Unable to replicate the partition {replication_factor} time(s): The target replication factor of {replication_factor} cannot be reached because only {} broker(s) are registered.",
                    brokers.len()
                ),
            ));
        }
        let settings = self.effective.read().topic_settings(&configs);
        if validate_only {
            return Ok(Arc::new(Topic { name: name.into(), id: Uuid::nil(), partitions: Vec::new(), configs, settings, stats: TopicStats::default() }));
        }
        let Some(cluster) = &self.cluster else { return self.create_local_topic(name, partitions, configs) };
        let start = cluster.state.read().topics.len();
        let replicas = assign(&brokers, partitions as usize, replication_factor as usize, start);
        let command = Command::CreateTopic { name: name.to_owned(), id: Uuid::new_v4(), replicas, configs };
        cluster.propose(command).await?;
        wait_for_leaders(cluster, name).await;
        self.topic(name).ok_or_else(|| Refusal::new(ResponseError::KafkaStorageError, format!("topic {name} was created but could not be opened here")))
    }

    /// The node ids of the brokers topics can be placed on, sorted.
    pub fn brokers(&self) -> Vec<i32> {
        match &self.cluster {
            Some(cluster) => cluster.state.read().brokers.keys().copied().collect(),
            None => vec![self.settings.node_id],
        }
    }

    fn create_local_topic(&self, name: &str, partitions: i32, configs: BTreeMap<String, String>) -> Result<Arc<Topic>, Refusal> {
        let _change = self.changes.lock();
        self.check_new_topic_name(name)?;
        let storage_error = |e: BrokerError| Refusal::new(ResponseError::KafkaStorageError, e.to_string());
        for p in 0..partitions {
            let dir = self.log_dir.partition_dir(name, p);
            if dir.exists() {
                warn!(dir = %dir.display(), "removing a stale directory before creating the topic");
                std::fs::remove_dir_all(&dir).map_err(|e| storage_error(BrokerError::Io { op: format!("remove {}", dir.display()), source: e }))?;
            }
        }
        let topic = Arc::new(self.open_topic(name, Uuid::new_v4(), partitions, configs, None, now_ms()).map_err(storage_error)?);
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

    pub async fn delete_topic(&self, name: &str) -> Result<Uuid, Refusal> {
        if !self.settings.delete_topic_enable {
            return Err(Refusal::new(ResponseError::TopicDeletionDisabled, "delete.topic.enable is false"));
        }
        if let Some(cluster) = &self.cluster {
            let id = self.topic(name).map(|t| t.id).ok_or_else(|| Refusal::new(ResponseError::UnknownTopicOrPartition, format!("topic {name} does not exist")))?;
            cluster.propose(Command::DeleteTopic { name: name.to_owned() }).await?;
            return Ok(id);
        }
        let _change = self.changes.lock();
        let topic = self
            .topics
            .write()
            .remove(name)
            .ok_or_else(|| Refusal::new(ResponseError::UnknownTopicOrPartition, format!("topic {name} does not exist")))?;
        self.persist().map_err(|e| Refusal::new(ResponseError::KafkaStorageError, e.to_string()))?;
        self.remove_partition_files(&topic);
        info!(topic = name, "deleted topic");
        Ok(topic.id)
    }

    /// CreatePartitions for one topic, with Kafka's checks in Kafka's order; `assignments`
    /// (one replica list per new partition) must name only registered brokers.
    pub async fn create_partitions(&self, name: &str, count: i32, assignments: Option<&[CreatePartitionsAssignment]>, validate_only: bool) -> Result<(), Refusal> {
        let brokers = self.brokers();
        let topic = self
            .topic(name)
            .ok_or_else(|| Refusal::new(ResponseError::UnknownTopicOrPartition, format!("topic {name} does not exist")))?;
        let current = topic.partition_count();
        if count < current {
            return Err(Refusal::new(
                ResponseError::InvalidPartitions,
                format!("The topic {name} currently has {current} partition(s); {count} would not be an increase."),
            ));
        }
        if count == current {
            return Err(Refusal::new(ResponseError::InvalidPartitions, format!("Topic already has {current} partition(s).")));
        }
        let replication_factor = match &self.cluster {
            Some(cluster) => cluster.state.read().topics.get(name).and_then(|t| t.partitions.first()).map_or(1, |p| p.replicas.len()),
            None => 1,
        };
        let mut replicas = Vec::new();
        if let Some(assignments) = assignments {
            let additional = count - current;
            if assignments.len() as i32 != additional {
                return Err(Refusal::new(
                    ResponseError::InvalidReplicaAssignment,
                    format!("Attempted to add {additional} additional partition(s), but only {} assignment(s) were specified.", assignments.len()),
                ));
            }
            for assignment in assignments {
                let ids: Vec<i32> = assignment.broker_ids.iter().map(|b| b.0).collect();
                validate_replicas(&ids, &brokers, Some(replication_factor))?;
                replicas.push(ids);
            }
        }
        if validate_only {
            return Ok(());
        }
        let Some(cluster) = &self.cluster else { return self.grow_local_topic(&topic, count) };
        if replicas.is_empty() {
            replicas = assign(&brokers, (count - current) as usize, replication_factor, current as usize);
        }
        cluster.propose(Command::CreatePartitions { name: name.to_owned(), from: Some(current as usize), replicas }).await?;
        wait_for_leaders(cluster, name).await;
        Ok(())
    }

    fn grow_local_topic(&self, topic: &Topic, count: i32) -> Result<(), Refusal> {
        let _change = self.changes.lock();
        let now = now_ms();
        let mut partitions = topic.partitions.clone();
        for p in topic.partition_count()..count {
            let partition = self.open_partition(&topic.name, p, &topic.settings, None, now).map_err(|e| Refusal::new(ResponseError::KafkaStorageError, e.to_string()))?;
            partitions.push(partition);
        }
        let grown = topic.with(partitions, topic.configs.clone(), topic.settings.clone());
        self.topics.write().insert(topic.name.to_string(), Arc::new(grown));
        self.persist().map_err(|e| Refusal::new(ResponseError::KafkaStorageError, e.to_string()))?;
        info!(topic = %topic.name, count, "added partitions");
        Ok(())
    }

    /// Replaces a topic's config overrides with `configs` (AlterConfigs / IncrementalAlterConfigs
    /// after the operations are applied), validated as at creation; the live partitions take the
    /// new settings at once (segment sizes from the next roll). Errors: INVALID_CONFIG with
    /// Kafka's message, UNKNOWN_TOPIC_OR_PARTITION, KAFKA_STORAGE_ERROR.
    pub async fn alter_topic_configs(&self, name: &str, configs: &BTreeMap<String, String>, validate_only: bool) -> Result<(), Refusal> {
        let configs = canonical_topic_configs(configs).map_err(|e| Refusal::new(ResponseError::InvalidConfig, e))?;
        let topic = self
            .topic(name)
            .ok_or_else(|| Refusal::new(ResponseError::UnknownTopicOrPartition, format!("The topic '{name}' does not exist.")))?;
        if validate_only {
            return Ok(());
        }
        if let Some(cluster) = &self.cluster {
            cluster.propose(Command::AlterTopicConfigs { name: name.to_owned(), configs }).await?;
            return Ok(());
        }
        let _change = self.changes.lock();
        let settings = self.effective.read().topic_settings(&configs);
        for partition in topic.hosted() {
            partition.log().set_config(settings.log.clone());
        }
        let altered = topic.with(topic.partitions.clone(), configs, settings);
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
    pub async fn set_broker_configs(&self, resource: &str, configs: BTreeMap<String, String>) -> Result<(), Refusal> {
        if let Some(cluster) = &self.cluster {
            cluster.propose(Command::SetBrokerConfigs { resource: resource.to_owned(), configs }).await?;
            return Ok(());
        }
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
            for partition in topic.hosted() {
                partition.log().set_config(settings.log.clone());
            }
            *topic = Arc::new(topic.with(topic.partitions.clone(), topic.configs.clone(), settings));
        }
        drop(topics);
        self.persist().map_err(|e| Refusal::new(ResponseError::KafkaStorageError, e.to_string()))?;
        info!(resource, "altered broker configs");
        Ok(())
    }

    /// A fresh producer id for an idempotent producer: from this broker's block, and a new
    /// block when it is used up (persisted ahead of use on a single node; allocated by the
    /// metadata group in a cluster, so no two brokers hand out the same id).
    pub async fn next_producer_id(&self) -> Result<i64, Refusal> {
        if let Some(id) = self.take_producer_id() {
            return Ok(id);
        }
        match &self.cluster {
            Some(cluster) => {
                let first = match cluster.propose(Command::AllocateProducerIds { node_id: cluster.node_id }).await? {
                    Applied::ProducerIds(first) => first,
                    Applied::Done => return Err(Refusal::new(ResponseError::UnknownServerError, "no producer id block was allocated")),
                };
                let mut ids = self.producer_ids.lock();
                if ids.next >= ids.block_end {
                    *ids = ProducerIds { next: first, block_end: first + PRODUCER_ID_BLOCK };
                }
            }
            None => {
                {
                    let mut ids = self.producer_ids.lock();
                    ids.block_end = ids.next + PRODUCER_ID_BLOCK;
                }
                self.persist().map_err(|e| Refusal::new(ResponseError::KafkaStorageError, e.to_string()))?;
            }
        }
        self.take_producer_id().ok_or_else(|| Refusal::new(ResponseError::UnknownServerError, "producer ids exhausted"))
    }

    fn take_producer_id(&self) -> Option<i64> {
        let mut ids = self.producer_ids.lock();
        (ids.next < ids.block_end).then(|| {
            ids.next += 1;
            ids.next - 1
        })
    }
}

/// A cluster that is starting has voters still registering (a second or two): a topic that
/// needs up to that many brokers waits for them (up to 10 s) rather than being refused at once.
async fn wait_for_brokers(cluster: &Cluster, needed: usize) {
    if needed <= cluster.settings.voters.len() {
        cluster.wait_for(Duration::from_secs(10), Duration::from_millis(50), |state| state.brokers.len() >= needed).await;
    }
}

/// Waits (a little) until every partition of a new topic has elected a leader, so a client
/// that produces right after CreateTopics finds one: an election takes a few Raft round trips.
async fn wait_for_leaders(cluster: &Cluster, topic: &str) {
    let led = |state: &ClusterState| state.topics.get(topic).is_none_or(|t| t.partitions.iter().all(|p| p.leader >= 0));
    cluster.wait_for(Duration::from_secs(3), Duration::from_millis(20), led).await;
}

/// The file in a cluster partition's directory naming the Raft group it belongs to (as
/// Kafka's `partition.metadata` names the topic id).
const PARTITION_GROUP_FILE: &str = "partition.group";

/// Makes `dir` the directory of partition group `group`: a directory left by another group (a
/// topic deleted and created again while this broker was down) is removed first — its Raft
/// state belongs to a group that no longer exists.
fn claim_partition_dir(dir: &std::path::Path, group: u64) -> Result<(), BrokerError> {
    let io = |op: &str, source| BrokerError::Io { op: format!("{op} {}", dir.display()), source };
    let file = dir.join(PARTITION_GROUP_FILE);
    if dir.exists() {
        let owner = checkpoint::read(&file)?.map(|bytes| std::str::from_utf8(&bytes).ok().and_then(|t| t.parse::<u64>().ok()));
        match owner {
            Some(Some(owner)) if owner == group => return Ok(()),
            Some(Some(owner)) => {
                warn!(dir = %dir.display(), group, owner, "removing a partition directory of another Raft group");
                std::fs::remove_dir_all(dir).map_err(|e| io("remove", e))?;
            }
            // No marker: created just before a crash, before anything was written in it.
            None if !holds_segments(dir) => {}
            _ => {
                return Err(BrokerError::Metadata(format!(
                    "{} holds a log but no readable {PARTITION_GROUP_FILE}; not touching it",
                    dir.display()
                )))
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| io("create", e))?;
    checkpoint::write(&file, group.to_string().as_bytes())?;
    Ok(())
}

/// Whether `dir` holds any segment file.
fn holds_segments(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).map(|entries| entries.flatten().any(|e| e.path().extension().is_some_and(|x| x == "log"))).unwrap_or(true)
}

/// Kafka's internal topics (`Topic.isInternal`): clients may read them but never write them.
pub fn is_internal(name: &str) -> bool {
    matches!(name, crate::groups::OFFSETS_TOPIC | crate::transactions::TRANSACTION_TOPIC)
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
pub fn new_cluster_id() -> String {
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
