//! Configuration with Kafka's property names. Sources, later ones winning: built-in defaults
//! (Kafka's), a properties file (`--config`), `WEIR_*` environment variables
//! (`WEIR_LOG_RETENTION_MS` → `log.retention.ms`), then command-line flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use weir_storage::LogConfig;

use crate::BrokerError;

/// How a config value is typed, as DescribeConfigs reports it (Kafka's `ConfigType` ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Long = 5,
    List = 7,
}

/// A setting that exists per topic, with the broker-wide property that supplies its default.
pub struct TopicConfigDef {
    pub name: &'static str,
    pub broker_name: &'static str,
    pub default: &'static str,
    pub kind: ConfigType,
    pub doc: &'static str,
}

const fn def(name: &'static str, broker_name: &'static str, default: &'static str, kind: ConfigType, doc: &'static str) -> TopicConfigDef {
    TopicConfigDef { name, broker_name, default, kind, doc }
}

/// Every topic-level config Weir accepts. Some are stored and reported but have no effect yet;
/// `ARCHITECTURE.md` lists which.
pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    def("cleanup.policy", "log.cleanup.policy", "delete", ConfigType::List, "Retention policy: delete (compaction is stored but not applied yet)."),
    def("compression.type", "compression.type", "producer", ConfigType::String, "Batches are stored as the producer compressed them."),
    def("delete.retention.ms", "log.cleaner.delete.retention.ms", "86400000", ConfigType::Long, "How long tombstones are kept (compaction)."),
    def("file.delete.delay.ms", "log.segment.delete.delay.ms", "60000", ConfigType::Long, "Delay before a deleted segment's files are removed."),
    def("flush.messages", "log.flush.interval.messages", "9223372036854775807", ConfigType::Long, "Messages between forced flushes."),
    def("flush.ms", "log.flush.interval.ms", "9223372036854775807", ConfigType::Long, "Time between forced flushes."),
    def("index.interval.bytes", "log.index.interval.bytes", "4096", ConfigType::Int, "Bytes between offset index entries."),
    def("max.message.bytes", "message.max.bytes", "1048588", ConfigType::Int, "Largest record batch accepted."),
    def("message.timestamp.after.max.ms", "log.message.timestamp.after.max.ms", "3600000", ConfigType::Long, "How far a CreateTime timestamp may lie in the future (else INVALID_TIMESTAMP)."),
    def("message.timestamp.before.max.ms", "log.message.timestamp.before.max.ms", "9223372036854775807", ConfigType::Long, "How far a CreateTime timestamp may lie in the past (else INVALID_TIMESTAMP)."),
    def("message.timestamp.type", "log.message.timestamp.type", "CreateTime", ConfigType::String, "CreateTime or LogAppendTime."),
    def("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms", "0", ConfigType::Long, "Minimum age before compaction."),
    def("min.insync.replicas", "min.insync.replicas", "1", ConfigType::Int, "Replicas that must acknowledge acks=all."),
    def("retention.bytes", "log.retention.bytes", "-1", ConfigType::Long, "Bytes a partition keeps before deleting old segments (-1: no limit)."),
    def("retention.ms", "log.retention.ms", "604800000", ConfigType::Long, "Age after which segments are deleted (-1: forever)."),
    def("segment.bytes", "log.segment.bytes", "1073741824", ConfigType::Int, "Size of a segment file."),
    def("segment.index.bytes", "log.index.size.max.bytes", "10485760", ConfigType::Int, "Size of a segment's index files."),
    def("segment.ms", "log.roll.ms", "604800000", ConfigType::Long, "Age after which the active segment is rolled."),
    def("unclean.leader.election.enable", "unclean.leader.election.enable", "false", ConfigType::Boolean, "Allow out-of-sync replicas to lead."),
];

/// Broker-only settings (no topic equivalent), with Kafka's defaults.
pub const BROKER_CONFIGS: &[(&str, &str, ConfigType)] = &[
    ("node.id", "1", ConfigType::Int),
    ("log.dirs", "./weir-data", ConfigType::String),
    ("listeners", "127.0.0.1:9092", ConfigType::String),
    ("advertised.listeners", "", ConfigType::String),
    ("num.partitions", "1", ConfigType::Int),
    ("default.replication.factor", "1", ConfigType::Int),
    ("auto.create.topics.enable", "true", ConfigType::Boolean),
    ("delete.topic.enable", "true", ConfigType::Boolean),
    ("socket.request.max.bytes", "104857600", ConfigType::Int),
    ("log.retention.check.interval.ms", "300000", ConfigType::Long),
    ("log.flush.offset.checkpoint.interval.ms", "60000", ConfigType::Long),
    ("weir.acks.all.fsync", "true", ConfigType::Boolean),
    ("group.initial.rebalance.delay.ms", "3000", ConfigType::Int),
    ("group.min.session.timeout.ms", "6000", ConfigType::Int),
    ("group.max.session.timeout.ms", "1800000", ConfigType::Int),
    ("offsets.topic.num.partitions", "50", ConfigType::Int),
    ("offsets.retention.minutes", "10080", ConfigType::Int),
    ("offsets.retention.check.interval.ms", "600000", ConfigType::Long),
    ("offset.metadata.max.bytes", "4096", ConfigType::Int),
];

