//! Cluster mode: the Raft side of a broker. One Raft group holds the cluster metadata (the
//! controller quorum, as KRaft: every voter of `controller.quorum.voters` is a member) and one
//! Raft group per partition replicates its log among the partition's replicas. One transport
//! carries the messages of every group between brokers, one connection per peer.
//!
//! Metadata changes are proposed at any broker (Raft forwards them to the leader) inside an
//! [`Envelope`] naming the proposal; every broker applies the committed log in order
//! ([`state::ClusterState`]), and the proposer answers its client when it applies its own
//! proposal. `Metadata` applies the state to the partitions this broker hosts.

pub mod state;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{oneshot, watch};
use tracing::{info, warn};
use weir_replication::driver::{self, ReplicaHandle, ReplicaStatus};
use weir_replication::transport::{self, Transport};
use weir_replication::{raft_id, Amnesia, Replica, ReplicaConfig, ReplicationError};
use weir_storage::{LogConfig, LogDir, SharedLog};

use crate::config::{ClusterSettings, Settings};
use crate::metadata::Refusal;
use crate::{now_ms, BrokerError};
pub use state::{Applied, ClusterState, Command, Envelope, METADATA_GROUP};

/// The metadata log's directory in the data directory (KRaft's name).
pub const METADATA_LOG: &str = "__cluster_metadata";
/// How long a metadata change may take to commit before the client hears REQUEST_TIMED_OUT.
const PROPOSAL_TIMEOUT: Duration = Duration::from_secs(15);
/// A proposal not applied after this long is sent again (its first copy may have been lost
/// with a leader); a copy that commits twice applies once.
const PROPOSAL_RESEND: Duration = Duration::from_secs(2);

type Waiters = HashMap<u64, oneshot::Sender<Result<Applied, Refusal>>>;

pub struct Cluster {
    pub node_id: i32,
    pub settings: ClusterSettings,
    /// The applied metadata: the same on every broker, up to how far each has applied.
    pub state: RwLock<ClusterState>,
    metadata: ReplicaHandle,
    metadata_log: Arc<SharedLog>,
    /// The next offset of the metadata log to apply.
    applied: Mutex<i64>,
    /// Every group with a replica here (the metadata group too), for routing peer messages.
    replicas: Arc<RwLock<HashMap<u64, ReplicaHandle>>>,
    transport: Transport,
    waiters: Mutex<Waiters>,
    /// fsync before acknowledging (off for `--ephemeral` brokers).
    fsync: bool,
    /// The data directory held no cluster metadata at start (a new broker, or one whose data
    /// was lost) and the metadata applied so far may predate this start: partitions opened
    /// now existed before, and their replicas here withhold votes until they caught up
    /// ([`Amnesia::Lost`]), so a wiped broker rejoins safely under its old id. Cleared once
    /// everything committed when the metadata replica caught up has been applied.
    careful: std::sync::atomic::AtomicBool,
}

