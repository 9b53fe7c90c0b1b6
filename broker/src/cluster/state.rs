//! The cluster metadata state machine (KRaft's metadata image): registered brokers, the
//! cluster id, topics with their partitions' Raft groups and replica assignments, topic and
//! broker configs, where each partition leads, and producer-id blocks. Every broker applies the
//! same committed commands in the same order, so every broker holds the same state; applying is
//! pure and deterministic (no clock, no randomness, no I/O).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use kafka_protocol::error::ResponseError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::metadata::Refusal;

/// Producer ids are handed to a broker in blocks (Kafka's AllocateProducerIds, KIP-730): two
/// brokers never hand out the same id.
pub const PRODUCER_ID_BLOCK: i64 = 1000;
/// Group 0 is the metadata group itself; partition groups count from 1.
pub const METADATA_GROUP: u64 = 0;
/// How many recent proposal origins are remembered, so a re-sent proposal applies once.
const REMEMBERED_ORIGINS: usize = 10_000;

/// A change to the cluster metadata, proposed by any broker and applied by all once committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Command {
    /// A broker announces its client and Raft addresses; the first registration of the cluster
    /// also fixes the cluster id.
    RegisterBroker { node_id: i32, host: String, port: i32, raft_address: String, cluster_id: String },
    /// `replicas`: the replica list of each partition, preferred leader first.
    CreateTopic { name: String, id: Uuid, replicas: Vec<Vec<i32>>, configs: BTreeMap<String, String> },
    DeleteTopic { name: String },
    /// New partitions appended to a topic that has `from` partitions (refused otherwise, so a
    /// retried or concurrent request never grows it twice), with their replica lists.
    CreatePartitions { name: String, #[serde(default)] from: Option<usize>, replicas: Vec<Vec<i32>> },
    /// Replaces a topic's config overrides.
    AlterTopicConfigs { name: String, configs: BTreeMap<String, String> },
    /// Replaces the dynamic configs of a broker resource (`""`: the cluster default).
    SetBrokerConfigs { resource: String, configs: BTreeMap<String, String> },
    /// A block of producer ids for `node_id`.
    AllocateProducerIds { node_id: i32 },
    /// A partition's leader publishes its leadership (Kafka's PartitionChangeRecord): leader,
    /// leader epoch (its Raft term) and in-sync replicas; `version` counts the leader's
    /// publications within its epoch. Anything not newer by (epoch, version) is ignored, so a
    /// late copy of an older publication never replaces a newer one.
    PartitionLeader { group: u64, leader: i32, epoch: i32, #[serde(default)] version: u64, isr: Vec<i32> },
}

/// A command as written to the metadata log: `origin` names the proposal so its proposer can
/// recognise it when it commits (and a re-sent copy applies once).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub origin: u64,
    pub command: Command,
}

