//! Writes the seed corpora: `cargo run --bin seeds -- <fuzz/corpus>` (scripts/fuzz.sh --seeds).
//!
//! - `corpus/request/`: one framed request per supported API at its lowest, a middle and its
//!   highest version (a few APIs filled with realistic content), and one stream of several
//!   frames.
//! - `corpus/record_batch/`: v2 batches of every codec (with keys, headers, producer ids), and a
//!   few refusals (old magic, truncated, two batches).
//!
//! - `corpus/raft_frame/`: frames of Raft messages between brokers (appends with batches,
//!   heartbeats, votes, a snapshot), one and several per frame.
//!
//! Files are named by content, so re-running adds nothing twice.

use std::path::{Path, PathBuf};

use bytes::{BufMut, Bytes, BytesMut};
use weir_protocol::kafka_protocol::indexmap::IndexMap;
use weir_protocol::kafka_protocol::messages::{self as m, ApiKey, RequestHeader, RequestKind};
use weir_protocol::kafka_protocol::protocol::{Encodable, StrBytes};
use weir_protocol::kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use weir_protocol::versions::SUPPORTED_APIS;

fn main() {
    let root: PathBuf = std::env::args().nth(1).unwrap_or_else(|| "corpus".into()).into();
    let mut written = 0;
    for (name, bytes) in record_batches() {
        written += save(&root.join("record_batch"), &name, &bytes);
    }
    for (name, bytes) in requests() {
        written += save(&root.join("request"), &name, &bytes);
    }
    for (name, bytes) in raft_frames() {
        written += save(&root.join("raft_frame"), &name, &bytes);
    }
    println!("{written} new seed files under {}", root.display());
}

fn save(dir: &Path, name: &str, bytes: &[u8]) -> usize {
    std::fs::create_dir_all(dir).expect("create corpus dir");
    let path = dir.join(format!("{name}-{:08x}", crc32c(bytes)));
    if path.exists() {
        return 0;
    }
    std::fs::write(&path, bytes).expect("write seed");
    1
}

fn crc32c(bytes: &[u8]) -> u32 {
    // The batch module's CRC skips the first 21 bytes; a content hash needs all of them.
    let mut padded = vec![0u8; 21];
    padded.extend_from_slice(bytes);
    weir_protocol::batch::compute_crc(&padded)
}

fn records(n: usize, producer: bool) -> Vec<Record> {
    (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: if producer { 7 } else { -1 },
            producer_epoch: if producer { 0 } else { -1 },
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: if producer { i as i32 } else { -1 },
            timestamp: 1_700_000_000_000 + i as i64,
            key: (i % 2 == 0).then(|| Bytes::from(format!("key-{i}"))),
            value: (i != 2).then(|| Bytes::from(format!("value {i} {}", "x".repeat(i * 3)))),
            headers: if i == 1 {
                IndexMap::from_iter([(StrBytes::from_static_str("h"), Some(Bytes::from_static(b"v"))), (StrBytes::from_static_str("n"), None)])
            } else {
                IndexMap::new()
            },
        })
        .collect()
}

fn batch(n: usize, compression: Compression, producer: bool) -> Vec<u8> {
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records(n, producer), &RecordEncodeOptions { version: 2, compression }).expect("encode batch");
    buf.to_vec()
}

const CODECS: [(Compression, &str); 5] = [
    (Compression::None, "none"),
    (Compression::Gzip, "gzip"),
    (Compression::Snappy, "snappy"),
    (Compression::Lz4, "lz4"),
    (Compression::Zstd, "zstd"),
];

fn record_batches() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (codec, name) in CODECS {
        out.push((format!("{name}-1"), batch(1, codec, false)));
        out.push((format!("{name}-4-idempotent"), batch(4, codec, true)));
    }
    let mut old = batch(2, Compression::None, false);
    old[16] = 1;
    out.push(("magic1".into(), old));
    out.push(("truncated".into(), batch(3, Compression::None, false)[..40].to_vec()));
    let mut two = batch(1, Compression::None, false);
    two.extend(batch(2, Compression::Gzip, false));
    out.push(("two-batches".into(), two));
    out
}

fn requests() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stream = Vec::new();
    for (key, range) in SUPPORTED_APIS {
        let mut versions = vec![range.min, (range.min + range.max) / 2, range.max];
        versions.dedup();
        for version in versions {
            let frame = framed(*key, version, sample(*key, version)).or_else(|| framed(*key, version, default_body(*key)));
            let Some(frame) = frame else {
                eprintln!("{key:?} v{version}: could not encode a sample");
                continue;
            };
            if version == range.max && matches!(key, ApiKey::ApiVersions | ApiKey::Metadata | ApiKey::Produce) {
                stream.extend_from_slice(&frame);
            }
            out.push((format!("{key:?}-v{version}"), frame));
        }
    }
    out.push(("stream".into(), stream));
    out
}

