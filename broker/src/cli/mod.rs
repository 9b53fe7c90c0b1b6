//! The admin CLI of the `weir` binary: `weir topic|group|cluster|produce|consume`, talking the
//! Kafka protocol (through librdkafka, the `rdkafka` crate) to any broker given by
//! `--bootstrap-server` — Weir or Kafka. Habits of `kafka-topics.sh`,
//! `kafka-consumer-groups.sh` and `rpk`: human tables by default, `--format json` for scripts.
//!
//! `weir cluster drain NODE` will join [`cluster`] when Weir runs as a cluster.

mod cluster;
mod group;
mod output;
mod records;
mod topic;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::BaseConsumer;
use rdkafka::ClientConfig;
use weir::BrokerError;

pub use output::Format;

/// The admin subcommands (flattened into `weir`'s own).
#[derive(Subcommand)]
pub enum Command {
    /// Create, list, describe, delete topics and change their configs (like kafka-topics.sh).
    #[command(subcommand)]
    Topic(topic::TopicCommand),
    /// List and describe consumer groups (with lag), reset their offsets (like kafka-consumer-groups.sh).
    #[command(subcommand)]
    Group(group::GroupCommand),
    /// The cluster: id, brokers, controller.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Produce records from arguments or stdin lines (a quick check, not a load generator).
    Produce(records::ProduceArgs),
    /// Print records of a topic.
    Consume(records::ConsumeArgs),
}

/// How to reach the cluster and how to print; shared by every admin command.
#[derive(Args, Clone)]
pub struct Connect {
    /// Broker(s) to bootstrap from, `HOST:PORT[,HOST:PORT…]`.
    #[arg(long, short = 'b', value_name = "HOST:PORT", default_value = "127.0.0.1:9092")]
    pub bootstrap_server: String,
    /// Output: human-readable tables, or JSON for scripts.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Seconds to wait for the cluster's answers.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub timeout: u64,
    /// Extra librdkafka client property, `KEY=VALUE` (repeatable), e.g. `-X security.protocol=ssl`.
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub property: Vec<String>,
}

impl Connect {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.max(1))
    }

    /// A client configuration for the bootstrap servers and `-X` properties.
    pub fn client_config(&self) -> Result<ClientConfig, BrokerError> {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_server).set("client.id", "weir-cli");
        for property in &self.property {
            let (key, value) = split_pair(property)?;
            config.set(key, value);
        }
        Ok(config)
    }

    pub fn admin(&self) -> Result<AdminClient<DefaultClientContext>, BrokerError> {
        self.client_config()?.create().map_err(client_error("create an admin client"))
    }

    /// A consumer for metadata, watermarks and offsets; with `group`, acting for that group
    /// (it never subscribes, so it never joins the group).
    pub fn consumer(&self, group: Option<&str>) -> Result<BaseConsumer, BrokerError> {
        let mut config = self.client_config()?;
        config.set("enable.auto.commit", "false").set("enable.partition.eof", "false");
        if let Some(group) = group {
            config.set("group.id", group);
        }
        config.create().map_err(client_error("create a consumer"))
    }
}

/// `KEY=VALUE` split at the first `=`.
pub fn split_pair(pair: &str) -> Result<(&str, &str), BrokerError> {
    pair.split_once('=').ok_or_else(|| BrokerError::Client(format!("expected KEY=VALUE, not {pair:?}")))
}

/// Wraps a client error with what was being done.
pub fn client_error<E: std::fmt::Display>(doing: &'static str) -> impl Fn(E) -> BrokerError {
    move |e| BrokerError::Client(format!("cannot {doing}: {e}"))
}

/// Runs one admin command; prints its result on stdout, errors on stderr (exit 1).
pub fn run(command: Command) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("weir: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Topic(c) => topic::run(c).await,
            Command::Group(c) => group::run(c).await,
            Command::Cluster(c) => cluster::run(c).await,
            Command::Produce(a) => records::produce(a).await,
            Command::Consume(a) => records::consume(a).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weir: {e}");
            ExitCode::FAILURE
        }
    }
}
