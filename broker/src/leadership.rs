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

/// A new leader of a `__consumer_offsets` or `__transaction_state` partition loads its groups or
/// transactions (and finishes the commits and aborts it finds prepared).
async fn load_coordinators(shared: &Arc<Shared>, partition: &Arc<Partition>) {
    let partitions = shared.metadata.topic(&partition.topic).map_or(1, |t| t.partition_count());
    let (loading, target) = (shared.clone(), partition.clone());
    if &*partition.topic == OFFSETS_TOPIC {
        let loaded = tokio::task::spawn_blocking(move || loading.groups.load_partition(&loading.metadata, &target)).await;
        if !matches!(loaded, Ok(Ok(()))) {
            warn!(partition = partition.index, "loading consumer groups failed");
        }
    } else if &*partition.topic == TRANSACTION_TOPIC {
        match tokio::task::spawn_blocking(move || loading.transactions.load_partition(&target, partitions)).await {
            Ok(Ok(())) => TransactionCoordinator::resume_prepared(shared),
            _ => warn!(partition = partition.index, "loading transactions failed"),
        }
    }
}

/// A former leader forgets the partition's groups or transactions.
fn unload_coordinators(shared: &Shared, partition: &Partition) {
    let partitions = shared.metadata.topic(&partition.topic).map_or(1, |t| t.partition_count());
    if &*partition.topic == OFFSETS_TOPIC {
        shared.groups.unload_partition(partition.index, partitions);
    } else if &*partition.topic == TRANSACTION_TOPIC {
        shared.transactions.unload_partition(partition.index, partitions);
    }
}

/// How often a leader retries publishing its leadership when a proposal did not commit.
const REPUBLISH: std::time::Duration = std::time::Duration::from_secs(1);

async fn follow(shared: Weak<Shared>, partition: Weak<Partition>) {
    let Some(mut status) = partition.upgrade().and_then(|p| p.replica.as_ref().map(|r| r.handle.status())) else { return };
    // The term this broker leads the partition in, if it does: a leadership lost and regained
    // between two wake-ups is a new term, and coordinators reload.
    let mut leading: Option<u64> = None;
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
        let leading_now = now.is_leader.then_some(now.term);
        if leading_now != leading {
            let was_leading = leading.is_some();
            leading = leading_now;
            leading_since = tokio::time::Instant::now();
            if leading.is_some() {
                shared.metrics.leader_changes.increment(1);
            }
            info!(topic = %partition.topic, partition = partition.index, epoch = now.term, leader = leading.is_some(), "partition leadership changed");
            if was_leading {
                unload_coordinators(&shared, &partition);
            }
            if leading.is_some() {
                load_coordinators(&shared, &partition).await;
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
