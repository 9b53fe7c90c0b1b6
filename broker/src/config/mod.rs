//! Configuration with Kafka's property names. Sources, later ones winning: built-in defaults
//! (Kafka's), a properties file (`--config`), `WEIR_*` environment variables
//! (`WEIR_LOG_RETENTION_MS` → `log.retention.ms`), then command-line flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use weir_storage::LogConfig;

use crate::BrokerError;

mod catalog;

pub use catalog::{
    broker_config, broker_synonyms, canonical, topic_config, BrokerConfigDef, Check, ConfigType, Dynamic, TopicConfigDef,
    BROKER_CONFIGS, TOPIC_CONFIGS,
};

/// The broker's configuration: every property explicitly set, by Kafka name.
#[derive(Debug, Clone, Default)]
pub struct Config {
    props: BTreeMap<String, String>,
    /// Use a fresh temporary data directory, removed on exit, and skip fsyncs.
    pub ephemeral: bool,
}

impl Config {
    /// Built-in defaults only: a single local broker on 127.0.0.1:9092 with data in ./weir-data.
    pub fn new() -> Config {
        Config::default()
    }

    /// Sets a property by its Kafka name (`log.retention.ms`, `num.partitions`, …). Synonyms
    /// (`log.retention.hours`) are kept under their own names and resolved as Kafka does.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Config {
        self.props.insert(name.to_owned(), value.into());
        self
    }

    /// Builder form of [`Config::set`].
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Config {
        self.set(name, value);
        self
    }

    /// Reads a Java-style properties file (`key=value`, `#` comments).
    pub fn load_file(&mut self, path: &Path) -> Result<(), BrokerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BrokerError::Config(format!("reading {}: {e}", path.display())))?;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .or_else(|| line.split_once(':'))
                .ok_or_else(|| BrokerError::Config(format!("{}:{}: expected key=value", path.display(), number + 1)))?;
            self.set(key.trim(), value.trim());
        }
        Ok(())
    }

    /// Applies `WEIR_*` variables: `WEIR_LOG_RETENTION_MS=1000` sets `log.retention.ms`.
    pub fn load_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) {
        for (key, value) in vars {
            if let Some(rest) = key.strip_prefix("WEIR_") {
                self.set(&rest.to_ascii_lowercase().replace('_', "."), value);
            }
        }
    }

    /// The explicitly set value of `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.props.get(name).map(String::as_str)
    }

    /// The effective value of a broker property (explicit or default).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).or_else(|| default_of(name))
    }

    pub fn explicit(&self) -> impl Iterator<Item = (&str, &str)> {
        self.props.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn parse<T: std::str::FromStr>(&self, name: &str) -> Result<T, BrokerError> {
        let raw = self.value(name).unwrap_or_default();
        raw.trim().parse().map_err(|_| BrokerError::Config(format!("{name}={raw} is not valid")))
    }

    /// Resolves and checks everything once, at start-up: every known broker property is
    /// checked by type and range as Kafka's `ConfigDef` does; unknown ones are logged and ignored.
    pub fn settings(&self) -> Result<Settings, BrokerError> {
        for (name, value) in self.explicit() {
            match broker_config(name) {
                Some(def) => {
                    canonical(name, def.kind, def.check, value).map_err(BrokerError::Config)?;
                }
                None => tracing::warn!(config = name, "unknown config ignored"),
            }
        }
        let listen = strip_scheme(self.value("listeners").unwrap_or_default());
        let advertised = match self.value("advertised.listeners") {
            Some(a) if !a.is_empty() => Some(strip_scheme(a)),
            _ => None,
        };
        let topic_defaults = resolve_topic_defaults(&self.props);
        let dirs = self.get("log.dirs").or_else(|| self.value("log.dir")).unwrap_or("./weir-data");
        let data_dir = PathBuf::from(dirs.split(',').next().unwrap_or("./weir-data").trim());
        Ok(Settings {
            node_id: self.parse("node.id")?,
            data_dir,
            listen,
            advertised,
            num_partitions: positive(self.parse::<i32>("num.partitions")?, "num.partitions")?,
            default_replication_factor: self.parse("default.replication.factor")?,
            auto_create_topics: self.parse("auto.create.topics.enable")?,
            delete_topic_enable: self.parse("delete.topic.enable")?,
            max_frame_bytes: positive(self.parse::<i64>("socket.request.max.bytes")?, "socket.request.max.bytes")? as usize,
            retention_check_interval_ms: positive(self.parse::<i64>("log.retention.check.interval.ms")?, "log.retention.check.interval.ms")? as u64,
            checkpoint_interval_ms: positive(self.parse::<i64>("log.flush.offset.checkpoint.interval.ms")?, "log.flush.offset.checkpoint.interval.ms")? as u64,
            fsync_acks_all: self.parse::<bool>("weir.acks.all.fsync")? && !self.ephemeral,
            drop_behind_bytes: u64::try_from(self.parse::<i64>("weir.log.drop.behind.bytes")?).ok(),
            http_listen: Some(strip_scheme(self.value("weir.http.listen").unwrap_or_default())).filter(|a| !a.is_empty()),
            metrics_topic_label_limit: self.parse::<i64>("weir.metrics.topic.label.limit")?.max(0) as usize,
            ephemeral: self.ephemeral,
            cluster: self.cluster_settings()?,
            groups: GroupSettings {
                offsets_partitions: positive(self.parse::<i32>("offsets.topic.num.partitions")?, "offsets.topic.num.partitions")?,
                // Test brokers start groups at once, as Kafka's test images configure it.
                initial_rebalance_delay_ms: if self.ephemeral && self.get("group.initial.rebalance.delay.ms").is_none() {
                    0
                } else {
                    self.parse::<i64>("group.initial.rebalance.delay.ms")?.max(0)
                },
                min_session_timeout_ms: self.parse("group.min.session.timeout.ms")?,
                max_session_timeout_ms: self.parse("group.max.session.timeout.ms")?,
                offsets_retention_ms: positive(self.parse::<i64>("offsets.retention.minutes")?, "offsets.retention.minutes")?.saturating_mul(60_000),
                retention_check_interval_ms: positive(self.parse::<i64>("offsets.retention.check.interval.ms")?, "offsets.retention.check.interval.ms")?,
                max_metadata_bytes: self.parse::<i64>("offset.metadata.max.bytes")?.max(0) as usize,
            },
            transactions: TransactionSettings {
                partitions: positive(self.parse::<i32>("transaction.state.log.num.partitions")?, "transaction.state.log.num.partitions")?,
                replication_factor: positive(self.parse::<i16>("transaction.state.log.replication.factor")?, "transaction.state.log.replication.factor")?,
                min_isr: positive(self.parse::<i32>("transaction.state.log.min.isr")?, "transaction.state.log.min.isr")?,
                max_timeout_ms: positive(self.parse::<i32>("transaction.max.timeout.ms")?, "transaction.max.timeout.ms")?,
                abort_check_interval_ms: positive(self.parse::<i64>("transaction.abort.timed.out.transaction.cleanup.interval.ms")?, "transaction.abort.timed.out.transaction.cleanup.interval.ms")?,
                id_expiration_ms: positive(self.parse::<i64>("transactional.id.expiration.ms")?, "transactional.id.expiration.ms")?,
                expiration_check_interval_ms: positive(self.parse::<i64>("transaction.remove.expired.transaction.cleanup.interval.ms")?, "transaction.remove.expired.transaction.cleanup.interval.ms")?,
                verify_partitions: self.parse("transaction.partition.verification.enable")?,
            },
            topic_defaults,
            explicit: self.props.clone(),
        })
    }
}