/// A 4-byte size, the request header of `key`'s header version, the body.
fn framed(key: ApiKey, version: i16, body: Option<RequestKind>) -> Option<Vec<u8>> {
    let body = body?;
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(42)
        .with_client_id(Some(StrBytes::from_static_str("seed")));
    let mut buf = BytesMut::new();
    header.encode(&mut buf, key.request_header_version(version)).ok()?;
    body.encode(&mut buf, version).ok()?;
    let mut frame = Vec::with_capacity(buf.len() + 4);
    frame.put_i32(buf.len() as i32);
    frame.extend_from_slice(&buf);
    Some(frame)
}

fn topic() -> m::TopicName {
    m::TopicName(StrBytes::from_static_str("orders"))
}

/// Requests with content, for the APIs whose bodies carry the most structure.
fn sample(key: ApiKey, version: i16) -> Option<RequestKind> {
    use m::*;
    Some(match key {
        ApiKey::Produce => {
            let partitions = CODECS
                .iter()
                .enumerate()
                .take(2)
                .map(|(i, (codec, _))| {
                    produce_request::PartitionProduceData::default().with_index(i as i32).with_records(Some(Bytes::from(batch(2, *codec, i == 1))))
                })
                .collect();
            let mut data = produce_request::TopicProduceData::default().with_partition_data(partitions);
            if version >= 13 {
                data.topic_id = uuid_of(1);
            } else {
                data.name = topic();
            }
            RequestKind::Produce(ProduceRequest::default().with_acks(-1).with_timeout_ms(30_000).with_topic_data(vec![data]))
        }
        ApiKey::Fetch => {
            let partition = fetch_request::FetchPartition::default().with_partition(0).with_fetch_offset(5).with_partition_max_bytes(1 << 20);
            let mut fetch_topic = fetch_request::FetchTopic::default().with_partitions(vec![partition]);
            if version >= 13 {
                fetch_topic.topic_id = uuid_of(1);
            } else {
                fetch_topic.topic = topic();
            }
            RequestKind::Fetch(FetchRequest::default().with_max_wait_ms(500).with_min_bytes(1).with_max_bytes(50 << 20).with_topics(vec![fetch_topic]))
        }
        ApiKey::Metadata => RequestKind::Metadata(
            MetadataRequest::default().with_topics(Some(vec![metadata_request::MetadataRequestTopic::default().with_name(Some(topic()))])),
        ),
        ApiKey::ApiVersions => RequestKind::ApiVersions(
            ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str("weir-seed"))
                .with_client_software_version(StrBytes::from_static_str("1.0")),
        ),
        ApiKey::ListOffsets => RequestKind::ListOffsets(ListOffsetsRequest::default().with_replica_id(m::BrokerId(-1)).with_topics(vec![
            list_offsets_request::ListOffsetsTopic::default()
                .with_name(topic())
                .with_partitions(vec![list_offsets_request::ListOffsetsPartition::default().with_timestamp(1_700_000_000_000)]),
        ])),
        ApiKey::JoinGroup => {
            let mut subscription = BytesMut::new();
            subscription.put_i16(1);
            ConsumerProtocolSubscription::default()
                .with_topics(vec![StrBytes::from_static_str("orders")])
                .encode(&mut subscription, 1)
                .ok()?;
            RequestKind::JoinGroup(
                JoinGroupRequest::default()
                    .with_group_id(m::GroupId(StrBytes::from_static_str("g")))
                    .with_session_timeout_ms(10_000)
                    .with_rebalance_timeout_ms(10_000)
                    .with_protocol_type(StrBytes::from_static_str("consumer"))
                    .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default()
                        .with_name(StrBytes::from_static_str("range"))
                        .with_metadata(subscription.freeze())]),
            )
        }
        ApiKey::OffsetCommit => RequestKind::OffsetCommit(
            OffsetCommitRequest::default()
                .with_group_id(m::GroupId(StrBytes::from_static_str("g")))
                .with_generation_id_or_member_epoch(1)
                .with_member_id(StrBytes::from_static_str("m-1"))
                .with_topics(vec![offset_commit_request::OffsetCommitRequestTopic::default().with_name(topic()).with_partitions(vec![
                    offset_commit_request::OffsetCommitRequestPartition::default()
                        .with_committed_offset(10)
                        .with_committed_metadata(Some(StrBytes::from_static_str("meta"))),
                ])]),
        ),
        ApiKey::CreateTopics => RequestKind::CreateTopics(CreateTopicsRequest::default().with_timeout_ms(5_000).with_topics(vec![
            create_topics_request::CreatableTopic::default()
                .with_name(topic())
                .with_num_partitions(3)
                .with_replication_factor(1)
                .with_configs(vec![create_topics_request::CreatableTopicConfig::default()
                    .with_name(StrBytes::from_static_str("compression.type"))
                    .with_value(Some(StrBytes::from_static_str("zstd")))]),
        ])),
        _ => return None,
    })
}

fn uuid_of(n: u8) -> uuid::Uuid {
    uuid::Uuid::from_bytes([n; 16])
}

