//! A deterministic simulated network (no sockets, virtual time; a seed reproduces a run) that
//! drops, duplicates, delays and reorders messages, partitions nodes (also one way), and crashes
//! and restarts replicas (reopened from their files), compacts replicas' logs (so laggards need
//! snapshots), driving 3 and 5 replicas of a group over
//! real `Log`s in temp dirs. Checked after every step: committed entries are never lost or
//! changed, logs agree on every committed index, at most one leader per term, a replica's high
//! watermark never goes back, and every acknowledged proposal is committed where its
//! acknowledgement said. At the end the network heals and every replica must converge.
//!
//! `SIM_SEEDS=N` (default 40) seeds per group size; `SIM_SEED=S` runs one seed (`SIM_TRACE=1`
//! prints every replica's state at every step). Long run:
//! `SIM_SEEDS=2000 cargo test --release -p weir-replication --test sim`.

#[path = "support/loopback.rs"]
#[allow(dead_code)] // the simulation uses only the batch builder
mod loopback;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use weir_storage::SharedLog;
use weir_replication::{Message, Outcome, Proposal, Replica, ReplicaConfig};
use weir_storage::{Log, LogConfig};

/// SplitMix64: a tiny deterministic generator, so a seed reproduces a run anywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn batch(id: u64) -> Vec<u8> {
    loopback::batch(id as i64, 1, 16).to_vec()
}

#[derive(Default)]
struct Counts {
    steps: u64,
    delivered: u64,
    dropped: u64,
    duplicated: u64,
    crashes: u64,
    /// Crashes that also lost the replica's storage.
    wipes: u64,
    partitions: u64,
    proposed: u64,
    acknowledged: u64,
    elections: u64,
    compactions: u64,
    snapshots: u64,
}

struct Cluster {
    rng: Rng,
    dirs: Vec<PathBuf>,
    replicas: Vec<Option<Replica>>,
    ids: Vec<u64>,
    /// In flight: (deliver at step, message).
    network: Vec<(u64, Message)>,
    /// Directed links that drop everything: (from, to).
    cut: BTreeSet<(u64, u64)>,
    /// Every committed entry seen: index → (term, bytes).
    committed: BTreeMap<u64, (u64, Bytes)>,
    leaders: HashMap<u64, u64>,
    high_watermarks: Vec<i64>,
    /// Per replica: committed indexes already compared with `committed` (0 after a restart).
    verified: Vec<u64>,
    /// token → (replica, proposal id)
    tokens: HashMap<(usize, u64), u64>,
    acknowledged: Vec<(u64, i64)>,
    counts: Counts,
    /// A replica whose storage was wiped and that has not caught up yet: (index, the highest
    /// commit index at the wipe). Only one at a time: losing a majority's copies loses data
    /// whatever the protocol does.
    wiped: Option<(usize, u64)>,
    _tmp: tempfile::TempDir,
}

fn logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

fn config(id: u64) -> ReplicaConfig {
    // A fixed election timeout per replica (different ones, so elections resolve): raft-rs
    // would otherwise draw them from its own random source, and a seed would not repeat a run.
    let timeout = 10 + 3 * id as usize;
    ReplicaConfig { fsync: false, election_tick_range: Some((timeout, timeout + 1)), ..ReplicaConfig::new(id) }
}

fn open(dir: &PathBuf, id: u64, voters: &[u64]) -> Replica {
    open_as(dir, id, voters, false)
}

/// `started_empty`: the replica's storage was lost (it rejoins carefully).
fn open_as(dir: &PathBuf, id: u64, voters: &[u64], started_empty: bool) -> Replica {
    let log = Log::open(dir, LogConfig { segment_bytes: 4096, ..LogConfig::default() }, false, 0).unwrap();
    let config = ReplicaConfig { amnesia: started_empty.then_some(weir_replication::Amnesia::Lost), ..config(id) };
    Replica::open(Arc::new(SharedLog::new(log)), dir, voters, config, &logger()).unwrap()
}

