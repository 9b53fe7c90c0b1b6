//! `weir produce` and `weir consume`: quick checks from a shell (rpk's `topic produce` /
//! `topic consume`, kcat's `-P` / `-C`).

use std::io::BufRead;
use std::time::{Duration, Instant};

use clap::Args;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, Timestamp, TopicPartitionList};
use serde_json::{json, Value};
use weir::BrokerError;

use super::output::{print, Table};
use super::{client_error, split_pair, Connect, Format};

#[derive(Args)]
pub struct ProduceArgs {
    pub topic: String,
    /// Record values; without any, each line of stdin is one record.
    pub values: Vec<String>,
    /// The key of every record.
    #[arg(long, short = 'k')]
    pub key: Option<String>,
    /// Read `KEY<SEP>VALUE` lines (stdin or arguments), splitting at the first SEP.
    #[arg(long, value_name = "SEP", conflicts_with = "key")]
    pub key_separator: Option<String>,
    /// A header, `KEY=VALUE` (repeatable), on every record.
    #[arg(long, short = 'H', value_name = "KEY=VALUE")]
    pub header: Vec<String>,
    /// The partition (default: the producer's partitioner, by key).
    #[arg(long, short = 'p')]
    pub partition: Option<i32>,
    /// acks: 0, 1 or all.
    #[arg(long, default_value = "all")]
    pub acks: String,
    #[command(flatten)]
    pub connect: Connect,
}

#[derive(Args)]
pub struct ConsumeArgs {
    pub topic: String,
    /// Read as this consumer group (subscribing; offsets are committed). Without it, every
    /// partition is read directly, without a group.
    #[arg(long, short = 'g')]
    pub group: Option<String>,
    /// Start at the earliest offset (default: only new records; a group resumes from its
    /// committed offsets).
    #[arg(long)]
    pub from_beginning: bool,
    /// Only this partition (without a group).
    #[arg(long, short = 'p', conflicts_with = "group")]
    pub partition: Option<i32>,
    /// Stop after this many records.
    #[arg(long, short = 'n')]
    pub count: Option<usize>,
    /// Stop after this many milliseconds without a new record.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub idle_timeout_ms: u64,
    #[command(flatten)]
    pub connect: Connect,
}

pub async fn produce(args: ProduceArgs) -> Result<(), BrokerError> {
    let producer: FutureProducer = args
        .connect
        .client_config()?
        .set("acks", &args.acks)
        .set("message.timeout.ms", (args.connect.timeout().as_millis() as u64).to_string())
        .create()
        .map_err(client_error("create a producer"))?;
    let lines: Vec<String> = if args.values.is_empty() {
        std::io::stdin().lock().lines().collect::<Result<_, _>>().map_err(client_error("read stdin"))?
    } else {
        args.values.clone()
    };
    let mut headers = OwnedHeaders::new();
    for pair in &args.header {
        let (key, value) = split_pair(pair)?;
        headers = headers.insert(Header { key, value: Some(value) });
    }
    let mut pending = Vec::with_capacity(lines.len());
    for line in &lines {
        let (key, value) = match &args.key_separator {
            Some(sep) => match line.split_once(sep.as_str()) {
                Some((k, v)) => (Some(k), v),
                None => return Err(BrokerError::Client(format!("no key separator {sep:?} in {line:?}"))),
            },
            None => (args.key.as_deref(), line.as_str()),
        };
        let mut record = FutureRecord::<str, str>::to(&args.topic).payload(value).headers(headers.clone());
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(partition) = args.partition {
            record = record.partition(partition);
        }
        let delivery = producer.send_result(record).map_err(|(e, _)| BrokerError::Client(format!("cannot queue a record: {e}")))?;
        pending.push(delivery);
    }
    let mut table = Table::new(&["partition", "offset"]);
    for delivery in pending {
        match delivery.await {
            Ok(Ok(d)) => table.push(vec![json!(d.partition), json!(d.offset)]),
            Ok(Err((e, _))) => return Err(BrokerError::Client(format!("a record was not delivered: {e}"))),
            Err(_) => return Err(BrokerError::Client("the producer stopped before delivering".into())),
        }
    }
    match args.connect.format {
        Format::Table => {
            println!("produced {} records to {}", table.rows.len(), args.topic);
            if table.rows.len() <= 20 {
                print(Format::Table, &table);
            }
        }
        Format::Json => println!("{}", json!({"topic": args.topic, "produced": table.rows.len(), "records": table.to_json()})),
    }
    Ok(())
}

