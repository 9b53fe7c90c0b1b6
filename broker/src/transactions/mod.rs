//! The transaction coordinator (KIP-98, KIP-447). Each transactional id's state lives in its
//! partition of the internal topic `__transaction_state`; the coordinator of an id is that
//! partition's leader, which loads the partition when it becomes leader (and finishes the
//! commits and aborts it finds half done) and forgets it when it stops leading, so the
//! coordinator fails over with its partition, as group coordinators do.
//!
//! Every transition is written to the partition and durable (flushed, or committed by its Raft
//! group) before it takes effect. While one is being written, other requests for the id hear
//! CONCURRENT_TRANSACTIONS, as they do while a commit's or abort's markers are being written.

pub mod markers;
mod records;
mod state;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use parking_lot::Mutex;
use tracing::{debug, info, warn};

pub use state::{TxnMetadata, TxnState};

use crate::config::TransactionSettings;
use crate::coordinator::{as_coordinator, partition_for, Coordinated};
use crate::metadata::Metadata;
use crate::partition::Partition;
use crate::server::Shared;
use crate::{now_ms, BrokerError};

pub const TRANSACTION_TOPIC: &str = "__transaction_state";

/// How long EndTxn waits for the markers before it answers anyway.
const END_TXN_WAIT: Duration = Duration::from_secs(5);

/// The longest pause between attempts to write a transaction's markers or completion.
const RETRY_MAX: Duration = Duration::from_secs(1);

pub struct TransactionCoordinator {
    txns: Mutex<HashMap<String, Entry>>,
    coordinated: Coordinated,
    settings: TransactionSettings,
    next_expiry_check: Mutex<i64>,
}

#[derive(Default)]
struct Entry {
    /// The durable state (`None` while the id's first state is being written).
    metadata: Option<TxnMetadata>,
    /// A transition is being written.
    writing: bool,
    /// A task is writing the markers of its prepared commit or abort.
    completing: bool,
}

/// One transactional id as DescribeTransactions and ListTransactions show it.
pub struct TxnSnapshot {
    pub transactional_id: String,
    pub metadata: TxnMetadata,
}

impl TransactionCoordinator {
    /// A single node loads every `__transaction_state` partition it has; a cluster broker loads
    /// one when it becomes its leader.
    pub fn load(metadata: &Metadata, settings: TransactionSettings) -> Result<TransactionCoordinator, BrokerError> {
        let cluster = metadata.cluster().is_some();
        let coordinator = TransactionCoordinator {
            txns: Mutex::new(HashMap::new()),
            coordinated: Coordinated::new(TRANSACTION_TOPIC, cluster),
            settings,
            next_expiry_check: Mutex::new(0),
        };
        if !cluster {
            if let Some(topic) = metadata.topic(TRANSACTION_TOPIC) {
                for partition in topic.hosted() {
                    coordinator.load_partition(&partition, topic.partition_count())?;
                }
            }
        }
        Ok(coordinator)
    }

    /// Rebuilds the ids of one `__transaction_state` partition (`partitions` is the topic's
    /// partition count); [`TransactionCoordinator::resume_prepared`] then finishes the commits
    /// and aborts it left prepared.
    pub fn load_partition(&self, partition: &Partition, partitions: i32) -> Result<(), BrokerError> {
        let mut loaded: HashMap<String, TxnMetadata> = HashMap::new();
        let records = crate::coordinator::for_each_record(partition, |record| {
            if record.control {
                return;
            }
            let Some(id) = record.key.as_deref().and_then(records::decode_key) else { return };
            match record.value.as_deref().map(records::decode_value) {
                Some(Some(metadata)) => {
                    loaded.insert(id, metadata);
                }
                // A value this broker cannot read: keep what it knew of the id.
                Some(None) => warn!(transactional_id = id, offset = record.offset, "unreadable transaction state record; skipped"),
                None => {
                    loaded.remove(&id);
                }
            }
        })?;
        info!(partition = partition.index, transactional_ids = loaded.len(), records, "loaded transactions");
        let mut txns = self.txns.lock();
        txns.retain(|id, _| partition_for(id, partitions) != partition.index);
        for (id, metadata) in loaded {
            txns.insert(id, Entry { metadata: Some(metadata), ..Entry::default() });
        }
        self.coordinated.set_loaded(partition.index, true);
        Ok(())
    }

    /// Forgets the ids of a partition this broker no longer leads.
    pub fn unload_partition(&self, index: i32, partitions: i32) {
        self.coordinated.set_loaded(index, false);
        self.txns.lock().retain(|id, _| partition_for(id, partitions) != index);
        info!(partition = index, "unloaded transactions");
    }

