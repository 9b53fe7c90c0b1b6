//! Produce: validate the batch, apply the topic's append rules (timestamps, keys, codec), append
//! it (offsets assigned by the log), and answer when the
//! requested acks are met: acks=0 never, acks=1 after the append, acks=all after the batch is
//! flushed to disk (group-committed with every other producer of the partition).

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{BatchIndexAndErrorMessage, LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{BrokerId, ProduceRequest, ProduceResponse, RequestHeader};
use tracing::{debug, error, warn};
use weir_protocol::batch::{self, Batches};
use weir_replication::ReplicationError;
use weir_storage::{AppendInfo, StorageError};

use super::{encode, str_bytes, Reply};
use crate::metadata::{is_internal, Refusal, Topic};
use crate::partition::Partition;
use crate::server::Shared;
use crate::transactions::TransactionCoordinator;
use crate::now_ms;

/// A partition whose response waits: for a flush up to `end_offset` (single node), or for its
/// batch to commit (cluster).
struct Pending {
    topic: usize,
    partition: usize,
    wait: Wait,
}

enum Wait {
    Flush { target: Arc<Partition>, end_offset: i64 },
    Commit(Proposed),
}

/// A batch proposed to its partition's Raft group: resolves with its offsets once committed.
type Proposed = std::pin::Pin<Box<dyn std::future::Future<Output = Result<AppendInfo, ReplicationError>> + Send>>;

pub async fn handle(shared: &Arc<Shared>, header: RequestHeader, request: ProduceRequest) -> Reply {
    let acks = request.acks;
    let version = header.request_api_version;
    let transactional_id = request.transactional_id.as_ref().map(|id| id.to_string());
    // Awaited before anything is appended: the connection reads its next request only after
    // this one is handled, so a producer's batches still append in order.
    let verified = verify_transactions(shared, transactional_id.as_deref(), &request, version).await;
    let mut pending = Vec::new();
    let mut responses = Vec::with_capacity(request.topic_data.len());
    for (t, topic_data) in request.topic_data.into_iter().enumerate() {
        // Produce never creates topics: Kafka auto-creates only through Metadata.
        let topic = if version >= 13 {
            shared.metadata.topic_by_id(topic_data.topic_id).ok_or_else(|| Refusal::new(ResponseError::UnknownTopicId, "unknown topic id"))
        } else {
            shared.metadata.topic(&topic_data.name).ok_or_else(|| Refusal::new(ResponseError::UnknownTopicOrPartition, UNKNOWN_PARTITION))
        };
        let mut partition_responses = Vec::with_capacity(topic_data.partition_data.len());
        for (p, data) in topic_data.partition_data.into_iter().enumerate() {
            let response = PartitionProduceResponse::default().with_index(data.index);
            let outcome = topic
                .as_ref()
                .map_err(|refusal| Rejection::from(refusal.clone()))
                .and_then(|topic| append(shared, topic, data.index, data.records.unwrap_or_default(), acks, version, transactional_id.as_deref(), &verified));
            partition_responses.push(match outcome {
                Ok(Appended::Proposed(proposed)) => {
                    if acks != 0 {
                        pending.push(Pending { topic: t, partition: p, wait: Wait::Commit(proposed) });
                    }
                    response
                }
                Ok(Appended::Written { target, written }) => {
                    if acks == -1 && shared.settings.fsync_acks_all {
                        pending.push(Pending { topic: t, partition: p, wait: Wait::Flush { target, end_offset: written.end_offset } });
                    }
                    let appended = written;
                    let response = response
                        .with_base_offset(appended.base_offset)
                        .with_log_append_time_ms(appended.log_append_time.unwrap_or(-1));
                    if version >= 5 { response.with_log_start_offset(appended.log_start_offset) } else { response }
                }
                Err(rejection) => {
                    let Rejection { refusal, record_errors } = rejection;
                    debug!(topic = %topic_data.name.0, partition = data.index, error = ?refusal.error, message = refusal.message, "produce refused");
                    let response = response.with_error_code(refusal.code()).with_base_offset(-1);
                    // Kafka sends a message only with record validation errors (KIP-467).
                    if version >= 8 && !record_errors.is_empty() {
                        let record_errors = record_errors
                            .into_iter()
                            .map(|(index, message)| {
                                BatchIndexAndErrorMessage::default().with_batch_index(index as i32).with_batch_index_error_message(Some(str_bytes(message)))
                            })
                            .collect();
                        response.with_error_message(Some(str_bytes(refusal.message))).with_record_errors(record_errors)
                    } else {
                        response
                    }
                }
            });
        }
        let mut topic_response = TopicProduceResponse::default().with_partition_responses(partition_responses);
        topic_response.name = topic_data.name;
        topic_response.topic_id = topic_data.topic_id;
        responses.push(topic_response);
    }
    let response = ProduceResponse::default().with_responses(responses);
    if acks == 0 {
        let failed = response.responses.iter().flat_map(|t| &t.partition_responses).any(|p| p.error_code != 0);
        return if failed { Reply::Close } else { Reply::Nothing };
    }
    if pending.is_empty() {
        let mut response = response;
        add_leader_hints(shared, &mut response, version);
        return encode(&header, &response, &[]).map_or(Reply::Fail, Reply::Now);
    }
    let timeout = std::time::Duration::from_millis(request.timeout_ms.max(0) as u64);
    let topics: Vec<Option<Arc<Topic>>> = response.responses.iter().map(|t| shared.metadata.topic(&t.name)).collect();
    let shared = shared.clone();
    Reply::Later(Box::pin(async move {
        let mut response = response;
        let deadline = tokio::time::Instant::now() + timeout;
        for pending in pending {
            let partition = &mut response.responses[pending.topic].partition_responses[pending.partition];
            match pending.wait {
                Wait::Flush { target, end_offset } => {
                    if let Err(e) = target.flush_to(end_offset).await {
                        error!(topic = %target.topic, partition = target.index, error = %e, "flush failed; acks=all produce fails");
                        partition.error_code = ResponseError::KafkaStorageError.code();
                        partition.error_message = Some(str_bytes(e.to_string()));
                    }
                }
                Wait::Commit(proposed) => match tokio::time::timeout_at(deadline, proposed).await {
                    Ok(Ok(info)) => {
                        partition.base_offset = info.base_offset;
                        if let Some(topic) = topics[pending.topic].as_ref() {
                            if let Ok(target) = topic.partition(partition.index) {
                                partition.log_start_offset = if version >= 5 { target.log().log_start_offset() } else { -1 };
                            }
                            if !info.duplicate {
                                topic.stats.records_in.increment((info.last_offset - info.base_offset + 1).max(0) as u64);
                            }
                        }
                    }
                    Ok(Err(e)) => {
                        let refusal = replication_refusal(e);
                        partition.error_code = refusal.code();
                        partition.base_offset = -1;
                        if version >= 8 {
                            partition.error_message = Some(str_bytes(refusal.message));
                        }
                    }
                    // Not committed within the request's timeout (no quorum): Kafka's answer.
                    Err(_) => {
                        partition.error_code = ResponseError::RequestTimedOut.code();
                        partition.base_offset = -1;
                    }
                },
            }
        }
        add_leader_hints(&shared, &mut response, version);
        encode(&header, &response, &[])
    }))
}

/// KIP-951 (Produce v10+): each partition refused with NOT_LEADER_OR_FOLLOWER names the current
/// leader and epoch, and the response carries those leaders' endpoints, so the producer moves
/// on without a metadata round trip.
fn add_leader_hints(shared: &Shared, response: &mut ProduceResponse, version: i16) {
    if version < 10 || shared.metadata.cluster().is_none() {
        return;
    }
    let mut endpoints = std::collections::BTreeMap::new();
    for topic_response in &mut response.responses {
        let topic = if version >= 13 { shared.metadata.topic_by_id(topic_response.topic_id) } else { shared.metadata.topic(&topic_response.name) };
        let Some(topic) = topic else { continue };
        for partition in topic_response.partition_responses.iter_mut().filter(|p| p.error_code == ResponseError::NotLeaderOrFollower.code()) {
            if let Some((leader, epoch, host, port)) = super::cluster::leader_hint(shared, &topic, partition.index) {
                partition.current_leader = LeaderIdAndEpoch::default().with_leader_id(BrokerId(leader)).with_leader_epoch(epoch);
                endpoints.insert(leader, (host, port));
            }
        }
    }
    response.node_endpoints = endpoints
        .into_iter()
        .map(|(id, (host, port))| NodeEndpoint::default().with_node_id(BrokerId(id)).with_host(str_bytes(host)).with_port(port))
        .collect();
}

/// Why a proposal failed, as the producer hears it: a lost leadership or a dropped proposal is
/// NOT_LEADER_OR_FOLLOWER (retriable: the producer refreshes its metadata); the log's refusals
/// (idempotent sequence errors) keep their Kafka codes.
pub fn replication_refusal(e: ReplicationError) -> Refusal {
    match e {
        ReplicationError::Storage(e) => storage_refusal(e),
        ReplicationError::NotLeader { .. } | ReplicationError::ProposalDropped => Refusal::new(ResponseError::NotLeaderOrFollower, e.to_string()),
        other => {
            warn!(error = %other, "replication error");
            Refusal::new(ResponseError::UnknownServerError, other.to_string())
        }
    }
}

/// Kafka's message for a partition this broker does not have.
const UNKNOWN_PARTITION: &str = "This server does not host this topic-partition.";

/// A refused partition, with the records to blame when the topic's per-record rules refused it
/// (Produce v8+ `record_errors`, KIP-467: batch index and message).
struct Rejection {
    refusal: Refusal,
    record_errors: Vec<(usize, String)>,
}

impl From<Refusal> for Rejection {
    fn from(refusal: Refusal) -> Rejection {
        Rejection { refusal, record_errors: Vec::new() }
    }
}

/// What became of an accepted batch.
enum Appended {
    /// In the log (single node).
    Written { target: Arc<Partition>, written: Written },
    /// Proposed to the partition's Raft group (cluster).
    Proposed(Proposed),
}

struct Written {
    base_offset: i64,
    end_offset: i64,
    log_append_time: Option<i64>,
    log_start_offset: i64,
}

/// Checks one partition's data in Kafka's order (partition exists; the request carries one v2
/// batch its version may use; acks; not an internal topic; then the topic's append rules) and
/// appends it.
#[allow(clippy::too_many_arguments)]
fn append(shared: &Shared, topic: &Topic, index: i32, records: Bytes, acks: i16, version: i16, transactional_id: Option<&str>, verified: &Verified) -> Result<Appended, Rejection> {
    let partition = topic.partition(index).map_err(|error| match error {
        ResponseError::UnknownTopicOrPartition => Refusal::new(error, UNKNOWN_PARTITION),
        other => Refusal::new(other, "This broker is not the leader of the partition."),
    })?;
    let header = validate(&records, version)?;
    if !matches!(acks, -1..=1) {
        return Err(Refusal::new(ResponseError::InvalidRequiredAcks, format!("acks={acks} is not -1, 0 or 1")).into());
    }
    if is_internal(&topic.name) {
        return Err(Refusal::new(ResponseError::InvalidTopicException, format!("Cannot append to internal topic {}", topic.name)).into());
    }
    if records.len() > topic.settings.max_message_bytes {
        return Err(Refusal::new(
            ResponseError::MessageTooLarge,
            format!(
                "The record batch size in the append to {}-{index} is {} bytes which exceeds the maximum configured value of {}.",
                topic.name,
                records.len(),
                topic.settings.max_message_bytes
            ),
        )
        .into());
    }
    batch::validate(&records).map_err(batch_refusal)?;
    if header.is_control() {
        return Err(Refusal::new(ResponseError::InvalidRecord, "clients may not write control batches").into());
    }
    if header.is_transactional() {
        // Kafka's order: a follower says so before it looks at the transaction.
        if partition.replica.is_some() && !partition.leadership(-1).is_leader {
            return Err(Refusal::new(ResponseError::NotLeaderOrFollower, "This broker is not the leader of the partition.").into());
        }
        check_transaction(shared, topic, partition, &header, transactional_id, verified)?;
    }
    let now = now_ms();
    check_records(topic, index, &records, &header, now)?;
    let records = match topic.settings.compression.codec() {
        Some(codec) if codec != header.compression() => {
            let recompressed = batch::recompress(&records, codec).map_err(batch_refusal)?;
            // Kafka checks the size again after recompressing.
            if recompressed.len() > topic.settings.max_message_bytes {
                return Err(Refusal::new(
                    ResponseError::MessageTooLarge,
                    format!(
                        "The record batch size in the append to {}-{index} is {} bytes which exceeds the maximum configured value of {}.",
                        topic.name,
                        recompressed.len(),
                        topic.settings.max_message_bytes
                    ),
                )
                .into());
            }
            recompressed
        }
        _ => records,
    };
    let log_append_time = topic.settings.log_append_time.then_some(now);
    if let Some(replicated) = &partition.replica {
        let leadership = partition.leadership(-1);
        if !leadership.is_leader {
            return Err(Refusal::new(ResponseError::NotLeaderOrFollower, "This broker is not the leader of the partition.").into());
        }
        if acks == -1 && leadership.isr.len() < topic.settings.min_insync_replicas {
            return Err(Refusal::new(
                ResponseError::NotEnoughReplicas,
                format!("The size of the current ISR {:?} is insufficient to satisfy the min.isr requirement of {}", leadership.isr, topic.settings.min_insync_replicas),
            )
            .into());
        }
        topic.stats.bytes_in.increment(records.len() as u64);
        return Ok(Appended::Proposed(Box::pin(replicated.handle.propose(records, log_append_time))));
    }
    let (info, log_start_offset) = {
        let mut log = partition.log();
        let info = log.append(&records, super::cluster::LEADER_EPOCH, log_append_time, now).map_err(storage_refusal)?;
        (info, log.log_start_offset())
    };
    if !info.duplicate {
        partition.appended.notify_waiters();
        topic.stats.records_in.increment(header.records_count.max(0) as u64);
        topic.stats.bytes_in.increment(records.len() as u64);
    }
    Ok(Appended::Written {
        target: partition.clone(),
        written: Written { base_offset: info.base_offset, end_offset: info.last_offset + 1, log_append_time, log_start_offset },
    })
}

/// A transactional batch is accepted from a producer named by the request's transactional id,
/// with sequence numbers, and — KIP-890, `transaction.partition.verification.enable` — only for
/// a partition its coordinator added to the open transaction ([`verify_transactions`]), so a
/// late batch cannot reopen a transaction that already ended (a "hanging" transaction). A
/// producer whose transaction is already open in the partition is not asked about again.
fn check_transaction(shared: &Shared, topic: &Topic, partition: &Partition, header: &batch::BatchHeader, transactional_id: Option<&str>, verified: &Verified) -> Result<(), Refusal> {
    if transactional_id.is_none_or(str::is_empty) {
        return Err(Refusal::new(ResponseError::TransactionalIdAuthorizationFailed, "a transactional batch without a transactional id"));
    }
    if header.base_sequence < 0 {
        return Err(Refusal::new(ResponseError::InvalidRecord, "a transactional batch without sequence numbers"));
    }
    let producer = (header.producer_id, header.producer_epoch);
    if !needs_verification(shared, partition, producer) {
        return Ok(());
    }
    let refused = |error: ResponseError, message: &str| Err(Refusal::new(error, message));
    match verified.get(&(topic.name.to_string(), partition.index)) {
        // The transaction ended between the verification and now: as if asked now.
        Some((Ok(()), markers)) if partition.log().transaction_markers(producer.0) != *markers => {
            refused(ResponseError::InvalidTxnState, "the producer's transaction ended while it was being verified")
        }
        Some((Ok(()), _)) => Ok(()),
        Some((Err(ResponseError::ProducerFenced), _)) => refused(ResponseError::InvalidProducerEpoch, "the producer was fenced by a newer epoch"),
        Some((Err(ResponseError::InvalidTxnState), _)) => refused(ResponseError::InvalidTxnState, "the partition is not in the producer's open transaction"),
        _ => refused(ResponseError::NotEnoughReplicas, "the transaction coordinator could not verify the transaction"),
    }
}

/// Whether a transactional batch of `producer` must be verified with its coordinator: its
/// transaction is not open in the partition yet (at this epoch).
fn needs_verification(shared: &Shared, partition: &Partition, producer: (i64, i16)) -> bool {
    shared.settings.transactions.verify_partitions && !partition.log().open_transaction(producer.0).is_some_and(|(epoch, _)| epoch == producer.1)
}

/// Verification outcomes by (topic, partition), with the producer's marker count in the
/// partition when it was asked ([`weir_storage::Log::transaction_markers`]).
type Verified = std::collections::HashMap<(String, i32), (Result<(), ResponseError>, u64)>;

/// KIP-890: the transactional batches of the request that would open the producer's
/// transaction in a partition led here are verified with its coordinator, once for the whole
/// request, before anything is appended.
async fn verify_transactions(shared: &Arc<Shared>, transactional_id: Option<&str>, request: &ProduceRequest, version: i16) -> Verified {
    let mut verified = Verified::new();
    let Some(transactional_id) = transactional_id.filter(|id| !id.is_empty()) else { return verified };
    let mut wanted = Vec::new();
    let mut markers = Vec::new();
    let mut producer = None;
    for topic_data in &request.topic_data {
        let topic = if version >= 13 { shared.metadata.topic_by_id(topic_data.topic_id) } else { shared.metadata.topic(&topic_data.name) };
        let Some(topic) = topic else { continue };
        for data in &topic_data.partition_data {
            let header = data.records.as_deref().and_then(batch::BatchHeader::parse);
            let (Some(header), Ok(partition)) = (header, topic.partition(data.index)) else { continue };
            let batch_producer = (header.producer_id, header.producer_epoch);
            // One producer writes a request; a batch naming another is refused unverified.
            if !header.is_transactional() || *producer.get_or_insert(batch_producer) != batch_producer || !partition.leadership(-1).is_leader {
                continue;
            }
            if needs_verification(shared, partition, batch_producer) {
                markers.push(partition.log().transaction_markers(batch_producer.0));
                wanted.push((topic.name.to_string(), data.index));
            }
        }
    }
    let Some(producer) = producer.filter(|_| !wanted.is_empty()) else { return verified };
    let outcomes = TransactionCoordinator::verify_partitions(shared, transactional_id, producer, &wanted).await;
    for ((key, outcome), markers) in wanted.into_iter().zip(outcomes).zip(markers) {
        verified.insert(key, (outcome, markers));
    }
    verified
}

/// Produce v3+ carries exactly one v2 batch per partition, and zstd only from v7 (KIP-110), as
/// Kafka's `ProduceRequest.validateRecords` requires.
fn validate(records: &[u8], version: i16) -> Result<batch::BatchHeader, Refusal> {
    let mut walk = Batches::new(records);
    let first = walk.next();
    let (Some((_, header)), None, true) = (first, walk.next(), first.is_some_and(|(_, h)| h.size() == records.len())) else {
        // Old formats (magic 0/1) do not parse as v2 batches; say so rather than "invalid".
        if let Some(old) = batch::magic(records).filter(|&m| m != 2 && records.len() > batch::HEADER_LEN) {
            return Err(Refusal::new(ResponseError::UnsupportedForMessageFormat, format!("record format magic {old}")));
        }
        return Err(Refusal::new(
            ResponseError::InvalidRecord,
            format!("Produce requests with version {version} are only allowed to contain exactly one record batch per partition"),
        ));
    };
    if version < 7 && header.compression() == batch::codec::ZSTD {
        return Err(Refusal::new(
            ResponseError::UnsupportedCompressionType,
            format!("Produce requests with version {version} are not allowed to use ZStandard compression"),
        ));
    }
    Ok(header)
}

fn batch_refusal(e: batch::BatchError) -> Refusal {
    let error = ResponseError::try_from_code(e.error_code()).unwrap_or(ResponseError::CorruptMessage);
    Refusal::new(error, e.to_string())
}

/// The per-record rules of a topic, as Kafka's LogValidator applies them: CreateTime timestamps
/// within `message.timestamp.before.max.ms` / `after.max.ms` of the broker clock
/// (INVALID_TIMESTAMP, KIP-937), and a key on every record of a compacted topic
/// (INVALID_RECORD). Records are only walked when a rule could fail: by default the header's
/// max timestamp settles the one-hour future bound. Every offending record is reported.
fn check_records(topic: &Topic, partition: i32, records: &[u8], header: &batch::BatchHeader, now: i64) -> Result<(), Rejection> {
    let settings = &topic.settings;
    let check_time = !settings.log_append_time;
    let earliest = now.saturating_sub(settings.timestamp_before_max_ms);
    let latest = now.saturating_add(settings.timestamp_after_max_ms);
    let time_rule_can_fail = check_time && (header.max_timestamp > latest || earliest > 0);
    if !time_rule_can_fail && !settings.compacted {
        return Ok(());
    }
    let (mut bad_timestamp, mut errors) = (false, Vec::new());
    // Per record, the key first, then the timestamp, as Kafka's LogValidator.
    batch::visit_records(records, |record| {
        if settings.compacted && !record.has_key {
            let message = format!("Compacted topic cannot accept message without key in topic partition {}-{partition}.", topic.name);
            errors.push((record.index, message));
        } else if check_time && record.timestamp != -1 && (record.timestamp < earliest || record.timestamp > latest) {
            bad_timestamp = true;
            let message = format!(
                "Timestamp {} of message with offset {} is out of range. The timestamp should be within [{earliest}, {latest}]",
                record.timestamp,
                header.base_offset.saturating_add(record.index as i64)
            );
            errors.push((record.index, message));
        }
        true
    })
    .map_err(batch_refusal)?;
    if errors.is_empty() {
        return Ok(());
    }
    let refusal = if bad_timestamp {
        Refusal::new(ResponseError::InvalidTimestamp, "One or more records have been rejected due to invalid timestamp")
    } else {
        let shown: Vec<String> = errors.iter().take(3).map(|(i, m)| format!("RecordError(batchIndex={i}, message='{m}')")).collect();
        Refusal::new(
            ResponseError::InvalidRecord,
            format!(
                "One or more records have been rejected due to {} record errors in total, and only showing the first three errors at most: [{}]",
                errors.len(),
                shown.join(", ")
            ),
        )
    };
    Err(Rejection { refusal, record_errors: errors })
}

pub fn storage_refusal(e: StorageError) -> Refusal {
    match e {
        StorageError::Sequence(seq) => Refusal::new(
            ResponseError::try_from_code(seq.error_code()).unwrap_or(ResponseError::OutOfOrderSequenceNumber),
            seq.to_string(),
        ),
        StorageError::BatchTooLarge { .. } => Refusal::new(ResponseError::RecordListTooLarge, e.to_string()),
        StorageError::OffsetOutOfRange { .. } => Refusal::new(ResponseError::OffsetOutOfRange, e.to_string()),
        other => {
            warn!(error = %other, "storage error");
            Refusal::new(ResponseError::KafkaStorageError, other.to_string())
        }
    }
}
