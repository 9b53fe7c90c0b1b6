//! Compatibility driver for the rskafka crate (pure Rust, no librdkafka):
//! `compat-rskafka BOOTSTRAP PREFIX`. Runs the scenarios of `clients/SCENARIOS.md` that
//! rskafka's API can express and prints one RESULT line for each.

use rskafka::chrono::{DateTime, Utc};
use rskafka::client::error::{Error, ProtocolError};
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use rskafka::BackoffConfig;
use weir_integration_tests::compat::driver::{self, compare, keyed_records, t0, tricky_records, Checked, Rec, Step, STEP_TIMEOUT};
use weir_integration_tests::ensure;

struct Driver {
    client: Client,
    prefix: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (bootstrap, prefix) = driver::args();
    let backoff = BackoffConfig { deadline: Some(STEP_TIMEOUT), ..BackoffConfig::default() };
    let client = match ClientBuilder::new(vec![bootstrap.clone()]).backoff_config(backoff).build().await {
        Ok(client) => client,
        Err(e) => {
            eprintln!("[rskafka] cannot connect to {bootstrap}: {e}");
            std::process::exit(1);
        }
    };
    let d = Driver { client, prefix };
    driver::run("rskafka", |id| {
        Step::Run(match id {
            "create_topics" => Box::pin(d.create_topics()),
            "describe_topics" => Box::pin(d.describe_topics()),
            "describe_configs" => return Step::Unsupported("rskafka has no DescribeConfigs call"),
            "create_partitions" => return Step::Unsupported("rskafka has no CreatePartitions call"),
            "describe_cluster" => return Step::Unsupported("rskafka does not expose brokers or the cluster id"),
            "delete_topics" => Box::pin(d.delete_topics()),
            // rskafka headers are a map of non-null values: no repeated keys, no null values.
            "keys_headers_nulls" => Box::pin(d.round_trip("records", sorted_headers(tricky_records(false, false, t0())), Compression::NoCompression)),
            "codec_none" => Box::pin(d.round_trip("codec-none", keyed_records("none", 50, None), Compression::NoCompression)),
            "codec_gzip" => Box::pin(d.round_trip("codec-gzip", keyed_records("gzip", 50, None), Compression::Gzip)),
            "codec_snappy" => Box::pin(d.round_trip("codec-snappy", keyed_records("snappy", 50, None), Compression::Snappy)),
            "codec_lz4" => Box::pin(d.round_trip("codec-lz4", keyed_records("lz4", 50, None), Compression::Lz4)),
            "codec_zstd" => Box::pin(d.round_trip("codec-zstd", keyed_records("zstd", 50, None), Compression::Zstd)),
            "acks_0" | "acks_1" => return Step::Unsupported("rskafka always produces with acks=all"),
            "acks_all" => Box::pin(d.round_trip("acks-all", keyed_records("acksall", 50, None), Compression::NoCompression)),
            "idempotent" => return Step::Unsupported("rskafka has no idempotent producer"),
            "assign_seek" => Box::pin(d.assign_seek()),
            "offsets_for_times" => Box::pin(d.offsets_for_times()),
            "group_commit" | "committed_offsets" => return Step::Unsupported("rskafka has no consumer groups"),
            "transactions" | "send_offsets_to_transaction" => return Step::Unsupported("rskafka has no transactional producer"),
            _ => return Step::Unsupported("not implemented by this driver"),
        })
    })
    .await;
}

