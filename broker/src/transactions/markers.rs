//! Transaction markers: the COMMIT or ABORT control batch that ends a producer's transaction
//! in one partition (KIP-98). The coordinator writes them into every partition of the
//! transaction — through this broker's own log where it leads the partition, else with
//! WriteTxnMarkers to the leader — and the WriteTxnMarkers handler writes them here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::write_txn_markers_request::{WritableTxnMarker, WritableTxnMarkerTopic};
use kafka_protocol::messages::{ApiKey, ProducerId, WriteTxnMarkersRequest, WriteTxnMarkersResponse};
use tracing::debug;

use crate::handlers::topic_name;
use crate::server::Shared;

/// How long the coordinator waits for a remote leader's answer.
const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes the marker ending `producer`'s transaction (`commit` or abort) into partition
/// `index` of `topic`, led here, and returns once it is durable: flushed (single node with
/// `weir.acks.all.fsync`) or committed by the partition's quorum. A marker reaching an offsets
/// partition ends the producer's pending offset commits there.
pub async fn write_marker(shared: &Arc<Shared>, topic: &str, index: i32, producer: (i64, i16), commit: bool, coordinator_epoch: i32) -> Result<(), ResponseError> {
    let topic = shared.metadata.topic(topic).ok_or(ResponseError::UnknownTopicOrPartition)?;
    let partition = topic.partition(index)?.clone();
    let offsets_partition = *topic.name == *crate::groups::OFFSETS_TOPIC;
    if offsets_partition && !shared.groups.is_loaded(index) {
        // Its new leader is still loading the groups: the coordinator retries.
        return Err(ResponseError::CoordinatorLoadInProgress);
    }
    if !partition.leadership(-1).is_leader {
        return Err(ResponseError::NotLeaderOrFollower);
    }
    let batch = crate::internal_log::marker_batch(producer, commit, coordinator_epoch, crate::now_ms()).map_err(|_| ResponseError::UnknownServerError)?;
    let written = crate::coordinator::append(partition, batch, 1).map_err(|r| r.error)?;
    written.durable(shared.settings.fsync_acks_all).await?;
    if offsets_partition {
        shared.groups.end_transaction(index, topic.partition_count(), producer.0, commit);
    }
    debug!(topic = %topic.name, partition = index, producer_id = producer.0, commit, "wrote a transaction marker");
    Ok(())
}

/// Writes the markers of one transaction into `partitions` once each: those led here directly,
/// the others with one WriteTxnMarkers request per leader. Returns the partitions still to be
/// written (no leader yet, a leader that failed); partitions of deleted topics are dropped.
pub async fn write_markers(shared: &Arc<Shared>, partitions: &[(String, i32)], producer: (i64, i16), commit: bool, coordinator_epoch: i32) -> Vec<(String, i32)> {
    let node = shared.settings.node_id;
    let mut remote: BTreeMap<i32, Vec<(String, i32)>> = BTreeMap::new();
    let mut failed = Vec::new();
    let mut local = Vec::new();
    for (topic_name, index) in partitions {
        let Some(topic) = shared.metadata.topic(topic_name) else { continue };
        if *index >= topic.partition_count() {
            continue;
        }
        let leader = crate::handlers::cluster::partition_state(shared, &topic, *index).leader;
        if leader == node {
            local.push((topic_name.clone(), *index));
        } else if leader < 0 {
            failed.push((topic_name.clone(), *index));
        } else {
            remote.entry(leader).or_default().push((topic_name.clone(), *index));
        }
    }
    let writes = local.iter().map(|(topic, index)| write_marker(shared, topic, *index, producer, commit, coordinator_epoch));
    for ((topic, index), written) in local.iter().zip(futures_util::future::join_all(writes).await) {
        match written {
            Ok(()) | Err(ResponseError::UnknownTopicOrPartition) => {}
            Err(e) => {
                debug!(topic, partition = index, error = %e, "transaction marker not written yet");
                failed.push((topic.clone(), *index));
            }
        }
    }
    for (leader, partitions) in remote {
        failed.extend(send_markers(shared, leader, &partitions, producer, commit, coordinator_epoch).await);
    }
    failed
}

/// WriteTxnMarkers to broker `leader` for `partitions`; returns those not written.
async fn send_markers(shared: &Arc<Shared>, leader: i32, partitions: &[(String, i32)], producer: (i64, i16), commit: bool, coordinator_epoch: i32) -> Vec<(String, i32)> {
    let address = shared.metadata.cluster().and_then(|c| c.state.read().brokers.get(&leader).map(|b| format!("{}:{}", b.host, b.port)));
    let Some(address) = address else { return partitions.to_vec() };
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, index) in partitions {
        topics.entry(topic).or_default().push(*index);
    }
    let marker = WritableTxnMarker::default()
        .with_producer_id(ProducerId(producer.0))
        .with_producer_epoch(producer.1)
        .with_transaction_result(commit)
        .with_coordinator_epoch(coordinator_epoch)
        .with_topics(topics.into_iter().map(|(topic, indexes)| WritableTxnMarkerTopic::default().with_name(topic_name(topic)).with_partition_indexes(indexes)).collect());
    let request = WriteTxnMarkersRequest::default().with_markers(vec![marker]);
    let response: WriteTxnMarkersResponse = match crate::peer::send(&address, ApiKey::WriteTxnMarkers, 1, &request, PEER_TIMEOUT).await {
        Ok(response) => response,
        Err(e) => {
            debug!(leader, error = e, "WriteTxnMarkers failed");
            return partitions.to_vec();
        }
    };
    // Written: those answered without an error (or for a topic deleted meanwhile); a partition
    // the answer leaves out is not.
    let written = |topic: &str, index: i32| {
        response.markers.iter().flat_map(|m| &m.topics).filter(|t| *t.name == *topic).flat_map(|t| &t.partitions).any(|p| {
            p.partition_index == index && matches!(ResponseError::try_from_code(p.error_code), None | Some(ResponseError::UnknownTopicOrPartition))
        })
    };
    partitions.iter().filter(|(topic, index)| !written(topic, *index)).cloned().collect()
}
