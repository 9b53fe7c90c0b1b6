//! Kafka conformance: each test is named after a place where Weir answered differently from
//! Apache Kafka, and checks Kafka's answer. Raw-protocol requests (exact versions, pipelining,
//! null vs empty fields) where no client library can express the case; librdkafka where a
//! client library hit it.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_request::{CreatePartitionsAssignment, CreatePartitionsTopic};
use kafka_protocol::messages::create_topics_request::{CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch_request::{OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, RecordBatchDecoder};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use weir_integration_tests::raw::{batch, RawClient};
use weir_integration_tests::Weir;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_owned()))
}

fn group(s: &str) -> GroupId {
    GroupId(StrBytes::from_string(s.to_owned()))
}

fn code(e: ResponseError) -> i16 {
    e.code()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn start() -> (tempfile::TempDir, Weir) {
    let dir = tempfile::tempdir().unwrap();
    let weir = Weir::start(&dir.path().join("data"), &[]);
    (dir, weir)
}

fn create_topic(client: &mut RawClient, topic: &str, partitions: i32, configs: &[(&str, &str)]) -> CreatableTopicResult {
    let configs = configs
        .iter()
        .map(|(k, v)| CreatableTopicConfig::default().with_name(StrBytes::from_string(k.to_string())).with_value(Some(StrBytes::from_string(v.to_string()))))
        .collect();
    let request = CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default().with_name(name(topic)).with_num_partitions(partitions).with_replication_factor(-1).with_configs(configs)])
        .with_timeout_ms(10_000);
    client.call(7, &request).topics.remove(0)
}

fn produce(client: &mut RawClient, version: i16, topic: &str, partition: i32, records: Bytes) -> PartitionProduceResponse {
    let request = ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![TopicProduceData::default()
        .with_name(name(topic))
        .with_partition_data(vec![PartitionProduceData::default().with_index(partition).with_records(Some(records))])]);
    client.call(version, &request).responses.remove(0).partition_responses.remove(0)
}

fn fetch(client: &mut RawClient, version: i16, topic: &str, offset: i64, max_bytes: i32, partition_max_bytes: i32) -> PartitionData {
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_max_bytes(max_bytes)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![FetchPartition::default().with_partition(0).with_fetch_offset(offset).with_partition_max_bytes(partition_max_bytes)])]);
    client.call(version, &request).responses.remove(0).partitions.remove(0)
}

fn commit(client: &mut RawClient, group_id: &str, topic: &str, partition: i32, offset: i64) -> i16 {
    let request = OffsetCommitRequest::default()
        .with_group_id(group(group_id))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![OffsetCommitRequestPartition::default().with_partition_index(partition).with_committed_offset(offset)])]);
    client.call(8, &request).topics[0].partitions[0].error_code
}

/// The committed offset of one partition through OffsetFetch v7 (-1 when none).
fn committed(client: &mut RawClient, group_id: &str, topic: &str, partition: i32) -> i64 {
    let request = OffsetFetchRequest::default()
        .with_group_id(group(group_id))
        .with_topics(Some(vec![OffsetFetchRequestTopic::default().with_name(name(topic)).with_partition_indexes(vec![partition])]));
    let response = client.call(7, &request);
    assert_eq!(response.error_code, 0);
    response.topics[0].partitions[0].committed_offset
}

fn codecs(records: &Bytes) -> Vec<i16> {
    weir_protocol::batch::Batches::new(records).map(|(_, h)| h.compression()).collect()
}

