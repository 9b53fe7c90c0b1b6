//! `weir cluster info`, and `weir cluster drain` (moving leadership off a broker before
//! maintenance: a `preStop` hook).

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
    /// Move leadership of every partition a broker leads to its in-sync peers (before a restart
    /// or maintenance). Talks to that broker's HTTP listener (`--http-listen`); exits 0 once it
    /// leads nothing.
    Drain(DrainArgs),
}

#[derive(Args)]
pub struct DrainArgs {
    /// The broker's HTTP listener.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9644")]
    pub http: String,
    /// Seconds to wait for leadership to move.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub timeout: u64,
}

#[derive(Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub connect: Connect,
}

pub async fn run(command: ClusterCommand) -> Result<(), BrokerError> {
    match command {
        ClusterCommand::Info(args) => info(args),
        ClusterCommand::Drain(args) => drain(args),
    }
}

/// `POST /drain` on the broker's HTTP listener (plain HTTP/1.0 over loopback or the pod
/// network: no client library needed).
fn drain(args: DrainArgs) -> Result<(), BrokerError> {
    use std::io::{Read, Write};
    let failed = |op: &str| {
        let op = format!("{op} {}", args.http);
        move |source| BrokerError::Io { op, source }
    };
    let mut stream = std::net::TcpStream::connect(&args.http).map_err(failed("connect to"))?;
    let wait = std::time::Duration::from_secs(args.timeout + 10);
    stream.set_read_timeout(Some(wait)).map_err(failed("configure"))?;
    let request = format!("POST /drain?timeout_ms={} HTTP/1.0\r\nHost: {}\r\nContent-Length: 0\r\n\r\n", args.timeout * 1000, args.http);
    stream.write_all(request.as_bytes()).map_err(failed("send to"))?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(failed("read from"))?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    print!("{body}");
    match head.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        Some(status) => Err(BrokerError::Metadata(format!("drain did not finish (HTTP {status}): {}", body.trim()))),
        None => Err(BrokerError::Metadata(format!("{} did not answer as a broker's HTTP listener (--http-listen); is that its Kafka port?", args.http))),
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