impl Driver {
    fn topic(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    async fn create(&self, topic: &str, partitions: i32) -> Result<(), Error> {
        let controller = self.client.controller_client()?;
        controller.create_topic(topic, partitions, 1, 10_000).await
    }

    async fn topic_partitions(&self, topic: &str) -> Result<Option<Vec<i32>>, String> {
        let topics = self.client.list_topics().await.map_err(|e| format!("list_topics: {e}"))?;
        Ok(topics.into_iter().find(|t| t.name == topic).map(|t| t.partitions.into_iter().collect()))
    }

    async fn partition(&self, topic: &str) -> Result<PartitionClient, String> {
        self.client.partition_client(topic, 0, UnknownTopicHandling::Retry).await.map_err(|e| format!("partition client: {e}"))
    }

    async fn create_topics(&self) -> Checked {
        let topic = self.topic("admin");
        self.create(&topic, 3).await.map_err(|e| format!("create_topic: {e}"))?;
        let again = self.create(&topic, 3).await;
        ensure!(
            matches!(again, Err(Error::ServerError { protocol_error: ProtocolError::TopicAlreadyExists, .. })),
            "creating it again: {again:?}, want TopicAlreadyExists"
        );
        Ok("created with 3 partitions (rskafka cannot pass topic configs); again → TOPIC_ALREADY_EXISTS".into())
    }

    async fn describe_topics(&self) -> Checked {
        let topic = self.topic("admin");
        let partitions = driver::wait_until("3 partitions listed", || async { Ok(self.topic_partitions(&topic).await?.filter(|p| p == &[0, 1, 2])) }).await?;
        Ok(format!("list_topics: partitions {partitions:?} (rskafka does not expose leaders)"))
    }

    async fn delete_topics(&self) -> Checked {
        let topic = self.topic("admin");
        let controller = self.client.controller_client().map_err(|e| e.to_string())?;
        controller.delete_topic(&topic, 10_000).await.map_err(|e| format!("delete_topic: {e}"))?;
        driver::wait_until("topic gone", || async { Ok(self.topic_partitions(&topic).await?.is_none().then_some(())) }).await?;
        Ok("deleted; gone from list_topics".into())
    }

    /// Produces `records` to partition 0 of a new topic in one call, checks the acknowledged
    /// offsets, and reads them back.
    async fn round_trip(&self, name: &str, records: Vec<Rec>, compression: Compression) -> Checked {
        let topic = self.topic(name);
        self.create(&topic, 1).await.map_err(|e| format!("create_topic: {e}"))?;
        let partition = self.partition(&topic).await?;
        let records = stamp_missing_timestamps(records);
        let offsets = partition.produce(records.iter().map(to_record).collect::<Result<_, _>>()?, compression).await.map_err(|e| format!("produce: {e}"))?;
        ensure!(offsets == (0..records.len() as i64).collect::<Vec<_>>(), "acknowledged offsets {offsets:?}");
        compare(&records, &read(&partition, 0, records.len()).await?, 0, 0)?;
        Ok(format!("{} records produced and read back field by field", records.len()))
    }

    async fn assign_seek(&self) -> Checked {
        let topic = self.topic("seek");
        self.create(&topic, 1).await.map_err(|e| format!("create_topic: {e}"))?;
        let partition = self.partition(&topic).await?;
        let records = stamp_missing_timestamps(keyed_records("seek", 20, None));
        partition.produce(records.iter().map(to_record).collect::<Result<_, _>>()?, Compression::NoCompression).await.map_err(|e| format!("produce: {e}"))?;
        // rskafka's consumer is a partition client fetching from an offset of the caller's choice.
        compare(&records[7..], &read(&partition, 7, 13).await?, 0, 7)?;
        Ok("fetch from offset 7 returned records 7..19".into())
    }

    async fn offsets_for_times(&self) -> Checked {
        let topic = self.topic("times");
        self.create(&topic, 1).await.map_err(|e| format!("create_topic: {e}"))?;
        let partition = self.partition(&topic).await?;
        let base = t0();
        let records = keyed_records("times", 10, Some(base));
        partition.produce(records.iter().map(to_record).collect::<Result<_, _>>()?, Compression::NoCompression).await.map_err(|e| format!("produce: {e}"))?;
        let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).map(OffsetAt::Timestamp).ok_or("bad timestamp");
        let mid = partition.get_offset(at(base + 4500)?).await.map_err(|e| format!("get_offset: {e}"))?;
        ensure!(mid == 5, "offset for T0+4500: {mid}, want 5");
        let after = partition.get_offset(at(base + 100_000)?).await.map_err(|e| format!("get_offset: {e}"))?;
        ensure!(after == -1 || after == 10, "offset after the last record: {after}, want -1 or the end (10)");
        compare(&records[5..], &read(&partition, mid, 5).await?, 0, 5)?;
        Ok(format!("T0+4500 → 5, after the end → {after}; read 5..9 back"))
    }
}

/// rskafka returns headers as a sorted map, so the expected ones are sorted too.
fn sorted_headers(mut records: Vec<Rec>) -> Vec<Rec> {
    for r in &mut records {
        r.headers.sort();
    }
    records
}

/// rskafka sends a timestamp with every record: "now" where the scenario sets none.
fn stamp_missing_timestamps(mut records: Vec<Rec>) -> Vec<Rec> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    for r in &mut records {
        r.timestamp.get_or_insert(now);
    }
    records
}

fn to_record(r: &Rec) -> Result<Record, String> {
    let timestamp = r.timestamp.and_then(DateTime::<Utc>::from_timestamp_millis).ok_or("record without a valid timestamp")?;
    let headers = r.headers.iter().map(|(k, v)| Ok((k.clone(), v.clone().ok_or("rskafka has no null header values")?))).collect::<Result<_, String>>()?;
    Ok(Record { key: r.key.clone(), value: r.value.clone(), headers, timestamp })
}

/// Fetches `count` records of `partition` from `offset`.
async fn read(partition: &PartitionClient, mut offset: i64, count: usize) -> Result<Vec<Rec>, String> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    while got.len() < count {
        ensure!(tokio::time::Instant::now() < deadline, "read {} of {count} records in {STEP_TIMEOUT:?}", got.len());
        let (records, _high_watermark) = partition.fetch_records(offset, 1..1_000_000, 500).await.map_err(|e| format!("fetch: {e}"))?;
        for r in records {
            offset = r.offset + 1;
            got.push(Rec {
                key: r.record.key,
                value: r.record.value,
                headers: r.record.headers.into_iter().map(|(k, v)| (k, Some(v))).collect(),
                timestamp: Some(r.record.timestamp.timestamp_millis()),
                partition: 0,
                offset: r.offset,
            });
        }
    }
    // One more fetch must bring nothing: no extra records past the ones sent.
    let (extra, _) = partition.fetch_records(offset, 1..1_000_000, 100).await.map_err(|e| format!("fetch: {e}"))?;
    ensure!(extra.is_empty(), "{} records past the {count} expected", extra.len());
    Ok(got)
}