/// Fault 1: a client Produce of a well-formed offset-commit record into `__consumer_offsets`
/// was accepted, and the forged offset became the group's after a restart. Kafka refuses
/// client writes to internal topics with INVALID_TOPIC_EXCEPTION; reads stay allowed.
#[test]
fn internal_topics_are_not_writable_by_clients() {
    let (dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    // On a fresh broker the produce neither succeeds nor creates the topic.
    let forged = batch(&[(Some(b"forged-key"), b"forged-value")], now_ms(), Compression::None);
    let response = produce(&mut client, 9, "__consumer_offsets", 0, forged.clone());
    assert_eq!(response.error_code, code(ResponseError::UnknownTopicOrPartition));
    // FindCoordinator creates it with offsets.topic.num.partitions (50), as Kafka does.
    let found = client.call(3, &FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g")));
    assert_eq!(found.error_code, 0);
    let metadata = client.call(12, &MetadataRequest::default().with_topics(Some(vec![kafka_protocol::messages::metadata_request::MetadataRequestTopic::default().with_name(Some(name("__consumer_offsets")))])));
    assert_eq!(metadata.topics[0].partitions.len(), 50);
    assert!(metadata.topics[0].is_internal);

    create_topic(&mut client, "orders", 1, &[]);
    assert_eq!(commit(&mut client, "g", "orders", 0, 5), 0);
    let partition = (0..50).find(|&p| {
        // Kafka's partition for group "g": abs(hashCode) % 50.
        p == ("g".encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32)) & i32::MAX) % 50
    });
    let response = produce(&mut client, 9, "__consumer_offsets", partition.unwrap(), forged);
    assert_eq!(response.error_code, code(ResponseError::InvalidTopicException));
    assert_eq!(response.error_message, None, "Kafka sends no message with this error");
    // Reads of internal topics stay allowed.
    assert_eq!(fetch(&mut client, 12, "__consumer_offsets", 0, 1 << 20, 1 << 20).error_code, 0);
    drop(client);
    weir.terminate();
    let weir = Weir::start(&dir.path().join("data"), &[]);
    let mut client = RawClient::connect(&weir.addr);
    assert_eq!(committed(&mut client, "g", "orders", 0), 5);
}

