//! A transactional id's state and the transitions the coordinator's APIs make, after Kafka's
//! `TransactionMetadata` and `TransactionCoordinator` (KIP-98; epoch bumps of KIP-360; the
//! PRODUCER_FENCED error of KIP-588). Pure: the coordinator writes each new state to
//! `__transaction_state` before it takes effect.

use std::collections::BTreeSet;

use kafka_protocol::error::ResponseError;

/// Kafka's transaction states, with their codes in the transaction log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TxnState {
    /// No transaction open (after InitProducerId).
    #[default]
    Empty,
    /// Partitions were added: records may be written.
    Ongoing,
    /// EndTxn(commit) was accepted: markers are being written.
    PrepareCommit,
    /// EndTxn(abort), a timeout or a fencing InitProducerId: ABORT markers are being written.
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    /// Expired (only ever written as a tombstone here).
    Dead,
    /// Kafka's intermediate fencing state (read, never written, by Weir).
    PrepareEpochFence,
}

const STATES: [(TxnState, i8, &str); 8] = [
    (TxnState::Empty, 0, "Empty"),
    (TxnState::Ongoing, 1, "Ongoing"),
    (TxnState::PrepareCommit, 2, "PrepareCommit"),
    (TxnState::PrepareAbort, 3, "PrepareAbort"),
    (TxnState::CompleteCommit, 4, "CompleteCommit"),
    (TxnState::CompleteAbort, 5, "CompleteAbort"),
    (TxnState::Dead, 6, "Dead"),
    (TxnState::PrepareEpochFence, 7, "PrepareEpochFence"),
];

impl TxnState {
    pub fn code(self) -> i8 {
        STATES.iter().find(|(s, _, _)| *s == self).map_or(0, |(_, code, _)| *code)
    }
    pub fn from_code(code: i8) -> Option<TxnState> {
        STATES.iter().find(|(_, c, _)| *c == code).map(|(s, _, _)| *s)
    }
    /// Kafka's name, as DescribeTransactions and ListTransactions show it.
    pub fn name(self) -> &'static str {
        STATES.iter().find(|(s, _, _)| *s == self).map_or("Unknown", |(_, _, name)| name)
    }
    pub fn from_name(name: &str) -> Option<TxnState> {
        STATES.iter().find(|(_, _, n)| *n == name).map(|(s, _, _)| *s)
    }
    /// Markers are being written: the producer waits (CONCURRENT_TRANSACTIONS).
    pub fn is_preparing(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence)
    }
}

/// What the coordinator knows of a transactional id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnMetadata {
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// The producer's `transaction.timeout.ms`.
    pub timeout_ms: i32,
    pub state: TxnState,
    /// The partitions in the open transaction, as (topic, partition).
    pub partitions: BTreeSet<(String, i32)>,
    /// When the open transaction began, in ms (-1: none yet).
    pub start_ms: i64,
    pub last_update_ms: i64,
    /// The epoch before InitProducerId's last bump (-1: unknown; kept in memory only): a
    /// producer that retries after losing that answer is given the current epoch (KIP-360).
    pub last_producer_epoch: i16,
}

/// One bump past this epoch takes a new producer id (Kafka: `Short.MaxValue - 1`).
const MAX_EPOCH: i16 = i16::MAX - 1;

/// Whether InitProducerId on this state needs a fresh producer id (allocated beforehand).
pub fn needs_producer_id(current: Option<&TxnMetadata>) -> bool {
    current.is_none_or(|m| m.producer_epoch >= MAX_EPOCH)
}

/// InitProducerId with a transactional id: the state to write — a new id at epoch 0, or the
/// next epoch of the existing one, answered with its producer id and epoch. When the previous
/// producer left a transaction open it is PrepareAbort at a bumped epoch instead, which fences
/// that producer: the abort is completed and the new producer hears CONCURRENT_TRANSACTIONS
/// and retries. `expected` is the producer's own id and epoch when it re-initialises
/// (KIP-360); another producer's is fenced.
pub fn init(current: Option<&TxnMetadata>, timeout_ms: i32, expected: Option<(i64, i16)>, fresh_id: Option<i64>, now: i64) -> Result<TxnMetadata, ResponseError> {
    let Some(m) = current else {
        let producer_id = fresh_id.ok_or(ResponseError::CoordinatorNotAvailable)?;
        return Ok(TxnMetadata {
            producer_id,
            producer_epoch: 0,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            start_ms: -1,
            last_update_ms: now,
            last_producer_epoch: -1,
        });
    };
    let mut next = m.clone();
    next.last_update_ms = now;
    if let Some((id, epoch)) = expected.filter(|(id, _)| *id >= 0) {
        let retry = m.state == TxnState::Empty && epoch >= 0 && epoch == m.last_producer_epoch;
        if id != m.producer_id || (epoch != m.producer_epoch && !retry) {
            return Err(ResponseError::ProducerFenced);
        }
        if retry {
            return Ok(next);
        }
    }
    match m.state {
        TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => Err(ResponseError::ConcurrentTransactions),
        TxnState::Ongoing => {
            next.producer_epoch = m.producer_epoch.saturating_add(1);
            next.state = TxnState::PrepareAbort;
            Ok(next)
        }
        TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort | TxnState::Dead => {
            if m.producer_epoch >= MAX_EPOCH {
                next.producer_id = fresh_id.ok_or(ResponseError::CoordinatorNotAvailable)?;
                next.producer_epoch = 0;
                next.last_producer_epoch = -1;
            } else {
                next.producer_epoch += 1;
                next.last_producer_epoch = m.producer_epoch;
            }
            next.state = TxnState::Empty;
            next.partitions.clear();
            next.timeout_ms = timeout_ms;
            next.start_ms = -1;
            Ok(next)
        }
    }
}

