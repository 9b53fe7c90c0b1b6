//! Every topic config and the broker configs Weir knows, with Kafka 4.0's names, types,
//! defaults, valid values and broker synonyms (`LogConfig`, `ServerTopicConfigSynonyms`,
//! `DynamicBrokerConfig`, the `*Configs` classes of Kafka's `server` module). Written once:
//! validation, DescribeConfigs, CreateTopics and the alter APIs all read these tables.
//!
//! `applied` marks what Weir acts on; everything else is accepted, validated, stored and
//! reported but has no effect (ARCHITECTURE.md lists them).

/// How a value is typed, with Kafka's `DescribeConfigsResponse.ConfigType` ids (KIP-569).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
    Class = 8,
    Password = 9,
}

/// A value's constraint beyond its type (Kafka's `ConfigDef.Validator`s).
#[derive(Clone, Copy, Debug)]
pub enum Check {
    Any,
    /// `Range.atLeast`
    AtLeast(i64),
    /// `Range.between`, inclusive
    Between(i64, i64),
    /// `ValidString.in` (case-sensitive)
    OneOf(&'static [&'static str]),
    /// `ValidList.in`: every element of the list is one of these
    EachOneOf(&'static [&'static str]),
    /// gzip's level validator: 1..=9 or -1
    GzipLevel,
    /// `ThrottledReplicaListValidator`: `*` or `partition:broker` pairs
    ThrottledReplicas,
}

/// A topic-level config (`TopicConfig`), with the broker property that supplies its default.
pub struct TopicConfigDef {
    pub name: &'static str,
    pub kind: ConfigType,
    /// Kafka's `LogConfig` default, as DescribeConfigs shows it when nothing overrides it.
    pub default: &'static str,
    pub check: Check,
    /// The broker config of highest priority that sets the default (`ServerTopicConfigSynonyms`).
    pub synonym: Option<&'static str>,
    /// Whether Weir acts on the value (else it is accepted and reported only).
    pub applied: bool,
    pub doc: &'static str,
}

/// Whether and where a broker config can be changed at runtime (`DynamicBrokerConfig`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dynamic {
    /// Only in the properties file / environment / flags (read-only in DescribeConfigs).
    No,
    /// Per broker id only (`listeners`, security configs).
    PerBroker,
    /// Per broker id or as the cluster default (resource name `""`).
    ClusterWide,
}

/// A broker config (`KafkaConfig`).
pub struct BrokerConfigDef {
    pub name: &'static str,
    pub kind: ConfigType,
    /// `None`: no default (DescribeConfigs shows a null value).
    pub default: Option<&'static str>,
    pub check: Check,
    pub dynamic: Dynamic,
    pub applied: bool,
    pub doc: &'static str,
}

const COMPRESSION_TYPES: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
const CLEANUP_POLICIES: &[&str] = &["compact", "delete"];
const TIMESTAMP_TYPES: &[&str] = &["CreateTime", "LogAppendTime"];
const LONG_MAX: &str = "9223372036854775807";
const INT_MAX: &str = "2147483647";

const fn topic(
    name: &'static str,
    kind: ConfigType,
    default: &'static str,
    check: Check,
    synonym: Option<&'static str>,
    applied: bool,
    doc: &'static str,
) -> TopicConfigDef {
    TopicConfigDef { name, kind, default, check, synonym, applied, doc }
}

use Check::*;
use ConfigType::{Boolean, Class, Double, Int, List, Long, Password, Short, String as Str};

