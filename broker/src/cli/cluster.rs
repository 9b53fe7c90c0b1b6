//! `weir cluster info`. (`weir cluster drain NODE` — moving leadership off a node before
//! maintenance — belongs here once Weir runs as a cluster.)

use clap::{Args, Subcommand};
use rdkafka::consumer::Consumer;
use serde_json::json;
use weir::BrokerError;

use super::output::{print_sections, Table};
use super::{client_error, Connect};

#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Cluster id, the brokers, and how many topics and partitions there are.
    Info(InfoArgs),
}

#[derive(Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub connect: Connect,
}

pub async fn run(command: ClusterCommand) -> Result<(), BrokerError> {
    match command {
        ClusterCommand::Info(args) => info(args),
    }
}

fn info(args: InfoArgs) -> Result<(), BrokerError> {
    let consumer = args.connect.consumer(None)?;
    let timeout = args.connect.timeout();
    let metadata = consumer.fetch_metadata(None, timeout).map_err(client_error("read the cluster metadata"))?;
    let cluster_id = consumer.client().fetch_cluster_id(timeout);
    let mut brokers = Table::new(&["id", "host", "port"]);
    let mut sorted: Vec<_> = metadata.brokers().iter().collect();
    sorted.sort_by_key(|b| b.id());
    for broker in sorted {
        brokers.push(vec![json!(broker.id()), json!(broker.host()), json!(broker.port())]);
    }
    let partitions: usize = metadata.topics().iter().map(|t| t.partitions().len()).sum();
    print_sections(
        args.connect.format,
        &[
            ("cluster_id", json!(cluster_id)),
            ("topics", json!(metadata.topics().len())),
            ("partitions", json!(partitions)),
        ],
        &[("brokers", &brokers)],
    );
    Ok(())
}
