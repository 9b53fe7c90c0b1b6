//! Fetch: whole batches straight out of the segment maps (zero-copy), long-polling until
//! `min_bytes` are available or `max_wait_ms` passes. Sessionless: the response's session id is
//! always 0, so clients send full fetch requests (KIP-227 allows this).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::select_all;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_response::{AbortedTransaction, FetchableTopicResponse, LeaderIdAndEpoch, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ProducerId, RequestHeader};
use tokio::time::Instant;
use weir_protocol::batch::{self, codec};

use super::cluster::led_partition;
use super::{encode, Reply};
use crate::metrics::TopicStats;
use crate::partition::Partition;
use crate::server::Shared;

pub fn handle(shared: &Arc<Shared>, header: RequestHeader, request: FetchRequest) -> Reply {
    // Incremental sessions are not offered; a client that asks to continue one is told so.
    if request.session_id != 0 || request.session_epoch > 0 {
        let response = FetchResponse::default().with_error_code(ResponseError::FetchSessionIdNotFound.code());
        return encode(&header, &response, &[]).map_or(Reply::Fail, Reply::Now);
    }
    let version = header.request_api_version;
    let targets = resolve(shared, &request, version);
    let (response, records, bytes) = read(&request, version, &targets);
    let deadline = Instant::now() + Duration::from_millis(request.max_wait_ms.max(0) as u64);
    let waitable: Vec<Arc<Partition>> = targets.iter().flat_map(|t| t.1.iter().filter_map(|p| p.partition.clone())).collect();
    if bytes >= request.min_bytes.max(0) as usize || request.max_wait_ms <= 0 || waitable.is_empty() {
        return respond(&header, &response, &records, &targets).map_or(Reply::Fail, Reply::Now);
    }
    let mut shutdown = shared.shutdown.clone();
    Reply::Later(Box::pin(async move {
        loop {
            let woken = {
                let notified: Vec<_> = waitable.iter().map(|p| Box::pin(p.appended.notified())).collect();
                // Re-read before sleeping: an append between the first read and here must count.
                let (response, records, bytes) = read(&request, version, &targets);
                if bytes >= request.min_bytes.max(0) as usize || Instant::now() >= deadline {
                    return respond(&header, &response, &records, &targets);
                }
                tokio::select! {
                    _ = select_all(notified) => true,
                    _ = tokio::time::sleep_until(deadline) => false,
                    _ = shutdown.changed() => false,
                }
            };
            if !woken {
                let (response, records, _) = read(&request, version, &targets);
                return respond(&header, &response, &records, &targets);
            }
        }
    }))
}

/// One requested partition, resolved to what the broker hosts.
struct Wanted {
    /// The response entry, filled with an error when the partition cannot be read.
    data: PartitionData,
    partition: Option<Arc<Partition>>,
    fetch_offset: i64,
    max_bytes: i32,

}

/// Each requested topic (by name or id), its partitions, and its traffic counters.
type Targets = Vec<(FetchableTopicResponse, Vec<Wanted>, Option<TopicStats>)>;

/// `isolation_level` of a read_committed consumer.
const READ_COMMITTED: i8 = 1;

/// Fetch v10 is the first that may carry zstd batches (KIP-110).
const FIRST_ZSTD_VERSION: i16 = 10;

fn resolve(shared: &Shared, request: &FetchRequest, version: i16) -> Targets {
    request
        .topics
        .iter()
        .map(|wanted| {
            let topic = if version >= 13 { shared.metadata.topic_by_id(wanted.topic_id) } else { shared.metadata.topic(&wanted.topic) };
            let mut response = FetchableTopicResponse::default();
            response.topic = wanted.topic.clone();
            response.topic_id = wanted.topic_id;
            let unknown = if version >= 13 { ResponseError::UnknownTopicId } else { ResponseError::UnknownTopicOrPartition };
            let zstd_topic = topic.as_ref().is_some_and(|t| t.settings.compression.codec() == Some(codec::ZSTD));
            let partitions = wanted
                .partitions
                .iter()
                .map(|p| {
                    let data = PartitionData::default().with_partition_index(p.partition);
                    let (data, partition) = match led_partition(topic.as_deref(), p.partition, p.current_leader_epoch) {
                        // As Kafka: decided by the topic's codec; zstd batches a producer chose are
                        // returned as they are (clients such as rskafka decode them).
                        Ok(_) if zstd_topic && version < FIRST_ZSTD_VERSION => {
                            (data.with_error_code(ResponseError::UnsupportedCompressionType.code()).with_high_watermark(-1), None)
                        }
                        Ok(partition) => (data, Some(partition)),
                        Err(_) if topic.is_none() => (data.with_error_code(unknown.code()), None),
                        // KIP-951 (v12+): name the current leader.
                        Err(ResponseError::NotLeaderOrFollower) if version >= 12 => {
                            let data = data.with_error_code(ResponseError::NotLeaderOrFollower.code());
                            match topic.as_deref().and_then(|t| super::cluster::leader_hint(shared, t, p.partition)) {
                                Some((leader, epoch, _, _)) => (data.with_current_leader(LeaderIdAndEpoch::default().with_leader_id(BrokerId(leader)).with_leader_epoch(epoch)), None),
                                None => (data, None),
                            }
                        }
                        Err(e) => (data.with_error_code(e.code()), None),
                    };
                    Wanted { data, partition, fetch_offset: p.fetch_offset, max_bytes: p.partition_max_bytes }
                })
                .collect();
            (response, partitions, topic.map(|t| t.stats.clone()))
        })
        .collect()
}