impl Cluster {
    fn new(seed: u64, size: usize) -> Cluster {
        let tmp = tempfile::tempdir().unwrap();
        let ids: Vec<u64> = (1..=size as u64).collect();
        let dirs: Vec<PathBuf> = ids.iter().map(|id| tmp.path().join(format!("r{id}"))).collect();
        let replicas = ids.iter().zip(&dirs).map(|(&id, dir)| Some(open(dir, id, &ids))).collect();
        Cluster {
            rng: Rng(seed),
            dirs,
            replicas,
            high_watermarks: vec![0; size],
            verified: vec![0; size],
            ids,
            network: Vec::new(),
            cut: BTreeSet::new(),
            committed: BTreeMap::new(),
            leaders: HashMap::new(),
            tokens: HashMap::new(),
            acknowledged: Vec::new(),
            counts: Counts::default(),
            wiped: None,
            _tmp: tmp,
        }
    }

    fn step(&mut self, faults: bool) {
        self.step_with(faults, true)
    }

    fn step_with(&mut self, faults: bool, proposals: bool) {
        self.counts.steps += 1;
        let now = self.counts.steps;
        let n = self.replicas.len();
        // Faults.
        if faults && self.rng.chance(2) {
            let victim = self.rng.below(n as u64) as usize;
            if let Some(gone) = self.replicas[victim].take() {
                if std::env::var("SIM_TRACE").is_ok() {
                    eprintln!("trace step {} crash r{} last {:?}", self.counts.steps, gone.id(), gone.log().lock().last_entry());
                }
                self.counts.snapshots += gone.snapshots_installed();
                self.counts.crashes += 1;
                self.high_watermarks[victim] = 0;
                self.verified[victim] = 0;
                drop(gone);
                // Sometimes the crash takes the disk with it: the replica comes back empty.
                if self.wiped.is_none() && self.rng.chance(25) && std::env::var("SIM_NO_WIPE").is_err() {
                    let target = self.replicas.iter().flatten().map(|r| r.commit_index()).max().unwrap_or(0);
                    std::fs::remove_dir_all(&self.dirs[victim]).unwrap();
                    self.replicas[victim] = Some(open_as(&self.dirs[victim], self.ids[victim], &self.ids, true));
                    self.wiped = Some((victim, target));
                    self.counts.wipes += 1;
                }
            }
        }
        if let Some((i, target)) = self.wiped {
            if self.replicas[i].as_ref().is_some_and(|r| r.commit_index() >= target) {
                self.wiped = None;
            }
        }
        if faults && self.rng.chance(3) {
            self.cut.clear();
            match self.rng.below(3) {
                0 => {
                    // One node cut off.
                    let alone = self.ids[self.rng.below(n as u64) as usize];
                    for &other in &self.ids {
                        self.cut.insert((alone, other));
                        self.cut.insert((other, alone));
                    }
                }
                1 => {
                    // A majority / minority split.
                    let minority: Vec<u64> = self.ids.iter().copied().filter(|_| self.rng.chance(40)).collect();
                    for &a in &minority {
                        for &b in self.ids.iter().filter(|b| !minority.contains(b)) {
                            self.cut.insert((a, b));
                            self.cut.insert((b, a));
                        }
                    }
                }
                _ => {
                    // Asymmetric: one direction only.
                    let a = self.ids[self.rng.below(n as u64) as usize];
                    let b = self.ids[self.rng.below(n as u64) as usize];
                    self.cut.insert((a, b));
                }
            }
            self.counts.partitions += 1;
        }
        if faults && self.rng.chance(4) {
            self.cut.clear();
        }
        // Retention: a replica drops what it has committed, so one that fell behind must be sent
        // a snapshot (its log resets to the leader's start) to catch up.
        if faults && self.rng.chance(3) && std::env::var("SIM_NO_COMPACT").is_err() {
            let at = self.rng.below(n as u64) as usize;
            if let Some(replica) = self.replicas[at].as_ref() {
                let mut log = replica.log().lock();
                let hw = log.high_watermark();
                if std::env::var("SIM_TRACE").is_ok() {
                    eprintln!("trace step {} compact r{} to {hw}", self.counts.steps, replica.id());
                }
                if log.delete_records_before(hw).is_ok() {
                    self.counts.compactions += 1;
                }
            }
        }
        // Restarts.
        for i in 0..n {
            if self.replicas[i].is_none() && self.rng.chance(if faults { 10 } else { 100 }) {
                self.replicas[i] = Some(open(&self.dirs[i], self.ids[i], &self.ids));
            }
        }
        // Ticks and proposals.
        for i in 0..n {
            let Some(replica) = self.replicas[i].as_mut() else { continue };
            replica.tick();
            if proposals && replica.is_leader() && self.rng.chance(30) {
                self.counts.proposed += 1;
                let id = self.counts.proposed;
                match replica.propose(&batch(id), None) {
                    Ok(Proposal::Pending { token, .. }) => {
                        self.tokens.insert((i, token), id);
                    }
                    Ok(Proposal::Duplicate(_)) => panic!("no idempotent producers here"),
                    Err(_) => {}
                }
            }
        }
        // Deliveries: due messages, in a random order.
        let (mut due, later): (Vec<_>, Vec<_>) = self.network.drain(..).partition(|(at, _)| *at <= now);
        self.network = later;
        for i in (1..due.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            due.swap(i, j);
        }
        for (_, message) in due {
            let to = self.ids.iter().position(|&id| id == message.to).unwrap();
            if let Some(replica) = self.replicas[to].as_mut() {
                self.counts.delivered += 1;
                let _ = replica.step(message);
            }
        }
        // Ready loops, and what they send.
        for i in 0..n {
            let Some(replica) = self.replicas[i].as_mut() else { continue };
            let messages = replica.handle_ready(0).unwrap();
            for (token, outcome) in replica.take_outcomes() {
                if let (Some(id), Outcome::Committed(info)) = (self.tokens.remove(&(i, token)), outcome) {
                    self.counts.acknowledged += 1;
                    self.acknowledged.push((id, info.base_offset));
                }
            }
            for message in messages {
                if self.cut.contains(&(message.from, message.to)) || (faults && self.rng.chance(5)) {
                    self.counts.dropped += 1;
                    continue;
                }
                let delay = if faults { self.rng.below(4) } else { 0 };
                if faults && self.rng.chance(3) {
                    self.counts.duplicated += 1;
                    self.network.push((now + 1 + self.rng.below(4), message.clone()));
                }
                self.network.push((now + 1 + delay, message));
            }
        }
        self.check();
    }

