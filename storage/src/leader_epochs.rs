//! The leader-epoch cache (Kafka's `LeaderEpochFileCache`): for each leader epoch, the first
//! offset written in it. OffsetForLeaderEpoch answers from it, so a client that read under an
//! old leader can find where that leader's log and the new one diverge (KIP-101, KIP-320). It
//! is persisted (`leader-epoch-checkpoint`, checksummed, replaced atomically) and cut whenever
//! the log is cut.

use std::path::{Path, PathBuf};

use crate::{checkpoint, Result, StorageError};

const FILE: &str = "leader-epoch-checkpoint";

/// Kafka's UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET.
pub const UNDEFINED: i64 = -1;

pub(crate) struct LeaderEpochs {
    path: PathBuf,
    /// `(epoch, start offset)`, both strictly increasing.
    epochs: Vec<(i32, i64)>,
}

impl LeaderEpochs {
    pub fn open(dir: &Path) -> Result<LeaderEpochs> {
        let path = dir.join(FILE);
        let corrupt = |why: &str| StorageError::Corrupt { path: path.clone(), why: why.to_owned() };
        let epochs = match checkpoint::read(&path)? {
            None => Vec::new(),
            Some(payload) => {
                let text = String::from_utf8(payload).map_err(|_| corrupt("not text"))?;
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|line| {
                        let (epoch, offset) = line.split_once(' ').ok_or_else(|| corrupt("expected 'epoch offset'"))?;
                        Ok((epoch.parse().map_err(|_| corrupt("bad epoch"))?, offset.parse().map_err(|_| corrupt("bad offset"))?))
                    })
                    .collect::<Result<Vec<(i32, i64)>>>()?
            }
        };
        Ok(LeaderEpochs { path, epochs })
    }

    fn persist(&self) -> Result<()> {
        let text: String = self.epochs.iter().map(|(e, o)| format!("{e} {o}\n")).collect();
        checkpoint::write(&self.path, text.as_bytes())
    }

    pub fn latest(&self) -> Option<(i32, i64)> {
        self.epochs.last().copied()
    }

    #[cfg(test)]
    pub fn all(&self) -> &[(i32, i64)] {
        &self.epochs
    }

    /// Records that `epoch` starts at `start_offset`, if it is newer than every epoch known.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> Result<()> {
        if epoch < 0 || self.latest().is_some_and(|(latest, _)| epoch <= latest) {
            return Ok(());
        }
        self.epochs.push((epoch, start_offset));
        self.persist()
    }

    /// Forgets epochs that start at or after `end_offset` (the log was cut there).
    pub fn truncate_from_end(&mut self, end_offset: i64) -> Result<()> {
        let keep = self.epochs.partition_point(|&(_, start)| start < end_offset);
        if keep < self.epochs.len() {
            self.epochs.truncate(keep);
            self.persist()?;
        }
        Ok(())
    }

    /// The log now starts at `start_offset`: epochs wholly before it go, and the one that spans
    /// it starts there.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> Result<()> {
        let spanning = self.epochs.partition_point(|&(_, start)| start <= start_offset);
        if spanning <= 1 && self.epochs.first().is_none_or(|&(_, s)| s >= start_offset) {
            return Ok(());
        }
        let (epoch, _) = self.epochs[spanning - 1];
        self.epochs.drain(..spanning - 1);
        self.epochs[0] = (epoch, start_offset);
        self.persist()
    }

    /// Forgets everything (the log was emptied).
    pub fn clear(&mut self) -> Result<()> {
        self.epochs.clear();
        self.persist()
    }

    /// Kafka's `endOffsetFor`: `(epoch, end offset)` for `requested` — the largest epoch at or
    /// below it and the offset where the next epoch starts (the log end for the latest). An
    /// epoch above every known one, or an empty cache, gives `(-1, -1)`.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        let Some((latest, _)) = self.latest() else { return (UNDEFINED as i32, UNDEFINED) };
        if requested == latest {
            return (latest, log_end_offset);
        }
        let higher = self.epochs.partition_point(|&(e, _)| e <= requested);
        match (higher.checked_sub(1), self.epochs.get(higher)) {
            (_, None) => (UNDEFINED as i32, UNDEFINED),
            (None, Some(&(_, next_start))) => (requested, next_start),
            (Some(floor), Some(&(_, next_start))) => (self.epochs[floor].0, next_start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_like_kafka_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = LeaderEpochs::open(dir.path()).unwrap();
        assert_eq!(cache.end_offset_for(0, 10), (-1, -1));
        cache.assign(1, 0).unwrap();
        cache.assign(1, 5).unwrap();
        cache.assign(3, 20).unwrap();
        cache.assign(2, 30).unwrap(); // older than the latest: ignored
        cache.assign(5, 40).unwrap();
        assert_eq!(cache.end_offset_for(5, 50), (5, 50));
        assert_eq!(cache.end_offset_for(1, 50), (1, 20));
        assert_eq!(cache.end_offset_for(2, 50), (1, 20));
        assert_eq!(cache.end_offset_for(4, 50), (3, 40));
        assert_eq!(cache.end_offset_for(0, 50), (0, 0));
        assert_eq!(cache.end_offset_for(9, 50), (-1, -1));
        cache.truncate_from_end(40).unwrap();
        assert_eq!(cache.all(), &[(1, 0), (3, 20)]);
        cache.truncate_from_start(25).unwrap();
        assert_eq!(cache.all(), &[(3, 25)]);
        let reopened = LeaderEpochs::open(dir.path()).unwrap();
        assert_eq!(reopened.all(), &[(3, 25)]);
    }
}