    /// Finishes every prepared commit or abort that no task is completing: those a load found
    /// (at start, on becoming a partition's leader) and those whose completer gave up (a
    /// leadership lost and regained since).
    pub fn resume_prepared(shared: &Arc<Shared>) {
        let stalled: Vec<String> = shared
            .transactions
            .txns
            .lock()
            .iter()
            .filter(|(_, e)| !e.writing && !e.completing && e.metadata.as_ref().is_some_and(|m| m.state.is_preparing()))
            .map(|(id, _)| id.clone())
            .collect();
        for id in stalled {
            tokio::spawn(complete(shared.clone(), id));
        }
    }

    /// Why this broker may not coordinate `transactional_id` now (see [`Coordinated::error`]).
    pub fn coordinator_error(&self, metadata: &Metadata, transactional_id: &str) -> Option<ResponseError> {
        self.coordinated.error(metadata, transactional_id)
    }

    /// Claims the completion of the id's prepared commit or abort: its state, unless it is not
    /// prepared or another task is completing it.
    fn start_completing(&self, transactional_id: &str) -> Option<TxnMetadata> {
        let mut txns = self.txns.lock();
        let entry = txns.get_mut(transactional_id)?;
        let prepared = entry.metadata.clone().filter(|m| m.state.is_preparing() && !entry.completing)?;
        entry.completing = true;
        Some(prepared)
    }

    /// The id's current state, if it has one.
    pub fn get(&self, transactional_id: &str) -> Option<TxnMetadata> {
        self.txns.lock().get(transactional_id).and_then(|e| e.metadata.clone())
    }

    /// Every id with a state here.
    pub fn list(&self) -> Vec<TxnSnapshot> {
        self.txns
            .lock()
            .iter()
            .filter_map(|(id, e)| Some(TxnSnapshot { transactional_id: id.clone(), metadata: e.metadata.clone()? }))
            .collect()
    }

    /// Runs `decide` on the id's state; a new state it returns is written, and takes effect
    /// once durable. Returns the state in effect afterwards, and whether it is a new one.
    async fn transition(
        &self,
        shared: &Arc<Shared>,
        transactional_id: &str,
        decide: impl FnOnce(Option<&TxnMetadata>) -> Result<Option<TxnMetadata>, ResponseError>,
    ) -> Result<(TxnMetadata, bool), ResponseError> {
        if let Some(error) = self.coordinator_error(&shared.metadata, transactional_id) {
            return Err(error);
        }
        let next = {
            let mut txns = self.txns.lock();
            let entry = txns.entry(transactional_id.to_owned()).or_default();
            if entry.writing {
                return Err(ResponseError::ConcurrentTransactions);
            }
            match decide(entry.metadata.as_ref()) {
                Err(e) => {
                    if entry.metadata.is_none() {
                        txns.remove(transactional_id);
                    }
                    return Err(e);
                }
                Ok(None) => return entry.metadata.clone().map(|m| (m, false)).ok_or(ResponseError::InvalidProducerIdMapping),
                Ok(Some(next)) => {
                    entry.writing = true;
                    next
                }
            }
        };
        let written = self.write(shared, transactional_id, Some(&next)).await;
        let mut txns = self.txns.lock();
        // Gone: its partition was unloaded meanwhile (this broker stopped coordinating it).
        let Some(entry) = txns.get_mut(transactional_id) else { return Err(ResponseError::NotCoordinator) };
        entry.writing = false;
        match written {
            Ok(()) => {
                entry.metadata = Some(next.clone());
                Ok((next, true))
            }
            Err(e) => {
                if entry.metadata.is_none() {
                    txns.remove(transactional_id);
                }
                Err(e)
            }
        }
    }

    /// Writes the id's state (or its tombstone) and waits until it is durable.
    async fn write(&self, shared: &Arc<Shared>, transactional_id: &str, metadata: Option<&TxnMetadata>) -> Result<(), ResponseError> {
        let entries = vec![(Some(records::encode_key(transactional_id)), metadata.map(records::encode_value))];
        let batch = crate::internal_log::encode_batch(&entries, now_ms()).map_err(|_| ResponseError::UnknownServerError)?;
        let partition = self.coordinated.partition(&shared.metadata, transactional_id).map_err(|r| r.error)?;
        let written = crate::coordinator::append(partition, batch.freeze(), 1).map_err(|r| as_coordinator(r.error))?;
        written.durable(shared.settings.fsync_acks_all).await.map(drop).map_err(as_coordinator)
    }

