//! `weir topic create|list|describe|delete|alter-config`.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use rdkafka::admin::{AdminOptions, AlterConfig, ConfigSource, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::consumer::Consumer;
use serde_json::{json, Value};
use weir::BrokerError;

use super::output::{print, print_result, print_sections, Table};
use super::{client_error, split_pair, Connect};

#[derive(Subcommand)]
pub enum TopicCommand {
    /// Create a topic.
    Create(CreateArgs),
    /// List topics (internal ones with --internal).
    List(ListArgs),
    /// Partitions (leader, replicas, ISR, offsets) and config overrides of topics.
    Describe(DescribeArgs),
    /// Delete topics.
    Delete(DeleteArgs),
    /// Set or remove a topic's config overrides (others are kept).
    AlterConfig(AlterConfigArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    pub name: String,
    /// Partitions (default: the broker's num.partitions).
    #[arg(long, short = 'p')]
    pub partitions: Option<i32>,
    /// Replicas per partition (default: the broker's default.replication.factor).
    #[arg(long, short = 'r')]
    pub replication_factor: Option<i32>,
    /// A topic config, `KEY=VALUE` (repeatable): `--config retention.ms=3600000`.
    #[arg(long, short = 'c', value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    #[command(flatten)]
    pub connect: Connect,
}

#[derive(Args)]
pub struct ListArgs {
    /// Include internal topics (`__consumer_offsets`).
    #[arg(long)]
    pub internal: bool,
    #[command(flatten)]
    pub connect: Connect,
}

#[derive(Args)]
pub struct DescribeArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Show every config with its source, not only the topic's overrides.
    #[arg(long)]
    pub all_configs: bool,
    #[command(flatten)]
    pub connect: Connect,
}

#[derive(Args)]
pub struct DeleteArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
    #[command(flatten)]
    pub connect: Connect,
}

#[derive(Args)]
pub struct AlterConfigArgs {
    pub name: String,
    /// Set an override, `KEY=VALUE` (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Remove an override, back to the broker's default (repeatable).
    #[arg(long, value_name = "KEY")]
    pub delete: Vec<String>,
    #[command(flatten)]
    pub connect: Connect,
}

pub async fn run(command: TopicCommand) -> Result<(), BrokerError> {
    match command {
        TopicCommand::Create(args) => create(args).await,
        TopicCommand::List(args) => list(args),
        TopicCommand::Describe(args) => describe(args).await,
        TopicCommand::Delete(args) => delete(args).await,
        TopicCommand::AlterConfig(args) => alter_config(args).await,
    }
}

fn options(connect: &Connect) -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(connect.timeout())).request_timeout(Some(connect.timeout()))
}

async fn create(args: CreateArgs) -> Result<(), BrokerError> {
    let admin = args.connect.admin()?;
    let configs = args.config.iter().map(|c| split_pair(c)).collect::<Result<Vec<_>, _>>()?;
    let mut topic = NewTopic::new(&args.name, args.partitions.unwrap_or(-1), TopicReplication::Fixed(args.replication_factor.unwrap_or(-1)));
    for (key, value) in configs {
        topic = topic.set(key, value);
    }
    let results = admin.create_topics([&topic], &options(&args.connect)).await.map_err(client_error("create the topic"))?;
    for result in results {
        result.map_err(|(topic, code)| BrokerError::Client(format!("cannot create topic {topic}: {code}")))?;
    }
    print_result(args.connect.format, &format!("created topic {}", args.name), &[("created", json!(args.name))]);
    Ok(())
}

fn list(args: ListArgs) -> Result<(), BrokerError> {
    let consumer = args.connect.consumer(None)?;
    let metadata = consumer.fetch_metadata(None, args.connect.timeout()).map_err(client_error("read the cluster metadata"))?;
    let mut table = Table::new(&["topic", "partitions", "replicas"]);
    let mut topics: Vec<_> = metadata.topics().iter().filter(|t| args.internal || !t.name().starts_with("__")).collect();
    topics.sort_by_key(|t| t.name());
    for topic in topics {
        let replicas = topic.partitions().first().map_or(0, |p| p.replicas().len());
        table.push(vec![json!(topic.name()), json!(topic.partitions().len()), json!(replicas)]);
    }
    print(args.connect.format, &table);
    Ok(())
}

