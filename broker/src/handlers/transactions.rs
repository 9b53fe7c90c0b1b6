//! The transaction APIs (KIP-98, KIP-447, KIP-664): AddPartitionsToTxn (with the KIP-890
//! verification form, v4), AddOffsetsToTxn, EndTxn, TxnOffsetCommit, WriteTxnMarkers (the
//! coordinator's path to partition leaders), DescribeTransactions and ListTransactions.
//! InitProducerId and FindCoordinator live with their idempotent and group forms.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_response::{AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult};
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState as DescribedTransaction};
use kafka_protocol::messages::list_transactions_response::TransactionState as ListedTransaction;
use kafka_protocol::messages::txn_offset_commit_response::{TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic};
use kafka_protocol::messages::write_txn_markers_response::{WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult};
use kafka_protocol::messages::*;

use super::{encode, str_bytes, topic_name, Reply};
use crate::groups::records::CommittedOffset;
use crate::now_ms;
use crate::server::Shared;
use crate::transactions::{partitions_by_topic, TransactionCoordinator, TxnState};

/// KIP-588: clients before these versions know PRODUCER_FENCED as INVALID_PRODUCER_EPOCH.
pub fn fenced_for(error: ResponseError, version: i16, first_version: i16) -> ResponseError {
    if error == ResponseError::ProducerFenced && version < first_version {
        ResponseError::InvalidProducerEpoch
    } else {
        error
    }
}

pub async fn add_partitions_to_txn(shared: &Arc<Shared>, request: AddPartitionsToTxnRequest, version: i16) -> AddPartitionsToTxnResponse {
    if version <= 3 {
        let producer = (request.v3_and_below_producer_id.0, request.v3_and_below_producer_epoch);
        let results = add_topics(shared, &request.v3_and_below_transactional_id, producer, &request.v3_and_below_topics, false, version).await;
        return AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results);
    }
    let mut results = Vec::with_capacity(request.transactions.len());
    for txn in &request.transactions {
        let topic_results = add_topics(shared, &txn.transactional_id, (txn.producer_id.0, txn.producer_epoch), &txn.topics, txn.verify_only, version).await;
        results.push(AddPartitionsToTxnResult::default().with_transactional_id(txn.transactional_id.clone()).with_topic_results(topic_results));
    }
    AddPartitionsToTxnResponse::default().with_results_by_transaction(results)
}

/// One transaction's partitions added (or, `verify_only`, checked): every partition gets the
/// outcome; with an unknown partition among them, the others are OPERATION_NOT_ATTEMPTED.
async fn add_topics(shared: &Arc<Shared>, transactional_id: &str, producer: (i64, i16), topics: &[AddPartitionsToTxnTopic], verify_only: bool, version: i16) -> Vec<AddPartitionsToTxnTopicResult> {
    let partitions: Vec<(String, i32)> = topics.iter().flat_map(|t| t.partitions.iter().map(|p| (t.name.to_string(), *p))).collect();
    let unknown = |(topic, index): &(String, i32)| shared.metadata.topic(topic).is_none_or(|t| *index < 0 || *index >= t.partition_count());
    let errors: Vec<Option<ResponseError>> = if partitions.iter().any(unknown) {
        partitions.iter().map(|p| Some(if unknown(p) { ResponseError::UnknownTopicOrPartition } else { ResponseError::OperationNotAttempted })).collect()
    } else if verify_only {
        partitions.iter().map(|p| shared.transactions.verify(&shared.metadata, transactional_id, producer, p).err()).collect()
    } else {
        let error = TransactionCoordinator::add_partitions(shared, transactional_id, producer, partitions.clone()).await.err();
        vec![error.map(|e| fenced_for(e, version, 2)); partitions.len()]
    };
    // `partitions` was built in the request's order: the errors follow it.
    let mut errors = errors.into_iter();
    topics
        .iter()
        .map(|t| {
            let results = t
                .partitions
                .iter()
                .map(|&index| {
                    let error = errors.next().flatten().map_or(0, |e| e.code());
                    AddPartitionsToTxnPartitionResult::default().with_partition_index(index).with_partition_error_code(error)
                })
                .collect();
            AddPartitionsToTxnTopicResult::default().with_name(t.name.clone()).with_results_by_partition(results)
        })
        .collect()
}