    fn check(&mut self) {
        for (i, replica) in self.replicas.iter().enumerate() {
            let Some(replica) = replica else { continue };
            if replica.is_leader() {
                let previous = self.leaders.insert(replica.term(), replica.id());
                assert!(previous.is_none_or(|p| p == replica.id()), "two leaders in term {}: {previous:?} and {}", replica.term(), replica.id());
                if previous.is_none() {
                    self.counts.elections += 1;
                }
            }
            let log = replica.log().lock();
            if std::env::var("SIM_TRACE").is_ok() {
                eprintln!("trace step {} r{} leader={} term={} first={} last={:?} commit={} raftcommit={} start={} hw={}", self.counts.steps, replica.id(), replica.is_leader(), replica.term(), log.first_index(), log.last_entry(), log.commit_index(), replica.commit_index(), log.log_start_offset(), log.high_watermark());
            }
            let hw = log.high_watermark();
            assert!(hw >= self.high_watermarks[i], "replica {} high watermark went back: {} → {hw}", replica.id(), self.high_watermarks[i]);
            self.high_watermarks[i] = hw;
            // Every entry this replica holds at a committed index must be the committed one,
            // and every index it has committed must hold an entry (checked once per index).
            let commit = log.commit_index();
            let first = log.first_index();
            for index in first.max(self.verified[i] + 1)..=commit {
                let entry = &log.entries(index, index + 1, 0).unwrap()[0];
                match self.committed.get(&index) {
                    Some((term, bytes)) => {
                        if std::env::var("SIM_TRACE").is_ok() && (entry.term, &entry.data) != (*term, bytes) {
                            eprintln!("step {} replica {}: first {} before {:?} last {:?} commit {} start {} hw {} snaps {}", self.counts.steps, replica.id(), log.first_index(), log.before_first(), log.last_entry(), commit, log.log_start_offset(), log.high_watermark(), replica.snapshots_installed());
                        }
                        assert_eq!((entry.term, &entry.data), (*term, bytes), "replica {} disagrees at committed index {index}", replica.id());
                    }
                    None => {
                        self.committed.insert(index, (entry.term, entry.data.clone()));
                    }
                }
            }
            self.verified[i] = self.verified[i].max(commit);
        }
    }