async fn describe(args: DescribeArgs) -> Result<(), BrokerError> {
    let consumer = args.connect.consumer(None)?;
    let admin = args.connect.admin()?;
    let timeout = args.connect.timeout();
    let mut documents = Vec::new();
    for name in &args.names {
        let metadata = consumer.fetch_metadata(Some(name), timeout).map_err(client_error("read the topic's metadata"))?;
        let topic = metadata
            .topics()
            .iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| BrokerError::Client(format!("topic {name} not found")))?;
        if let Some(error) = topic.error() {
            return Err(BrokerError::Client(format!("topic {name}: {}", rdkafka::error::RDKafkaErrorCode::from(error))));
        }
        let mut partitions = Table::new(&["partition", "leader", "replicas", "isr", "log_start_offset", "log_end_offset"]);
        let mut sorted: Vec<_> = topic.partitions().iter().collect();
        sorted.sort_by_key(|p| p.id());
        for partition in sorted {
            let (low, high) = consumer.fetch_watermarks(name, partition.id(), timeout).map_err(client_error("read the partition's offsets"))?;
            partitions.push(vec![
                json!(partition.id()),
                json!(partition.leader()),
                json!(partition.replicas()),
                json!(partition.isr()),
                json!(low),
                json!(high),
            ]);
        }
        let resources = admin
            .describe_configs([&ResourceSpecifier::Topic(name)], &options(&args.connect))
            .await
            .map_err(client_error("describe the topic's configs"))?;
        let mut configs = Table::new(&["config", "value", "source"]);
        for resource in resources {
            let resource = resource.map_err(|code| BrokerError::Client(format!("cannot describe configs of {name}: {code}")))?;
            let mut entries: Vec<_> = resource.entries.iter().filter(|e| args.all_configs || e.source == ConfigSource::DynamicTopic).collect();
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            for entry in entries {
                let value = if entry.is_sensitive { Value::Null } else { json!(entry.value) };
                configs.push(vec![json!(entry.name), value, json!(source_name(&entry.source))]);
            }
        }
        documents.push((name.clone(), topic.partitions().len(), partitions, configs));
    }
    match args.connect.format {
        super::Format::Json if documents.len() > 1 => {
            let all: Vec<Value> = documents
                .iter()
                .map(|(name, count, partitions, configs)| {
                    json!({"topic": name, "partitions": partitions.to_json(), "partition_count": count, "configs": configs.to_json()})
                })
                .collect();
            println!("{}", Value::Array(all));
        }
        format => {
            for (name, count, partitions, configs) in &documents {
                print_sections(
                    format,
                    &[("topic", json!(name)), ("partition_count", json!(count))],
                    &[("partitions", partitions), ("configs", configs)],
                );
            }
        }
    }
    Ok(())
}

/// DescribeConfigs' source names, as kafka-configs.sh prints them.
pub fn source_name(source: &ConfigSource) -> &'static str {
    match source {
        ConfigSource::Unknown => "UNKNOWN",
        ConfigSource::DynamicTopic => "DYNAMIC_TOPIC_CONFIG",
        ConfigSource::DynamicBroker => "DYNAMIC_BROKER_CONFIG",
        ConfigSource::DynamicDefaultBroker => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        ConfigSource::StaticBroker => "STATIC_BROKER_CONFIG",
        ConfigSource::Default => "DEFAULT_CONFIG",
    }
}

async fn delete(args: DeleteArgs) -> Result<(), BrokerError> {
    let admin = args.connect.admin()?;
    let names: Vec<&str> = args.names.iter().map(String::as_str).collect();
    let results = admin.delete_topics(&names, &options(&args.connect)).await.map_err(client_error("delete topics"))?;
    for result in results {
        result.map_err(|(topic, code)| BrokerError::Client(format!("cannot delete topic {topic}: {code}")))?;
    }
    print_result(args.connect.format, &format!("deleted {}", args.names.join(", ")), &[("deleted", json!(args.names))]);
    Ok(())
}

/// AlterConfigs replaces a topic's whole override set, so the current overrides are read
/// first and the changes applied to them (what `kafka-configs.sh --alter` does).
async fn alter_config(args: AlterConfigArgs) -> Result<(), BrokerError> {
    if args.set.is_empty() && args.delete.is_empty() {
        return Err(BrokerError::Client("nothing to change: give --set KEY=VALUE or --delete KEY".into()));
    }
    let admin = args.connect.admin()?;
    let resources = admin
        .describe_configs([&ResourceSpecifier::Topic(&args.name)], &options(&args.connect))
        .await
        .map_err(client_error("describe the topic's configs"))?;
    let mut overrides = BTreeMap::new();
    for resource in resources {
        let resource = resource.map_err(|code| BrokerError::Client(format!("cannot describe configs of {}: {code}", args.name)))?;
        for entry in resource.entries.iter().filter(|e| e.source == ConfigSource::DynamicTopic) {
            if let Some(value) = &entry.value {
                overrides.insert(entry.name.clone(), value.clone());
            }
        }
    }
    for key in &args.delete {
        if overrides.remove(key).is_none() {
            return Err(BrokerError::Client(format!("{key} is not set on topic {}", args.name)));
        }
    }
    for pair in &args.set {
        let (key, value) = split_pair(pair)?;
        overrides.insert(key.to_owned(), value.to_owned());
    }
    let mut alter = AlterConfig::new(ResourceSpecifier::Topic(&args.name));
    for (key, value) in &overrides {
        alter = alter.set(key, value);
    }
    let results = admin.alter_configs([&alter], &options(&args.connect)).await.map_err(client_error("alter the topic's configs"))?;
    for result in results {
        result.map_err(|(_, code)| BrokerError::Client(format!("cannot alter configs of {}: {code}", args.name)))?;
    }
    let mut table = Table::new(&["config", "value"]);
    for (key, value) in &overrides {
        table.push(vec![json!(key), json!(value)]);
    }
    match args.connect.format {
        super::Format::Table => {
            println!("altered configs of {}; its overrides now:", args.name);
            print(args.connect.format, &table);
        }
        super::Format::Json => println!("{}", json!({"topic": args.name, "configs": overrides})),
    }
    Ok(())
}
