//! Compatibility driver for the rdkafka crate (librdkafka): `compat-rdkafka BOOTSTRAP PREFIX`.
//! Runs every scenario of `clients/SCENARIOS.md` and prints one RESULT line for each.

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, Offset, Timestamp, TopicPartitionList};
use weir_integration_tests::compat::driver::{
    self, compare, compare_exactly_once, compare_in_order, keyed_records, t0, tricky_records, txn_records, upper, Checked, Rec, Step, STEP_TIMEOUT,
};
use weir_integration_tests::ensure;

struct Driver {
    bootstrap: String,
    prefix: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (bootstrap, prefix) = driver::args();
    let d = Driver { bootstrap, prefix };
    driver::run("rdkafka", |id| {
        Step::Run(match id {
            "create_topics" => Box::pin(d.create_topics()),
            "describe_topics" => Box::pin(d.describe_topics()),
            "describe_configs" => Box::pin(d.describe_configs()),
            "create_partitions" => Box::pin(d.create_partitions()),
            "describe_cluster" => Box::pin(d.describe_cluster()),
            "delete_topics" => Box::pin(d.delete_topics()),
            "keys_headers_nulls" => Box::pin(d.round_trip("records", tricky_records(true, true, t0()), &[])),
            "codec_none" => Box::pin(d.round_trip("codec-none", keyed_records("none", 50, None), &[("compression.type", "none")])),
            "codec_gzip" => Box::pin(d.round_trip("codec-gzip", keyed_records("gzip", 50, None), &[("compression.type", "gzip")])),
            "codec_snappy" => Box::pin(d.round_trip("codec-snappy", keyed_records("snappy", 50, None), &[("compression.type", "snappy")])),
            "codec_lz4" => Box::pin(d.round_trip("codec-lz4", keyed_records("lz4", 50, None), &[("compression.type", "lz4")])),
            "codec_zstd" => Box::pin(d.round_trip("codec-zstd", keyed_records("zstd", 50, None), &[("compression.type", "zstd")])),
            "acks_0" => Box::pin(d.round_trip("acks-0", keyed_records("acks0", 50, None), &[("acks", "0"), ("enable.idempotence", "false")])),
            "acks_1" => Box::pin(d.round_trip("acks-1", keyed_records("acks1", 50, None), &[("acks", "1"), ("enable.idempotence", "false")])),
            "acks_all" => Box::pin(d.round_trip("acks-all", keyed_records("acksall", 50, None), &[("acks", "all")])),
            "idempotent" => Box::pin(d.round_trip("idempotent", keyed_records("idem", 200, None), &[("enable.idempotence", "true")])),
            "assign_seek" => Box::pin(d.assign_seek()),
            "offsets_for_times" => Box::pin(d.offsets_for_times()),
            "group_commit" => Box::pin(d.group_commit()),
            "committed_offsets" => Box::pin(d.committed_offsets()),
            "transactions" => Box::pin(d.transactions()),
            "send_offsets_to_transaction" => Box::pin(d.send_offsets_to_transaction()),
            _ => return Step::Unsupported("not implemented by this driver"),
        })
    })
    .await;
}

impl Driver {
    fn topic(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    fn config(&self, extra: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap).set("broker.address.family", "v4");
        for (k, v) in extra {
            config.set(*k, *v);
        }
        config
    }

    fn admin(&self) -> Result<AdminClient<DefaultClientContext>, String> {
        self.config(&[]).create().map_err(|e| format!("admin client: {e}"))
    }

    fn consumer(&self, extra: &[(&str, &str)]) -> Result<BaseConsumer, String> {
        let mut config = self.config(&[("enable.auto.commit", "false"), ("auto.offset.reset", "earliest")]);
        if !extra.iter().any(|(k, _)| *k == "group.id") {
            // librdkafka wants a group id even for manual assignment; nothing joins or commits.
            config.set("group.id", self.topic("unused"));
        }
        for (k, v) in extra {
            config.set(*k, *v);
        }
        config.create().map_err(|e| format!("consumer: {e}"))
    }