pub async fn add_offsets_to_txn(shared: &Arc<Shared>, request: AddOffsetsToTxnRequest, version: i16) -> AddOffsetsToTxnResponse {
    super::groups::ensure_offsets_topic(shared).await;
    let Some(offsets) = shared.metadata.topic(crate::groups::OFFSETS_TOPIC) else {
        return AddOffsetsToTxnResponse::default().with_error_code(ResponseError::CoordinatorNotAvailable.code());
    };
    let partition = (crate::groups::OFFSETS_TOPIC.to_owned(), crate::coordinator::partition_for(&request.group_id, offsets.partition_count()));
    let producer = (request.producer_id.0, request.producer_epoch);
    let error = TransactionCoordinator::add_partitions(shared, &request.transactional_id, producer, vec![partition]).await.err();
    AddOffsetsToTxnResponse::default().with_error_code(error.map_or(0, |e| fenced_for(e, version, 2).code()))
}

pub async fn end_txn(shared: &Arc<Shared>, request: EndTxnRequest, version: i16) -> EndTxnResponse {
    let producer = (request.producer_id.0, request.producer_epoch);
    let error = TransactionCoordinator::end_transaction(shared, &request.transactional_id, producer, request.committed).await.err();
    EndTxnResponse::default().with_error_code(error.map_or(0, |e| fenced_for(e, version, 2).code()))
}

/// TxnOffsetCommit: offsets written as the producer's transactional records in the group's
/// offsets partition, applied when the transaction commits. The partition must be in the
/// producer's open transaction (KIP-890, asked of its coordinator). Answered once durable.
pub async fn txn_offset_commit(shared: &Arc<Shared>, header: RequestHeader, request: TxnOffsetCommitRequest) -> Reply {
    let group_id = request.group_id.to_string();
    let instance = request.group_instance_id.as_ref().map(|s| s.to_string());
    let producer = (request.producer_id.0, request.producer_epoch);
    // KIP-447 (v3): a member's commit is checked against the group like an OffsetCommit (a
    // group the coordinator does not know yet is created empty, as Kafka does); without member
    // and generation (v0-v2) it is accepted even into a group with members.
    let checked = request.generation_id >= 0 || !request.member_id.is_empty() || instance.is_some();
    let mut allowed = match shared.groups.coordinator_error(&shared.metadata, &group_id) {
        Some(error) => Err(error),
        None if checked => shared
            .groups
            .with_group(&group_id, true, |g| g.accepts_commit(&request.member_id, instance.as_deref(), request.generation_id))
            .unwrap_or(Err(ResponseError::CoordinatorNotAvailable)),
        None => Ok(()),
    };
    let offsets_partition = shared.metadata.topic(crate::groups::OFFSETS_TOPIC).map(|t| crate::coordinator::partition_for(&group_id, t.partition_count()));
    if let (Ok(()), Some(index), true) = (&allowed, offsets_partition, shared.settings.transactions.verify_partitions) {
        let wanted = [(crate::groups::OFFSETS_TOPIC.to_owned(), index)];
        let verified = TransactionCoordinator::verify_partitions(shared, &request.transactional_id, producer, &wanted).await;
        allowed = match verified.into_iter().next() {
            Some(Ok(())) => Ok(()),
            Some(Err(ResponseError::ProducerFenced)) => Err(ResponseError::InvalidProducerEpoch),
            Some(Err(ResponseError::InvalidTxnState)) => Err(ResponseError::InvalidTxnState),
            // The coordinator could not answer now: retriable.
            _ => Err(ResponseError::CoordinatorLoadInProgress),
        };
    }
    let now = now_ms();
    let max_metadata = shared.groups.settings().max_metadata_bytes;
    let mut to_write = Vec::new();
    let mut topics: Vec<TxnOffsetCommitResponseTopic> = request
        .topics
        .iter()
        .map(|t| {
            let exists = shared.metadata.topic(&t.name);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let metadata = p.committed_metadata.as_ref().map(|m| m.to_string()).unwrap_or_default();
                    let error = super::groups::commit_error(exists.as_deref(), p.partition_index, &allowed, &metadata, max_metadata);
                    if error.is_none() {
                        let committed = CommittedOffset { offset: p.committed_offset, leader_epoch: p.committed_leader_epoch, metadata, commit_timestamp: now };
                        to_write.push((t.name.to_string(), p.partition_index, committed));
                    }
                    TxnOffsetCommitResponsePartition::default().with_partition_index(p.partition_index).with_error_code(error.map_or(0, |e| e.code()))
                })
                .collect();
            TxnOffsetCommitResponseTopic::default().with_name(t.name.clone()).with_partitions(partitions)
        })
        .collect();
    if to_write.is_empty() {
        return encode(&header, &TxnOffsetCommitResponse::default().with_topics(topics), &[]).map_or(Reply::Fail, Reply::Now);
    }
    let written = shared.groups.write_in_transaction(&shared.metadata, &group_id, producer, &to_write);
    let shared = shared.clone();
    Reply::Later(Box::pin(async move {
        let result = match written {
            Ok(w) => {
                let partition = w.partition.clone();
                w.durable(shared.settings.fsync_acks_all).await.map(|end| shared.groups.add_pending(&partition, &group_id, producer.0, to_write, end))
            }
            Err(refusal) => Err(refusal.error),
        };
        if let Err(error) = result {
            let error = crate::coordinator::as_coordinator(error);
            for partition in topics.iter_mut().flat_map(|t| &mut t.partitions).filter(|p| p.error_code == 0) {
                partition.error_code = error.code();
            }
        }
        encode(&header, &TxnOffsetCommitResponse::default().with_topics(topics), &[])
    }))
}