/// The request's producer must be the transactional id's current one.
fn check_producer(current: Option<&TxnMetadata>, producer_id: i64, epoch: i16) -> Result<&TxnMetadata, ResponseError> {
    let m = current.filter(|m| m.producer_id == producer_id).ok_or(ResponseError::InvalidProducerIdMapping)?;
    if epoch != m.producer_epoch {
        return Err(ResponseError::ProducerFenced);
    }
    Ok(m)
}

/// AddPartitionsToTxn (and AddOffsetsToTxn, with the group's offsets partition): the
/// transaction is open with these partitions in it. `None`: they already are.
pub fn add_partitions(current: Option<&TxnMetadata>, producer_id: i64, epoch: i16, partitions: &[(String, i32)], now: i64) -> Result<Option<TxnMetadata>, ResponseError> {
    let m = check_producer(current, producer_id, epoch)?;
    if m.state.is_preparing() {
        return Err(ResponseError::ConcurrentTransactions);
    }
    if m.state == TxnState::Ongoing && partitions.iter().all(|p| m.partitions.contains(p)) {
        return Ok(None);
    }
    let mut next = m.clone();
    if m.state != TxnState::Ongoing {
        next.partitions.clear();
        next.start_ms = now;
    }
    next.state = TxnState::Ongoing;
    next.partitions.extend(partitions.iter().cloned());
    next.last_update_ms = now;
    Ok(Some(next))
}

/// KIP-890 verification: the producer's open transaction holds `partition`.
pub fn verify(current: Option<&TxnMetadata>, producer_id: i64, epoch: i16, partition: &(String, i32)) -> Result<(), ResponseError> {
    let m = check_producer(current, producer_id, epoch)?;
    if m.state.is_preparing() {
        return Err(ResponseError::ConcurrentTransactions);
    }
    if m.state == TxnState::Ongoing && m.partitions.contains(partition) {
        Ok(())
    } else {
        Err(ResponseError::InvalidTxnState)
    }
}