    /// InitProducerId with a transactional id: the producer id and epoch to use.
    pub async fn init_producer_id(shared: &Arc<Shared>, transactional_id: &str, timeout_ms: i32, expected: Option<(i64, i16)>) -> Result<(i64, i16), ResponseError> {
        let coordinator = &shared.transactions;
        if timeout_ms <= 0 || timeout_ms > coordinator.settings.max_timeout_ms {
            return Err(ResponseError::InvalidTransactionTimeout);
        }
        if let Some(error) = coordinator.coordinator_error(&shared.metadata, transactional_id) {
            return Err(error);
        }
        let fresh_id = if state::needs_producer_id(coordinator.get(transactional_id).as_ref()) {
            Some(shared.metadata.next_producer_id().await.map_err(|r| r.error)?)
        } else {
            None
        };
        let (next, _) = coordinator
            .transition(shared, transactional_id, |current| state::init(current, timeout_ms, expected, fresh_id, now_ms()).map(Some))
            .await?;
        // Only an abort of the previous producer's transaction leaves the id prepared.
        if next.state.is_preparing() {
            info!(transactional_id, producer_id = next.producer_id, epoch = next.producer_epoch, "a new producer fenced the previous one: aborting its open transaction");
            tokio::spawn(complete(shared.clone(), transactional_id.to_owned()));
            return Err(ResponseError::ConcurrentTransactions);
        }
        Ok((next.producer_id, next.producer_epoch))
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn.
    pub async fn add_partitions(shared: &Arc<Shared>, transactional_id: &str, producer: (i64, i16), partitions: Vec<(String, i32)>) -> Result<(), ResponseError> {
        shared
            .transactions
            .transition(shared, transactional_id, |current| state::add_partitions(current, producer.0, producer.1, &partitions, now_ms()))
            .await
            .map(drop)
    }

    /// KIP-890: whether `partition` is in the producer's open transaction (asked by the
    /// partition's leader before it accepts the transaction's first batch there).
    pub fn verify(&self, metadata: &Metadata, transactional_id: &str, producer: (i64, i16), partition: &(String, i32)) -> Result<(), ResponseError> {
        if let Some(error) = self.coordinator_error(metadata, transactional_id) {
            return Err(error);
        }
        // The durable state decides: a producer sends records only after AddPartitionsToTxn
        // was answered, so a transition still being written is not one it relies on.
        let txns = self.txns.lock();
        state::verify(txns.get(transactional_id).and_then(|e| e.metadata.as_ref()), producer.0, producer.1, partition)
    }

    /// KIP-890: whether each of `partitions` is in `producer`'s open transaction, asked of the
    /// coordinator of `transactional_id` wherever it is (in memory here, else with one
    /// AddPartitionsToTxn v4 `verify_only` request). Each answer is `Ok`, PRODUCER_FENCED,
    /// INVALID_TXN_STATE, or NOT_ENOUGH_REPLICAS when the coordinator could not answer (moving,
    /// loading, unreachable, or the transaction is ending): retriable, as Kafka answers.
    pub async fn verify_partitions(shared: &Arc<Shared>, transactional_id: &str, producer: (i64, i16), partitions: &[(String, i32)]) -> Vec<Result<(), ResponseError>> {
        let normalize = |error: ResponseError| match error {
            ResponseError::ProducerFenced | ResponseError::InvalidProducerEpoch => ResponseError::ProducerFenced,
            ResponseError::InvalidTxnState | ResponseError::InvalidProducerIdMapping => ResponseError::InvalidTxnState,
            _ => ResponseError::NotEnoughReplicas,
        };
        match shared.transactions.coordinator_error(&shared.metadata, transactional_id) {
            None => {
                return partitions.iter().map(|p| shared.transactions.verify(&shared.metadata, transactional_id, producer, p).map_err(normalize)).collect();
            }
            Some(ResponseError::NotCoordinator) if shared.metadata.cluster().is_some() => {}
            Some(_) => return vec![Err(ResponseError::NotEnoughReplicas); partitions.len()],
        }
        match verify_remotely(shared, transactional_id, producer, partitions).await {
            Ok(codes) => codes
                .into_iter()
                .map(|code| match ResponseError::try_from_code(code) {
                    None => Ok(()),
                    Some(error) => Err(normalize(error)),
                })
                .collect(),
            Err(why) => {
                debug!(transactional_id, error = why, "could not verify a transaction with its coordinator");
                vec![Err(ResponseError::NotEnoughReplicas); partitions.len()]
            }
        }
    }

    /// EndTxn: the commit or abort is prepared (durably), then its markers are written and it is
    /// completed; answered at the completion or after [`END_TXN_WAIT`], whichever comes first
    /// (Kafka answers at the prepare; either way the outcome is decided there).
    pub async fn end_transaction(shared: &Arc<Shared>, transactional_id: &str, producer: (i64, i16), commit: bool) -> Result<(), ResponseError> {
        let (_, prepared) = shared.transactions.transition(shared, transactional_id, |current| state::end(current, producer.0, producer.1, commit, now_ms())).await?;
        if prepared {
            let completing = tokio::spawn(complete(shared.clone(), transactional_id.to_owned()));
            // Answered once the markers are written too, when that is quick: the producer's
            // next transaction then starts at once instead of retrying after
            // CONCURRENT_TRANSACTIONS. Past the bound the completion goes on in the background.
            let _ = tokio::time::timeout(END_TXN_WAIT, completing).await;
        }
        Ok(())
    }

    /// Aborts transactions open longer than their timeout and forgets ids idle longer than
    /// `transactional.id.expiration.ms`, on Kafka's check intervals.
    pub fn tick(shared: &Arc<Shared>, now: i64) {
        let coordinator = &shared.transactions;
        let mut timed_out = Vec::new();
        let mut expired = Vec::new();
        let check_expiry = {
            let mut next = coordinator.next_expiry_check.lock();
            let due = now >= *next;
            if due {
                *next = now + coordinator.settings.expiration_check_interval_ms;
            }
            due
        };
        for (id, entry) in coordinator.txns.lock().iter().filter(|(_, e)| !e.writing) {
            let Some(metadata) = &entry.metadata else { continue };
            if state::timed_out_abort(metadata, now).is_some() {
                timed_out.push(id.clone());
            } else if check_expiry && state::is_expired(metadata, now, coordinator.settings.id_expiration_ms) {
                expired.push(id.clone());
            }
        }
        for id in timed_out {
            let shared = shared.clone();
            tokio::spawn(async move {
                let aborted = shared.transactions.transition(&shared, &id, |current| Ok(current.and_then(|m| state::timed_out_abort(m, now_ms())))).await;
                if let Ok((m, true)) = aborted {
                    info!(transactional_id = id, producer_id = m.producer_id, epoch = m.producer_epoch, "aborting a transaction that outlived its timeout");
                    complete(shared.clone(), id).await;
                }
            });
        }
        TransactionCoordinator::resume_prepared(shared);
        for id in expired {
            let shared = shared.clone();
            tokio::spawn(async move { shared.transactions.expire(&shared, &id).await });
        }
    }

    /// Writes a tombstone for an expired id and forgets it.
    async fn expire(&self, shared: &Arc<Shared>, transactional_id: &str) {
        {
            let mut txns = self.txns.lock();
            let Some(entry) = txns.get_mut(transactional_id) else { return };
            let expired = entry.metadata.as_ref().is_some_and(|m| state::is_expired(m, now_ms(), self.settings.id_expiration_ms));
            if entry.writing || !expired {
                return;
            }
            entry.writing = true;
        }
        let written = self.write(shared, transactional_id, None).await;
        let mut txns = self.txns.lock();
        match written {
            Ok(()) => {
                txns.remove(transactional_id);
                info!(transactional_id, "expired an idle transactional id");
            }
            Err(_) => {
                if let Some(entry) = txns.get_mut(transactional_id) {
                    entry.writing = false;
                }
            }
        }
    }
}

/// Writes the markers of the id's prepared commit or abort into each of its partitions,
/// retrying until every one is written, then records the transaction complete (retrying that
/// too). One completer runs per id; it stops when this broker no longer coordinates the id, or
/// coordinates it at another epoch, or the id's state is no longer the one prepared (its
/// successor — a new coordinator, or a later load here — resumes from the log).
async fn complete(shared: Arc<Shared>, transactional_id: String) {
    let coordinator = &shared.transactions;
    let Some(prepared) = coordinator.start_completing(&transactional_id) else { return };
    let _completing = Completing { shared: &shared, transactional_id: &transactional_id };
    let commit = prepared.state == TxnState::PrepareCommit;
    let epoch = coordinator_epoch(&shared, &transactional_id);
    let current = || coordinator.coordinator_error(&shared.metadata, &transactional_id).is_none()
        && coordinator_epoch(&shared, &transactional_id) == epoch
        && coordinator.get(&transactional_id).as_ref() == Some(&prepared);
    let mut remaining: Vec<(String, i32)> = prepared.partitions.iter().cloned().collect();
    let mut backoff = Duration::from_millis(20);
    while !remaining.is_empty() {
        if !current() {
            info!(transactional_id, "no longer completing this transaction here: its successor resumes it");
            return;
        }
        remaining = markers::write_markers(&shared, &remaining, (prepared.producer_id, prepared.producer_epoch), commit, epoch).await;
        if !remaining.is_empty() {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(RETRY_MAX);
        }
    }
    let mut backoff = Duration::from_millis(10);
    while current() {
        let completed = coordinator.transition(&shared, &transactional_id, |m| Ok(m.filter(|m| **m == prepared).map(|m| state::complete(m, now_ms())))).await;
        match completed {
            Ok(_) => return,
            Err(e) => {
                debug!(transactional_id, error = %e, "could not record the transaction complete yet");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RETRY_MAX);
            }
        }
    }
}