impl Cluster {
    /// Opens the metadata group's log and replica in `log_dir`, binds the Raft port, and starts
    /// the transport to the other voters. Runs inside a tokio runtime.
    pub fn start(settings: &Settings, cluster: &ClusterSettings, log_dir: &LogDir) -> Result<Arc<Cluster>, BrokerError> {
        let io = |op: String| move |source| BrokerError::Io { op, source };
        let listener = std::net::TcpListener::bind(&cluster.raft_listen).map_err(io(format!("listen on {} (Raft)", cluster.raft_listen)))?;
        listener.set_nonblocking(true).map_err(io("Raft listener".into()))?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(io("Raft listener".into()))?;
        info!(address = %cluster.raft_listen, "Raft listening");

        let replicas: Arc<RwLock<HashMap<u64, ReplicaHandle>>> = Arc::default();
        let unreachable = {
            let replicas = replicas.clone();
            Arc::new(move |group: u64, peer: u64| {
                if let Some(handle) = replicas.read().get(&group) {
                    handle.report_unreachable(peer);
                }
            })
        };
        let peers = cluster.voters.iter().filter(|(id, _)| *id != settings.node_id).map(|(id, address)| (raft_id(*id), address.clone())).collect();
        let transport = Transport::start(peers, unreachable);
        let router = {
            let replicas = replicas.clone();
            Arc::new(move |group: u64, message: weir_replication::Message| {
                // Messages for a group not open here yet (a partition being created) are
                // dropped: Raft sends again.
                if let Some(handle) = replicas.read().get(&group) {
                    handle.step(message);
                }
            })
        };
        tokio::spawn(transport::serve(listener, router));

        let metadata_dir = log_dir.partition_dir(METADATA_LOG, 0);
        let started_empty = !metadata_dir.exists();
        // Also careful after a restart that came before an empty start had caught up.
        let careful = started_empty || weir_replication::rejoining(&metadata_dir);
        if careful {
            info!("no (or not yet caught-up) cluster metadata in the data directory: joining as a new or emptied broker; votes wait until caught up");
        }
        let config = LogConfig { segment_bytes: 64 << 20, segment_ms: i64::MAX, retention_ms: -1, retention_bytes: -1, index_interval_bytes: 4096, segment_index_bytes: 10 << 20, drop_behind_bytes: None };
        let log = Arc::new(SharedLog::new(log_dir.open_log(METADATA_LOG, 0, config, now_ms())?));
        let dir = log_dir.partition_dir(METADATA_LOG, 0);
        let voters: Vec<i32> = cluster.voters.iter().map(|(id, _)| *id).collect();
        let fsync = !settings.ephemeral;
        // The metadata group may be brand new (the whole cluster starting) or not.
        let options = ReplicaOptions { forwarding: true, fsync, amnesia: started_empty.then_some(Amnesia::MaybeNew) };
        let metadata = open_replica(settings.node_id, METADATA_GROUP, log.clone(), &dir, &voters, options, &transport)?;
        replicas.write().insert(METADATA_GROUP, metadata.clone());
        Ok(Arc::new(Cluster {
            node_id: settings.node_id,
            settings: cluster.clone(),
            state: RwLock::new(ClusterState::default()),
            metadata,
            metadata_log: log,
            applied: Mutex::new(0),
            replicas,
            transport,
            waiters: Mutex::new(HashMap::new()),
            fsync,
            careful: std::sync::atomic::AtomicBool::new(careful),
        }))
    }

    /// Opens (and starts) this broker's replica of partition group `group` over `log`, whose
    /// Raft state lives in `dir`; `replicas` are node ids, preferred leader first. A new group
    /// whose preferred leader is this broker campaigns at once.
    pub fn open_partition(&self, group: u64, log: Arc<SharedLog>, dir: &Path, replicas: &[i32]) -> Result<ReplicaHandle, BrokerError> {
        let fresh = log.lock().last_index() == 0;
        let careful = self.careful.load(std::sync::atomic::Ordering::Acquire);
        let options = ReplicaOptions { forwarding: false, fsync: self.fsync, amnesia: careful.then_some(Amnesia::Lost) };
        let handle = open_replica(self.node_id, group, log, dir, replicas, options, &self.transport)?;
        self.replicas.write().insert(group, handle.clone());
        if fresh && replicas.first() == Some(&self.node_id) {
            // The other replicas open the group when they apply the same metadata, which
            // reaches followers up to a heartbeat later: vote requests before that are
            // dropped. Campaign again soon rather than wait out an election timeout.
            let campaigner = handle.clone();
            tokio::spawn(async move {
                for delay in [0, 300, 700] {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    if campaigner.status().borrow().leader != 0 {
                        return;
                    }
                    campaigner.campaign();
                }
            });
        }
        Ok(handle)
    }

    /// Stops routing to `group` (its replica task ends when the partition's handle goes too).
    pub fn close_partition(&self, group: u64) {
        self.replicas.write().remove(&group);
    }