/// Kafka's alternative spellings of the same setting, lowest priority first.
const ALIASES: &[(&str, &str, i64)] = &[
    ("log.retention.hours", "log.retention.ms", 3_600_000),
    ("log.retention.minutes", "log.retention.ms", 60_000),
    ("log.roll.hours", "log.roll.ms", 3_600_000),
    ("log.dir", "log.dirs", 0),
];

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

    /// Sets a property by its Kafka name (`log.retention.ms`, `num.partitions`, …).
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Config {
        let value = value.into();
        match ALIASES.iter().find(|(alias, _, _)| *alias == name) {
            Some((_, target, 0)) => {
                self.props.insert((*target).to_owned(), value);
            }
            Some((_, target, unit)) => {
                let converted = value.trim().parse::<i64>().map(|v| (v.saturating_mul(*unit)).to_string()).unwrap_or(value);
                self.props.insert((*target).to_owned(), converted);
            }
            None => {
                self.props.insert(name.to_owned(), value);
            }
        }
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

    /// Resolves and checks everything once, at start-up.
    pub fn settings(&self) -> Result<Settings, BrokerError> {
        for (name, _) in self.explicit() {
            if default_of(name).is_none() {
                tracing::warn!(config = name, "unknown config ignored");
            }
        }
        let listen = strip_scheme(self.value("listeners").unwrap_or_default());
        let advertised = match self.value("advertised.listeners") {
            Some(a) if !a.is_empty() => Some(strip_scheme(a)),
            _ => None,
        };
        let topic_defaults: BTreeMap<String, String> = TOPIC_CONFIGS
            .iter()
            .map(|d| (d.name.to_owned(), self.value(d.broker_name).unwrap_or(d.default).to_owned()))
            .collect();
        validate_topic_configs(&topic_defaults)?;
        let data_dir = PathBuf::from(self.value("log.dirs").unwrap_or_default().split(',').next().unwrap_or("weir-data"));
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
            ephemeral: self.ephemeral,
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
            topic_defaults,
            explicit: self.props.clone(),
        })
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
    TOPIC_CONFIGS
        .iter()
        .find(|d| d.broker_name == name)
        .map(|d| d.default)
        .or_else(|| BROKER_CONFIGS.iter().find(|(n, _, _)| *n == name).map(|(_, d, _)| *d))
}

/// Checks topic-level values (names must be topic config names).
pub fn validate_topic_configs(configs: &BTreeMap<String, String>) -> Result<(), BrokerError> {
    for (name, value) in configs {
        let def = TOPIC_CONFIGS
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| BrokerError::InvalidConfig(format!("unknown topic config {name}")))?;
        let bad = || BrokerError::InvalidConfig(format!("{name}={value} is not valid"));
        match def.kind {
            ConfigType::Int => {
                value.parse::<i32>().map_err(|_| bad())?;
            }
            ConfigType::Long => {
                value.parse::<i64>().map_err(|_| bad())?;
            }
            ConfigType::Boolean => {
                value.parse::<bool>().map_err(|_| bad())?;
            }
            ConfigType::String | ConfigType::List => {}
        }
        let ok = match name.as_str() {
            "message.timestamp.type" => value == "CreateTime" || value == "LogAppendTime",
            "cleanup.policy" => value.split(',').all(|p| matches!(p.trim(), "delete" | "compact")),
            "compression.type" => matches!(value.as_str(), "producer" | "uncompressed" | "gzip" | "snappy" | "lz4" | "zstd"),
            "segment.bytes" => value.parse::<i64>().is_ok_and(|v| v >= 14),
            "max.message.bytes" | "segment.index.bytes" | "index.interval.bytes" => value.parse::<i64>().is_ok_and(|v| v > 0),
            "segment.ms" => value.parse::<i64>().is_ok_and(|v| v > 0),
            "retention.ms" | "retention.bytes" => value.parse::<i64>().is_ok_and(|v| v >= -1),
            "min.insync.replicas" => value.parse::<i64>().is_ok_and(|v| v >= 1),
            _ => true,
        };
        if !ok {
            return Err(bad());
        }
    }
    Ok(())
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
    pub ephemeral: bool,
    pub groups: GroupSettings,
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
}

impl Settings {
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
            },
            max_message_bytes: int("max.message.bytes").max(0) as usize,
            log_append_time: get("message.timestamp.type") == "LogAppendTime",
            compression: TopicCompression::parse(get("compression.type")),
            timestamp_before_max_ms: int("message.timestamp.before.max.ms").max(0),
            timestamp_after_max_ms: int("message.timestamp.after.max.ms").max(0),
            compacted: get("cleanup.policy").split(',').any(|p| p.trim() == "compact"),
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
    fn invalid_values_are_refused() {
        assert!(Config::new().with("num.partitions", "zero").settings().is_err());
        assert!(Config::new().with("log.message.timestamp.type", "Sometimes").settings().is_err());
        let bad = BTreeMap::from([("no.such".to_string(), "1".to_string())]);
        assert!(validate_topic_configs(&bad).is_err());
    }
}