/// Marks an id's completer as gone when it ends, however it ends.
struct Completing<'a> {
    shared: &'a Shared,
    transactional_id: &'a str,
}

impl Drop for Completing<'_> {
    fn drop(&mut self) {
        if let Some(entry) = self.shared.transactions.txns.lock().get_mut(self.transactional_id) {
            entry.completing = false;
        }
    }
}

/// How long a partition leader waits for a remote coordinator's verification.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// AddPartitionsToTxn v4 (`verify_only`) to the coordinator of `transactional_id`: each
/// partition's error code, in the order of `partitions` (a partition it does not answer for is
/// COORDINATOR_NOT_AVAILABLE).
async fn verify_remotely(shared: &Shared, transactional_id: &str, producer: (i64, i16), partitions: &[(String, i32)]) -> Result<Vec<i16>, String> {
    use kafka_protocol::messages::add_partitions_to_txn_request::{AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction};
    use kafka_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey, ProducerId, TransactionalId};
    let topic = shared.metadata.topic(TRANSACTION_TOPIC).ok_or("no transaction state topic")?;
    let (_, host, port) = crate::handlers::cluster::coordinator_node(shared, &topic, transactional_id).ok_or("no coordinator")?;
    let topics: Vec<AddPartitionsToTxnTopic> = partitions_by_topic(&partitions.iter().cloned().collect())
        .into_iter()
        .map(|(name, indexes)| AddPartitionsToTxnTopic::default().with_name(crate::handlers::topic_name(&name)).with_partitions(indexes))
        .collect();
    let transaction = AddPartitionsToTxnTransaction::default()
        .with_transactional_id(TransactionalId(crate::handlers::str_bytes(transactional_id)))
        .with_producer_id(ProducerId(producer.0))
        .with_producer_epoch(producer.1)
        .with_verify_only(true)
        .with_topics(topics);
    let request = AddPartitionsToTxnRequest::default().with_transactions(vec![transaction]);
    let response: AddPartitionsToTxnResponse = crate::peer::send(&format!("{host}:{port}"), ApiKey::AddPartitionsToTxn, 4, &request, VERIFY_TIMEOUT).await?;
    if response.error_code != 0 {
        return Err(format!("error code {}", response.error_code));
    }
    let answered: Vec<(String, i32, i16)> = response
        .results_by_transaction
        .iter()
        .flat_map(|t| &t.topic_results)
        .flat_map(|t| t.results_by_partition.iter().map(move |p| (t.name.to_string(), p.partition_index, p.partition_error_code)))
        .collect();
    Ok(partitions
        .iter()
        .map(|(topic, index)| answered.iter().find(|(t, i, _)| t == topic && i == index).map_or(ResponseError::CoordinatorNotAvailable.code(), |(_, _, code)| *code))
        .collect())
}

/// The coordinator's epoch for markers: its partition's leader epoch (Kafka's choice).
fn coordinator_epoch(shared: &Shared, transactional_id: &str) -> i32 {
    shared.transactions.coordinated.partition(&shared.metadata, transactional_id).map_or(0, |p| p.leadership(-1).epoch)
}

/// The partitions of a transaction, as Describe/ListTransactions group them: by topic.
pub fn partitions_by_topic(partitions: &BTreeSet<(String, i32)>) -> Vec<(String, Vec<i32>)> {
    let mut topics: Vec<(String, Vec<i32>)> = Vec::new();
    for (topic, partition) in partitions {
        match topics.last_mut() {
            Some((last, indexes)) if last == topic => indexes.push(*partition),
            _ => topics.push((topic.clone(), vec![*partition])),
        }
    }
    topics
}
