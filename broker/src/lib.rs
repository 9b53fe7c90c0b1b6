//! Weir, a Kafka-compatible log broker. `main.rs` only wraps this library: build a [`Config`],
//! [`Broker::start`] it, read its address, and shut it down. Brokers share no global state, so
//! several can run in one process. Embedders serving untrusted clients should install
//! [`alloc_guard::ReservingAllocator`] as their global allocator, as the `weir` binary does.

pub mod alloc_guard;
mod cluster;
pub mod config;
mod coordinator;
mod error;
mod groups;
mod handlers;
pub mod health;
pub mod http;
mod internal_log;
mod leadership;
mod metadata;
pub mod metrics;
mod partition;
mod peer;
mod server;
pub mod testing;
mod transactions;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};
use weir_storage::LogDir;

pub use config::Config;
pub use error::BrokerError;

use crate::groups::GroupCoordinator;
use crate::transactions::TransactionCoordinator;
use crate::metadata::Metadata;
use crate::server::Shared;

pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A running broker.
pub struct Broker {
    local_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<Result<(), BrokerError>>,
    http_task: Option<JoinHandle<()>>,
    data_dir: std::path::PathBuf,
    /// Ephemeral brokers own their data directory; it is removed when the broker stops.
    ephemeral_dir: Option<tempfile::TempDir>,
    shared: Arc<Shared>,
}

/// A broker whose HTTP listener (if configured) is up, but whose logs are not open yet:
/// `/livez` answers, `/readyz` says not ready. [`Starting::finish`] recovers the logs, binds
/// the Kafka listener and starts serving.
pub struct Starting {
    settings: config::Settings,
    ephemeral_dir: Option<tempfile::TempDir>,
    http: Option<(SocketAddr, JoinHandle<()>)>,
    http_state: Arc<http::HttpState>,
}

impl Starting {
    /// The address the HTTP listener (`weir.http.listen`) is bound to, if one is configured.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|(addr, _)| *addr)
    }

    /// Opens the data directory (recovering logs after an unclean stop, off the async
    /// threads), binds the Kafka listener and starts serving. Returns once connections are
    /// being accepted, and the broker reports ready.
    pub async fn finish(self) -> Result<Broker, BrokerError> {
        let Starting { settings, ephemeral_dir, http, http_state } = self;
        let (http_addr, http_task) = http.map_or((None, None), |(addr, task)| (Some(addr), Some(task)));
        let stop_http = |task: Option<JoinHandle<()>>| task.inspect(JoinHandle::abort);
        let (opened_partitions, opened_rx) = tokio::sync::mpsc::unbounded_channel();
        let opened = {
            let (settings, metrics) = (settings.clone(), http_state.metrics.clone());
            tokio::task::spawn_blocking(move || -> Result<_, BrokerError> {
                let log_dir = LogDir::open(&settings.data_dir)?;
                if !log_dir.was_clean() {
                    info!(dir = %settings.data_dir.display(), "no clean-shutdown marker: logs will be recovered");
                }
                let metadata = match &settings.cluster {
                    Some(cluster_settings) => {
                        let cluster = cluster::Cluster::start(&settings, cluster_settings, &log_dir)?;
                        Metadata::open_cluster(&settings, log_dir, metrics, cluster, opened_partitions)?
                    }
                    None => Metadata::open(&settings, log_dir, metrics)?,
                };
                let groups = GroupCoordinator::load(&metadata, &settings)?;
                let transactions = TransactionCoordinator::load(&metadata, settings.transactions)?;
                Ok((metadata, groups, transactions))
            })
            .await
            .map_err(|e| BrokerError::Metadata(format!("opening the logs failed: {e}")))
        };
        let (metadata, groups, transactions) = match opened.and_then(|r| r) {
            Ok(opened) => opened,
            Err(e) => {
                stop_http(http_task);
                return Err(e);
            }
        };
        http_state.health.set_logs_recovered();
        let listener = match TcpListener::bind(&settings.listen).await {
            Ok(listener) => listener,
            Err(e) => {
                stop_http(http_task);
                return Err(BrokerError::Io { op: format!("listen on {}", settings.listen), source: e });
            }
        };
        let local_addr = listener.local_addr().map_err(|e| BrokerError::Io { op: "local address".into(), source: e })?;
        let (host, port) = settings.advertised_host_port(local_addr);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let data_dir = settings.data_dir.clone();
        let shared = Arc::new(Shared {
            settings,
            metadata,
            groups,
            transactions,
            host,
            port,
            shutdown: shutdown_rx,
            metrics: http_state.metrics.clone(),
            health: http_state.health.clone(),
        });
        let _ = http_state.shared.set(shared.clone());
        if let Some(cluster) = shared.metadata.cluster() {
            tokio::spawn(cluster.clone().register(shared.host.clone(), shared.port, metadata::new_cluster_id()));
            tokio::spawn(leadership::apply_metadata(shared.clone()));
            tokio::spawn(leadership::watch_partitions(shared.clone(), opened_rx));
        }
        // A single node loaded its transactions at start: finish the prepared ones.
        TransactionCoordinator::resume_prepared(&shared);
        let task = tokio::spawn(run(shared.clone(), listener));
        http_state.health.set_listeners_bound();
        info!(%local_addr, data_dir = %data_dir.display(), "weir is serving");
        Ok(Broker { local_addr, http_addr, shutdown, task, http_task, data_dir, ephemeral_dir, shared })
    }
}

