//! What a cluster broker does as the cluster changes: it applies the metadata log as it commits
//! (opening and closing partitions), and it follows each hosted partition's leadership — waking
//! long-polling fetches when the high watermark moves, publishing its leadership and in-sync
//! replicas to the cluster metadata (so every broker's Metadata answers name the leader), and
//! loading or dropping consumer groups and transactions when it gains or loses a partition of
//! `__consumer_offsets` or `__transaction_state`.

use std::sync::{Arc, Weak};

use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::cluster::Command;
use crate::groups::OFFSETS_TOPIC;
use crate::transactions::{TransactionCoordinator, TRANSACTION_TOPIC};
use crate::partition::Partition;
use crate::server::Shared;
use weir_replication::driver::ReplicaStatus;

/// Applies the metadata log each time its high watermark moves, until shutdown.
pub async fn apply_metadata(shared: Arc<Shared>) {
    let Some(cluster) = shared.metadata.cluster().cloned() else { return };
    let mut status = cluster.metadata_status();
    let mut shutdown = shared.shutdown.clone();
    loop {
        let applying = shared.clone();
        // Opening and removing logs is file I/O: off the async threads.
        if let Err(e) = tokio::task::spawn_blocking(move || applying.metadata.apply_committed()).await {
            warn!(error = %e, "applying the metadata log failed");
        }
        tokio::select! {
            changed = status.changed() => if changed.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
}

/// Follows every partition opened here (announced on `opened`) for as long as it is open.
pub async fn watch_partitions(shared: Arc<Shared>, mut opened: mpsc::UnboundedReceiver<Arc<Partition>>) {
    while let Some(partition) = opened.recv().await {
        tokio::spawn(follow(Arc::downgrade(&shared), Arc::downgrade(&partition)));
    }
}

/// `auto.leader.rebalance.enable`: a broker that has led a partition for
/// `leader.imbalance.check.interval.seconds` while its preferred replica (the first of its
/// replicas) is another, in-sync broker hands the leadership back to it, so leaders spread out
/// again after failovers and rolling restarts.
fn hand_back_to_preferred(shared: &Shared, partition: &Partition, now: &ReplicaStatus, leading_since: &mut tokio::time::Instant) {
    let (Some(cluster), Some(replicated)) = (shared.metadata.cluster(), partition.replica.as_ref()) else { return };
    let Some(after) = cluster.settings.leader_rebalance_after else { return };
    let Some(&preferred) = replicated.replicas.first() else { return };
    let preferred_raft = weir_replication::raft_id(preferred);
    if !now.is_leader || preferred == cluster.node_id || !now.in_sync.contains(&preferred_raft) || leading_since.elapsed() < after {
        return;
    }
    info!(topic = %partition.topic, partition = partition.index, to = preferred, "handing leadership back to the preferred replica");
    replicated.handle.transfer_leadership(preferred_raft);
    *leading_since = tokio::time::Instant::now();
}

/// How often a leader retries publishing its leadership when a proposal did not commit.
const REPUBLISH: std::time::Duration = std::time::Duration::from_secs(1);

async fn follow(shared: Weak<Shared>, partition: Weak<Partition>) {
    let Some(mut status) = partition.upgrade().and_then(|p| p.replica.as_ref().map(|r| r.handle.status())) else { return };
    let mut leading = false;
    // What the cluster metadata last accepted from this leader: (term, in-sync replicas).
    let published: Arc<parking_lot::Mutex<Option<(u64, Vec<u64>)>>> = Arc::default();
    let mut publishing: Option<tokio::task::JoinHandle<()>> = None;
    // Orders this task's publications (with the epoch): a late one never wins.
    let mut version = 0u64;
    // When this broker last took (or handed back) the partition's leadership.
    let mut leading_since = tokio::time::Instant::now();
    loop {
        // Ends when the replica stops (its status sender goes) or the partition is gone; wakes
        // now and then to publish again what did not commit (a metadata leader change).
        tokio::select! {
            changed = status.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(REPUBLISH) => {}
        }
        let (Some(partition), Some(shared)) = (partition.upgrade(), shared.upgrade()) else { return };
        partition.appended.notify_waiters();
        let now = status.borrow_and_update().clone();
        if now.is_leader != leading {
            leading = now.is_leader;
            leading_since = tokio::time::Instant::now();
            if leading {
                shared.metrics.leader_changes.increment(1);
            }
            info!(topic = %partition.topic, partition = partition.index, epoch = now.term, leader = leading, "partition leadership changed");
            if &*partition.topic == OFFSETS_TOPIC {
                let partitions = shared.metadata.topic(OFFSETS_TOPIC).map_or(1, |t| t.partition_count());
                if leading {
                    let (loading, target) = (shared.clone(), partition.clone());
                    let loaded = tokio::task::spawn_blocking(move || loading.groups.load_partition(&loading.metadata, &target)).await;
                    if !matches!(loaded, Ok(Ok(()))) {
                        warn!(partition = partition.index, "loading consumer groups failed");
                    }
                } else {
                    shared.groups.unload_partition(partition.index, partitions);
                }
            }
            if &*partition.topic == TRANSACTION_TOPIC {
                let partitions = shared.metadata.topic(TRANSACTION_TOPIC).map_or(1, |t| t.partition_count());
                if leading {
                    let (loading, target) = (shared.clone(), partition.clone());
                    match tokio::task::spawn_blocking(move || loading.transactions.load_partition(&target)).await {
                        Ok(Ok(resume)) => TransactionCoordinator::resume(&shared, resume),
                        _ => warn!(partition = partition.index, "loading transactions failed"),
                    }
                } else {
                    shared.transactions.unload_partition(partition.index, partitions);
                }
            }
        }
        hand_back_to_preferred(&shared, &partition, &now, &mut leading_since);
        let wanted = (now.term, now.in_sync.clone());
        let busy = publishing.as_ref().is_some_and(|task| !task.is_finished());
        if !now.is_leader || busy || published.lock().as_ref() == Some(&wanted) {
            continue;
        }
        let (Some(cluster), Some(replicated)) = (shared.metadata.cluster().cloned(), partition.replica.as_ref()) else { continue };
        version += 1;
        let command = Command::PartitionLeader {
            group: replicated.group,
            leader: cluster.node_id,
            epoch: i32::try_from(now.term).unwrap_or(i32::MAX),
            version,
            isr: now.in_sync.iter().map(|&id| weir_replication::node_id(id)).collect(),
        };
        let accepted = published.clone();
        publishing = Some(tokio::spawn(async move {
            match cluster.propose(command).await {
                Ok(_) => *accepted.lock() = Some(wanted),
                Err(e) => warn!(error = e.message, "could not publish partition leadership; retrying"),
            }
        }));
    }
}