/// WriteTxnMarkers: a coordinator's markers for partitions this broker leads.
pub async fn write_txn_markers(shared: &Arc<Shared>, request: WriteTxnMarkersRequest) -> WriteTxnMarkersResponse {
    let mut results = Vec::with_capacity(request.markers.len());
    for marker in &request.markers {
        let producer = (marker.producer_id.0, marker.producer_epoch);
        let mut topics = Vec::with_capacity(marker.topics.len());
        for topic in &marker.topics {
            let writes = topic.partition_indexes.iter().map(|&index| {
                crate::transactions::markers::write_marker(shared, &topic.name, index, producer, marker.transaction_result, marker.coordinator_epoch)
            });
            let outcomes = futures_util::future::join_all(writes).await;
            let partitions = topic
                .partition_indexes
                .iter()
                .zip(outcomes)
                .map(|(&index, outcome)| WritableTxnMarkerPartitionResult::default().with_partition_index(index).with_error_code(outcome.err().map_or(0, |e| e.code())))
                .collect();
            topics.push(WritableTxnMarkerTopicResult::default().with_name(topic.name.clone()).with_partitions(partitions));
        }
        results.push(WritableTxnMarkerResult::default().with_producer_id(marker.producer_id).with_topics(topics));
    }
    WriteTxnMarkersResponse::default().with_markers(results)
}

pub fn describe_transactions(shared: &Arc<Shared>, request: DescribeTransactionsRequest) -> DescribeTransactionsResponse {
    let states = request
        .transactional_ids
        .into_iter()
        .map(|id| {
            let described = DescribedTransaction::default().with_transactional_id(id.clone()).with_transaction_state(str_bytes(""));
            if let Some(error) = shared.transactions.coordinator_error(&shared.metadata, &id) {
                return described.with_error_code(error.code());
            }
            let Some(m) = shared.transactions.get(&id) else { return described.with_error_code(ResponseError::TransactionalIdNotFound.code()) };
            described
                .with_transaction_state(str_bytes(m.state.name()))
                .with_transaction_timeout_ms(m.timeout_ms)
                .with_transaction_start_time_ms(m.start_ms)
                .with_producer_id(ProducerId(m.producer_id))
                .with_producer_epoch(m.producer_epoch)
                .with_topics(partitions_by_topic(&m.partitions).into_iter().map(|(topic, partitions)| TopicData::default().with_topic(topic_name(&topic)).with_partitions(partitions)).collect())
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

/// ListTransactions: the ids this broker coordinates, filtered by state, producer id and (v1,
/// KIP-994) how long their transaction has been open.
pub fn list_transactions(shared: &Arc<Shared>, request: ListTransactionsRequest) -> ListTransactionsResponse {
    let mut unknown = Vec::new();
    let mut states = Vec::new();
    for name in &request.state_filters {
        match TxnState::from_name(name) {
            Some(state) => states.push(state),
            None => unknown.push(name.clone()),
        }
    }
    let now = now_ms();
    let listed = shared
        .transactions
        .list()
        .into_iter()
        .filter(|t| request.state_filters.is_empty() || states.contains(&t.metadata.state))
        .filter(|t| request.producer_id_filters.is_empty() || request.producer_id_filters.iter().any(|p| p.0 == t.metadata.producer_id))
        // KIP-994: transactions running longer than the filter (those with a start).
        .filter(|t| request.duration_filter < 0 || (t.metadata.start_ms >= 0 && now - t.metadata.start_ms > request.duration_filter))
        .map(|t| {
            ListedTransaction::default()
                .with_transactional_id(TransactionalId(str_bytes(t.transactional_id)))
                .with_producer_id(ProducerId(t.metadata.producer_id))
                .with_transaction_state(str_bytes(t.metadata.state.name()))
        })
        .collect();
    ListTransactionsResponse::default().with_unknown_state_filters(unknown).with_transaction_states(listed)
}