/// Every topic config Kafka 4.0 defines (`LogConfig`), sorted by name.
pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    topic("cleanup.policy", List, "delete", EachOneOf(CLEANUP_POLICIES), Some("log.cleanup.policy"), true,
        "delete: old segments are removed by retention; compact: keep the latest value per key. Weir applies delete; with compact every record must have a key, but segments are not compacted yet."),
    topic("compression.gzip.level", Int, "-1", GzipLevel, Some("compression.gzip.level"), false,
        "Level used when compression.type is gzip (1-9, or -1 for the codec's default)."),
    topic("compression.lz4.level", Int, "9", Between(1, 17), Some("compression.lz4.level"), false,
        "Level used when compression.type is lz4."),
    topic("compression.type", Str, "producer", OneOf(COMPRESSION_TYPES), Some("compression.type"), true,
        "Codec batches are stored in: producer keeps the producer's, uncompressed/gzip/snappy/lz4/zstd recompress."),
    topic("compression.zstd.level", Int, "3", Between(-131072, 22), Some("compression.zstd.level"), false,
        "Level used when compression.type is zstd."),
    topic("delete.retention.ms", Long, "86400000", AtLeast(0), Some("log.cleaner.delete.retention.ms"), false,
        "How long tombstones stay in a compacted topic."),
    topic("file.delete.delay.ms", Long, "60000", AtLeast(0), Some("log.segment.delete.delay.ms"), false,
        "Wait before a deleted segment's files are removed."),
    topic("flush.messages", Long, LONG_MAX, AtLeast(1), Some("log.flush.interval.messages"), false,
        "Force an fsync after this many messages."),
    topic("flush.ms", Long, LONG_MAX, AtLeast(0), Some("log.flush.interval.ms"), false,
        "Force an fsync after this much time."),
    topic("follower.replication.throttled.replicas", List, "", ThrottledReplicas, None, false,
        "Replicas whose follower-side replication is throttled: partition:broker pairs or *."),
    topic("index.interval.bytes", Int, "4096", AtLeast(0), Some("log.index.interval.bytes"), true,
        "Bytes of log between offset index entries."),
    topic("leader.replication.throttled.replicas", List, "", ThrottledReplicas, None, false,
        "Replicas whose leader-side replication is throttled: partition:broker pairs or *."),
    topic("local.retention.bytes", Long, "-2", AtLeast(-2), Some("log.local.retention.bytes"), false,
        "Local bytes kept when tiered storage is on (-2: retention.bytes)."),
    topic("local.retention.ms", Long, "-2", AtLeast(-2), Some("log.local.retention.ms"), false,
        "Local time kept when tiered storage is on (-2: retention.ms)."),
    topic("max.compaction.lag.ms", Long, LONG_MAX, AtLeast(1), Some("log.cleaner.max.compaction.lag.ms"), false,
        "Longest a record stays uncompacted."),
    topic("max.message.bytes", Int, "1048588", AtLeast(0), Some("message.max.bytes"), true,
        "Largest record batch accepted (MESSAGE_TOO_LARGE beyond)."),
    topic("message.downconversion.enable", Boolean, "true", Any, Some("log.message.downconversion.enable"), false,
        "Deprecated no-op since Kafka 4.0 (no down-conversion)."),
    topic("message.timestamp.after.max.ms", Long, "3600000", AtLeast(0), Some("log.message.timestamp.after.max.ms"), true,
        "How far a CreateTime timestamp may lie in the future (INVALID_TIMESTAMP beyond)."),
    topic("message.timestamp.before.max.ms", Long, LONG_MAX, AtLeast(0), Some("log.message.timestamp.before.max.ms"), true,
        "How far a CreateTime timestamp may lie in the past (INVALID_TIMESTAMP beyond)."),
    topic("message.timestamp.type", Str, "CreateTime", OneOf(TIMESTAMP_TYPES), Some("log.message.timestamp.type"), true,
        "CreateTime keeps the producer's timestamps; LogAppendTime stamps batches with the broker clock."),
    topic("min.cleanable.dirty.ratio", Double, "0.5", Between(0, 1), Some("log.cleaner.min.cleanable.ratio"), false,
        "Dirty fraction of a log that triggers compaction."),
    topic("min.compaction.lag.ms", Long, "0", AtLeast(0), Some("log.cleaner.min.compaction.lag.ms"), false,
        "Shortest time a record stays uncompacted."),
    topic("min.insync.replicas", Int, "1", AtLeast(1), Some("min.insync.replicas"), true,
        "In-sync replicas acks=all needs (NOT_ENOUGH_REPLICAS below it; cluster mode)."),
    topic("preallocate", Boolean, "false", Any, Some("log.preallocate"), false,
        "Preallocate segment files (Weir always pre-sizes them sparse)."),
    topic("remote.log.copy.disable", Boolean, "false", Any, None, false,
        "Stop copying segments to tiered storage."),
    topic("remote.log.delete.on.disable", Boolean, "false", Any, None, false,
        "Delete tiered data when tiered storage is turned off."),
    topic("remote.storage.enable", Boolean, "false", Any, None, false,
        "Tiered storage for this topic; refused while tiered storage is off in the broker, as Kafka does."),
    topic("retention.bytes", Long, "-1", Any, Some("log.retention.bytes"), true,
        "Bytes a partition keeps before its oldest segments are deleted (-1: no limit)."),
    topic("retention.ms", Long, "604800000", AtLeast(-1), Some("log.retention.ms"), true,
        "Age after which segments are deleted (-1: forever)."),
    topic("segment.bytes", Int, "1073741824", AtLeast(1_048_576), Some("log.segment.bytes"), true,
        "Size of a segment file."),
    topic("segment.index.bytes", Int, "10485760", AtLeast(4), Some("log.index.size.max.bytes"), true,
        "Size of a segment's index files."),
    topic("segment.jitter.ms", Long, "0", AtLeast(0), Some("log.roll.jitter.ms"), false,
        "Random jitter subtracted from segment.ms."),
    topic("segment.ms", Long, "604800000", AtLeast(1), Some("log.roll.ms"), true,
        "Age after which the active segment is rolled."),
    topic("unclean.leader.election.enable", Boolean, "false", Any, Some("unclean.leader.election.enable"), false,
        "Let an out-of-sync replica become leader."),
];

/// The broker configs that resolve a topic default, with their unit in ms (Kafka's
/// `DynamicBrokerConfig.brokerConfigSynonyms` and `KafkaConfig`'s `*Millis` getters), highest
/// priority first. Configs not listed are their own only synonym.
pub const BROKER_SYNONYMS: &[&[(&str, i64)]] = &[
    &[("log.retention.ms", 1), ("log.retention.minutes", 60_000), ("log.retention.hours", 3_600_000)],
    &[("log.roll.ms", 1), ("log.roll.hours", 3_600_000)],
    &[("log.roll.jitter.ms", 1), ("log.roll.jitter.hours", 3_600_000)],
    &[("log.flush.interval.ms", 1), ("log.flush.scheduler.interval.ms", 1)],
];

const fn broker(
    name: &'static str,
    kind: ConfigType,
    default: Option<&'static str>,
    check: Check,
    dynamic: Dynamic,
    applied: bool,
    doc: &'static str,
) -> BrokerConfigDef {
    BrokerConfigDef { name, kind, default, check, dynamic, applied, doc }
}

use Dynamic::{ClusterWide as CW, No as RO, PerBroker as PB};

