//! ListOffsets (earliest, latest, by timestamp, max timestamp) and OffsetForLeaderEpoch.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use kafka_protocol::messages::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use weir_storage::Log;

use super::cluster::{led_partition, LEADER_EPOCH};
use crate::server::Shared;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;

pub fn list_offsets(shared: &Arc<Shared>, request: ListOffsetsRequest, version: i16) -> ListOffsetsResponse {
    // KIP-98: a read_committed consumer's end is the last stable offset.
    let read_committed = request.isolation_level == 1;
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let response = ListOffsetsPartitionResponse::default().with_partition_index(p.partition_index);
                    let partition = match led_partition(shared.metadata.topic(&topic.name).as_deref(), p.partition_index, p.current_leader_epoch) {
                        Ok(partition) => partition,
                        Err(error) => return response.with_error_code(error.code()),
                    };
                    let found = lookup(&partition.log(), p.timestamp, read_committed);
                    let (offset, timestamp) = match found {
                        Ok(found) => found,
                        Err(e) => return response.with_error_code(super::produce::storage_refusal(e).code()),
                    };
                    let response = response.with_offset(offset).with_timestamp(timestamp);
                    if version >= 4 { response.with_leader_epoch(LEADER_EPOCH) } else { response }
                })
                .collect();
            ListOffsetsTopicResponse::default().with_name(topic.name).with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// `(offset, timestamp)` for a ListOffsets target; `(-1, -1)` when no record qualifies (for
/// `read_committed`, none below the last stable offset). Errors: the log cannot be read.
fn lookup(log: &Log, target: i64, read_committed: bool) -> Result<(i64, i64), weir_storage::StorageError> {
    let end = if read_committed { log.last_stable_offset() } else { log.high_watermark() };
    let found = match target {
        LATEST => return Ok((end, -1)),
        EARLIEST | EARLIEST_LOCAL => return Ok((log.log_start_offset(), -1)),
        MAX_TIMESTAMP => log
            .batch_with_max_timestamp()?
            .and_then(|batch| first_record_at_or_after(&batch, i64::MIN, true))
            .unwrap_or((-1, -1)),
        t if t >= 0 => log
            .batch_by_timestamp(t)?
            .and_then(|batch| first_record_at_or_after(&batch, t, false))
            .map(|(offset, ts)| (offset.max(log.log_start_offset()), ts))
            .unwrap_or((-1, -1)),
        _ => (-1, -1),
    };
    // Records found by timestamp count only below the end.
    Ok(if found.0 >= end { (-1, -1) } else { found })
}

/// Walks one batch's records (rarely: only timestamp lookups do) to find the first record whose
/// timestamp is at least `target`, or with `newest`, the record with the largest timestamp.
fn first_record_at_or_after(batch: &Bytes, target: i64, newest: bool) -> Option<(i64, i64)> {
    // Reads offsets and timestamps only (LogAppendTime resolved): a client's batch may claim
    // absurd header counts that the full record decoder would reserve memory for.
    let mut timestamped = weir_protocol::batch::record_times(batch.clone()).ok()?;
    if newest {
        timestamped.fold(None, |best: Option<(i64, i64)>, (o, ts)| match best {
            Some((_, best_ts)) if best_ts >= ts => best,
            _ => Some((o, ts)),
        })
    } else {
        timestamped.find(|(_, ts)| *ts >= target)
    }
}

pub fn offset_for_leader_epoch(shared: &Arc<Shared>, request: OffsetForLeaderEpochRequest) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let response = EpochEndOffset::default().with_partition(p.partition);
                    let partition = match led_partition(shared.metadata.topic(&topic.topic).as_deref(), p.partition, p.current_leader_epoch) {
                        Ok(partition) => partition,
                        Err(error) => return response.with_error_code(error.code()),
                    };
                    // From the leader-epoch cache, as Kafka answers (KIP-101, KIP-320).
                    let (epoch, end_offset) = partition.log().end_offset_for_epoch(p.leader_epoch);
                    response.with_leader_epoch(epoch).with_end_offset(end_offset)
                })
                .collect();
            OffsetForLeaderTopicResult::default().with_topic(topic.topic).with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