impl Config {
    /// The cluster settings, when `controller.quorum.voters` is set: every voter well formed,
    /// ids unique, this broker's `node.id` among them.
    fn cluster_settings(&self) -> Result<Option<ClusterSettings>, BrokerError> {
        let voters = self.value("controller.quorum.voters").unwrap_or_default().trim();
        if voters.is_empty() {
            return Ok(None);
        }
        let mut parsed: Vec<(i32, String)> = Vec::new();
        for voter in voters.split(',').map(str::trim) {
            let bad = || BrokerError::Config(format!("controller.quorum.voters: {voter:?} is not id@host:port"));
            let (id, address) = voter.split_once('@').ok_or_else(bad)?;
            let id: i32 = id.trim().parse().map_err(|_| bad())?;
            let address = address.trim();
            if id < 0 || address.rsplit_once(':').is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err()) {
                return Err(bad());
            }
            if parsed.iter().any(|(other, _)| *other == id) {
                return Err(BrokerError::Config(format!("controller.quorum.voters names node {id} twice")));
            }
            parsed.push((id, address.to_owned()));
        }
        let node_id: i32 = self.parse("node.id")?;
        let own = parsed.iter().find(|(id, _)| *id == node_id).map(|(_, a)| a.clone());
        let Some(own) = own else {
            return Err(BrokerError::Config(format!("node.id {node_id} is not among controller.quorum.voters ({voters})")));
        };
        let raft_listen = Some(strip_scheme(self.value("raft.listeners").unwrap_or_default())).filter(|a| !a.is_empty()).unwrap_or(own);
        let cluster_id = Some(self.value("cluster.id").unwrap_or_default().trim().to_owned()).filter(|c| !c.is_empty());
        let offsets_replication_factor = self.parse::<i16>("offsets.topic.replication.factor")?;
        let leader_rebalance_after = self
            .parse::<bool>("auto.leader.rebalance.enable")?
            .then(|| self.parse::<u64>("leader.imbalance.check.interval.seconds").map(std::time::Duration::from_secs))
            .transpose()?;
        Ok(Some(ClusterSettings { voters: parsed, raft_listen, cluster_id, offsets_replication_factor, leader_rebalance_after }))
    }
}