const PROTOCOLS: &[&str] = &["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

/// Broker configs (Kafka 4.0 `KafkaConfig`; defaults are Kafka's except where Weir's differ:
/// `node.id`, `listeners`, `log.dir`, `process.roles`), sorted by name. `weir.*` are Weir's own.
pub const BROKER_CONFIGS: &[BrokerConfigDef] = &[
    broker("advertised.listeners", Str, None, Any, PB, true, "Address given to clients in Metadata (default: the bound listener)."),
    broker("alter.config.policy.class.name", Class, None, Any, RO, false, "Policy class for AlterConfigs."),
    broker("authorizer.class.name", Str, Some(""), Any, RO, false, "Authorizer class (none: everything allowed)."),
    broker("auto.create.topics.enable", Boolean, Some("true"), Any, RO, true, "Create unknown topics on Metadata and Produce."),
    broker("auto.leader.rebalance.enable", Boolean, Some("true"), Any, RO, true, "Move leadership back to preferred replicas (cluster mode: a leader hands a partition to its in-sync preferred replica after leader.imbalance.check.interval.seconds)."),
    broker("background.threads", Int, Some("10"), AtLeast(1), CW, false, "Threads for background tasks."),
    broker("broker.heartbeat.interval.ms", Int, Some("2000"), Any, RO, false, "Broker heartbeat interval to the controller."),
    broker("broker.rack", Str, None, Any, RO, false, "Rack of the broker."),
    broker("broker.session.timeout.ms", Int, Some("9000"), Any, RO, false, "Broker session timeout at the controller."),
    broker("cluster.id", Str, Some(""), Any, RO, true, "Weir: the cluster id (22 characters of URL-safe base64, as kafka-storage.sh random-uuid prints). Empty: the first broker to register picks one."),
    broker("compression.gzip.level", Int, Some("-1"), GzipLevel, CW, false, "Default for the topic config compression.gzip.level."),
    broker("compression.lz4.level", Int, Some("9"), Between(1, 17), CW, false, "Default for the topic config compression.lz4.level."),
    broker("compression.type", Str, Some("producer"), OneOf(COMPRESSION_TYPES), CW, true, "Default for the topic config compression.type."),
    broker("compression.zstd.level", Int, Some("3"), Between(-131072, 22), CW, false, "Default for the topic config compression.zstd.level."),
    broker("connections.max.idle.ms", Long, Some("600000"), Any, RO, false, "Close idle connections after this long."),
    broker("controlled.shutdown.enable", Boolean, Some("true"), Any, RO, false, "Hand leadership over before shutting down."),
    broker("controller.listener.names", Str, None, Any, RO, false, "Listeners used by the controller."),
    broker("controller.quorum.append.linger.ms", Int, Some("25"), Any, RO, false, "KRaft append linger."),
    broker("controller.quorum.bootstrap.servers", List, Some(""), Any, RO, false, "KRaft controllers to bootstrap from."),
    broker("controller.quorum.election.backoff.max.ms", Int, Some("1000"), Any, RO, false, "KRaft election backoff."),
    broker("controller.quorum.election.timeout.ms", Int, Some("1000"), Any, RO, false, "KRaft election timeout."),
    broker("controller.quorum.fetch.timeout.ms", Int, Some("2000"), Any, RO, false, "KRaft fetch timeout."),
    broker("controller.quorum.request.timeout.ms", Int, Some("2000"), Any, RO, false, "KRaft request timeout."),
    broker("controller.quorum.retry.backoff.ms", Int, Some("20"), Any, RO, false, "KRaft retry backoff."),
    broker("controller.quorum.voters", List, Some(""), Any, RO, true, "Raft voters of the cluster, id@host:port,… (--voters): every broker's node id and the Raft address its peers reach it at. Empty: a single-node broker."),
    broker("create.topic.policy.class.name", Class, None, Any, RO, false, "Policy class for CreateTopics."),
    broker("default.replication.factor", Int, Some("1"), Any, RO, true, "Replication factor of topics created with -1 (at most the number of brokers)."),
    broker("delete.records.purgatory.purge.interval.requests", Int, Some("1"), Any, RO, false, "DeleteRecords purgatory purge interval."),
    broker("delete.topic.enable", Boolean, Some("true"), Any, RO, true, "Allow DeleteTopics."),
    broker("early.start.listeners", Str, None, Any, RO, false, "Listeners started before authorizer initialisation."),
    broker("fetch.max.bytes", Int, Some("57671680"), AtLeast(1024), RO, false, "Most bytes a fetch response holds."),
    broker("fetch.purgatory.purge.interval.requests", Int, Some("1000"), Any, RO, false, "Fetch purgatory purge interval."),
    broker("follower.replication.throttled.rate", Long, Some(LONG_MAX), AtLeast(0), CW, false, "Follower replication throttle, bytes/s."),
    broker("group.consumer.heartbeat.interval.ms", Int, Some("5000"), AtLeast(1), RO, false, "KIP-848 consumer heartbeat interval."),
    broker("group.consumer.max.session.timeout.ms", Int, Some("60000"), AtLeast(1), RO, false, "KIP-848 largest session timeout."),
    broker("group.consumer.max.size", Int, Some(INT_MAX), AtLeast(1), RO, false, "KIP-848 largest group."),
    broker("group.consumer.min.session.timeout.ms", Int, Some("45000"), AtLeast(1), RO, false, "KIP-848 smallest session timeout."),
    broker("group.consumer.session.timeout.ms", Int, Some("45000"), AtLeast(1), RO, false, "KIP-848 session timeout."),
    broker("group.coordinator.rebalance.protocols", List, Some("classic,consumer"), EachOneOf(&["classic", "consumer", "share"]), RO, false, "Group protocols served (Weir: classic only)."),
    broker("group.coordinator.threads", Int, Some("1"), AtLeast(1), RO, false, "Group coordinator threads."),
    broker("group.initial.rebalance.delay.ms", Int, Some("3000"), Any, RO, true, "Wait for more members before a new group's first rebalance (0 for --ephemeral unless set)."),
    broker("group.max.session.timeout.ms", Int, Some("1800000"), Any, RO, true, "Largest consumer session timeout allowed."),
    broker("group.max.size", Int, Some(INT_MAX), AtLeast(1), RO, false, "Largest classic group."),
    broker("group.min.session.timeout.ms", Int, Some("6000"), Any, RO, true, "Smallest consumer session timeout allowed."),
    broker("initial.broker.registration.timeout.ms", Int, Some("60000"), Any, RO, false, "Wait for registration at the controller."),
    broker("inter.broker.listener.name", Str, None, Any, RO, false, "Listener used between brokers."),
    broker("kafka.metrics.polling.interval.secs", Int, Some("10"), AtLeast(1), RO, false, "Metrics polling interval."),
    broker("kafka.metrics.reporters", List, Some(""), Any, RO, false, "Yammer metrics reporters."),
    broker("leader.imbalance.check.interval.seconds", Long, Some("300"), AtLeast(1), RO, true, "How long a broker leads a partition before handing it back to its preferred replica."),
    broker("leader.imbalance.per.broker.percentage", Int, Some("10"), Any, RO, false, "Allowed leader imbalance (Weir moves every partition back, whatever the imbalance)."),
    broker("leader.replication.throttled.rate", Long, Some(LONG_MAX), AtLeast(0), CW, false, "Leader replication throttle, bytes/s."),
    broker("listener.security.protocol.map", Str, Some("SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT"), Any, PB, false, "Listener name to security protocol."),
    broker("listeners", Str, Some("127.0.0.1:9092"), Any, PB, true, "Listen address (--listen); a PLAINTEXT:// prefix is accepted. Applied at start only."),
    broker("log.cleaner.backoff.ms", Long, Some("15000"), AtLeast(0), CW, false, "Cleaner sleep when there is nothing to clean."),
    broker("log.cleaner.dedupe.buffer.size", Long, Some("134217728"), Any, CW, false, "Cleaner deduplication memory."),
    broker("log.cleaner.delete.retention.ms", Long, Some("86400000"), AtLeast(0), CW, false, "Default for the topic config delete.retention.ms."),
    broker("log.cleaner.enable", Boolean, Some("true"), Any, RO, false, "Run the log cleaner (Weir has none yet)."),
    broker("log.cleaner.io.buffer.load.factor", Double, Some("0.9"), Any, CW, false, "Cleaner dedupe buffer load factor."),
    broker("log.cleaner.io.buffer.size", Int, Some("524288"), AtLeast(0), CW, false, "Cleaner I/O buffer size."),
    broker("log.cleaner.io.max.bytes.per.second", Double, Some("1.7976931348623157E308"), Any, CW, false, "Cleaner I/O throttle."),
    broker("log.cleaner.max.compaction.lag.ms", Long, Some(LONG_MAX), AtLeast(1), CW, false, "Default for the topic config max.compaction.lag.ms."),
    broker("log.cleaner.min.cleanable.ratio", Double, Some("0.5"), Between(0, 1), CW, false, "Default for the topic config min.cleanable.dirty.ratio."),
    broker("log.cleaner.min.compaction.lag.ms", Long, Some("0"), AtLeast(0), CW, false, "Default for the topic config min.compaction.lag.ms."),
    broker("log.cleaner.threads", Int, Some("1"), AtLeast(0), CW, false, "Cleaner threads."),
    broker("log.cleanup.policy", List, Some("delete"), EachOneOf(CLEANUP_POLICIES), CW, true, "Default for the topic config cleanup.policy."),
    broker("log.dir", Str, Some("./weir-data"), Any, RO, true, "Data directory, used when log.dirs is not set."),
    broker("log.dir.failure.timeout.ms", Long, Some("30000"), AtLeast(1), RO, false, "Shut down when a failed log dir is not reported in time."),
    broker("log.dirs", Str, None, Any, RO, true, "Data directories (--data-dir); Weir uses the first."),
    broker("log.flush.interval.messages", Long, Some(LONG_MAX), AtLeast(1), CW, false, "Default for the topic config flush.messages."),
    broker("log.flush.interval.ms", Long, None, Any, CW, false, "Default for the topic config flush.ms."),
    broker("log.flush.offset.checkpoint.interval.ms", Int, Some("60000"), AtLeast(0), RO, true, "Background flush and recovery-point checkpoint interval."),
    broker("log.flush.scheduler.interval.ms", Long, Some(LONG_MAX), Any, RO, false, "Flusher interval; also the default of flush.ms."),
    broker("log.flush.start.offset.checkpoint.interval.ms", Int, Some("60000"), AtLeast(0), RO, false, "Log start offset checkpoint interval."),
    broker("log.index.interval.bytes", Int, Some("4096"), AtLeast(0), CW, true, "Default for the topic config index.interval.bytes."),
    broker("log.index.size.max.bytes", Int, Some("10485760"), AtLeast(4), CW, true, "Default for the topic config segment.index.bytes."),
    broker("log.local.retention.bytes", Long, Some("-2"), AtLeast(-2), CW, false, "Default for the topic config local.retention.bytes."),
    broker("log.local.retention.ms", Long, Some("-2"), AtLeast(-2), CW, false, "Default for the topic config local.retention.ms."),
    broker("log.message.downconversion.enable", Boolean, Some("true"), Any, CW, false, "Default for the topic config message.downconversion.enable (a no-op)."),
    broker("log.message.timestamp.after.max.ms", Long, Some("3600000"), AtLeast(0), CW, true, "Default for the topic config message.timestamp.after.max.ms."),
    broker("log.message.timestamp.before.max.ms", Long, Some(LONG_MAX), AtLeast(0), CW, true, "Default for the topic config message.timestamp.before.max.ms."),
    broker("log.message.timestamp.type", Str, Some("CreateTime"), OneOf(TIMESTAMP_TYPES), CW, true, "Default for the topic config message.timestamp.type."),
    broker("log.preallocate", Boolean, Some("false"), Any, CW, false, "Default for the topic config preallocate."),
    broker("log.retention.bytes", Long, Some("-1"), Any, CW, true, "Default for the topic config retention.bytes."),
    broker("log.retention.check.interval.ms", Long, Some("300000"), AtLeast(1), RO, true, "How often retention runs."),
    broker("log.retention.hours", Int, Some("168"), Any, RO, true, "Default retention in hours (below log.retention.minutes and .ms)."),
    broker("log.retention.minutes", Int, None, Any, RO, true, "Default retention in minutes (below log.retention.ms)."),
    broker("log.retention.ms", Long, None, Any, CW, true, "Default for the topic config retention.ms."),
    broker("log.roll.hours", Int, Some("168"), AtLeast(1), RO, true, "Default segment age in hours (below log.roll.ms)."),
    broker("log.roll.jitter.hours", Int, Some("0"), AtLeast(0), RO, false, "Default segment jitter in hours."),
    broker("log.roll.jitter.ms", Long, None, Any, CW, false, "Default for the topic config segment.jitter.ms."),
    broker("log.roll.ms", Long, None, Any, CW, true, "Default for the topic config segment.ms."),
    broker("log.segment.bytes", Int, Some("1073741824"), AtLeast(1_048_576), CW, true, "Default for the topic config segment.bytes."),
    broker("log.segment.delete.delay.ms", Long, Some("60000"), AtLeast(0), CW, false, "Default for the topic config file.delete.delay.ms."),
    broker("max.connection.creation.rate", Int, Some(INT_MAX), AtLeast(0), CW, false, "Largest connection rate per listener."),
    broker("max.connections", Int, Some(INT_MAX), AtLeast(0), CW, false, "Most connections."),
    broker("max.connections.per.ip", Int, Some(INT_MAX), AtLeast(0), CW, false, "Most connections per IP."),
    broker("max.connections.per.ip.overrides", Str, Some(""), Any, CW, false, "Per-IP connection limits."),
    broker("max.incremental.fetch.session.cache.slots", Int, Some("1000"), AtLeast(0), RO, false, "Fetch sessions cached (Weir offers none)."),
    broker("max.request.partition.size.limit", Int, Some("2000"), AtLeast(1), RO, false, "Most partitions in a share-fetch request."),
    broker("message.max.bytes", Int, Some("1048588"), AtLeast(0), CW, true, "Default for the topic config max.message.bytes."),
    broker("metadata.log.dir", Str, None, Any, RO, false, "KRaft metadata log directory."),
    broker("metadata.log.max.record.bytes.between.snapshots", Long, Some("20971520"), AtLeast(1), RO, false, "KRaft snapshot interval in bytes."),
    broker("metadata.log.segment.bytes", Int, Some("1073741824"), AtLeast(12), RO, false, "KRaft metadata segment size."),
    broker("metadata.log.segment.ms", Long, Some("604800000"), Any, RO, false, "KRaft metadata segment age."),
    broker("metadata.max.retention.bytes", Long, Some("104857600"), Any, RO, false, "KRaft metadata retention bytes."),
    broker("metadata.max.retention.ms", Long, Some("604800000"), Any, RO, false, "KRaft metadata retention time."),
    broker("metric.reporters", List, Some("org.apache.kafka.common.metrics.JmxReporter"), Any, CW, false, "Metrics reporters."),
    broker("metrics.num.samples", Int, Some("2"), AtLeast(1), RO, false, "Metrics samples."),
    broker("metrics.recording.level", Str, Some("INFO"), Any, RO, false, "Metrics recording level."),
    broker("metrics.sample.window.ms", Long, Some("30000"), AtLeast(1), RO, false, "Metrics sample window."),
    broker("min.insync.replicas", Int, Some("1"), AtLeast(1), CW, true, "Default for the topic config min.insync.replicas."),
    broker("node.id", Int, Some("1"), Any, RO, true, "Broker id (--node-id)."),
    broker("num.io.threads", Int, Some("8"), AtLeast(1), CW, false, "Request handler threads (Weir uses async tasks)."),
    broker("num.network.threads", Int, Some("3"), AtLeast(1), CW, false, "Network threads (Weir uses async tasks)."),
    broker("num.partitions", Int, Some("1"), AtLeast(1), RO, true, "Partitions of auto-created topics and of CreateTopics with -1."),
    broker("num.recovery.threads.per.data.dir", Int, Some("2"), AtLeast(1), CW, false, "Log recovery threads."),
    broker("num.replica.alter.log.dirs.threads", Int, None, Any, RO, false, "Threads moving replicas between log dirs."),
    broker("num.replica.fetchers", Int, Some("1"), Any, CW, false, "Replica fetcher threads."),
    broker("offset.metadata.max.bytes", Int, Some("4096"), Any, RO, true, "Largest commit metadata string."),
    broker("offsets.commit.timeout.ms", Int, Some("5000"), AtLeast(1), RO, false, "Offset commit timeout."),
    broker("offsets.load.buffer.size", Int, Some("5242880"), AtLeast(1), RO, false, "Buffer for loading offsets."),
    broker("offsets.retention.check.interval.ms", Long, Some("600000"), AtLeast(1), RO, true, "How often committed offsets expire."),
    broker("offsets.retention.minutes", Int, Some("10080"), AtLeast(1), RO, true, "Committed offsets of an empty group expire after this."),
    broker("offsets.topic.compression.codec", Int, Some("0"), Any, RO, false, "Codec of __consumer_offsets."),
    broker("offsets.topic.num.partitions", Int, Some("50"), AtLeast(1), RO, true, "Partitions of __consumer_offsets."),
    broker("offsets.topic.replication.factor", Short, Some("3"), AtLeast(1), RO, true, "Replication of __consumer_offsets (capped at the number of brokers)."),
    broker("offsets.topic.segment.bytes", Int, Some("104857600"), AtLeast(1), RO, false, "Segment size of __consumer_offsets."),
    broker("principal.builder.class", Class, Some("org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder"), Any, PB, false, "Principal builder."),
    broker("process.roles", List, Some("broker,controller"), EachOneOf(&["broker", "controller"]), RO, false, "KRaft roles (Weir: a combined single node)."),
    broker("producer.id.expiration.check.interval.ms", Int, Some("600000"), AtLeast(1), RO, false, "Producer id expiration check interval."),
    broker("producer.id.expiration.ms", Int, Some("86400000"), AtLeast(1), CW, false, "Idle producer ids expire after this."),
    broker("queued.max.request.bytes", Long, Some("-1"), Any, RO, false, "Bytes of queued requests."),
    broker("queued.max.requests", Int, Some("500"), AtLeast(1), RO, false, "Queued requests."),
    broker("quota.window.num", Int, Some("11"), AtLeast(1), RO, false, "Quota samples."),
    broker("quota.window.size.seconds", Int, Some("1"), AtLeast(1), RO, false, "Quota sample size."),
    broker("raft.listeners", Str, Some(""), Any, RO, true, "Weir: HOST:PORT the Raft port binds (--raft-listen). Default: this broker's address in controller.quorum.voters."),
    broker("remote.log.storage.system.enable", Boolean, Some("false"), Any, RO, false, "Tiered storage in the broker (Weir: none)."),
    broker("replica.alter.log.dirs.io.max.bytes.per.second", Long, Some(LONG_MAX), AtLeast(0), CW, false, "Log dir move throttle, bytes/s."),
    broker("replica.fetch.backoff.ms", Int, Some("1000"), AtLeast(0), RO, false, "Replica fetch backoff."),
    broker("replica.fetch.max.bytes", Int, Some("1048576"), AtLeast(0), RO, false, "Replica fetch size per partition."),
    broker("replica.fetch.min.bytes", Int, Some("1"), Any, RO, false, "Replica fetch minimum."),
    broker("replica.fetch.response.max.bytes", Int, Some("10485760"), AtLeast(0), RO, false, "Replica fetch response size."),
    broker("replica.fetch.wait.max.ms", Int, Some("500"), Any, RO, false, "Replica fetch wait."),
    broker("replica.high.watermark.checkpoint.interval.ms", Long, Some("5000"), Any, RO, false, "High watermark checkpoint interval."),
    broker("replica.lag.time.max.ms", Long, Some("30000"), Any, RO, false, "Followers behind longer leave the ISR."),
    broker("replica.selector.class", Str, None, Any, RO, false, "Replica selector for follower fetching."),
    broker("replica.socket.receive.buffer.bytes", Int, Some("65536"), Any, RO, false, "Replica socket buffer."),
    broker("replica.socket.timeout.ms", Int, Some("30000"), Any, RO, false, "Replica socket timeout."),
    broker("replication.quota.window.num", Int, Some("11"), AtLeast(1), RO, false, "Replication quota samples."),
    broker("replication.quota.window.size.seconds", Int, Some("1"), AtLeast(1), RO, false, "Replication quota sample size."),
    broker("request.timeout.ms", Int, Some("30000"), Any, RO, false, "Client request timeout."),
    broker("sasl.enabled.mechanisms", List, Some("GSSAPI"), Any, PB, false, "SASL mechanisms (Weir: no SASL)."),
    broker("sasl.mechanism.inter.broker.protocol", Str, Some("GSSAPI"), Any, RO, false, "Inter-broker SASL mechanism."),
    broker("security.inter.broker.protocol", Str, Some("PLAINTEXT"), OneOf(PROTOCOLS), RO, false, "Inter-broker security protocol."),
    broker("socket.connection.setup.timeout.max.ms", Long, Some("30000"), Any, RO, false, "Longest connection setup timeout."),
    broker("socket.connection.setup.timeout.ms", Long, Some("10000"), Any, RO, false, "Connection setup timeout."),
    broker("socket.listen.backlog.size", Int, Some("50"), AtLeast(1), RO, false, "Listen backlog."),
    broker("socket.receive.buffer.bytes", Int, Some("102400"), Any, RO, false, "SO_RCVBUF."),
    broker("socket.request.max.bytes", Int, Some("104857600"), AtLeast(1), RO, true, "Largest request frame; larger ones close the connection."),
    broker("socket.send.buffer.bytes", Int, Some("102400"), Any, RO, false, "SO_SNDBUF."),
    broker("ssl.key.password", Password, None, Any, PB, false, "Password of the key (Weir: no TLS)."),
    broker("ssl.keystore.location", Str, None, Any, PB, false, "Key store (Weir: no TLS)."),
    broker("ssl.keystore.password", Password, None, Any, PB, false, "Key store password (Weir: no TLS)."),
    broker("ssl.truststore.location", Str, None, Any, PB, false, "Trust store (Weir: no TLS)."),
    broker("ssl.truststore.password", Password, None, Any, PB, false, "Trust store password (Weir: no TLS)."),
    broker("transaction.abort.timed.out.transaction.cleanup.interval.ms", Int, Some("10000"), AtLeast(1), RO, true, "Timed-out transaction check interval."),
    broker("transaction.max.timeout.ms", Int, Some("900000"), AtLeast(1), RO, true, "Longest transaction timeout."),
    broker("transaction.partition.verification.enable", Boolean, Some("true"), Any, CW, true, "Verify partitions of transactions (KIP-890)."),
    broker("transaction.remove.expired.transaction.cleanup.interval.ms", Int, Some("3600000"), AtLeast(1), RO, true, "Expired transactional id check interval."),
    broker("transaction.state.log.load.buffer.size", Int, Some("5242880"), AtLeast(1), RO, false, "Buffer for loading transactions."),
    broker("transaction.state.log.min.isr", Int, Some("2"), AtLeast(1), RO, true, "min.insync.replicas of __transaction_state."),
    broker("transaction.state.log.num.partitions", Int, Some("50"), AtLeast(1), RO, true, "Partitions of __transaction_state."),
    broker("transaction.state.log.replication.factor", Short, Some("3"), AtLeast(1), RO, true, "Replication of __transaction_state."),
    broker("transaction.state.log.segment.bytes", Int, Some("104857600"), AtLeast(1), RO, false, "Segment size of __transaction_state."),
    broker("transactional.id.expiration.ms", Int, Some("604800000"), AtLeast(1), RO, true, "Idle transactional ids expire after this."),
    broker("unclean.leader.election.enable", Boolean, Some("false"), Any, CW, false, "Default for the topic config unclean.leader.election.enable."),
    broker("unclean.leader.election.interval.ms", Long, Some("300000"), AtLeast(1), RO, false, "Unclean election check interval."),
    broker("weir.acks.all.fsync", Boolean, Some("true"), Any, RO, true, "Weir: false answers acks=all without waiting for fsync (dev/bench only)."),
    broker("weir.http.listen", Str, Some(""), Any, RO, true, "Weir: HOST:PORT of the HTTP listener serving /metrics, /livez and /readyz (--http-listen); empty: off, and metrics are not recorded."),
    broker("weir.log.drop.behind.bytes", Long, Some("-1"), AtLeast(-1), RO, true, "Weir: after each flush, drop a partition's log pages more than this many bytes behind the flushed end from the page cache, so writes reuse them (cheaper where fresh memory is costly, as in VMs); -1: leave it to the kernel."),
    broker("weir.metrics.topic.label.limit", Int, Some("200"), AtLeast(0), RO, true, "Weir: topics that get their own `topic` label in metrics; later ones are counted as topic=\"other\"."),
];

/// The topic config called `name`.
pub fn topic_config(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// The broker config called `name`.
pub fn broker_config(name: &str) -> Option<&'static BrokerConfigDef> {
    BROKER_CONFIGS.iter().find(|d| d.name == name)
}

/// Kafka's `brokerConfigSynonyms(name)`: the configs that set the same thing, highest priority
/// first, each with its unit in ms (1 when not a time unit).
pub fn broker_synonyms(name: &str) -> Vec<(&'static str, i64)> {
    match BROKER_SYNONYMS.iter().find(|group| group.iter().any(|(n, _)| *n == name)) {
        Some(group) => group.to_vec(),
        None => broker_config(name).map(|d| vec![(d.name, 1)]).unwrap_or_default(),
    }
}

/// Checks `raw` against a config's type and constraint the way Kafka's `ConfigDef` parses and
/// validates it, and returns the value as Kafka prints it back (trimmed, lists joined with `,`,
/// booleans lower-case, doubles in Java's notation). The error is Kafka's message
/// (`Invalid value X for configuration N: why`).
pub fn canonical(name: &str, kind: ConfigType, check: Check, raw: &str) -> Result<String, String> {
    let invalid = |value: &dyn std::fmt::Display, why: &str| format!("Invalid value {value} for configuration {name}: {why}");
    let not_a_number = |kind: &str| invalid(&raw, &format!("Not a number of type {kind}"));
    let trimmed = raw.trim();
    let range = |n: f64, shown: &dyn std::fmt::Display| -> Result<(), String> {
        match check {
            AtLeast(min) if n < min as f64 => Err(invalid(shown, &format!("Value must be at least {min}"))),
            Between(min, _) if n < min as f64 => Err(invalid(shown, &format!("Value must be at least {min}"))),
            Between(_, max) if n > max as f64 => Err(invalid(shown, &format!("Value must be no more than {max}"))),
            GzipLevel if n > 9.0 || (n < 1.0 && n != -1.0) => Err(invalid(shown, "Value must be between 1 and 9 or equal to -1")),
            _ => Ok(()),
        }
    };
    match kind {
        ConfigType::Boolean => {
            if trimmed.eq_ignore_ascii_case("true") {
                Ok("true".into())
            } else if trimmed.eq_ignore_ascii_case("false") {
                Ok("false".into())
            } else {
                Err(invalid(&raw, "Expected value to be either true or false"))
            }
        }
        ConfigType::Int => {
            let n: i32 = trimmed.parse().map_err(|_| not_a_number("INT"))?;
            range(n as f64, &n)?;
            Ok(n.to_string())
        }
        ConfigType::Short => {
            let n: i16 = trimmed.parse().map_err(|_| not_a_number("SHORT"))?;
            range(n as f64, &n)?;
            Ok(n.to_string())
        }
        ConfigType::Long => {
            let n: i64 = trimmed.parse().map_err(|_| not_a_number("LONG"))?;
            // Compared as doubles, as Kafka's Range does.
            range(n as f64, &n)?;
            Ok(n.to_string())
        }
        ConfigType::Double => {
            let n: f64 = trimmed.parse().map_err(|_| not_a_number("DOUBLE"))?;
            let shown = java_double(n);
            range(n, &shown)?;
            Ok(shown)
        }
        ConfigType::List => {
            let items: Vec<&str> = if trimmed.is_empty() { Vec::new() } else { trimmed.split(',').map(str::trim).collect() };
            match check {
                EachOneOf(valid) => {
                    if let Some(bad) = items.iter().find(|i| !valid.contains(i)) {
                        return Err(invalid(bad, &format!("String must be one of: {}", valid.join(", "))));
                    }
                }
                ThrottledReplicas => {
                    let pair = |s: &str| s.is_empty() || s.split_once(':').is_some_and(|(p, b)| digits(p) && digits(b));
                    if !(items.iter().all(|s| pair(s)) || items.concat() == "*") {
                        return Err(invalid(
                            &format!("[{}]", items.join(", ")),
                            &format!("{name} must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],..."),
                        ));
                    }
                }
                _ => {}
            }
            Ok(items.join(","))
        }
        ConfigType::String | ConfigType::Class | ConfigType::Password => {
            if let OneOf(valid) = check {
                if !valid.contains(&trimmed) {
                    return Err(invalid(&trimmed, &format!("String must be one of: {}", valid.join(", "))));
                }
            }
            Ok(trimmed.to_owned())
        }
    }
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Java's `Double.toString`: `0.5`, `1.0`, `1.0E-4`, `1.7976931348623157E308`.
pub fn java_double(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let magnitude = n.abs();
    if n == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let s = n.to_string();
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    // Rust's `{:e}` is the shortest round-trip form, as Java's; only the spelling differs.
    let s = format!("{n:e}");
    match s.split_once('e') {
        Some((mantissa, exp)) if mantissa.contains('.') => format!("{mantissa}E{exp}"),
        Some((mantissa, exp)) => format!("{mantissa}.0E{exp}"),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_unique_and_defaults_valid() {
        for pair in TOPIC_CONFIGS.windows(2) {
            assert!(pair[0].name < pair[1].name, "{} / {}", pair[0].name, pair[1].name);
        }
        for pair in BROKER_CONFIGS.windows(2) {
            assert!(pair[0].name < pair[1].name, "{} / {}", pair[0].name, pair[1].name);
        }
        for d in TOPIC_CONFIGS {
            assert_eq!(canonical(d.name, d.kind, d.check, d.default).as_deref(), Ok(d.default), "{}", d.name);
        }
        for d in BROKER_CONFIGS {
            if let Some(default) = d.default {
                assert_eq!(canonical(d.name, d.kind, d.check, default).as_deref(), Ok(default), "{}", d.name);
            }
        }
    }

    #[test]
    fn every_topic_synonym_is_a_broker_config_of_the_same_type_and_default() {
        for d in TOPIC_CONFIGS {
            let Some(synonym) = d.synonym else { continue };
            let broker = broker_config(synonym).unwrap_or_else(|| panic!("{synonym} missing"));
            assert_eq!(broker.kind, d.kind, "{synonym}");
            assert_eq!(broker.dynamic, Dynamic::ClusterWide, "{synonym}");
            if let Some(default) = broker.default {
                assert_eq!(default, d.default, "{synonym}");
            }
            for (name, _) in broker_synonyms(synonym) {
                assert!(broker_config(name).is_some(), "{name}");
            }
        }
    }

    #[test]
    fn values_are_checked_as_kafka_does() {
        let seg = topic_config("segment.bytes").unwrap();
        assert_eq!(
            canonical(seg.name, seg.kind, seg.check, "100").unwrap_err(),
            "Invalid value 100 for configuration segment.bytes: Value must be at least 1048576"
        );
        assert_eq!(
            canonical(seg.name, seg.kind, seg.check, "x").unwrap_err(),
            "Invalid value x for configuration segment.bytes: Not a number of type INT"
        );
        assert_eq!(canonical(seg.name, seg.kind, seg.check, " 2000000 ").unwrap(), "2000000");
        let policy = topic_config("cleanup.policy").unwrap();
        assert_eq!(canonical(policy.name, policy.kind, policy.check, "compact , delete").unwrap(), "compact,delete");
        assert!(canonical(policy.name, policy.kind, policy.check, "compact,nope").is_err());
        let ratio = topic_config("min.cleanable.dirty.ratio").unwrap();
        assert_eq!(canonical(ratio.name, ratio.kind, ratio.check, "1").unwrap(), "1.0");
        assert!(canonical(ratio.name, ratio.kind, ratio.check, "1.5").is_err());
        let throttled = topic_config("leader.replication.throttled.replicas").unwrap();
        assert_eq!(canonical(throttled.name, throttled.kind, throttled.check, "0:1, 1:1").unwrap(), "0:1,1:1");
        assert_eq!(canonical(throttled.name, throttled.kind, throttled.check, "*").unwrap(), "*");
        assert!(canonical(throttled.name, throttled.kind, throttled.check, "0-1").is_err());
        let gzip = topic_config("compression.gzip.level").unwrap();
        assert!(canonical(gzip.name, gzip.kind, gzip.check, "-1").is_ok());
        assert!(canonical(gzip.name, gzip.kind, gzip.check, "0").is_err());
        let flag = topic_config("preallocate").unwrap();
        assert_eq!(canonical(flag.name, flag.kind, flag.check, "TRUE").unwrap(), "true");
        assert_eq!(java_double(f64::MAX), "1.7976931348623157E308");
        assert_eq!(java_double(0.0001), "1.0E-4");
    }
}