    fn options() -> AdminOptions {
        AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))).request_timeout(Some(STEP_TIMEOUT))
    }

    async fn create(&self, topic: &str, partitions: i32, configs: &[(&str, &str)]) -> Result<Option<RDKafkaErrorCode>, String> {
        let mut new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        for (k, v) in configs {
            new = new.set(k, v);
        }
        let results = self.admin()?.create_topics(&[new], &Self::options()).await.map_err(|e| format!("create_topics: {e}"))?;
        Ok(results.into_iter().next().and_then(|r| r.err()).map(|(_, code)| code))
    }

    /// Partition ids of `topic` with a leader, from a fresh metadata request.
    fn partitions_with_leaders(&self, topic: &str) -> Result<Vec<i32>, String> {
        let admin = self.admin()?;
        let metadata = admin.inner().fetch_metadata(Some(topic), STEP_TIMEOUT).map_err(|e| format!("metadata: {e}"))?;
        let brokers: Vec<i32> = metadata.brokers().iter().map(|b| b.id()).collect();
        let t = metadata.topics().iter().find(|t| t.name() == topic).ok_or("topic not in metadata")?;
        if let Some(e) = t.error() {
            return Err(format!("topic error {e:?}"));
        }
        let mut ids: Vec<i32> = t.partitions().iter().filter(|p| brokers.contains(&p.leader())).map(|p| p.id()).collect();
        ids.sort();
        Ok(ids)
    }

    async fn create_topics(&self) -> Checked {
        let topic = self.topic("admin");
        let first = self.create(&topic, 3, &[("retention.ms", "3600000")]).await?;
        ensure!(first.is_none(), "create_topics failed: {first:?}");
        let again = self.create(&topic, 3, &[]).await?;
        ensure!(again == Some(RDKafkaErrorCode::TopicAlreadyExists), "creating it again: {again:?}, want TopicAlreadyExists");
        Ok("created with 3 partitions and retention.ms; again → TOPIC_ALREADY_EXISTS".into())
    }

    async fn describe_topics(&self) -> Checked {
        let topic = self.topic("admin");
        let ids = driver::wait_until("3 partitions with leaders", || async { Ok(Some(self.partitions_with_leaders(&topic)?).filter(|ids| ids == &[0, 1, 2])) }).await?;
        Ok(format!("metadata: partitions {ids:?} with leaders"))
    }

    async fn describe_configs(&self) -> Checked {
        let topic = self.topic("admin");
        let results = self
            .admin()?
            .describe_configs(&[ResourceSpecifier::Topic(&topic)], &Self::options())
            .await
            .map_err(|e| format!("describe_configs: {e}"))?;
        let resource = results.into_iter().next().ok_or("no result")?.map_err(|e| format!("describe_configs: {e:?}"))?;
        let value = |name: &str| resource.get(name).and_then(|e| e.value.clone());
        ensure!(value("retention.ms").as_deref() == Some("3600000"), "retention.ms = {:?}", value("retention.ms"));
        ensure!(value("cleanup.policy").as_deref() == Some("delete"), "cleanup.policy = {:?}", value("cleanup.policy"));
        Ok(format!("{} entries; retention.ms=3600000, cleanup.policy=delete", resource.entries.len()))
    }

    async fn create_partitions(&self) -> Checked {
        let topic = self.topic("admin");
        let results = self
            .admin()?
            .create_partitions(&[NewPartitions::new(&topic, 5)], &Self::options())
            .await
            .map_err(|e| format!("create_partitions: {e}"))?;
        for r in results {
            r.map_err(|(_, e)| format!("create_partitions: {e:?}"))?;
        }
        driver::wait_until("5 partitions with leaders", || async { Ok(Some(()).filter(|_| self.partitions_with_leaders(&topic).is_ok_and(|ids| ids == [0, 1, 2, 3, 4]))) })
            .await?;
        Ok("grown to 5 partitions".into())
    }

    async fn describe_cluster(&self) -> Checked {
        // The crate has no DescribeCluster call: the cluster is what Metadata describes.
        let admin = self.admin()?;
        let metadata = admin.inner().fetch_metadata(None, STEP_TIMEOUT).map_err(|e| format!("metadata: {e}"))?;
        let brokers: Vec<String> = metadata.brokers().iter().map(|b| format!("{}:{}", b.host(), b.port())).collect();
        ensure!(brokers == [self.bootstrap.clone()], "brokers {brokers:?}, want [{}]", self.bootstrap);
        let cluster_id = admin.inner().fetch_cluster_id(STEP_TIMEOUT).unwrap_or_default();
        ensure!(!cluster_id.is_empty(), "empty cluster id");
        Ok(format!("one broker at {}, cluster id {cluster_id} (Metadata)", self.bootstrap))
    }

    async fn delete_topics(&self) -> Checked {
        let topic = self.topic("admin");
        let results = self.admin()?.delete_topics(&[&topic], &Self::options()).await.map_err(|e| format!("delete_topics: {e}"))?;
        for r in results {
            r.map_err(|(_, e)| format!("delete_topics: {e:?}"))?;
        }
        driver::wait_until("topic gone from metadata", || async {
            let admin = self.admin()?;
            let metadata = admin.inner().fetch_metadata(None, STEP_TIMEOUT).map_err(|e| format!("metadata: {e}"))?;
            Ok(Some(()).filter(|_| metadata.topics().iter().all(|t| t.name() != topic)))
        })
        .await?;
        Ok("deleted; gone from metadata".into())
    }

    /// Produces `records` to partition 0 with a new producer; returns the acknowledged offsets.
    async fn produce(&self, topic: &str, records: &[Rec], settings: &[(&str, &str)]) -> Result<Vec<i64>, String> {
        let producer: FutureProducer = self.config(settings).create().map_err(|e| format!("producer: {e}"))?;
        send_all(&producer, topic, records).await
    }

    /// Reads `count` records of partition 0 from `from` with a manual assignment.
    fn read(&self, topic: &str, from: i64, count: usize) -> Result<Vec<Rec>, String> {
        let consumer = self.consumer(&[])?;
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(topic, 0, Offset::Offset(from)).map_err(|e| e.to_string())?;
        consumer.assign(&assignment).map_err(|e| format!("assign: {e}"))?;
        poll(&consumer, count, Duration::from_millis(500))
    }

    async fn round_trip(&self, name: &str, records: Vec<Rec>, settings: &[(&str, &str)]) -> Checked {
        let topic = self.topic(name);
        ensure!(self.create(&topic, 1, &[]).await?.is_none(), "could not create {topic}");
        let offsets = self.produce(&topic, &records, settings).await?;
        let acks_known = !settings.contains(&("acks", "0"));
        ensure!(!acks_known || offsets == (0..records.len() as i64).collect::<Vec<_>>(), "acknowledged offsets {offsets:?}");
        compare(&records, &self.read(&topic, 0, records.len())?, 0, 0)?;
        Ok(format!("{} records produced and read back field by field", records.len()))
    }

    async fn assign_seek(&self) -> Checked {
        let topic = self.topic("seek");
        ensure!(self.create(&topic, 1, &[]).await?.is_none(), "could not create {topic}");
        let records = keyed_records("seek", 20, None);
        self.produce(&topic, &records, &[]).await?;
        let consumer = self.consumer(&[])?;
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(&topic, 0, Offset::Beginning).map_err(|e| e.to_string())?;
        consumer.assign(&assignment).map_err(|e| format!("assign: {e}"))?;
        // A seek needs the partition fetching; the first record shows it is.
        let first = poll(&consumer, 1, Duration::ZERO)?;
        ensure!(first.first().map(|r| r.offset) == Some(0), "first record {first:?}");
        consumer.seek(&topic, 0, Offset::Offset(7), STEP_TIMEOUT).map_err(|e| format!("seek: {e}"))?;
        compare(&records[7..], &poll(&consumer, 13, Duration::from_millis(500))?, 0, 7)?;
        Ok("seek to 7 returned records 7..19".into())
    }

    async fn offsets_for_times(&self) -> Checked {
        let topic = self.topic("times");
        ensure!(self.create(&topic, 1, &[]).await?.is_none(), "could not create {topic}");
        let base = t0();
        let records = keyed_records("times", 10, Some(base));
        self.produce(&topic, &records, &[]).await?;
        let consumer = self.consumer(&[])?;
        let lookup = |ts: i64| -> Result<Offset, String> {
            let mut query = TopicPartitionList::new();
            query.add_partition_offset(&topic, 0, Offset::Offset(ts)).map_err(|e| e.to_string())?;
            let found = consumer.offsets_for_times(query, STEP_TIMEOUT).map_err(|e| format!("offsets_for_times: {e}"))?;
            found.find_partition(&topic, 0).map(|p| p.offset()).ok_or_else(|| "partition missing from answer".into())
        };
        let mid = lookup(base + 4500)?;
        ensure!(mid == Offset::Offset(5), "offset for T0+4500: {mid:?}, want 5");
        let after = lookup(base + 100_000)?;
        ensure!(matches!(after, Offset::End | Offset::Invalid | Offset::Offset(-1)), "offset after the last record: {after:?}");
        compare(&records[5..], &self.read(&topic, 5, 5)?, 0, 5)?;
        Ok(format!("T0+4500 → 5, after the end → {after:?}; read 5..9 back"))
    }

    async fn group_commit(&self) -> Checked {
        let topic = self.topic("group");
        ensure!(self.create(&topic, 2, &[]).await?.is_none(), "could not create {topic}");
        let records = keyed_records("group", 40, None);
        let producer: FutureProducer = self.config(&[]).create().map_err(|e| format!("producer: {e}"))?;
        for r in &records {
            let record = FutureRecord::<Vec<u8>, Vec<u8>>::to(&topic).key(r.key.as_ref().ok_or("no key")?).payload(r.value.as_ref().ok_or("no value")?);
            producer.send(record, STEP_TIMEOUT).await.map_err(|(e, _)| format!("send: {e}"))?;
        }
        let consumer = self.consumer(&[("group.id", &self.topic("group"))])?;
        consumer.subscribe(&[&topic]).map_err(|e| format!("subscribe: {e}"))?;
        let got = poll(&consumer, 40, Duration::from_secs(1))?;
        compare_exactly_once(&records, &got)?;
        consumer.commit_consumer_state(CommitMode::Sync).map_err(|e| format!("commit: {e}"))?;
        let partitions: std::collections::BTreeSet<i32> = got.iter().map(|r| r.partition).collect();
        Ok(format!("40 records once each from partitions {partitions:?}; committed"))
    }

    async fn committed_offsets(&self) -> Checked {
        let topic = self.topic("group");
        let consumer = self.consumer(&[("group.id", &self.topic("group"))])?;
        let mut wanted = TopicPartitionList::new();
        wanted.add_partition(&topic, 0);
        wanted.add_partition(&topic, 1);
        let committed = consumer.committed_offsets(wanted, STEP_TIMEOUT).map_err(|e| format!("committed: {e}"))?;
        for p in 0..2 {
            let (_, end) = consumer.fetch_watermarks(&topic, p, STEP_TIMEOUT).map_err(|e| format!("watermarks: {e}"))?;
            let got = committed.find_partition(&topic, p).map(|e| e.offset());
            ensure!(got == Some(Offset::Offset(end)), "partition {p}: committed {got:?}, end offset {end}");
        }
        Ok("committed offsets equal the end offsets of both partitions".into())
    }

    /// Reads partition 0 of `topic` from the beginning with `isolation.level` = `level`.
    fn read_isolated(&self, topic: &str, level: &str, count: usize) -> Result<Vec<Rec>, String> {
        let consumer = self.consumer(&[("isolation.level", level)])?;
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(topic, 0, Offset::Beginning).map_err(|e| e.to_string())?;
        consumer.assign(&assignment).map_err(|e| format!("assign: {e}"))?;
        poll(&consumer, count, Duration::from_millis(500))
    }

    /// A transactional producer (`transactional.id` = `id`), initialised.
    fn txn_producer(&self, id: &str) -> Result<FutureProducer, String> {
        let producer: FutureProducer = self.config(&[("transactional.id", id)]).create().map_err(|e| format!("transactional producer: {e}"))?;
        producer.init_transactions(STEP_TIMEOUT).map_err(|e| format!("init_transactions: {e}"))?;
        Ok(producer)
    }

    async fn transactions(&self) -> Checked {
        let topic = self.topic("txn");
        ensure!(self.create(&topic, 1, &[]).await?.is_none(), "could not create {topic}");
        let batches = [(txn_records("a"), true), (txn_records("b"), false), (txn_records("c"), true)];
        let producer = self.txn_producer(&topic)?;
        let mut acked = Vec::new();
        for (records, commit) in &batches {
            producer.begin_transaction().map_err(|e| format!("begin_transaction: {e}"))?;
            acked.extend(send_all(&producer, &topic, records).await?);
            end_transaction(&producer, *commit)?;
        }
        let sent: Vec<Rec> = batches.iter().flat_map(|(records, _)| records.clone()).collect();
        let committed: Vec<Rec> = batches.iter().filter(|(_, commit)| *commit).flat_map(|(records, _)| records.clone()).collect();
        ensure!(acked.len() == sent.len(), "{} acks for {} records", acked.len(), sent.len());
        let committed_acks: Vec<i64> = acked[..10].iter().chain(&acked[20..]).copied().collect();
        let got = self.read_isolated(&topic, "read_committed", committed.len())?;
        compare_in_order(&committed, &got, Some(committed_acks.as_slice()), 0)?;
        compare_in_order(&sent, &self.read_isolated(&topic, "read_uncommitted", sent.len())?, Some(acked.as_slice()), 0)?;
        Ok(format!(
            "a0..a9 committed, b0..b9 aborted, c0..c9 committed (acked offsets {}..{}); read_committed got exactly a*, c* (offsets {}..{}, {}..{}), read_uncommitted all 30 in order",
            acked[0], acked[29], got[0].offset, got[9].offset, got[10].offset, got[19].offset
        ))
    }

    /// The committed offset of `topic`/0 for the group of `consumer` (read_committed, so
    /// librdkafka asks for stable offsets: none pending in a transaction).
    fn committed_offset(consumer: &BaseConsumer, topic: &str) -> Result<Offset, String> {
        let mut wanted = TopicPartitionList::new();
        wanted.add_partition(topic, 0);
        let committed = consumer.committed_offsets(wanted, STEP_TIMEOUT).map_err(|e| format!("committed: {e}"))?;
        let entry = committed.find_partition(topic, 0).ok_or("partition missing from committed offsets")?;
        entry.error().map_err(|e| format!("committed: {e}"))?;
        Ok(entry.offset())
    }

    async fn send_offsets_to_transaction(&self) -> Checked {
        let (group, src, dst) = (self.topic("eos"), self.topic("eos-in"), self.topic("eos-out"));
        ensure!(self.create(&src, 1, &[]).await?.is_none(), "could not create {src}");
        ensure!(self.create(&dst, 1, &[]).await?.is_none(), "could not create {dst}");
        let (first, more) = (keyed_records("eos", 10, None), keyed_records("eos-more", 5, None));
        let acked = self.produce(&src, &first, &[]).await?;
        ensure!(acked == (0..10).collect::<Vec<i64>>(), "acknowledged offsets {acked:?}");
        let consumer = self.consumer(&[("group.id", group.as_str()), ("isolation.level", "read_committed")])?;
        consumer.subscribe(&[&src]).map_err(|e| format!("subscribe: {e}"))?;
        let producer = self.txn_producer(&group)?;
        let out_acks = transform(&consumer, &producer, &src, &dst, &first, true, 0).await?;
        driver::wait_until("committed offset 10", || async {
            let offset = Self::committed_offset(&consumer, &src)?;
            if offset == Offset::Offset(10) {
                Ok(Some(()))
            } else {
                Err(format!("committed {offset:?}"))
            }
        })
        .await?;
        compare_in_order(&upper(&first), &self.read_isolated(&dst, "read_committed", 10)?, Some(out_acks.as_slice()), 0)?;
        let acked = self.produce(&src, &more, &[]).await?;
        ensure!(acked == (10..15).collect::<Vec<i64>>(), "acknowledged offsets {acked:?}");
        transform(&consumer, &producer, &src, &dst, &more, false, 10).await?;
        compare_in_order(&upper(&first), &self.read_isolated(&dst, "read_committed", 10)?, Some(out_acks.as_slice()), 0)?;
        let after_abort = Self::committed_offset(&consumer, &src)?;
        ensure!(after_abort == Offset::Offset(10), "after the aborted transaction (offsets at 15) the committed offset is {after_abort:?}, want 10");
        Ok("10 records consumed, written upper-cased + offsets (position 10, group_metadata()) committed in a transaction: committed offset 10, \
            read_committed output = those 10; 5 more in an aborted transaction: committed offset still 10, output still those 10"
            .into())
    }
}

