//! The `weir` command.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use weir::{Broker, Config};

#[cfg(feature = "cli")]
mod cli;

#[global_allocator]
static ALLOCATOR: weir::alloc_guard::ReservingAllocator = weir::alloc_guard::ReservingAllocator;

/// `weir --version`: the crate version and the git revision it was built from.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (revision ", env!("GIT_REVISION_OF_THIS_BUILD"), ")");

#[derive(Parser)]
#[command(name = "weir", version = VERSION, about = "A Kafka-compatible log broker")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a broker (the default).
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
    #[cfg(feature = "cli")]
    #[command(flatten)]
    Admin(cli::Command),
}

const SERVE_HELP: &str = "\
Every broker setting has its Kafka property name and can also come from --config FILE or from
WEIR_<NAME> environment variables (WEIR_LOG_RETENTION_MS=3600000 sets log.retention.ms); flags
win over both. The table of settings, their defaults and which Kafka configs take effect is in
the README, section \"Configuration\" (every config: broker/src/config/catalog.rs). Metrics,
health probes and logs: README, section \"Operating Weir\".";

/// How log lines are written to stderr.
#[derive(Clone, Copy, Default, ValueEnum)]
enum LogFormat {
    /// One human-readable line per event; colours only when stderr is a terminal.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `message`, and the event's
    /// fields: `topic`, `partition`, `client`, `error`, …), for log shippers.
    Json,
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
    /// Where the Raft port binds (`raft.listeners`). Default: this node's `--voters` address.
    #[arg(long, value_name = "HOST:PORT")]
    raft_listen: Option<String>,
    /// Run as one broker of a cluster: every voter's node id and the Raft address its peers
    /// reach it at, `1@HOST:PORT,2@HOST:PORT,3@HOST:PORT` (`controller.quorum.voters`).
    /// Without it Weir is a single-node broker.
    #[arg(long, value_name = "ID@HOST:PORT,…")]
    voters: Option<String>,
    /// The cluster id (`cluster.id`); default: picked by the first broker to register.
    #[arg(long)]
    cluster_id: Option<String>,
    /// A properties file with Kafka's names (`num.partitions=3`, `log.retention.ms=…`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Use a fresh temporary data directory, removed on exit; skip fsyncs.
    #[arg(long)]
    ephemeral: bool,
    /// Serve /metrics (Prometheus), /livez and /readyz over HTTP here (`weir.http.listen`).
    /// Default: off, and no metrics are recorded. Port 0 picks a free port; the broker prints
    /// `http listening on HOST:PORT` on stdout.
    #[arg(long, value_name = "HOST:PORT")]
    http_listen: Option<String>,
    /// Log line format on stderr (level filter: RUST_LOG, default info).
    #[arg(long, value_enum, default_value_t)]
    log_format: LogFormat,
}

/// Logs go to stderr: text with colours only on a terminal (and never with NO_COLOR set), or
/// JSON lines.
fn init_logging(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default_level.into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            builder.with_ansi(ansi).init();
        }
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).with_span_list(false).init(),
    }
}

/// Request buffers (a produce request can be megabytes) are allocated and freed all the time.
/// glibc's defaults hand such blocks back to the kernel (`munmap`, heap trimming), so the next
/// request faults in fresh, zeroed pages: on a VM that costs as much as the record copy itself.
/// Keep up to 64 MiB of freed memory per arena for reuse instead.
fn keep_freed_memory() {
    // SAFETY: mallopt only tunes the allocator; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

fn main() -> ExitCode {
    let args = match Cli::parse().command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => args,
        #[cfg(feature = "cli")]
        Command::Admin(command) => {
            init_logging(LogFormat::Text, "warn");
            return cli::run(command);
        }
    };
    init_logging(args.log_format, "info");
    keep_freed_memory();
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
    if let Some(raft) = &args.raft_listen {
        config.set("raft.listeners", raft.clone());
    }
    if let Some(voters) = &args.voters {
        config.set("controller.quorum.voters", voters.clone());
    }
    if let Some(id) = &args.cluster_id {
        config.set("cluster.id", id.clone());
    }
    if let Some(http) = &args.http_listen {
        config.set("weir.http.listen", http.clone());
    }
    config.ephemeral = args.ephemeral;
    Ok(config)
}

async fn serve(config: Config) -> Result<(), weir::BrokerError> {
    let starting = Broker::prepare(config).await?;
    if let Some(http) = starting.http_addr() {
        // Printed before the logs are recovered, so probes (and tests) can watch the recovery.
        println!("http listening on {http}");
    }
    let broker = starting.finish().await?;
    // Handlers first, then the line scripts wait for: a SIGTERM right after it is a clean stop.
    let signalled = signals();
    // Tests and scripts read this line to learn the port.
    println!("listening on {}", broker.local_addr());
    let stopper = broker.stopper();
    tokio::spawn(async move {
        signalled.await;
        tracing::info!("signal received; shutting down");
        // A cluster broker hands its leaderships to in-sync peers before it stops.
        stopper.drain_then_stop().await;
    });
    broker.shutdown_when_stopped().await
}

/// Installs the SIGTERM and SIGINT handlers now; the future resolves on the first signal.
fn signals() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let handlers = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
    async move {
        match handlers {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending().await,
        }
    }
}