pub async fn consume(args: ConsumeArgs) -> Result<(), BrokerError> {
    let timeout = args.connect.timeout();
    let mut config = args.connect.client_config()?;
    config.set("auto.offset.reset", if args.from_beginning { "earliest" } else { "latest" });
    match &args.group {
        Some(group) => config.set("group.id", group).set("enable.auto.commit", "false"),
        None => config.set("group.id", "weir-cli-consume").set("enable.auto.commit", "false"),
    };
    let consumer: BaseConsumer = config.create().map_err(client_error("create a consumer"))?;
    if args.group.is_some() {
        consumer.subscribe(&[&args.topic]).map_err(client_error("subscribe"))?;
    } else {
        let metadata = consumer.fetch_metadata(Some(&args.topic), timeout).map_err(client_error("read the topic's metadata"))?;
        let topic = metadata
            .topics()
            .iter()
            .find(|t| t.name() == args.topic && t.error().is_none())
            .ok_or_else(|| BrokerError::Client(format!("topic {} not found", args.topic)))?;
        let mut assignment = TopicPartitionList::new();
        let start = if args.from_beginning { Offset::Beginning } else { Offset::End };
        for partition in topic.partitions().iter().map(|p| p.id()).filter(|p| args.partition.is_none_or(|only| only == *p)) {
            assignment.add_partition_offset(&args.topic, partition, start).map_err(client_error("build the assignment"))?;
        }
        consumer.assign(&assignment).map_err(client_error("assign partitions"))?;
    }
    let idle = Duration::from_millis(args.idle_timeout_ms);
    let mut last = Instant::now();
    let mut table = Table::new(&["partition", "offset", "timestamp", "key", "headers", "value"]);
    // With a group: the next offset of each partition, committed at the end (only what was printed).
    let mut consumed = std::collections::BTreeMap::new();
    while args.count.is_none_or(|n| table.rows.len() < n) && last.elapsed() < idle {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                last = Instant::now();
                consumed.insert(message.partition(), message.offset() + 1);
                let headers: serde_json::Map<String, Value> = message
                    .headers()
                    .map(|h| h.iter().map(|h| (h.key.to_owned(), h.value.map_or(Value::Null, |v| json!(String::from_utf8_lossy(v))))).collect())
                    .unwrap_or_default();
                let timestamp = match message.timestamp() {
                    Timestamp::CreateTime(ms) | Timestamp::LogAppendTime(ms) => chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339()),
                    Timestamp::NotAvailable => None,
                };
                table.push(vec![
                    json!(message.partition()),
                    json!(message.offset()),
                    json!(timestamp),
                    json!(message.key().map(String::from_utf8_lossy)),
                    Value::Object(headers),
                    json!(message.payload().map(String::from_utf8_lossy)),
                ]);
            }
            Some(Err(e)) => eprintln!("weir: consumer: {e}"),
            None => {}
        }
    }
    if args.group.is_some() && !consumed.is_empty() {
        let mut offsets = TopicPartitionList::new();
        for (partition, next) in &consumed {
            offsets.add_partition_offset(&args.topic, *partition, Offset::Offset(*next)).map_err(client_error("build the offsets"))?;
        }
        consumer.commit(&offsets, rdkafka::consumer::CommitMode::Sync).map_err(client_error("commit the group's offsets"))?;
    }
    print(args.connect.format, &table);
    Ok(())
}