/// One round of consume-transform-produce: `consumer` receives `records` of `src`/0 (from
/// `first_offset`); in one transaction `producer` writes them to `dst`/0 upper-cased and sends
/// the consumer's position with its group metadata, then commits or aborts. Returns the acked
/// offsets of the output.
async fn transform(consumer: &BaseConsumer, producer: &FutureProducer, src: &str, dst: &str, records: &[Rec], commit: bool, first_offset: i64) -> Result<Vec<i64>, String> {
    compare(records, &poll(consumer, records.len(), Duration::from_millis(500))?, 0, first_offset)?;
    let position = consumer.position().map_err(|e| format!("position: {e}"))?;
    let at = position.find_partition(src, 0).map(|p| p.offset());
    let want = Offset::Offset(first_offset + records.len() as i64);
    ensure!(at == Some(want), "consumer position {at:?}, want {want:?}");
    let metadata = consumer.group_metadata().ok_or("the consumer has no group metadata")?;
    producer.begin_transaction().map_err(|e| format!("begin_transaction: {e}"))?;
    let acks = send_all(producer, dst, &upper(records)).await?;
    producer.send_offsets_to_transaction(&position, &metadata, STEP_TIMEOUT).map_err(|e| format!("send_offsets_to_transaction: {e}"))?;
    end_transaction(producer, commit)?;
    Ok(acks)
}