fn positive<T: PartialOrd + Default + std::fmt::Display + Copy>(value: T, name: &str) -> Result<T, BrokerError> {
    if value > T::default() {
        Ok(value)
    } else {
        Err(BrokerError::Config(format!("{name} must be positive, not {value}")))
    }
}

fn strip_scheme(listener: &str) -> String {
    let first = listener.split(',').next().unwrap_or_default().trim();
    first.split_once("://").map_or(first, |(_, address)| address).to_owned()
}

fn default_of(name: &str) -> Option<&'static str> {
    broker_config(name).and_then(|d| d.default)
}

/// Each topic config's broker-wide value, from the broker properties in `props` (static ones
/// overlaid with dynamic ones): the first of its broker synonyms that is set, converted to the
/// topic config's unit (`log.retention.hours` → ms), else the first synonym with a default, else
/// the topic config's own default (`KafkaConfig.extractLogConfigMap`).
pub fn resolve_topic_defaults(props: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    TOPIC_CONFIGS
        .iter()
        .map(|d| {
            let value = d.synonym.and_then(|primary| {
                let synonyms = broker_synonyms(primary);
                let set = synonyms.iter().find_map(|(name, unit)| props.get(*name).map(|v| (v.as_str(), *unit)));
                let found = set.or_else(|| synonyms.iter().find_map(|(name, unit)| default_of(name).map(|v| (v, *unit))))?;
                Some(match found {
                    (value, 1) => value.trim().to_owned(),
                    (value, unit) => value.trim().parse::<i64>().map_or_else(|_| value.to_owned(), |v| v.saturating_mul(unit).to_string()),
                })
            });
            (d.name.to_owned(), value.unwrap_or_else(|| d.default.to_owned()))
        })
        .collect()
}

/// Checks topic-level configs as Kafka's `LogConfig.validate` does (with the broker's defaults
/// for the rest) and returns them in canonical form. Errors are Kafka's messages, for
/// INVALID_CONFIG: `Unknown topic config name: x`, `Invalid value …`.
pub fn canonical_topic_configs(configs: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    let mut canonical_configs = BTreeMap::new();
    for (name, value) in configs {
        let def = topic_config(name).ok_or_else(|| format!("Unknown topic config name: {name}"))?;
        canonical_configs.insert(name.clone(), canonical(name, def.kind, def.check, value)?);
    }
    let get = |name: &str| canonical_configs.get(name).map(String::as_str).or_else(|| topic_config(name).map(|d| d.default)).unwrap_or("");
    let (min_lag, max_lag) = (get("min.compaction.lag.ms").parse::<i64>().unwrap_or(0), get("max.compaction.lag.ms").parse::<i64>().unwrap_or(i64::MAX));
    if min_lag > max_lag {
        return Err(format!("conflict topic config setting min.compaction.lag.ms ({min_lag}) > max.compaction.lag.ms ({max_lag})"));
    }
    // Kafka refuses tiered storage unless `remote.log.storage.system.enable`; Weir has none.
    if get("remote.storage.enable") == "true" {
        return Err("Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.".into());
    }
    Ok(canonical_configs)
}