/// EndTxn: an open transaction prepares to commit or abort. `None`: that already happened (a
/// retried EndTxn).
pub fn end(current: Option<&TxnMetadata>, producer_id: i64, epoch: i16, commit: bool, now: i64) -> Result<Option<TxnMetadata>, ResponseError> {
    let m = check_producer(current, producer_id, epoch)?;
    match (m.state, commit) {
        (TxnState::Ongoing, _) => {
            let mut next = m.clone();
            next.state = if commit { TxnState::PrepareCommit } else { TxnState::PrepareAbort };
            next.last_update_ms = now;
            Ok(Some(next))
        }
        (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(None),
        (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => Err(ResponseError::ConcurrentTransactions),
        _ => Err(ResponseError::InvalidTxnState),
    }
}

/// The state once every marker of a prepared commit or abort is written.
pub fn complete(m: &TxnMetadata, now: i64) -> TxnMetadata {
    let mut next = m.clone();
    next.state = if m.state == TxnState::PrepareCommit { TxnState::CompleteCommit } else { TxnState::CompleteAbort };
    next.partitions.clear();
    next.last_update_ms = now;
    next
}

/// A transaction open longer than its timeout is aborted at a bumped epoch, which fences its
/// producer (Kafka's timed-out abort). `None` when it has time left.
pub fn timed_out_abort(m: &TxnMetadata, now: i64) -> Option<TxnMetadata> {
    if m.state != TxnState::Ongoing || now - m.start_ms <= m.timeout_ms as i64 {
        return None;
    }
    let mut next = m.clone();
    next.producer_epoch = m.producer_epoch.saturating_add(1);
    next.state = TxnState::PrepareAbort;
    next.last_update_ms = now;
    Some(next)
}

/// `transactional.id.expiration.ms`: an id idle that long with no open transaction is forgotten.
pub fn is_expired(m: &TxnMetadata, now: i64, expiration_ms: i64) -> bool {
    matches!(m.state, TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort) && now - m.last_update_ms >= expiration_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(init: Result<TxnMetadata, ResponseError>) -> TxnMetadata {
        let m = init.expect("a state");
        assert_eq!(m.state, TxnState::Empty, "{m:?}");
        m
    }

    #[test]
    fn a_transaction_runs_its_course() {
        let m = ready(init(None, 60_000, None, Some(7), 0));
        assert_eq!((m.producer_id, m.producer_epoch, m.state), (7, 0, TxnState::Empty));
        let p = ("t".to_owned(), 0);
        let m = add_partitions(Some(&m), 7, 0, std::slice::from_ref(&p), 1).unwrap().unwrap();
        assert_eq!((m.state, m.start_ms), (TxnState::Ongoing, 1));
        assert_eq!(add_partitions(Some(&m), 7, 0, std::slice::from_ref(&p), 2), Ok(None));
        assert_eq!(verify(Some(&m), 7, 0, &p), Ok(()));
        assert_eq!(verify(Some(&m), 7, 0, &("t".to_owned(), 1)), Err(ResponseError::InvalidTxnState));
        let m = end(Some(&m), 7, 0, true, 3).unwrap().unwrap();
        assert_eq!(m.state, TxnState::PrepareCommit);
        assert_eq!(end(Some(&m), 7, 0, true, 3), Err(ResponseError::ConcurrentTransactions));
        assert_eq!(end(Some(&m), 7, 0, false, 3), Err(ResponseError::InvalidTxnState));
        assert_eq!(add_partitions(Some(&m), 7, 0, std::slice::from_ref(&p), 3), Err(ResponseError::ConcurrentTransactions));
        let m = complete(&m, 4);
        assert!(m.partitions.is_empty());
        assert_eq!(end(Some(&m), 7, 0, true, 5), Ok(None));
    }

    #[test]
    fn producers_are_fenced() {
        let m = ready(init(None, 60_000, None, Some(7), 0));
        let m = add_partitions(Some(&m), 7, 0, &[("t".to_owned(), 0)], 1).unwrap().unwrap();
        // A new producer with the same transactional id: the open transaction is aborted at a
        // bumped epoch first.
        let fenced = init(Some(&m), 60_000, None, None, 2).unwrap();
        assert_eq!((fenced.producer_epoch, fenced.state), (1, TxnState::PrepareAbort));
        assert_eq!(add_partitions(Some(&fenced), 7, 0, &[("t".to_owned(), 1)], 3), Err(ResponseError::ProducerFenced));
        assert_eq!(end(Some(&fenced), 8, 1, true, 3), Err(ResponseError::InvalidProducerIdMapping));
        let next = ready(init(Some(&complete(&fenced, 3)), 60_000, None, None, 4));
        assert_eq!((next.producer_id, next.producer_epoch, next.state), (7, 2, TxnState::Empty));
        // KIP-360: re-initialising with a stale epoch is fenced; the epoch just bumped from is a
        // retry that lost its answer, given the current epoch.
        assert_eq!(init(Some(&next), 60_000, Some((7, 0)), None, 5), Err(ResponseError::ProducerFenced));
        assert_eq!(ready(init(Some(&next), 60_000, Some((7, 1)), None, 5)).producer_epoch, 2);
        // Epoch exhaustion takes a new producer id.
        let exhausted = TxnMetadata { producer_epoch: MAX_EPOCH, ..next };
        assert!(needs_producer_id(Some(&exhausted)));
        let renewed = ready(init(Some(&exhausted), 60_000, None, Some(9), 6));
        assert_eq!((renewed.producer_id, renewed.producer_epoch), (9, 0));
    }

    #[test]
    fn timeouts_and_expiry() {
        let m = ready(init(None, 1_000, None, Some(7), 0));
        let m = add_partitions(Some(&m), 7, 0, &[("t".to_owned(), 0)], 10).unwrap().unwrap();
        assert_eq!(timed_out_abort(&m, 1_000), None);
        let aborted = timed_out_abort(&m, 1_011).unwrap();
        assert_eq!((aborted.state, aborted.producer_epoch), (TxnState::PrepareAbort, 1));
        assert!(!is_expired(&aborted, i64::MAX / 2, 100));
        assert!(is_expired(&complete(&aborted, 2_000), 2_100, 100));
        for (state, code, name) in STATES {
            assert_eq!((TxnState::from_code(code), TxnState::from_name(name)), (Some(state), Some(state)));
        }
    }
}