/// Ends the open transaction of `producer`: commits or aborts it.
fn end_transaction(producer: &FutureProducer, commit: bool) -> Result<(), String> {
    if commit {
        producer.commit_transaction(STEP_TIMEOUT).map_err(|e| format!("commit_transaction: {e}"))
    } else {
        producer.abort_transaction(STEP_TIMEOUT).map_err(|e| format!("abort_transaction: {e}"))
    }
}

/// Sends `records` to partition 0 of `topic` in order with `producer`; returns the acknowledged
/// offsets (-1 where the client cannot know, as with acks=0).
async fn send_all(producer: &FutureProducer, topic: &str, records: &[Rec]) -> Result<Vec<i64>, String> {
    let mut deliveries = Vec::new();
    for r in records {
        let mut headers = OwnedHeaders::new();
        for (key, value) in &r.headers {
            headers = headers.insert(Header { key, value: value.as_ref() });
        }
        let mut record: FutureRecord<'_, Vec<u8>, Vec<u8>> = FutureRecord::to(topic).partition(0).headers(headers);
        record.key = r.key.as_ref();
        record.payload = r.value.as_ref();
        record.timestamp = r.timestamp;
        // Queue everything first (as an application would), then await the acks in order.
        deliveries.push(producer.send_result(record).map_err(|(e, _)| format!("send: {e}"))?);
    }
    let mut offsets = Vec::new();
    for delivery in deliveries {
        let delivered = tokio::time::timeout(STEP_TIMEOUT, delivery).await.map_err(|_| "no ack in time".to_owned())?;
        let delivered = delivered.map_err(|_| "delivery canceled".to_owned())?.map_err(|(e, _)| format!("delivery: {e}"))?;
        offsets.push(delivered.offset);
    }
    Ok(offsets)
}

/// Polls until `count` records arrived (then `linger` more to catch extras) or the step times out.
fn poll(consumer: &BaseConsumer, count: usize, linger: Duration) -> Result<Vec<Rec>, String> {
    let mut got = Vec::new();
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut linger_until = None;
    while Instant::now() < deadline && linger_until.is_none_or(|until| Instant::now() < until) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => got.push(Rec {
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                headers: m.headers().map(|h| h.iter().map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec))).collect()).unwrap_or_default(),
                timestamp: match m.timestamp() {
                    Timestamp::CreateTime(ts) => Some(ts),
                    _ => Some(-1),
                },
                partition: m.partition(),
                offset: m.offset(),
            }),
            Some(Err(e)) => return Err(format!("consume: {e}")),
            None => {}
        }
        if got.len() >= count && linger_until.is_none() {
            linger_until = Some(Instant::now() + linger);
        }
    }
    ensure!(got.len() >= count, "received {} of {count} records in {STEP_TIMEOUT:?}", got.len());
    Ok(got)
}
