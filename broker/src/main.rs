//! The `weir` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use weir::{Broker, Config};

#[global_allocator]
static ALLOCATOR: weir::alloc_guard::ReservingAllocator = weir::alloc_guard::ReservingAllocator;

#[derive(Parser)]
#[command(name = "weir", version, about = "A Kafka-compatible log broker")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a broker (the default).
    Serve(ServeArgs),
}

#[derive(clap::Args, Default)]
struct ServeArgs {
    /// Broker id (`node.id`). Default 1.
    #[arg(long)]
    node_id: Option<i32>,
    /// Data directory (`log.dirs`). Default ./weir-data.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to listen on (`listeners`). Default 127.0.0.1:9092; port 0 picks a free port.
    #[arg(long)]
    listen: Option<String>,
    /// Address clients are told to connect to (`advertised.listeners`). Default: the listener.
    #[arg(long)]
    advertised_listener: Option<String>,
    /// A properties file with Kafka's names (`num.partitions=3`, `log.retention.ms=…`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Use a fresh temporary data directory, removed on exit; skip fsyncs.
    #[arg(long)]
    ephemeral: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let Command::Serve(args) = Cli::parse().command.unwrap_or(Command::Serve(ServeArgs::default()));
    let config = match build_config(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("weir: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("weir: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weir: {e}");
            ExitCode::FAILURE
        }
    }
}

fn build_config(args: &ServeArgs) -> Result<Config, weir::BrokerError> {
    let mut config = Config::new();
    if let Some(file) = &args.config {
        config.load_file(file)?;
    }
    config.load_env(std::env::vars());
    if let Some(id) = args.node_id {
        config.set("node.id", id.to_string());
    }
    if let Some(dir) = &args.data_dir {
        config.set("log.dirs", dir.display().to_string());
    }
    if let Some(listen) = &args.listen {
        config.set("listeners", listen.clone());
    }
    if let Some(advertised) = &args.advertised_listener {
        config.set("advertised.listeners", advertised.clone());
    }
    config.ephemeral = args.ephemeral;
    Ok(config)
}

async fn serve(config: Config) -> Result<(), weir::BrokerError> {
    let broker = Broker::start(config).await?;
    // Tests and scripts read this line to learn the port.
    println!("listening on {}", broker.local_addr());
    let stopper = broker.stopper();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received; shutting down");
        stopper.stop();
    });
    broker.shutdown_when_stopped().await
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}