/// [`canonical_topic_configs`], for callers that only need to know whether the configs are valid.
pub fn validate_topic_configs(configs: &BTreeMap<String, String>) -> Result<(), BrokerError> {
    canonical_topic_configs(configs).map(drop).map_err(BrokerError::InvalidConfig)
}

/// The group coordinator's settings (Kafka's names and defaults).
#[derive(Debug, Clone, Copy)]
pub struct GroupSettings {
    /// `offsets.topic.num.partitions`
    pub offsets_partitions: i32,
    /// `group.initial.rebalance.delay.ms` (0 for ephemeral brokers unless set)
    pub initial_rebalance_delay_ms: i64,
    /// `group.min.session.timeout.ms` / `group.max.session.timeout.ms`
    pub min_session_timeout_ms: i64,
    pub max_session_timeout_ms: i64,
    /// `offsets.retention.minutes`, in ms
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms`
    pub retention_check_interval_ms: i64,
    /// `offset.metadata.max.bytes`
    pub max_metadata_bytes: usize,
}

/// The transaction coordinator's settings (Kafka's names and defaults).
#[derive(Debug, Clone, Copy)]
pub struct TransactionSettings {
    /// `transaction.state.log.num.partitions`
    pub partitions: i32,
    /// `transaction.state.log.replication.factor` (capped at the number of voters)
    pub replication_factor: i16,
    /// `transaction.state.log.min.isr`: `min.insync.replicas` of `__transaction_state`
    pub min_isr: i32,
    /// `transaction.max.timeout.ms`: the longest `transaction.timeout.ms` a producer may ask for
    pub max_timeout_ms: i32,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`
    pub abort_check_interval_ms: i64,
    /// `transactional.id.expiration.ms`: an idle transactional id is forgotten after this
    pub id_expiration_ms: i64,
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`
    pub expiration_check_interval_ms: i64,
    /// `transaction.partition.verification.enable` (KIP-890): a partition leader accepts a
    /// transactional batch only for a partition its coordinator added to the transaction
    pub verify_partitions: bool,
}

/// How a broker joins a cluster.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// Every voter: node id and the Raft address its peers reach it at (`id@host:port`).
    pub voters: Vec<(i32, String)>,
    /// Where this broker's Raft port binds.
    pub raft_listen: String,
    /// A fixed cluster id, or `None` to take the one the first registration picks.
    pub cluster_id: Option<String>,
    /// `offsets.topic.replication.factor`
    pub offsets_replication_factor: i16,
    /// `auto.leader.rebalance.enable` and `leader.imbalance.check.interval.seconds`: how long a
    /// broker leads a partition before it hands it back to its in-sync preferred replica;
    /// `None` when disabled.
    pub leader_rebalance_after: Option<std::time::Duration>,
}

/// Resolved, typed broker settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub node_id: i32,
    pub data_dir: PathBuf,
    pub listen: String,
    pub advertised: Option<String>,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics: bool,
    pub delete_topic_enable: bool,
    pub max_frame_bytes: usize,
    pub retention_check_interval_ms: u64,
    pub checkpoint_interval_ms: u64,
    pub fsync_acks_all: bool,
    /// `weir.log.drop.behind.bytes` (−1, the default: `None`): see [`LogConfig::drop_behind_bytes`].
    pub drop_behind_bytes: Option<u64>,
    /// `weir.http.listen`: where /metrics, /livez and /readyz are served; `None` (the
    /// default): no HTTP listener, and metrics are not recorded at all.
    pub http_listen: Option<String>,
    /// `weir.metrics.topic.label.limit`: topics with their own `topic` label (then `other`).
    pub metrics_topic_label_limit: usize,
    pub ephemeral: bool,
    /// Cluster mode: `controller.quorum.voters`, `raft.listeners`, `cluster.id`. `None`: a
    /// single-node broker.
    pub cluster: Option<ClusterSettings>,
    pub groups: GroupSettings,
    pub transactions: TransactionSettings,
    /// Each topic config's broker-wide value (explicit or Kafka's default), by topic name.
    pub topic_defaults: BTreeMap<String, String>,
    /// Properties set explicitly (file, environment, flags), by Kafka name.
    pub explicit: BTreeMap<String, String>,
}

/// The codec a topic stores its batches in (`compression.type`); `Producer` keeps the producer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicCompression {
    Producer,
    Uncompressed,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl TopicCompression {
    fn parse(value: &str) -> TopicCompression {
        match value {
            "uncompressed" => TopicCompression::Uncompressed,
            "gzip" => TopicCompression::Gzip,
            "snappy" => TopicCompression::Snappy,
            "lz4" => TopicCompression::Lz4,
            "zstd" => TopicCompression::Zstd,
            _ => TopicCompression::Producer,
        }
    }

    /// The Kafka codec id batches must be stored in, or `None` to keep the producer's.
    pub fn codec(self) -> Option<i16> {
        use weir_protocol::batch::codec;
        match self {
            TopicCompression::Producer => None,
            TopicCompression::Uncompressed => Some(codec::NONE),
            TopicCompression::Gzip => Some(codec::GZIP),
            TopicCompression::Snappy => Some(codec::SNAPPY),
            TopicCompression::Lz4 => Some(codec::LZ4),
            TopicCompression::Zstd => Some(codec::ZSTD),
        }
    }
}

/// A topic's effective settings: broker defaults overlaid with the topic's own overrides.
#[derive(Debug, Clone)]
pub struct TopicSettings {
    pub log: LogConfig,
    pub max_message_bytes: usize,
    pub log_append_time: bool,
    /// `compression.type`
    pub compression: TopicCompression,
    /// `message.timestamp.before.max.ms` / `message.timestamp.after.max.ms`: how far a
    /// CreateTime timestamp may lie behind / ahead of the broker's clock.
    pub timestamp_before_max_ms: i64,
    pub timestamp_after_max_ms: i64,
    /// `cleanup.policy` includes `compact`: every record needs a key.
    pub compacted: bool,
    /// `min.insync.replicas`: acks=all needs this many in-sync replicas (NOT_ENOUGH_REPLICAS).
    pub min_insync_replicas: usize,
}

impl Settings {
    /// These settings with dynamic broker configs (AlterConfigs on the broker resource) layered
    /// over the static ones: `cluster` (resource name `""`), then `per_broker` (this broker's
    /// id). Only the topic defaults change; the rest is fixed at start.
    pub fn with_dynamic(&self, cluster: &BTreeMap<String, String>, per_broker: &BTreeMap<String, String>) -> Settings {
        let mut props = self.explicit.clone();
        props.extend(cluster.iter().map(|(k, v)| (k.clone(), v.clone())));
        props.extend(per_broker.iter().map(|(k, v)| (k.clone(), v.clone())));
        Settings { topic_defaults: resolve_topic_defaults(&props), ..self.clone() }
    }

    /// A topic's effective settings with `overrides` (its own configs) over the broker defaults.
    pub fn topic_settings(&self, overrides: &BTreeMap<String, String>) -> TopicSettings {
        let get = |name: &str| overrides.get(name).or_else(|| self.topic_defaults.get(name)).map(String::as_str).unwrap_or("");
        let int = |name: &str| get(name).parse::<i64>().unwrap_or(0);
        TopicSettings {
            log: LogConfig {
                segment_bytes: int("segment.bytes").max(14) as u64,
                segment_ms: int("segment.ms"),
                retention_ms: int("retention.ms"),
                retention_bytes: int("retention.bytes"),
                index_interval_bytes: int("index.interval.bytes").max(1) as usize,
                segment_index_bytes: int("segment.index.bytes").max(12) as usize,
                drop_behind_bytes: self.drop_behind_bytes,
            },
            max_message_bytes: int("max.message.bytes").max(0) as usize,
            log_append_time: get("message.timestamp.type") == "LogAppendTime",
            compression: TopicCompression::parse(get("compression.type")),
            timestamp_before_max_ms: int("message.timestamp.before.max.ms").max(0),
            timestamp_after_max_ms: int("message.timestamp.after.max.ms").max(0),
            compacted: get("cleanup.policy").split(',').any(|p| p.trim() == "compact"),
            min_insync_replicas: int("min.insync.replicas").max(1) as usize,
        }
    }

    /// Where clients should connect, as advertised in Metadata.
    pub fn advertised_host_port(&self, bound: std::net::SocketAddr) -> (String, i32) {
        let address = self.advertised.clone().unwrap_or_else(|| bound.to_string());
        match address.rsplit_once(':') {
            Some((host, port)) => (host.trim_matches(['[', ']']).to_owned(), port.parse().unwrap_or(bound.port() as i32)),
            None => (address, bound.port() as i32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_and_aliases() {
        let mut config = Config::new();
        config.load_env([
            ("WEIR_LOG_RETENTION_HOURS".to_string(), "2".to_string()),
            ("WEIR_NUM_PARTITIONS".to_string(), "3".to_string()),
            ("HOME".to_string(), "/root".to_string()),
        ]);
        config.set("listeners", "PLAINTEXT://127.0.0.1:0");
        let settings = config.settings().unwrap();
        assert_eq!(settings.num_partitions, 3);
        assert_eq!(settings.topic_defaults["retention.ms"], "7200000");
        assert_eq!(settings.listen, "127.0.0.1:0");
        assert_eq!(settings.data_dir, PathBuf::from("./weir-data"));
        let topic = settings.topic_settings(&BTreeMap::from([("retention.ms".to_string(), "5".to_string())]));
        assert_eq!(topic.log.retention_ms, 5);
        assert_eq!(topic.max_message_bytes, 1048588);
    }

    #[test]
    fn topic_defaults_follow_kafkas_synonyms_and_layers() {
        let props = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
        let defaults = resolve_topic_defaults(&props(&[]));
        assert_eq!(defaults["retention.ms"], "604800000");
        assert_eq!(defaults["flush.ms"], "9223372036854775807");
        assert_eq!(defaults["local.retention.ms"], "-2");
        let defaults = resolve_topic_defaults(&props(&[("log.retention.hours", "1"), ("log.retention.minutes", "2"), ("log.roll.hours", "3")]));
        assert_eq!(defaults["retention.ms"], "120000");
        assert_eq!(defaults["segment.ms"], "10800000");
        let settings = Config::new().with("log.retention.ms", "1000").with("message.max.bytes", "5000").settings().unwrap();
        let dynamic = settings.with_dynamic(&props(&[("log.retention.ms", "2000"), ("log.segment.bytes", "2097152")]), &props(&[("log.retention.ms", "3000")]));
        assert_eq!(dynamic.topic_defaults["retention.ms"], "3000");
        assert_eq!(dynamic.topic_defaults["segment.bytes"], "2097152");
        assert_eq!(dynamic.topic_defaults["max.message.bytes"], "5000");
        assert_eq!(dynamic.topic_settings(&BTreeMap::new()).log.retention_ms, 3000);
    }

    #[test]
    fn topic_configs_are_canonical_and_cross_checked() {
        let configs = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
        let ok = canonical_topic_configs(&configs(&[("cleanup.policy", " compact , delete"), ("preallocate", "TRUE")])).unwrap();
        assert_eq!(ok, configs(&[("cleanup.policy", "compact,delete"), ("preallocate", "true")]));
        assert_eq!(canonical_topic_configs(&configs(&[("x", "1")])).unwrap_err(), "Unknown topic config name: x");
        assert!(canonical_topic_configs(&configs(&[("min.compaction.lag.ms", "10"), ("max.compaction.lag.ms", "5")])).is_err());
        assert!(canonical_topic_configs(&configs(&[("remote.storage.enable", "true")])).is_err());
    }

    #[test]
    fn invalid_values_are_refused() {
        assert!(Config::new().with("num.partitions", "zero").settings().is_err());
        assert!(Config::new().with("log.message.timestamp.type", "Sometimes").settings().is_err());
        let bad = BTreeMap::from([("no.such".to_string(), "1".to_string())]);
        assert!(validate_topic_configs(&bad).is_err());
    }
}