    /// Heals the network and restarts everyone; every replica must reach the same log.
    fn converge(&mut self) {
        self.cut.clear();
        for i in 0..self.replicas.len() {
            if self.replicas[i].is_none() {
                self.replicas[i] = Some(open(&self.dirs[i], self.ids[i], &self.ids));
            }
        }
        for _ in 0..2_000 {
            self.step_with(false, false);
            let commits: BTreeSet<(u64, u64)> = self.replicas.iter().flatten().map(|r| (r.commit_index(), r.log().lock().last_index())).collect();
            let leader = self.replicas.iter().flatten().any(|r| r.is_leader());
            if leader && commits.len() == 1 {
                break;
            }
        }
        self.counts.snapshots += self.replicas.iter().flatten().map(|r| r.snapshots_installed()).sum::<u64>();
        let commits: Vec<u64> = self.replicas.iter().flatten().map(|r| r.commit_index()).collect();
        assert!(commits.windows(2).all(|w| w[0] == w[1]), "replicas did not converge: commit indexes {commits:?}");
        // Every acknowledged proposal is committed, at the offset its acknowledgement named.
        let replica = self.replicas[0].as_ref().unwrap();
        let log = replica.log().lock();
        for &(id, base_offset) in self.acknowledged.iter().filter(|(_, offset)| *offset >= log.log_start_offset()) {
            let read = log.read(base_offset, 1, i64::MAX).unwrap().records;
            let header = weir_protocol::batch::BatchHeader::parse(&read).unwrap();
            assert_eq!(header.base_offset, base_offset, "proposal {id}");
            assert_eq!(header.max_timestamp, id as i64, "proposal {id} is the batch at offset {base_offset}");
        }
    }
}

fn run(seed: u64, size: usize, steps: u64) -> Counts {
    let mut cluster = Cluster::new(seed, size);
    for _ in 0..steps {
        cluster.step(true);
    }
    cluster.converge();
    cluster.counts
}

fn seeds() -> Vec<u64> {
    if let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![seed];
    }
    let count: u64 = std::env::var("SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(40);
    (1..=count).collect()
}

fn run_many(size: usize) {
    let mut total = Counts::default();
    for seed in seeds() {
        let counts = std::panic::catch_unwind(|| run(seed, size, 400)).unwrap_or_else(|e| {
            panic!("seed {seed} ({size} replicas) failed; reproduce with SIM_SEED={seed}: {:?}", e.downcast_ref::<String>().map(String::as_str).or(e.downcast_ref::<&str>().copied()))
        });
        total.steps += counts.steps;
        total.delivered += counts.delivered;
        total.dropped += counts.dropped;
        total.duplicated += counts.duplicated;
        total.crashes += counts.crashes;
        total.wipes += counts.wipes;
        total.partitions += counts.partitions;
        total.proposed += counts.proposed;
        total.acknowledged += counts.acknowledged;
        total.elections += counts.elections;
        total.compactions += counts.compactions;
        total.snapshots += counts.snapshots;
    }
    println!(
        "{size} replicas, {} seeds: {} steps, {} messages delivered, {} dropped, {} duplicated, {} crashes ({} wiped), {} partitions, {} compactions, {} snapshots installed, {} elections, {} proposed, {} acknowledged",
        seeds().len(),
        total.steps,
        total.delivered,
        total.dropped,
        total.duplicated,
        total.crashes,
        total.wipes,
        total.partitions,
        total.compactions,
        total.snapshots,
        total.elections,
        total.proposed,
        total.acknowledged
    );
    assert!(total.acknowledged > 0, "the runs made progress");
}

#[test]
fn three_replicas_under_faults() {
    run_many(3);
}

#[test]
fn five_replicas_under_faults() {
    run_many(5);
}