/// Adds what `response` returns to each topic's `records_out` / `bytes_out` and encodes it.
fn respond(header: &RequestHeader, response: &FetchResponse, records: &[Bytes], targets: &Targets) -> Option<super::Response> {
    for (topic, (_, _, stats)) in response.responses.iter().zip(targets) {
        let Some(stats) = stats else { continue };
        let (mut count, mut bytes) = (0u64, 0u64);
        for data in topic.partitions.iter().filter_map(|p| p.records.as_ref()) {
            bytes += data.len() as u64;
            count += batch::Batches::new(data).map(|(_, h)| h.records_count.max(0) as u64).sum::<u64>();
        }
        if bytes > 0 {
            stats.records_out.increment(count);
            stats.bytes_out.increment(bytes);
        }
    }
    encode(header, response, records)
}

/// One pass over every partition: the response, the record buffers in it, and their total size.
/// The response holds at most the request's `max_bytes` and each partition at most its
/// `partition_max_bytes`, except that the first batch of the first partition with data is
/// always whole, however large (KIP-74); later partitions whose next batch does not fit are
/// answered empty.
fn read(request: &FetchRequest, version: i16, targets: &Targets) -> (FetchResponse, Vec<Bytes>, usize) {
    let mut budget = request.max_bytes.max(0) as usize;
    let mut total = 0;
    let mut buffers = Vec::new();
    let responses = targets
        .iter()
        .map(|(topic, partitions, _)| {
            let mut topic = topic.clone();
            topic.partitions = partitions
                .iter()
                .map(|wanted| {
                    let Some(partition) = &wanted.partition else { return wanted.data.clone() };
                    let log = partition.log();
                    let high_watermark = log.high_watermark();
                    let last_stable_offset = log.last_stable_offset();
                    // KIP-98: read_committed reads below the last stable offset only.
                    let read_committed = request.isolation_level == READ_COMMITTED;
                    let upper_bound = if read_committed { last_stable_offset } else { high_watermark };
                    let mut data = wanted
                        .data
                        .clone()
                        .with_high_watermark(high_watermark)
                        .with_last_stable_offset(last_stable_offset)
                        .with_aborted_transactions(read_committed.then(Vec::new))
                        .with_preferred_read_replica((-1).into());
                    if version >= 5 {
                        data.log_start_offset = log.log_start_offset();
                    }
                    let limit = budget.min(wanted.max_bytes.max(0) as usize);
                    if total > 0 && limit == 0 {
                        return data.with_records(Some(Bytes::new()));
                    }
                    match log.read(wanted.fetch_offset, limit.max(1), upper_bound) {
                        // Only the response's first batch may exceed the limits.
                        Ok(read) if total > 0 && read.records.len() > limit => data.with_records(Some(Bytes::new())),
                        Ok(read) => {
                            total += read.records.len();
                            budget = budget.saturating_sub(read.records.len());
                            if read_committed {
                                // The aborted transactions with data among the batches returned,
                                // so the consumer drops their records.
                                let end = batch::Batches::new(&read.records).last().map_or(wanted.fetch_offset, |(_, h)| h.next_offset());
                                data.aborted_transactions = Some(
                                    log.aborted_transactions(wanted.fetch_offset, end)
                                        .into_iter()
                                        .map(|a| AbortedTransaction::default().with_producer_id(ProducerId(a.producer_id)).with_first_offset(a.first_offset))
                                        .collect(),
                                );
                            }
                            if !read.records.is_empty() {
                                buffers.push(read.records.clone());
                            }
                            data.with_records(Some(read.records))
                        }
                        Err(e) => {
                            let refusal = super::produce::storage_refusal(e);
                            data.with_error_code(refusal.code()).with_records(Some(Bytes::new()))
                        }
                    }
                })
                .collect();
            topic
        })
        .collect();
    (FetchResponse::default().with_responses(responses), buffers, total)
}