impl Broker {
    /// Opens the data directory (recovering logs after an unclean stop), binds the listener and
    /// starts serving. Returns once connections are being accepted.
    pub async fn start(config: Config) -> Result<Broker, BrokerError> {
        Broker::prepare(config).await?.finish().await
    }

    /// The first half of [`Broker::start`]: checks the configuration, creates an ephemeral
    /// data directory if asked, and binds the HTTP listener (metrics and health) if one is
    /// configured, so probes can watch the recovery that [`Starting::finish`] then runs.
    pub async fn prepare(config: Config) -> Result<Starting, BrokerError> {
        let mut settings = config.settings()?;
        let ephemeral_dir = if settings.ephemeral {
            let dir = tempfile::Builder::new()
                .prefix("weir-ephemeral-")
                .tempdir()
                .map_err(|e| BrokerError::Io { op: "create a temporary data directory".into(), source: e })?;
            settings.data_dir = dir.path().to_owned();
            Some(dir)
        } else {
            None
        };
        let metrics = Arc::new(metrics::Metrics::new(settings.http_listen.is_some(), settings.metrics_topic_label_limit));
        let http_state = Arc::new(http::HttpState { metrics, health: Arc::new(health::Health::new()), shared: std::sync::OnceLock::new() });
        let http = match &settings.http_listen {
            Some(address) => {
                let listener = TcpListener::bind(address)
                    .await
                    .map_err(|e| BrokerError::Io { op: format!("http listen on {address}"), source: e })?;
                let addr = listener.local_addr().map_err(|e| BrokerError::Io { op: "http local address".into(), source: e })?;
                info!(%addr, "http listener serving /metrics, /livez, /readyz");
                Some((addr, tokio::spawn(http::serve(listener, http_state.clone()))))
            }
            None => None,
        };
        Ok(Starting { settings, ephemeral_dir, http, http_state })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The HTTP listener's address (`/metrics`, `/livez`, `/readyz`), if one is configured.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// `host:port` for a client's `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        self.local_addr.to_string()
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// Stops accepting, finishes in-flight requests, flushes and closes every log, and writes
    /// the clean-shutdown marker (or removes an ephemeral data directory).
    pub async fn shutdown(self) -> Result<(), BrokerError> {
        let _ = self.shutdown.send(true);
        self.wait().await
    }

    /// Runs until a [`Stopper`] stops the broker, then finishes as [`Broker::shutdown`] does.
    pub async fn shutdown_when_stopped(self) -> Result<(), BrokerError> {
        self.wait().await
    }

    async fn wait(self) -> Result<(), BrokerError> {
        let result = match self.task.await {
            Ok(result) => result,
            Err(e) => Err(BrokerError::Metadata(format!("broker task failed: {e}"))),
        };
        if let Some(task) = self.http_task {
            task.abort();
        }
        if let Some(dir) = self.ephemeral_dir {
            if let Err(e) = dir.close() {
                warn!(error = %e, "could not remove the ephemeral data directory");
            }
        }
        result
    }

    /// A handle that can ask this broker to stop from another task.
    pub fn stopper(&self) -> Stopper {
        Stopper { shutdown: self.shutdown.clone(), shared: self.shared.clone() }
    }
}

/// Asks a broker to stop.
#[derive(Clone)]
pub struct Stopper {
    shutdown: watch::Sender<bool>,
    shared: Arc<Shared>,
}

impl Stopper {
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }

    /// A clean stop of a cluster broker: leadership of every partition it leads moves to
    /// another in-sync replica first (waiting up to `weir.shutdown.drain.ms`-like 10 s), so
    /// producers and consumers move on without errors; then [`Stopper::stop`].
    pub async fn drain_then_stop(&self) {
        if let Some(cluster) = self.shared.metadata.cluster() {
            self.shared.health.set_shutting_down();
            let still = cluster.drain(DRAIN_TIMEOUT).await;
            info!(still_leading = still, "leadership drained");
        }
        self.stop();
    }
}

/// How long a clean shutdown waits for leadership to move away.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

async fn run(shared: Arc<Shared>, listener: TcpListener) -> Result<(), BrokerError> {
    let mut stopping = shared.shutdown.clone();
    let health = shared.health.clone();
    // Not ready from the moment shutdown begins, so probes take the broker out of rotation.
    tokio::spawn(async move {
        if stopping.changed().await.is_ok() {
            health.set_shutting_down();
        }
    });
    let housekeeping = tokio::spawn(housekeeping(shared.clone()));
    server::accept_loop(shared.clone(), listener).await;
    let _ = housekeeping.await;
    if let Some(cluster) = shared.metadata.cluster() {
        cluster.stop().await;
    }
    close_logs(&shared)
}

/// Retention and recovery-point checkpoints, on Kafka's intervals.
async fn housekeeping(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let mut retention = tokio::time::interval(Duration::from_millis(shared.settings.retention_check_interval_ms));
    let mut checkpoint = tokio::time::interval(Duration::from_millis(shared.settings.checkpoint_interval_ms));
    // Group session and rebalance deadlines are checked at this granularity.
    let mut groups = tokio::time::interval(Duration::from_millis(100));
    let mut transactions = tokio::time::interval(Duration::from_millis(shared.settings.transactions.abort_check_interval_ms.max(1) as u64));
    // Log files are closed and unmapped every tick; busy partitions reopen theirs on demand.
    let mut close_idle = tokio::time::interval(Duration::from_secs(30));
    retention.tick().await;
    close_idle.tick().await;
    checkpoint.tick().await;
    loop {
        tokio::select! {
            _ = groups.tick() => shared.groups.tick(&shared.metadata, now_ms()),
            _ = transactions.tick() => TransactionCoordinator::tick(&shared, now_ms()),
            _ = retention.tick() => {
                let now = now_ms();
                for topic in shared.metadata.topics() {
                    for partition in topic.hosted() {
                        if let Err(e) = partition.log().enforce_retention(now) {
                            error!(topic = %topic.name, partition = partition.index, error = %e, "retention failed");
                        }
                    }
                }
            }
            _ = checkpoint.tick() => {
                if shared.settings.ephemeral {
                    continue;
                }
                'round: for topic in shared.metadata.topics() {
                    for partition in topic.hosted() {
                        // A round over many partitions takes a while: a shutdown does not wait
                        // for it (the clean close makes recovery points moot).
                        if *shutdown.borrow() {
                            break 'round;
                        }
                        // A replicated partition's Raft group flushes its log itself: only its
                        // recovery point is checkpointed here.
                        let flushed = if partition.replica.is_none() { partition.flush_now().await } else { Ok(()) };
                        if let Err(e) = flushed.and_then(|()| partition.log().checkpoint()) {
                            error!(topic = %topic.name, partition = partition.index, error = %e, "checkpoint failed");
                        }
                    }
                }
            }
            _ = close_idle.tick() => {
                for topic in shared.metadata.topics() {
                    for partition in topic.hosted() {
                        partition.log().close_idle_files();
                    }
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// Threads closing logs at shutdown.
const CLOSE_THREADS: usize = 32;

fn close_logs(shared: &Shared) -> Result<(), BrokerError> {
    if shared.settings.ephemeral {
        return Ok(());
    }
    // Closing a log writes a few small files (checkpoints replaced atomically, with fsyncs):
    // run many at once, so they share journal commits.
    let partitions: Vec<_> = shared.metadata.topics().iter().flat_map(|t| t.hosted().cloned().collect::<Vec<_>>()).collect();
    let workers = partitions.len().clamp(1, CLOSE_THREADS);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let first_error = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(partition) = partitions.get(i) else { break };
                if let Err(e) = partition.log().close_unsynced() {
                    error!(topic = %partition.topic, partition = partition.index, error = %e, "closing a log failed");
                    if let Ok(mut first) = first_error.lock() {
                        first.get_or_insert(e);
                    }
                }
            });
        }
    });
    let first_error = first_error.into_inner().ok().flatten();
    match first_error {
        // Without a marker the next start recovers every log: the safe default.
        Some(e) => Err(e.into()),
        None => {
            // One syncfs makes every closed log durable before the marker says so.
            shared.metadata.log_dir().sync_filesystem()?;
            shared.metadata.log_dir().mark_clean_shutdown()?;
            info!("clean shutdown");
            Ok(())
        }
    }
}