/// An empty request of `key`'s type.
fn default_body(key: ApiKey) -> Option<RequestKind> {
    use m::*;
    Some(match key {
        ApiKey::DeleteTopics => RequestKind::DeleteTopics(DeleteTopicsRequest::default()),
        ApiKey::InitProducerId => RequestKind::InitProducerId(InitProducerIdRequest::default()),
        ApiKey::OffsetForLeaderEpoch => RequestKind::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest::default()),
        ApiKey::DescribeConfigs => RequestKind::DescribeConfigs(DescribeConfigsRequest::default()),
        ApiKey::CreatePartitions => RequestKind::CreatePartitions(CreatePartitionsRequest::default()),
        ApiKey::DescribeCluster => RequestKind::DescribeCluster(DescribeClusterRequest::default()),
        ApiKey::FindCoordinator => RequestKind::FindCoordinator(FindCoordinatorRequest::default()),
        ApiKey::SyncGroup => RequestKind::SyncGroup(SyncGroupRequest::default()),
        ApiKey::Heartbeat => RequestKind::Heartbeat(HeartbeatRequest::default()),
        ApiKey::LeaveGroup => RequestKind::LeaveGroup(LeaveGroupRequest::default()),
        ApiKey::OffsetFetch => RequestKind::OffsetFetch(OffsetFetchRequest::default()),
        ApiKey::DescribeGroups => RequestKind::DescribeGroups(DescribeGroupsRequest::default()),
        ApiKey::ListGroups => RequestKind::ListGroups(ListGroupsRequest::default()),
        ApiKey::DeleteGroups => RequestKind::DeleteGroups(DeleteGroupsRequest::default()),
        ApiKey::OffsetDelete => RequestKind::OffsetDelete(OffsetDeleteRequest::default()),
        ApiKey::Produce => RequestKind::Produce(ProduceRequest::default()),
        ApiKey::Fetch => RequestKind::Fetch(FetchRequest::default()),
        ApiKey::ListOffsets => RequestKind::ListOffsets(ListOffsetsRequest::default()),
        ApiKey::Metadata => RequestKind::Metadata(MetadataRequest::default()),
        ApiKey::ApiVersions => RequestKind::ApiVersions(ApiVersionsRequest::default()),
        ApiKey::CreateTopics => RequestKind::CreateTopics(CreateTopicsRequest::default()),
        ApiKey::JoinGroup => RequestKind::JoinGroup(JoinGroupRequest::default()),
        ApiKey::OffsetCommit => RequestKind::OffsetCommit(OffsetCommitRequest::default()),
        _ => return None,
    })
}

fn raft_frames() -> Vec<(String, Vec<u8>)> {
    use weir_replication::codec::encode_frame;
    use weir_replication::Message;
    use weir_replication::raft::eraftpb::{Entry, EntryType, MessageType, Snapshot};
    let batch = Bytes::from(record_batches().into_iter().next().map(|(_, b)| b).unwrap_or_default());
    let mut append = Message::default();
    append.set_msg_type(MessageType::MsgAppend);
    (append.to, append.from, append.term, append.log_term, append.index, append.commit) = (2, 1, 3, 3, 10, 9);
    let mut entry = Entry::default();
    (entry.term, entry.index, entry.data) = (3, 11, batch);
    let mut change = Entry::default();
    change.set_entry_type(EntryType::EntryConfChange);
    (change.term, change.index, change.data) = (3, 12, Bytes::from_static(b"\x08\x01"));
    append.set_entries(vec![entry, change].into());
    let mut heartbeat = Message::default();
    heartbeat.set_msg_type(MessageType::MsgHeartbeat);
    (heartbeat.to, heartbeat.from, heartbeat.term, heartbeat.commit) = (3, 1, 3, 9);
    let mut vote = Message::default();
    vote.set_msg_type(MessageType::MsgRequestPreVote);
    (vote.to, vote.from, vote.term, vote.log_term, vote.index) = (1, 2, 4, 3, 12);
    let mut snapshot = Message::default();
    snapshot.set_msg_type(MessageType::MsgSnapshot);
    (snapshot.to, snapshot.from, snapshot.term) = (2, 1, 3);
    let mut data = Snapshot::default();
    data.data = Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 40, 0, 0, 0, 0]);
    data.mut_metadata().index = 8;
    data.mut_metadata().term = 2;
    data.mut_metadata().mut_conf_state().voters = vec![1, 2, 3];
    snapshot.set_snapshot(data);
    let frames: Vec<(&str, Vec<(u64, Message)>)> = vec![
        ("append", vec![(1, append.clone())]),
        ("heartbeats", (0..20).map(|g| (g, heartbeat.clone())).collect()),
        ("vote", vec![(7, vote)]),
        ("snapshot", vec![(3, snapshot)]),
        ("mixed", vec![(1, append), (2, heartbeat)]),
    ];
    frames
        .into_iter()
        .map(|(name, messages)| {
            let mut out = BytesMut::new();
            encode_frame(&messages, &mut out);
            (name.to_owned(), out.to_vec())
        })
        .collect()
}