/// What applying a command gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Done,
    /// The first id of a block of [`PRODUCER_ID_BLOCK`] producer ids.
    ProducerIds(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    pub node_id: i32,
    /// Advertised client listener.
    pub host: String,
    pub port: i32,
    pub raft_address: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The partition's Raft group.
    pub group: u64,
    /// Node ids, preferred leader first.
    pub replicas: Vec<i32>,
    /// As last published by a leader: -1 until one is.
    pub leader: i32,
    pub leader_epoch: i32,
    /// The leader's publication count within `leader_epoch`.
    pub leader_version: u64,
    pub isr: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub id: Uuid,
    pub partitions: Vec<PartitionInfo>,
    pub configs: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
pub struct ClusterState {
    pub cluster_id: Option<String>,
    pub brokers: BTreeMap<i32, BrokerInfo>,
    pub topics: BTreeMap<String, TopicInfo>,
    /// Dynamic broker configs by resource name (`""`: cluster default; a node id).
    pub broker_configs: BTreeMap<String, BTreeMap<String, String>>,
    next_group: u64,
    next_producer_id: i64,
    /// Partition group → (topic, partition).
    groups: HashMap<u64, (String, usize)>,
    origins: HashSet<u64>,
    origin_order: VecDeque<u64>,
}

impl ClusterState {
    /// Applies one committed command. `Err` is the refusal its proposer hears; the state is
    /// unchanged then. A command whose origin was applied before is a no-op (`Ok(None)`).
    pub fn apply(&mut self, envelope: &Envelope) -> Option<Result<Applied, Refusal>> {
        if !self.origins.insert(envelope.origin) {
            return None;
        }
        self.origin_order.push_back(envelope.origin);
        if self.origin_order.len() > REMEMBERED_ORIGINS {
            if let Some(old) = self.origin_order.pop_front() {
                self.origins.remove(&old);
            }
        }
        Some(self.apply_command(&envelope.command))
    }

    fn apply_command(&mut self, command: &Command) -> Result<Applied, Refusal> {
        match command {
            Command::RegisterBroker { node_id, host, port, raft_address, cluster_id } => {
                if self.cluster_id.is_none() && !cluster_id.is_empty() {
                    self.cluster_id = Some(cluster_id.clone());
                }
                let info = BrokerInfo { node_id: *node_id, host: host.clone(), port: *port, raft_address: raft_address.clone() };
                self.brokers.insert(*node_id, info);
            }
            Command::CreateTopic { name, id, replicas, configs } => {
                // Checked again here: the name becomes directory names on every broker, and a
                // proposal may come from any peer of the (unauthenticated) Raft port.
                crate::metadata::validate_topic_name(name)?;
                if replicas.iter().any(|r| r.is_empty()) {
                    return Err(Refusal::new(ResponseError::InvalidReplicaAssignment, "a partition needs at least one replica"));
                }
                if self.topics.contains_key(name) {
                    return Err(Refusal::new(ResponseError::TopicAlreadyExists, format!("Topic '{name}' already exists.")));
                }
                let folded = name.replace('.', "_");
                if let Some(clash) = self.topics.keys().find(|t| t.replace('.', "_") == folded) {
                    return Err(Refusal::new(ResponseError::InvalidTopicException, format!("Topic '{name}' collides with existing topic: {clash}")));
                }
                let partitions = replicas.iter().enumerate().map(|(index, r)| self.new_partition(name, index, r)).collect();
                self.topics.insert(name.clone(), TopicInfo { id: *id, partitions, configs: configs.clone() });
            }
            Command::DeleteTopic { name } => {
                let topic = self.topics.remove(name).ok_or_else(|| unknown_topic(name))?;
                for partition in &topic.partitions {
                    self.groups.remove(&partition.group);
                }
            }
            Command::CreatePartitions { name, from, replicas } => {
                if replicas.iter().any(|r| r.is_empty()) {
                    return Err(Refusal::new(ResponseError::InvalidReplicaAssignment, "a partition needs at least one replica"));
                }
                let existing = self.topics.get(name).ok_or_else(|| unknown_topic(name))?.partitions.len();
                if from.is_some_and(|from| from != existing) {
                    return Err(Refusal::new(ResponseError::InvalidPartitions, format!("Topic {name} has {existing} partition(s) now; the request was made for {}.", from.unwrap_or(0))));
                }
                let added: Vec<PartitionInfo> = replicas.iter().enumerate().map(|(i, r)| self.new_partition(name, existing + i, r)).collect();
                self.topics.get_mut(name).ok_or_else(|| unknown_topic(name))?.partitions.extend(added);
            }
            Command::AlterTopicConfigs { name, configs } => {
                self.topics.get_mut(name).ok_or_else(|| unknown_topic(name))?.configs = configs.clone();
            }
            Command::SetBrokerConfigs { resource, configs } => {
                if configs.is_empty() {
                    self.broker_configs.remove(resource);
                } else {
                    self.broker_configs.insert(resource.clone(), configs.clone());
                }
            }
            Command::AllocateProducerIds { .. } => {
                let first = self.next_producer_id;
                self.next_producer_id += PRODUCER_ID_BLOCK;
                return Ok(Applied::ProducerIds(first));
            }
            Command::PartitionLeader { group, leader, epoch, version, isr } => {
                let Some((topic, index)) = self.groups.get(group).cloned() else { return Ok(Applied::Done) };
                if let Some(partition) = self.topics.get_mut(&topic).and_then(|t| t.partitions.get_mut(index)) {
                    if (*epoch, *version) > (partition.leader_epoch, partition.leader_version) {
                        partition.leader = *leader;
                        partition.leader_epoch = *epoch;
                        partition.leader_version = *version;
                        partition.isr = isr.clone();
                    }
                }
            }
        }
        Ok(Applied::Done)
    }

    /// Partition `index` of `topic`, in a new Raft group.
    fn new_partition(&mut self, topic: &str, index: usize, replicas: &[i32]) -> PartitionInfo {
        self.next_group += 1;
        let group = self.next_group;
        self.groups.insert(group, (topic.to_owned(), index));
        PartitionInfo { group, replicas: replicas.to_vec(), leader: -1, leader_epoch: -1, leader_version: 0, isr: Vec::new() }
    }

    /// The topic and partition index of a partition group.
    pub fn partition_of_group(&self, group: u64) -> Option<(&str, usize)> {
        self.groups.get(&group).map(|(t, i)| (t.as_str(), *i))
    }
}

fn unknown_topic(name: &str) -> Refusal {
    Refusal::new(ResponseError::UnknownTopicOrPartition, format!("The topic '{name}' does not exist."))
}

/// Replica lists for `count` new partitions with `replication_factor` replicas each, over
/// `brokers` (sorted node ids): partition `p` starts at broker `(start + p) % n` and takes the
/// next ones, so preferred leaders spread over the brokers (Kafka's rack-unaware assignment,
/// without its random start: `start` is chosen by the caller).
pub fn assign(brokers: &[i32], count: usize, replication_factor: usize, start: usize) -> Vec<Vec<i32>> {
    let n = brokers.len();
    if n == 0 {
        return Vec::new();
    }
    (0..count).map(|p| (0..replication_factor.min(n)).map(|r| brokers[(start + p + r) % n]).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(origin: u64, command: Command) -> Envelope {
        Envelope { origin, command }
    }

    fn create(name: &str, replicas: Vec<Vec<i32>>) -> Command {
        Command::CreateTopic { name: name.into(), id: Uuid::nil(), replicas, configs: BTreeMap::new() }
    }

    #[test]
    fn topics_get_partition_groups_and_refuse_duplicates() {
        let mut state = ClusterState::default();
        assert_eq!(state.apply(&envelope(1, create("a", vec![vec![1, 2], vec![2, 1]]))), Some(Ok(Applied::Done)));
        let groups: Vec<u64> = state.topics["a"].partitions.iter().map(|p| p.group).collect();
        assert_eq!(groups, vec![1, 2]);
        let again = state.apply(&envelope(2, create("a", vec![vec![1]]))).unwrap();
        assert_eq!(again.unwrap_err().error, ResponseError::TopicAlreadyExists);
        let clash = state.apply(&envelope(3, create("a_", vec![vec![1]]))).unwrap();
        assert!(clash.is_ok());
        let clash = state.apply(&envelope(4, create("a.", vec![vec![1]]))).unwrap();
        assert_eq!(clash.unwrap_err().error, ResponseError::InvalidTopicException);
        let escape = state.apply(&envelope(7, create("../../etc", vec![vec![1]]))).unwrap();
        assert_eq!(escape.unwrap_err().error, ResponseError::InvalidTopicException);
        state.apply(&envelope(5, Command::CreatePartitions { name: "a".into(), from: Some(2), replicas: vec![vec![3]] })).unwrap().unwrap();
        let twice = state.apply(&envelope(8, Command::CreatePartitions { name: "a".into(), from: Some(2), replicas: vec![vec![3]] })).unwrap();
        assert_eq!(twice.unwrap_err().error, ResponseError::InvalidPartitions);
        assert_eq!(state.partition_of_group(4), Some(("a", 2)));
        state.apply(&envelope(6, Command::DeleteTopic { name: "a".into() })).unwrap().unwrap();
        assert_eq!(state.partition_of_group(1), None);
    }

    #[test]
    fn a_resent_proposal_applies_once() {
        let mut state = ClusterState::default();
        let first = state.apply(&envelope(9, Command::AllocateProducerIds { node_id: 1 }));
        assert_eq!(first, Some(Ok(Applied::ProducerIds(0))));
        assert_eq!(state.apply(&envelope(9, Command::AllocateProducerIds { node_id: 1 })), None);
        assert_eq!(state.apply(&envelope(10, Command::AllocateProducerIds { node_id: 2 })), Some(Ok(Applied::ProducerIds(PRODUCER_ID_BLOCK))));
    }

    #[test]
    fn leadership_only_moves_forward_in_epochs() {
        let mut state = ClusterState::default();
        state.apply(&envelope(1, create("t", vec![vec![1, 2, 3]]))).unwrap().unwrap();
        let lead = |origin, leader, epoch, version, isr: Vec<i32>| envelope(origin, Command::PartitionLeader { group: 1, leader, epoch, version, isr });
        state.apply(&lead(2, 2, 5, 1, vec![2])).unwrap().unwrap();
        state.apply(&lead(3, 1, 4, 9, vec![1])).unwrap().unwrap();
        let p = &state.topics["t"].partitions[0];
        assert_eq!((p.leader, p.leader_epoch, p.isr.clone()), (2, 5, vec![2]));
        // Within an epoch, a late copy of an older publication does not win.
        state.apply(&lead(4, 2, 5, 3, vec![1, 2, 3])).unwrap().unwrap();
        state.apply(&lead(5, 2, 5, 2, vec![2])).unwrap().unwrap();
        assert_eq!(state.topics["t"].partitions[0].isr, vec![1, 2, 3]);
    }

    #[test]
    fn the_first_registration_fixes_the_cluster_id() {
        let mut state = ClusterState::default();
        let register = |origin, node_id: i32, id: &str| {
            envelope(origin, Command::RegisterBroker { node_id, host: "h".into(), port: 1, raft_address: "r:1".into(), cluster_id: id.into() })
        };
        state.apply(&register(1, 1, "first")).unwrap().unwrap();
        state.apply(&register(2, 2, "second")).unwrap().unwrap();
        assert_eq!(state.cluster_id.as_deref(), Some("first"));
        assert_eq!(state.brokers.len(), 2);
    }

    #[test]
    fn assignment_spreads_preferred_leaders() {
        let replicas = assign(&[1, 2, 3], 3, 3, 0);
        assert_eq!(replicas, vec![vec![1, 2, 3], vec![2, 3, 1], vec![3, 1, 2]]);
        assert_eq!(assign(&[1, 2, 3], 2, 1, 1), vec![vec![2], vec![3]]);
        assert_eq!(assign(&[1], 1, 3, 0), vec![vec![1]]);
    }
}