/// Fault 2: Produce auto-created topics (and resurrected deleted ones). Kafka creates topics
/// only through Metadata with `allow_auto_topic_creation`.
#[test]
fn produce_does_not_create_topics() {
    let (_dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    let records = batch(&[(Some(b"k"), b"v")], now_ms(), Compression::None);
    assert_eq!(produce(&mut client, 9, "never-made", 0, records.clone()).error_code, code(ResponseError::UnknownTopicOrPartition));
    let probe = MetadataRequest::default()
        .with_topics(Some(vec![kafka_protocol::messages::metadata_request::MetadataRequestTopic::default().with_name(Some(name("never-made")))]))
        .with_allow_auto_topic_creation(false);
    assert_eq!(client.call(12, &probe).topics[0].error_code, code(ResponseError::UnknownTopicOrPartition));

    create_topic(&mut client, "short-lived", 1, &[]);
    assert_eq!(produce(&mut client, 9, "short-lived", 0, records.clone()).error_code, 0);
    let deleted = client.call(5, &DeleteTopicsRequest::default().with_topic_names(vec![name("short-lived")]).with_timeout_ms(10_000));
    assert_eq!(deleted.responses[0].error_code, 0);
    assert_eq!(produce(&mut client, 9, "short-lived", 0, records).error_code, code(ResponseError::UnknownTopicOrPartition));
    let probe = probe.with_topics(Some(vec![kafka_protocol::messages::metadata_request::MetadataRequestTopic::default().with_name(Some(name("short-lived")))]));
    assert_eq!(client.call(12, &probe).topics[0].error_code, code(ResponseError::UnknownTopicOrPartition), "not resurrected");
}

/// Fault 3: deleting a topic left the groups' committed offsets behind, so a re-created topic
/// resumed past its end. Kafka removes the offsets of deleted partitions.
#[test]
fn deleting_a_topic_removes_its_committed_offsets() {
    let (dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    create_topic(&mut client, "recycled", 2, &[]);
    create_topic(&mut client, "kept", 1, &[]);
    assert_eq!(commit(&mut client, "app", "recycled", 0, 10), 0);
    assert_eq!(commit(&mut client, "app", "recycled", 1, 7), 0);
    assert_eq!(commit(&mut client, "app", "kept", 0, 3), 0);
    let deleted = client.call(5, &DeleteTopicsRequest::default().with_topic_names(vec![name("recycled")]).with_timeout_ms(10_000));
    assert_eq!(deleted.responses[0].error_code, 0);
    create_topic(&mut client, "recycled", 2, &[]);
    assert_eq!(committed(&mut client, "app", "recycled", 0), -1);
    assert_eq!(committed(&mut client, "app", "recycled", 1), -1);
    assert_eq!(committed(&mut client, "app", "kept", 0), 3, "other topics keep theirs");
    drop(client);
    weir.kill9();
    let weir = Weir::start(&dir.path().join("data"), &[]);
    let mut client = RawClient::connect(&weir.addr);
    assert_eq!(committed(&mut client, "app", "recycled", 0), -1, "the tombstones survive a crash");
    assert_eq!(committed(&mut client, "app", "kept", 0), 3);
}

/// Fault 4: topic configs that change what is stored were ignored. `compression.type`
/// recompresses to the topic's codec (`producer` keeps the producer's).
#[test]
fn topic_compression_type_is_applied() {
    let (_dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    let records: Vec<(Option<&[u8]>, &[u8])> = vec![(Some(b"a"), b"first"), (Some(b"b"), b"second"), (None, b"third")];
    for (topic, config, sent, stored) in [
        ("to-gzip", "gzip", Compression::None, 1),
        ("to-plain", "uncompressed", Compression::Gzip, 0),
        ("as-sent", "producer", Compression::Snappy, 2),
        ("to-lz4", "lz4", Compression::Zstd, 3),
    ] {
        assert_eq!(create_topic(&mut client, topic, 1, &[("compression.type", config)]).error_code, 0);
        let response = produce(&mut client, 9, topic, 0, batch(&records, now_ms(), sent));
        assert_eq!(response.error_code, 0, "{topic}");
        let data = fetch(&mut client, 12, topic, 0, 1 << 20, 1 << 20);
        let mut bytes = data.records.clone().unwrap();
        assert_eq!(codecs(&bytes), vec![stored], "{topic}");
        let decoded = RecordBatchDecoder::decode(&mut bytes).unwrap();
        let values: Vec<_> = decoded.records.iter().map(|r| (r.offset, r.key.clone(), r.value.clone().unwrap())).collect();
        assert_eq!(
            values,
            vec![
                (0, Some(Bytes::from_static(b"a")), Bytes::from_static(b"first")),
                (1, Some(Bytes::from_static(b"b")), Bytes::from_static(b"second")),
                (2, None, Bytes::from_static(b"third"))
            ],
            "{topic}"
        );
    }
}

/// Fault 4 (the same kind): `message.timestamp.before.max.ms` / `after.max.ms` refuse
/// out-of-range CreateTime timestamps with INVALID_TIMESTAMP and name the records (KIP-937),
/// and a per-topic `max.message.bytes` bounds batches.
#[test]
fn timestamps_and_batch_size_follow_the_topic_configs() {
    let (_dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    create_topic(&mut client, "clock", 1, &[("message.timestamp.before.max.ms", "60000")]);
    // Kafka 4's default allows at most one hour into the future.
    let future = batch(&[(Some(b"k"), b"v")], now_ms() + 2 * 3_600_000, Compression::None);
    let response = produce(&mut client, 9, "clock", 0, future);
    assert_eq!(response.error_code, code(ResponseError::InvalidTimestamp));
    assert_eq!(response.record_errors.len(), 1);
    assert_eq!(response.record_errors[0].batch_index, 0);
    assert_eq!(response.error_message.as_deref(), Some("One or more records have been rejected due to invalid timestamp"));
    let past = batch(&[(Some(b"k"), b"v")], now_ms() - 3_600_000, Compression::Gzip);
    assert_eq!(produce(&mut client, 9, "clock", 0, past).error_code, code(ResponseError::InvalidTimestamp));
    assert_eq!(produce(&mut client, 9, "clock", 0, batch(&[(Some(b"k"), b"v")], now_ms(), Compression::None)).error_code, 0);

    create_topic(&mut client, "small", 1, &[("max.message.bytes", "200")]);
    let big = batch(&[(Some(b"k"), &[7u8; 500])], now_ms(), Compression::None);
    assert_eq!(produce(&mut client, 9, "small", 0, big).error_code, code(ResponseError::MessageTooLarge));
}

/// Fault 5: codecs were not gated by protocol version (KIP-110). zstd needs Produce v7 and
/// Fetch v10; older versions get UNSUPPORTED_COMPRESSION_TYPE and nothing is appended.
#[test]
fn zstd_needs_produce_v7_and_fetch_v10() {
    let (_dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    create_topic(&mut client, "zstd-data", 1, &[]);
    let zstd = batch(&[(Some(b"k"), b"v")], now_ms(), Compression::Zstd);
    for version in 3..7 {
        assert_eq!(produce(&mut client, version, "zstd-data", 0, zstd.clone()).error_code, code(ResponseError::UnsupportedCompressionType), "v{version}");
    }
    assert_eq!(fetch(&mut client, 12, "zstd-data", 0, 1 << 20, 1 << 20).high_watermark, 0, "nothing appended");
    assert_eq!(produce(&mut client, 7, "zstd-data", 0, zstd).error_code, 0);
    assert_eq!(codecs(&fetch(&mut client, 10, "zstd-data", 0, 1 << 20, 1 << 20).records.unwrap()), vec![4]);
    // Fetch below v10 is refused for a topic whose codec is zstd (Kafka decides by the topic's
    // `compression.type`; zstd batches a producer chose are served as they are).
    create_topic(&mut client, "zstd-topic", 1, &[("compression.type", "zstd")]);
    assert_eq!(produce(&mut client, 9, "zstd-topic", 0, batch(&[(Some(b"k"), b"v")], now_ms(), Compression::None)).error_code, 0);
    for version in 4..10 {
        let data = fetch(&mut client, version, "zstd-topic", 0, 1 << 20, 1 << 20);
        assert_eq!(data.error_code, code(ResponseError::UnsupportedCompressionType), "fetch v{version}");
        assert!(data.records.as_ref().is_none_or(|r| r.is_empty()));
    }
    assert_eq!(codecs(&fetch(&mut client, 10, "zstd-topic", 0, 1 << 20, 1 << 20).records.unwrap()), vec![4]);
}

/// Fault 7: OffsetFetch for a group that never committed dropped the requested partitions,
/// and every librdkafka consumer that `assign()`ed under such a group waited forever.
#[test]
fn offset_fetch_answers_every_requested_partition() {
    let (_dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    create_topic(&mut client, "fresh", 2, &[]);
    for version in [1, 4, 7] {
        let request = OffsetFetchRequest::default()
            .with_group_id(group("never-existed"))
            .with_topics(Some(vec![OffsetFetchRequestTopic::default().with_name(name("fresh")).with_partition_indexes(vec![0, 1])]));
        let response = client.call(version, &request);
        let partitions = &response.topics[0].partitions;
        assert_eq!(partitions.len(), 2, "v{version}");
        for p in partitions {
            assert_eq!((p.committed_offset, p.error_code, p.metadata.as_deref()), (-1, 0, Some("")), "v{version}");
        }
    }
    let request = OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
        .with_group_id(group("never-existed"))
        .with_topics(Some(vec![OffsetFetchRequestTopics::default().with_name(name("fresh")).with_partition_indexes(vec![0, 1])]))]);
    let response = client.call(8, &request);
    assert_eq!(response.groups[0].topics[0].partitions.len(), 2);
    assert!(response.groups[0].topics[0].partitions.iter().all(|p| p.committed_offset == -1));

    // The librdkafka case: assign() under a group with no commits reads everything.
    for i in 0..5 {
        let value = format!("v{i}");
        assert_eq!(produce(&mut client, 9, "fresh", 0, batch(&[(Some(b"k"), value.as_bytes())], now_ms(), Compression::None)).error_code, 0);
    }
    let consumer: BaseConsumer = weir
        .client_config()
        .set("group.id", "assigning-group-without-commits")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset("fresh", 0, Offset::Invalid).unwrap();
    consumer.assign(&assignment).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut read = 0;
    while read < 5 && std::time::Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            assert_eq!(message.offset(), read);
            read += 1;
        }
    }
    assert_eq!(read, 5, "the consumer read every record");
}

/// Fault 8: two OffsetCommits pipelined on one connection (1, then 2) usually left 1
/// committed. Kafka applies a connection's requests strictly in order.
#[test]
fn pipelined_offset_commits_apply_in_order() {
    let (_dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    create_topic(&mut client, "pipelined", 1, &[]);
    for round in 0..20 {
        let first = 2 * round + 1;
        let commit_request = |offset: i64| {
            OffsetCommitRequest::default().with_group_id(group("async-committer")).with_generation_id_or_member_epoch(-1).with_topics(vec![
                OffsetCommitRequestTopic::default()
                    .with_name(name("pipelined"))
                    .with_partitions(vec![OffsetCommitRequestPartition::default().with_partition_index(0).with_committed_offset(offset)]),
            ])
        };
        let a = client.send(8, &commit_request(first));
        let b = client.send(8, &commit_request(first + 1));
        assert_eq!(client.receive::<OffsetCommitRequest>(8, a).topics[0].partitions[0].error_code, 0);
        assert_eq!(client.receive::<OffsetCommitRequest>(8, b).topics[0].partitions[0].error_code, 0);
        assert_eq!(committed(&mut client, "async-committer", "pipelined", 0), first + 1, "round {round}");
    }
}

/// Fault 9: Fetch ignored the request-level `max_bytes`. Kafka caps the response, except that
/// the first batch of the first partition with data may exceed it (KIP-74).
#[test]
fn fetch_respects_request_max_bytes() {
    let (_dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    create_topic(&mut client, "large", 1, &[("max.message.bytes", "2000000")]);
    for i in 0..3u8 {
        let value = vec![i; 900_000];
        assert_eq!(produce(&mut client, 9, "large", 0, batch(&[(Some(b"k"), &value)], now_ms(), Compression::None)).error_code, 0);
    }
    let data = fetch(&mut client, 4, "large", 0, 1_000_000, 20_000_000);
    let records = data.records.unwrap();
    assert_eq!(weir_protocol::batch::Batches::new(&records).count(), 1, "one 900 KB batch fits in 1,000,000 bytes");
    assert!(records.len() <= 1_000_000);
    // A limit below one batch still returns the first batch whole.
    let data = fetch(&mut client, 4, "large", 0, 1_000, 1_000);
    assert_eq!(weir_protocol::batch::Batches::new(&data.records.unwrap()).count(), 1);
}

/// Fault 10: CreatePartitions ignored `assignments`. Kafka checks their count and brokers.
#[test]
fn create_partitions_validates_assignments() {
    let (_dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    create_topic(&mut client, "grow", 1, &[]);
    let grow = |count: i32, assignments: Option<Vec<Vec<i32>>>| {
        CreatePartitionsRequest::default().with_timeout_ms(10_000).with_topics(vec![CreatePartitionsTopic::default()
            .with_name(name("grow"))
            .with_count(count)
            .with_assignments(assignments.map(|a| {
                a.into_iter().map(|brokers| CreatePartitionsAssignment::default().with_broker_ids(brokers.into_iter().map(BrokerId).collect())).collect()
            }))])
    };
    let result = client.call(3, &grow(3, Some(vec![vec![10]]))).results.remove(0);
    assert_eq!(result.error_code, code(ResponseError::InvalidReplicaAssignment), "{:?}", result.error_message);
    let result = client.call(3, &grow(3, Some(vec![vec![1], vec![10]]))).results.remove(0);
    assert_eq!(result.error_code, code(ResponseError::InvalidReplicaAssignment));
    assert!(result.error_message.unwrap().contains("broker 10"));
    let result = client.call(3, &grow(3, Some(vec![vec![1], vec![1, 1]]))).results.remove(0);
    assert_eq!(result.error_code, code(ResponseError::InvalidReplicaAssignment));
    let result = client.call(3, &grow(1, None)).results.remove(0);
    assert_eq!(result.error_code, code(ResponseError::InvalidPartitions));
    let result = client.call(3, &grow(3, Some(vec![vec![1], vec![1]]))).results.remove(0);
    assert_eq!((result.error_code, result.error_message), (0, None));

    // CreateTopics with assignments: no count or factor beside them, known brokers only.
    let topic = |assignments: Vec<(i32, Vec<i32>)>, partitions: i32| {
        CreateTopicsRequest::default().with_timeout_ms(10_000).with_topics(vec![CreatableTopic::default()
            .with_name(name("placed"))
            .with_num_partitions(partitions)
            .with_replication_factor(-1)
            .with_assignments(
                assignments
                    .into_iter()
                    .map(|(p, brokers)| CreatableReplicaAssignment::default().with_partition_index(p).with_broker_ids(brokers.into_iter().map(BrokerId).collect()))
                    .collect(),
            )])
    };
    assert_eq!(client.call(7, &topic(vec![(0, vec![1])], 1)).topics[0].error_code, code(ResponseError::InvalidRequest));
    assert_eq!(client.call(7, &topic(vec![(0, vec![2])], -1)).topics[0].error_code, code(ResponseError::InvalidReplicaAssignment));
    assert_eq!(client.call(7, &topic(vec![(1, vec![1])], -1)).topics[0].error_code, code(ResponseError::InvalidReplicaAssignment));
    let created = client.call(7, &topic(vec![(0, vec![1]), (1, vec![1])], -1)).topics.remove(0);
    assert_eq!((created.error_code, created.num_partitions), (0, 2));
}

/// Fault 11: nullable fields left at the codec's defaults (`error_message` "" instead of
/// null on success). Kafka fills them: null, or "NONE" where Kafka says so (FindCoordinator).
#[test]
fn success_responses_fill_fields_as_kafka_does() {
    let (_dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    let created = create_topic(&mut client, "nulls", 1, &[]);
    assert_eq!((created.error_code, created.error_message), (0, None));
    let failed = create_topic(&mut client, "nulls", 1, &[]);
    assert_eq!(failed.error_code, code(ResponseError::TopicAlreadyExists));
    assert_eq!((failed.num_partitions, failed.replication_factor), (-1, -1));
    for version in 1..4 {
        let found = client.call(version, &FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g")));
        assert_eq!((found.error_code, found.error_message.as_deref()), (0, Some("NONE")), "v{version}");
    }
    // A transactional id's coordinator (key type 1) is this broker too; an unknown key type is
    // INVALID_REQUEST with no coordinator, as Kafka answers.
    let found = client.call(3, &FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("t")).with_key_type(1));
    assert_eq!((found.error_code, found.error_message.as_deref(), found.port), (0, Some("NONE"), weir.addr.rsplit(':').next().unwrap().parse().unwrap()));
    let found = client.call(3, &FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("t")).with_key_type(7));
    assert_eq!(found.error_code, code(ResponseError::InvalidRequest));
    assert_eq!((found.node_id, found.host.as_str(), found.port), (BrokerId(-1), "", -1));
}

/// Fault 12: a compacted topic accepted records without a key. Kafka refuses the batch with
/// INVALID_RECORD and names the record.
#[test]
fn compacted_topic_refuses_records_without_key() {
    let (_dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    create_topic(&mut client, "table", 1, &[("cleanup.policy", "compact")]);
    for compression in [Compression::None, Compression::Lz4] {
        let keyless = batch(&[(Some(b"k"), b"v"), (None, b"no key")], now_ms(), compression);
        let response = produce(&mut client, 9, "table", 0, keyless);
        assert_eq!(response.error_code, code(ResponseError::InvalidRecord), "{compression:?}");
        assert_eq!(response.record_errors.len(), 1);
        assert_eq!(response.record_errors[0].batch_index, 1);
        assert!(response.error_message.unwrap().contains("Compacted topic cannot accept message without key"));
    }
    assert_eq!(produce(&mut client, 9, "table", 0, batch(&[(Some(b"k"), b"v")], now_ms(), Compression::None)).error_code, 0);
}

/// DeleteRecords moves the log start offset: ListOffsets(earliest) and Fetch follow it.
#[test]
fn delete_records_moves_the_log_start_offset() {
    let (_dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    create_topic(&mut client, "trimmed", 1, &[]);
    for _ in 0..4 {
        produce(&mut client, 9, "trimmed", 0, batch(&[(Some(b"k"), b"a"), (Some(b"k"), b"b")], now_ms(), Compression::None));
    }
    let delete = |offset: i64| {
        DeleteRecordsRequest::default().with_timeout_ms(10_000).with_topics(vec![DeleteRecordsTopic::default()
            .with_name(name("trimmed"))
            .with_partitions(vec![DeleteRecordsPartition::default().with_partition_index(0).with_offset(offset)])])
    };
    let result = client.call(2, &delete(5)).topics.remove(0).partitions.remove(0);
    assert_eq!((result.error_code, result.low_watermark), (0, 5));
    let result = client.call(2, &delete(3)).topics.remove(0).partitions.remove(0);
    assert_eq!((result.error_code, result.low_watermark), (0, 5), "below the start: nothing changes");
    let result = client.call(2, &delete(9)).topics.remove(0).partitions.remove(0);
    assert_eq!(result.error_code, code(ResponseError::OffsetOutOfRange));
    let earliest = ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![ListOffsetsTopic::default()
        .with_name(name("trimmed"))
        .with_partitions(vec![ListOffsetsPartition::default().with_partition_index(0).with_timestamp(-2)])]);
    assert_eq!(client.call(7, &earliest).topics[0].partitions[0].offset, 5);
    assert_eq!(fetch(&mut client, 12, "trimmed", 2, 1 << 20, 1 << 20).error_code, code(ResponseError::OffsetOutOfRange));
    let result = client.call(2, &delete(-1)).topics.remove(0).partitions.remove(0);
    assert_eq!((result.error_code, result.low_watermark), (0, 8), "-1 is the high watermark");
    let result = client.call(2, &DeleteRecordsRequest::default().with_topics(vec![DeleteRecordsTopic::default()
        .with_name(name("missing"))
        .with_partitions(vec![DeleteRecordsPartition::default().with_partition_index(0).with_offset(1)])]));
    assert_eq!(result.topics[0].partitions[0].error_code, code(ResponseError::UnknownTopicOrPartition));
}

/// DescribeLogDirs, DescribeProducers, ElectLeaders and the reassignment APIs answer as Kafka
/// answers for a cluster of one broker.
#[test]
fn partition_admin_apis_answer_for_one_broker() {
    let (_dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    create_topic(&mut client, "admin", 2, &[]);
    produce(&mut client, 9, "admin", 1, batch(&[(Some(b"k"), b"v")], now_ms(), Compression::None));

    let dirs = client.call(4, &DescribeLogDirsRequest::default().with_topics(None));
    assert_eq!(dirs.results.len(), 1);
    let result = &dirs.results[0];
    assert!(result.total_bytes > 0 && result.usable_bytes > 0);
    let admin = result.topics.iter().find(|t| t.name.as_str() == "admin").expect("the topic is listed");
    assert_eq!(admin.partitions.len(), 2);
    assert!(admin.partitions.iter().any(|p| p.partition_index == 1 && p.partition_size > 0));

    let elected = client.call(2, &ElectLeadersRequest::default().with_topic_partitions(Some(vec![
        kafka_protocol::messages::elect_leaders_request::TopicPartitions::default().with_topic(name("admin")).with_partitions(vec![0, 7]),
    ])));
    let partitions = &elected.replica_election_results[0].partition_result;
    assert_eq!(partitions[0].error_code, code(ResponseError::ElectionNotNeeded));
    assert_eq!(partitions[1].error_code, code(ResponseError::UnknownTopicOrPartition));

    let listed = client.call(0, &ListPartitionReassignmentsRequest::default().with_topics(None));
    assert_eq!((listed.error_code, listed.error_message, listed.topics.len()), (0, None, 0));
}

/// An acks=0 producer gets no response, so Kafka closes the connection when a produce fails;
/// the requests answered before it are still delivered.
#[test]
fn failed_acks_0_produce_closes_the_connection() {
    use std::io::Read;
    let (_dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    let metadata = client.send(12, &MetadataRequest::default().with_topics(Some(Vec::new())));
    let request = ProduceRequest::default().with_acks(0).with_timeout_ms(10_000).with_topic_data(vec![TopicProduceData::default()
        .with_name(name("nowhere"))
        .with_partition_data(vec![PartitionProduceData::default().with_index(0).with_records(Some(batch(&[(None, b"v")], now_ms(), Compression::None)))])]);
    client.send(9, &request);
    assert!(client.receive::<MetadataRequest>(12, metadata).topics.is_empty());
    let mut rest = Vec::new();
    let read = client.stream().read_to_end(&mut rest);
    assert!(matches!(read, Ok(0)) || read.is_err(), "the connection is closed: {read:?} {rest:?}");
}

/// Transactions (KIP-98, KIP-890): a transactional batch is accepted only for a partition its
/// coordinator added to the producer's open transaction (INVALID_TXN_STATE otherwise, also once
/// that transaction ended), a producer fenced by a newer epoch hears PRODUCER_FENCED (or
/// INVALID_PRODUCER_EPOCH before v2), and a read_committed Fetch names the aborted transaction.
#[test]
fn transactional_batches_need_their_partition_in_the_open_transaction() {
    let (_dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    assert_eq!(create_topic(&mut client, "txv", 1, &[]).error_code, 0);
    let txn_id = || Some(TransactionalId(StrBytes::from_static_str("tv")));
    let found = client.call(3, &FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("tv")).with_key_type(1));
    assert_eq!(found.error_code, 0);
    let init = || InitProducerIdRequest::default().with_transactional_id(txn_id()).with_transaction_timeout_ms(60_000).with_producer_id(ProducerId(-1)).with_producer_epoch(-1);
    let first = client.call(4, &init());
    assert_eq!(first.error_code, 0);
    let producer = (first.producer_id.0, first.producer_epoch);
    let transactional = |sequence: i32, value: &[u8]| {
        let records = weir_integration_tests::raw::producer_batch(&[(None, value)], now_ms(), Compression::None, Some((producer.0, producer.1, sequence, true)));
        let request = ProduceRequest::default().with_transactional_id(txn_id()).with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![TopicProduceData::default()
            .with_name(name("txv"))
            .with_partition_data(vec![PartitionProduceData::default().with_index(0).with_records(Some(records))])]);
        request
    };
    let produced = |client: &mut RawClient, request: &ProduceRequest| client.call(9, request).responses[0].partition_responses[0].error_code;
    let add = |epoch: i16| {
        AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(txn_id().unwrap())
            .with_v3_and_below_producer_id(ProducerId(producer.0))
            .with_v3_and_below_producer_epoch(epoch)
            .with_v3_and_below_topics(vec![add_partitions_to_txn_request::AddPartitionsToTxnTopic::default().with_name(name("txv")).with_partitions(vec![0])])
    };
    let added = |client: &mut RawClient, version: i16, epoch: i16| client.call(version, &add(epoch)).results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code;

    assert_eq!(produced(&mut client, &transactional(0, b"early")), code(ResponseError::InvalidTxnState));
    assert_eq!(added(&mut client, 3, producer.1), 0);
    assert_eq!(produced(&mut client, &transactional(0, b"aborted")), 0);
    let end = |epoch: i16| EndTxnRequest::default().with_transactional_id(txn_id().unwrap()).with_producer_id(ProducerId(producer.0)).with_producer_epoch(epoch).with_committed(false);
    assert_eq!(client.call(3, &end(producer.1)).error_code, 0);
    // The transaction ended: a late batch may not open another one.
    assert_eq!(produced(&mut client, &transactional(1, b"late")), code(ResponseError::InvalidTxnState));

    let fetched = {
        let request = FetchRequest::default().with_replica_id(BrokerId(-1)).with_max_wait_ms(0).with_max_bytes(1 << 20).with_isolation_level(1).with_topics(vec![FetchTopic::default()
            .with_topic(name("txv"))
            .with_partitions(vec![FetchPartition::default().with_partition(0).with_fetch_offset(0).with_partition_max_bytes(1 << 20)])]);
        client.call(11, &request).responses.remove(0).partitions.remove(0)
    };
    let aborted: Vec<(i64, i64)> = fetched.aborted_transactions.unwrap_or_default().iter().map(|a| (a.producer_id.0, a.first_offset)).collect();
    assert_eq!(aborted, vec![(producer.0, 0)]);
    assert_eq!((fetched.last_stable_offset, fetched.high_watermark), (2, 2), "the data and its ABORT marker");

    // A new producer with the same transactional id fences this one.
    let second = client.call(4, &init());
    assert_eq!((second.error_code, second.producer_id.0, second.producer_epoch), (0, producer.0, producer.1 + 1));
    assert_eq!(added(&mut client, 3, producer.1), code(ResponseError::ProducerFenced));
    assert_eq!(added(&mut client, 1, producer.1), code(ResponseError::InvalidProducerEpoch));
    assert_eq!(client.call(3, &end(producer.1)).error_code, code(ResponseError::ProducerFenced));
}

/// Kafka answers a connection's requests in order, each as soon as it and those before it are
/// done: a pipelining producer (≤ 5 in flight) must not wait for the requests behind its
/// own. Here a short long poll is answered while a longer one behind it still waits.
#[test]
fn a_ready_response_is_not_held_behind_a_later_request() {
    let (_dir, weir) = start();
    let mut client = RawClient::connect(&weir.addr);
    assert_eq!(create_topic(&mut client, "pipelined", 1, &[]).error_code, 0);
    // Nothing is produced: each poll answers (empty) when its max_wait_ms is over.
    let long_poll = |max_wait_ms: i32| {
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(max_wait_ms)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_topics(vec![FetchTopic::default()
                .with_topic(name("pipelined"))
                .with_partitions(vec![FetchPartition::default().with_partition(0).with_fetch_offset(0).with_partition_max_bytes(1 << 20)])])
    };
    let started = std::time::Instant::now();
    let short = client.send(12, &long_poll(300));
    let long = client.send(12, &long_poll(2_500));
    client.receive::<FetchRequest>(12, short);
    let answered = started.elapsed();
    assert!(answered < Duration::from_millis(1_500), "the first poll's response waited {answered:?}, for the poll behind it");
    client.receive::<FetchRequest>(12, long);
    assert!(started.elapsed() >= Duration::from_secs(2), "the second poll waited its own max_wait_ms");
}