    /// Polls the applied state every `poll` until `ready` holds or `timeout` passes (a metadata
    /// change applied here, e.g. registrations or elected leaders).
    pub async fn wait_for(&self, timeout: Duration, poll: Duration, ready: impl Fn(&ClusterState) -> bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !ready(&self.state.read()) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(poll).await;
        }
    }

    /// The metadata group's status (leader, high watermark), to wait for changes.
    pub fn metadata_status(&self) -> watch::Receiver<ReplicaStatus> {
        self.metadata.status()
    }

    /// The metadata group's leader (the controller, in Kafka's terms), if known.
    pub fn controller(&self) -> Option<i32> {
        let leader = self.metadata.status().borrow().leader;
        (leader != 0).then(|| weir_replication::node_id(leader))
    }

    /// Proposes `command` and waits until this broker applied it: its outcome, or
    /// REQUEST_TIMED_OUT when it did not commit in time (it may still commit later).
    pub async fn propose(&self, command: Command) -> Result<Applied, Refusal> {
        let origin = uuid::Uuid::new_v4().as_u64_pair().0;
        let value = serde_json::to_vec(&Envelope { origin, command }).map_err(|e| Refusal::new(ResponseError::UnknownServerError, e.to_string()))?;
        let batch = crate::internal_log::encode_batch(&[(None, Some(Bytes::from(value)))], now_ms())
            .map_err(|e| Refusal::new(ResponseError::UnknownServerError, e))?
            .to_vec();
        let (tell, mut told) = oneshot::channel();
        self.waiters.lock().insert(origin, tell);
        let deadline = tokio::time::Instant::now() + PROPOSAL_TIMEOUT;
        let outcome = loop {
            let resend_at = (tokio::time::Instant::now() + PROPOSAL_RESEND).min(deadline);
            let wait = match self.metadata.propose_forwarded(batch.clone()).await {
                // No leader known yet: try again soon.
                Err(ReplicationError::ProposalDropped) => (tokio::time::Instant::now() + Duration::from_millis(100)).min(deadline),
                Err(e) => break Err(Refusal::new(ResponseError::UnknownServerError, e.to_string())),
                Ok(()) => resend_at,
            };
            tokio::select! {
                outcome = &mut told => break outcome.unwrap_or_else(|_| Err(timed_out())),
                _ = tokio::time::sleep_until(wait) => {
                    if tokio::time::Instant::now() >= deadline {
                        break Err(timed_out());
                    }
                }
            }
        };
        self.waiters.lock().remove(&origin);
        outcome
    }

    /// The metadata commands committed since the last call, in log order. A record that does
    /// not decode is logged and skipped (it came from a newer or broken broker).
    pub fn take_committed(&self) -> Vec<Envelope> {
        let mut applied = self.applied.lock();
        let mut envelopes = Vec::new();
        let log = self.metadata_log.lock();
        let end = log.high_watermark();
        while *applied < end {
            let chunk = match log.read((*applied).max(log.log_start_offset()), 1 << 20, end) {
                Ok(read) if !read.records.is_empty() => read.records,
                Ok(_) => break,
                Err(e) => {
                    warn!(error = %e, "cannot read the metadata log");
                    break;
                }
            };
            let mut last = None;
            // Batch by batch: a batch that does not decode is skipped alone, the same on every
            // broker whatever the read's boundaries.
            for (at, header) in weir_protocol::batch::Batches::new(&chunk) {
                last = Some(header.last_offset());
                let batch = chunk.slice(at..(at + header.size()).min(chunk.len()));
                match crate::internal_log::decode_records(batch) {
                    Ok(records) => {
                        for record in records.into_iter().filter(|r| r.offset >= *applied) {
                            match record.value.as_deref().map(serde_json::from_slice::<Envelope>) {
                                Some(Ok(envelope)) => envelopes.push(envelope),
                                Some(Err(e)) => warn!(offset = record.offset, error = %e, "skipping a metadata record that does not decode"),
                                None => {}
                            }
                        }
                    }
                    Err(e) => warn!(offset = header.base_offset, error = %e, "skipping a metadata batch that does not decode"),
                }
            }
            match last {
                Some(last) => *applied = last + 1,
                None => break,
            }
        }
        envelopes
    }

    /// Whether this broker's metadata replica holds everything its leader had committed when
    /// it first heard from it (always, unless the broker started empty). Checked before
    /// [`Cluster::take_committed`]: once what that read returns is applied, every partition
    /// that predates this broker's start is open, and [`Cluster::end_careful_start`] follows.
    pub fn metadata_rejoined(&self) -> bool {
        self.metadata.status().borrow().rejoined
    }

    /// Partitions opened from now on are new: their replicas here vote normally.
    pub fn end_careful_start(&self) {
        if self.careful.swap(false, std::sync::atomic::Ordering::AcqRel) {
            info!("caught up with the cluster metadata: new partitions' replicas here vote normally");
        }
    }

    /// Hands a proposal's outcome to its proposer, if it is waiting here.
    pub fn resolve(&self, origin: u64, outcome: Result<Applied, Refusal>) {
        if let Some(tell) = self.waiters.lock().remove(&origin) {
            let _ = tell.send(outcome);
        }
    }

    /// Registers this broker (its advertised client address and Raft address) until the
    /// applied state shows it; runs in the background from start-up.
    pub async fn register(self: Arc<Self>, host: String, port: i32, candidate_cluster_id: String) {
        let raft_address = self.settings.voters.iter().find(|(id, _)| *id == self.node_id).map(|(_, a)| a.clone()).unwrap_or_default();
        let registered = |c: &Cluster| {
            c.state.read().brokers.get(&c.node_id).is_some_and(|b| b.host == host && b.port == port && b.raft_address == raft_address)
        };
        let cluster_id = self.settings.cluster_id.clone().unwrap_or(candidate_cluster_id);
        while !registered(&self) {
            let command = Command::RegisterBroker { node_id: self.node_id, host: host.clone(), port, raft_address: raft_address.clone(), cluster_id: cluster_id.clone() };
            if let Err(e) = self.propose(command).await {
                warn!(error = e.message, "registration not committed yet; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        info!(node = self.node_id, host, port, "registered with the cluster");
        if let Some(configured) = &self.settings.cluster_id {
            if self.state.read().cluster_id.as_ref() != Some(configured) {
                warn!(configured, applied = ?self.state.read().cluster_id, "cluster.id differs from the cluster's id");
            }
        }
    }

    /// Asks every group this broker leads to hand leadership to another in-sync replica
    /// (clean shutdown, drain); returns the number of groups asked.
    pub fn transfer_leadership(&self) -> usize {
        let replicas = self.replicas.read();
        let mut asked = 0;
        for handle in replicas.values() {
            let status = handle.status().borrow().clone();
            if !status.is_leader {
                continue;
            }
            if let Some(&to) = status.in_sync.iter().find(|&&id| id != raft_id(self.node_id)) {
                handle.transfer_leadership(to);
                asked += 1;
            }
        }
        asked
    }

    /// Stops every replica (they write their logs no more) and closes the metadata log: the
    /// first half of a clean shutdown, before the partitions' logs are closed.
    pub async fn stop(&self) {
        let handles: Vec<ReplicaHandle> = self.replicas.write().drain().map(|(_, h)| h).collect();
        for handle in &handles {
            handle.stop().await;
        }
        if let Err(e) = self.metadata_log.lock().close_unsynced() {
            warn!(error = %e, "closing the metadata log failed");
        }
    }

    /// Hands off leadership of every group led here, waiting up to `timeout` for it to move;
    /// returns how many groups this broker still leads.
    pub async fn drain(&self, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.transfer_leadership();
            let leading = self.leading();
            if leading == 0 || tokio::time::Instant::now() >= deadline {
                return leading;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Groups this broker leads.
    pub fn leading(&self) -> usize {
        self.replicas.read().values().filter(|h| h.status().borrow().is_leader).count()
    }
}

fn timed_out() -> Refusal {
    Refusal::new(ResponseError::RequestTimedOut, "the cluster metadata change did not commit in time")
}

/// How a replica is run (see `ReplicaConfig`).
struct ReplicaOptions {
    forwarding: bool,
    fsync: bool,
    amnesia: Option<Amnesia>,
}

/// Opens a replica of `group` and spawns its task.
fn open_replica(node_id: i32, group: u64, log: Arc<SharedLog>, dir: &Path, members: &[i32], options: ReplicaOptions, transport: &Transport) -> Result<ReplicaHandle, BrokerError> {
    let mut config = ReplicaConfig::new(raft_id(node_id));
    config.forwarding = options.forwarding;
    config.fsync = options.fsync;
    config.amnesia = options.amnesia;
    let voters: Vec<u64> = members.iter().map(|&id| raft_id(id)).collect();
    let replica = Replica::open(log, dir, &voters, config, &weir_replication::tracing_logger())
        .map_err(|e| BrokerError::Metadata(format!("opening Raft group {group}: {e}")))?;
    Ok(driver::spawn(replica, group, transport.clone()))
}
