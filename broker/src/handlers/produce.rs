//! Produce: validate the batch, append it (offsets assigned by the log), and answer when the
//! requested acks are met: acks=0 never, acks=1 after the append, acks=all after the batch is
//! flushed to disk (group-committed with every other producer of the partition).

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, RequestHeader};
use tracing::{debug, error, warn};
use weir_protocol::batch::{self, Batches};
use weir_storage::StorageError;

use super::{encode, str_bytes, Reply};
use crate::metadata::{Refusal, Topic};
use crate::partition::Partition;
use crate::server::Shared;
use crate::now_ms;

/// A partition whose response waits for a flush up to `end_offset`.
struct PendingFlush {
    topic: usize,
    partition: usize,
    target: Arc<Partition>,
    end_offset: i64,
}

pub fn handle(shared: &Arc<Shared>, header: RequestHeader, request: ProduceRequest) -> Reply {
    let acks = request.acks;
    let version = header.request_api_version;
    let mut pending = Vec::new();
    let mut responses = Vec::with_capacity(request.topic_data.len());
    for (t, topic_data) in request.topic_data.into_iter().enumerate() {
        let topic = if version >= 13 {
            shared
                .metadata
                .topic_by_id(topic_data.topic_id)
                .ok_or_else(|| Refusal::new(ResponseError::UnknownTopicId, "unknown topic id"))
        } else {
            shared.metadata.get_or_auto_create(&topic_data.name, true)
        };
        let mut partition_responses = Vec::with_capacity(topic_data.partition_data.len());
        for (p, data) in topic_data.partition_data.into_iter().enumerate() {
            let response = PartitionProduceResponse::default().with_index(data.index);
            let outcome = match (&topic, acks) {
                (_, a) if !matches!(a, -1..=1) => Err(Refusal::new(ResponseError::InvalidRequiredAcks, format!("acks={a}"))),
                (Err(refusal), _) => Err(refusal.clone()),
                (Ok(topic), _) => append(topic, data.index, data.records.unwrap_or_default()),
            };
            partition_responses.push(match outcome {
                Ok((target, appended)) => {
                    if acks == -1 && shared.settings.fsync_acks_all {
                        pending.push(PendingFlush { topic: t, partition: p, target, end_offset: appended.end_offset });
                    }
                    let response = response
                        .with_base_offset(appended.base_offset)
                        .with_log_append_time_ms(appended.log_append_time.unwrap_or(-1));
                    if version >= 5 { response.with_log_start_offset(appended.log_start_offset) } else { response }
                }
                Err(refusal) => {
                    debug!(topic = %topic_data.name.0, partition = data.index, error = ?refusal.error, message = refusal.message, "produce refused");
                    let response = response.with_error_code(refusal.code());
                    if version >= 8 { response.with_error_message(Some(str_bytes(refusal.message))) } else { response }
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
        return Reply::Nothing;
    }
    if pending.is_empty() {
        return encode(&header, &response, &[]).map_or(Reply::Fail, Reply::Now);
    }
    Reply::Later(Box::pin(async move {
        let mut response = response;
        for wait in pending {
            if let Err(e) = wait.target.flush_to(wait.end_offset).await {
                error!(topic = %wait.target.topic, partition = wait.target.index, error = %e, "flush failed; acks=all produce fails");
                let partition = &mut response.responses[wait.topic].partition_responses[wait.partition];
                partition.error_code = ResponseError::KafkaStorageError.code();
                partition.error_message = Some(str_bytes(e.to_string()));
            }
        }
        encode(&header, &response, &[])
    }))
}

struct Appended {
    base_offset: i64,
    end_offset: i64,
    log_append_time: Option<i64>,
    log_start_offset: i64,
}

fn append(topic: &Topic, index: i32, records: Bytes) -> Result<(Arc<Partition>, Appended), Refusal> {
    let partition = usize::try_from(index)
        .ok()
        .and_then(|i| topic.partitions.get(i))
        .ok_or_else(|| Refusal::new(ResponseError::UnknownTopicOrPartition, format!("{}-{index} does not exist", topic.name)))?;
    let header = validate(&records, topic.settings.max_message_bytes)?;
    if header.is_control() {
        return Err(Refusal::new(ResponseError::InvalidRecord, "clients may not write control batches"));
    }
    if header.is_transactional() {
        return Err(Refusal::new(ResponseError::InvalidTxnState, "transactions are not supported"));
    }
    let now = now_ms();
    let log_append_time = topic.settings.log_append_time.then_some(now);
    let (info, log_start_offset) = {
        let mut log = partition.log();
        let info = log.append(&records, super::cluster::LEADER_EPOCH, log_append_time, now).map_err(storage_refusal)?;
        (info, log.log_start_offset())
    };
    if !info.duplicate {
        partition.appended.notify_waiters();
    }
    Ok((
        partition.clone(),
        Appended { base_offset: info.base_offset, end_offset: info.last_offset + 1, log_append_time, log_start_offset },
    ))
}

/// Produce v3+ carries exactly one v2 batch per partition (as Kafka requires).
fn validate(records: &[u8], max_message_bytes: usize) -> Result<batch::BatchHeader, Refusal> {
    let mut walk = Batches::new(records);
    let first = walk.next();
    let (Some((_, header)), None, true) = (first, walk.next(), first.is_some_and(|(_, h)| h.size() == records.len())) else {
        // Old formats (magic 0/1) do not parse as v2 batches; say so rather than "invalid".
        if let Some(old) = batch::magic(records).filter(|&m| m != 2 && records.len() > batch::HEADER_LEN) {
            return Err(Refusal::new(ResponseError::UnsupportedForMessageFormat, format!("record format magic {old}")));
        }
        return Err(Refusal::new(ResponseError::InvalidRecord, "a produce request must carry exactly one record batch per partition"));
    };
    if records.len() > max_message_bytes {
        return Err(Refusal::new(
            ResponseError::MessageTooLarge,
            format!("batch of {} bytes exceeds max.message.bytes {max_message_bytes}", records.len()),
        ));
    }
    batch::validate(records).map_err(|e| {
        let error = ResponseError::try_from_code(e.error_code()).unwrap_or(ResponseError::CorruptMessage);
        Refusal::new(error, e.to_string())
    })?;
    Ok(header)
}

pub fn storage_refusal(e: StorageError) -> Refusal {
    match e {
        StorageError::Sequence(seq) => Refusal::new(
            ResponseError::try_from_code(seq.error_code()).unwrap_or(ResponseError::OutOfOrderSequenceNumber),
            seq.to_string(),
        ),
        StorageError::BatchTooLarge { .. } => Refusal::new(ResponseError::MessageTooLarge, e.to_string()),
        StorageError::OffsetOutOfRange { .. } => Refusal::new(ResponseError::OffsetOutOfRange, e.to_string()),
        other => {
            warn!(error = %other, "storage error");
            Refusal::new(ResponseError::KafkaStorageError, other.to_string())
        }
    }
}
