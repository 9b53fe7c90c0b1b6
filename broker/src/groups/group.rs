//! One consumer group's membership state machine (Kafka's classic rebalance protocol). Pure
//! logic: callers pass the time in, and replies go out through the oneshot channels parked on
//! the members while a join or sync waits for the rest of the group.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::records::{CommittedOffset, GroupRecord, MemberRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

/// What a JoinGroup is answered with.
#[derive(Debug, Clone, Default)]
pub struct JoinOutcome {
    pub error: i16,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Only the leader receives the members and their metadata.
    pub members: Vec<(String, Option<String>, Bytes)>,
}

impl JoinOutcome {
    fn error(error: ResponseError, member_id: &str) -> JoinOutcome {
        JoinOutcome { error: error.code(), generation: -1, member_id: member_id.to_owned(), ..Default::default() }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SyncOutcome {
    pub error: i16,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub assignment: Bytes,
}

impl SyncOutcome {
    fn error(error: ResponseError) -> SyncOutcome {
        SyncOutcome { error: error.code(), ..Default::default() }
    }
}

/// A JoinGroup as the state machine sees it.
pub struct JoinRequest {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i64,
    pub rebalance_timeout_ms: i64,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// v4+ clients must rejoin with a broker-assigned member id (KIP-394).
    pub require_known_member_id: bool,
}

pub struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    session_timeout_ms: i64,
    rebalance_timeout_ms: i64,
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    last_heartbeat: i64,
    joined_at: u64,
    pending_join: Option<oneshot::Sender<JoinOutcome>>,
    pending_sync: Option<oneshot::Sender<SyncOutcome>>,
}

impl Member {
    pub fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols.iter().find(|(name, _)| name == protocol).map(|(_, m)| m.clone()).unwrap_or_default()
    }
}

pub struct Group {
    pub id: String,
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    static_members: HashMap<String, String>,
    /// Member ids handed out by MEMBER_ID_REQUIRED, valid until this time.
    pending_member_ids: HashMap<String, i64>,
    rebalance_deadline: i64,
    join_not_before: i64,
    joins: u64,
    pub offsets: BTreeMap<(String, i32), CommittedOffset>,
    /// Where in `__consumer_offsets` each committed offset was written. Commits are applied when
    /// their write is durable, which may complete out of order; the later write always wins.
    offset_positions: HashMap<(String, i32), i64>,
    /// When the group last became empty (offsets expire relative to it).
    pub empty_since: i64,
}

impl Group {
    pub fn new(id: &str, now: i64) -> Group {
        Group {
            id: id.to_owned(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            pending_member_ids: HashMap::new(),
            rebalance_deadline: 0,
            join_not_before: 0,
            joins: 0,
            offsets: BTreeMap::new(),
            offset_positions: HashMap::new(),
            empty_since: now,
        }
    }

    /// Applies a committed offset written at `position` in `__consumer_offsets`, unless a commit
    /// written later for the same partition is already applied (Kafka applies a connection's
    /// commits in order; durable writes may finish in any order).
    pub fn apply_commit(&mut self, topic: String, partition: i32, committed: CommittedOffset, position: i64) {
        let key = (topic, partition);
        if self.offset_positions.get(&key).is_some_and(|&applied| applied > position) {
            return;
        }
        self.offset_positions.insert(key.clone(), position);
        self.offsets.insert(key, committed);
    }

    /// Forgets a partition's committed offset (deleted, expired, or its topic deleted). With
    /// the tombstone's position in `__consumer_offsets`, a commit written before it whose write
    /// finishes later is not applied after it.
    pub fn remove_offset(&mut self, topic: &str, partition: i32, tombstone_at: Option<i64>) {
        let key = (topic.to_owned(), partition);
        self.offsets.remove(&key);
        if let Some(at) = tombstone_at {
            let position = self.offset_positions.entry(key).or_insert(at);
            *position = (*position).max(at);
        }
    }

    fn fresh_member_id(&self, client_id: &str, instance_id: Option<&str>) -> String {
        format!("{}-{}", instance_id.unwrap_or(client_id), Uuid::new_v4())
    }

    /// JoinGroup. The reply is sent on `reply`, now or when the rebalance completes. Returns
    /// true when a rebalance completed (the generation changed).
    pub fn join(&mut self, request: JoinRequest, reply: oneshot::Sender<JoinOutcome>, now: i64, initial_delay_ms: i64) -> bool {
        let refuse = |reply: oneshot::Sender<JoinOutcome>, error, id: &str| {
            let _ = reply.send(JoinOutcome::error(error, id));
            false
        };
        if request.protocols.is_empty() || request.protocol_type.is_empty() {
            return refuse(reply, ResponseError::InconsistentGroupProtocol, &request.member_id);
        }
        if !self.members.is_empty() {
            let supported = |name: &str| self.members.values().all(|m| m.protocols.iter().any(|(n, _)| n == name));
            if self.protocol_type.as_deref() != Some(&request.protocol_type) || !request.protocols.iter().any(|(n, _)| supported(n)) {
                return refuse(reply, ResponseError::InconsistentGroupProtocol, &request.member_id);
            }
        }
        let mut member_id = request.member_id.clone();
        if let Some(instance) = &request.instance_id {
            match self.static_members.get(instance).cloned() {
                Some(known) if member_id.is_empty() => {
                    // A static member restarted: it takes over its old identity under a new id,
                    // fencing the old one, and keeps its assignment.
                    member_id = self.fresh_member_id(&request.client_id, Some(instance));
                    if let Some(mut member) = self.members.remove(&known) {
                        if let Some(old) = member.pending_join.take() {
                            let _ = old.send(JoinOutcome::error(ResponseError::FencedInstanceId, &known));
                        }
                        member.id = member_id.clone();
                        self.members.insert(member_id.clone(), member);
                    }
                    if self.leader.as_deref() == Some(known.as_str()) {
                        self.leader = Some(member_id.clone());
                    }
                    self.static_members.insert(instance.clone(), member_id.clone());
                    if let Some(member) = self.members.get_mut(&member_id) {
                        member.protocols = request.protocols.clone();
                        member.last_heartbeat = now;
                    }
                    // As Kafka does: a static member returning to a stable group causes no
                    // rebalance unless it changes the protocol the group would select.
                    if self.state == GroupState::Stable && self.protocol.as_deref() == Some(self.select_protocol().as_str()) {
                        let _ = reply.send(self.current_outcome(&member_id));
                        return false;
                    }
                }
                Some(known) if known != member_id => {
                    return refuse(reply, ResponseError::FencedInstanceId, &member_id);
                }
                Some(_) => {}
                None if member_id.is_empty() => {
                    member_id = self.fresh_member_id(&request.client_id, Some(instance));
                    self.static_members.insert(instance.clone(), member_id.clone());
                    self.pending_member_ids.insert(member_id.clone(), i64::MAX);
                }
                None => return refuse(reply, ResponseError::UnknownMemberId, &member_id),
            }
        } else if member_id.is_empty() {
            member_id = self.fresh_member_id(&request.client_id, None);
            if request.require_known_member_id {
                self.pending_member_ids.insert(member_id.clone(), now + request.session_timeout_ms);
                return refuse(reply, ResponseError::MemberIdRequired, &member_id);
            }
            self.pending_member_ids.insert(member_id.clone(), i64::MAX);
        }

        let is_new = !self.members.contains_key(&member_id);
        if is_new {
            if self.pending_member_ids.remove(&member_id).is_none() {
                return refuse(reply, ResponseError::UnknownMemberId, &member_id);
            }
            self.joins += 1;
            self.members.insert(
                member_id.clone(),
                Member {
                    id: member_id.clone(),
                    instance_id: request.instance_id.clone(),
                    client_id: request.client_id.clone(),
                    client_host: request.client_host.clone(),
                    session_timeout_ms: request.session_timeout_ms,
                    rebalance_timeout_ms: request.rebalance_timeout_ms,
                    protocols: request.protocols.clone(),
                    assignment: Bytes::new(),
                    last_heartbeat: now,
                    joined_at: self.joins,
                    pending_join: None,
                    pending_sync: None,
                },
            );
            if self.protocol_type.is_none() {
                self.protocol_type = Some(request.protocol_type.clone());
            }
        }
        let member = self.members.get_mut(&member_id).expect("member present");
        let changed = member.protocols != request.protocols;
        member.protocols = request.protocols;
        member.session_timeout_ms = request.session_timeout_ms;
        member.rebalance_timeout_ms = request.rebalance_timeout_ms;
        member.last_heartbeat = now;
        if let Some(old) = member.pending_join.replace(reply) {
            let _ = old.send(JoinOutcome::error(ResponseError::RebalanceInProgress, &member_id));
        }
        let is_leader = self.leader.as_deref() == Some(member_id.as_str());
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance if !is_new && !changed && !is_leader => {
                // A follower re-sending its join for the current generation: answer it again.
                let outcome = self.current_outcome(&member_id);
                if let Some(reply) = self.members.get_mut(&member_id).and_then(|m| m.pending_join.take()) {
                    let _ = reply.send(outcome);
                }
                false
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now),
            _ => {
                self.prepare_rebalance(now, initial_delay_ms);
                self.maybe_complete_join(now)
            }
        }
    }

    fn current_outcome(&self, member_id: &str) -> JoinOutcome {
        let leader = self.leader.clone().unwrap_or_default();
        let protocol = self.protocol.clone().unwrap_or_default();
        let members = if leader == member_id {
            self.members.values().map(|m| (m.id.clone(), m.instance_id.clone(), m.metadata_for(&protocol))).collect()
        } else {
            Vec::new()
        };
        JoinOutcome {
            error: 0,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol.clone(),
            leader,
            member_id: member_id.to_owned(),
            members,
        }
    }

    fn prepare_rebalance(&mut self, now: i64, initial_delay_ms: i64) {
        if self.state == GroupState::CompletingRebalance {
            for member in self.members.values_mut() {
                if let Some(reply) = member.pending_sync.take() {
                    let _ = reply.send(SyncOutcome::error(ResponseError::RebalanceInProgress));
                }
            }
        }
        let timeout = self.members.values().map(|m| m.rebalance_timeout_ms).max().unwrap_or(0);
        self.rebalance_deadline = now + timeout;
        self.join_not_before = if self.state == GroupState::Empty { now + initial_delay_ms.min(timeout) } else { now };
        self.state = GroupState::PreparingRebalance;
    }

    /// Completes the join phase once every member has rejoined (and any initial delay has
    /// passed), or at the rebalance deadline without those that did not. True if it completed.
    pub fn maybe_complete_join(&mut self, now: i64) -> bool {
        if self.state != GroupState::PreparingRebalance {
            return false;
        }
        let all_joined = self.members.values().all(|m| m.pending_join.is_some());
        if !(all_joined && now >= self.join_not_before) && now < self.rebalance_deadline {
            return false;
        }
        let missing: Vec<String> = self.members.values().filter(|m| m.pending_join.is_none()).map(|m| m.id.clone()).collect();
        for id in missing {
            self.remove_member(&id);
        }
        self.generation += 1;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol = None;
            self.leader = None;
            self.empty_since = now;
            return true;
        }
        self.protocol = Some(self.select_protocol());
        if self.leader.as_ref().is_none_or(|l| !self.members.contains_key(l)) {
            self.leader = self.members.values().min_by_key(|m| m.joined_at).map(|m| m.id.clone());
        }
        self.state = GroupState::CompletingRebalance;
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let outcome = self.current_outcome(&id);
            if let Some(member) = self.members.get_mut(&id) {
                member.last_heartbeat = now;
                member.assignment = Bytes::new();
                if let Some(reply) = member.pending_join.take() {
                    let _ = reply.send(outcome);
                }
            }
        }
        true
    }

    /// The protocol every member supports that most members prefer (Kafka's vote).
    fn select_protocol(&self) -> String {
        let candidates: Vec<&String> = self
            .members
            .values()
            .next()
            .map(|m| m.protocols.iter().map(|(n, _)| n).collect())
            .unwrap_or_default();
        let candidates: Vec<&String> =
            candidates.into_iter().filter(|n| self.members.values().all(|m| m.protocols.iter().any(|(p, _)| p == *n))).collect();
        let mut votes: BTreeMap<&String, usize> = BTreeMap::new();
        for member in self.members.values() {
            if let Some((name, _)) = member.protocols.iter().find(|(p, _)| candidates.contains(&p)) {
                *votes.entry(name).or_default() += 1;
            }
        }
        candidates.iter().max_by_key(|n| (votes.get(*n).copied().unwrap_or(0), std::cmp::Reverse(candidates.iter().position(|c| c == *n)))).map(|n| (*n).clone()).unwrap_or_default()
    }

    fn remove_member(&mut self, id: &str) {
        if let Some(mut member) = self.members.remove(id) {
            if let Some(reply) = member.pending_join.take() {
                let _ = reply.send(JoinOutcome::error(ResponseError::UnknownMemberId, id));
            }
            if let Some(reply) = member.pending_sync.take() {
                let _ = reply.send(SyncOutcome::error(ResponseError::UnknownMemberId));
            }
            if let Some(instance) = member.instance_id {
                if self.static_members.get(&instance).map(String::as_str) == Some(id) {
                    self.static_members.remove(&instance);
                }
            }
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = None;
        }
    }

    /// Checks that `member_id` (and its static instance id) belongs to `generation`.
    fn validate_member(&self, member_id: &str, instance_id: Option<&str>, generation: i32) -> Result<(), ResponseError> {
        if let Some(instance) = instance_id {
            if let Some(known) = self.static_members.get(instance) {
                if known != member_id {
                    return Err(ResponseError::FencedInstanceId);
                }
            }
        }
        if !self.members.contains_key(member_id) {
            return Err(ResponseError::UnknownMemberId);
        }
        if generation != self.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(())
    }

    /// Handles a SyncGroup; true when it completed the rebalance (the leader's assignments
    /// arrived and the group is stable: time to persist it).
    pub fn sync(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
        reply: oneshot::Sender<SyncOutcome>,
    ) -> bool {
        if let Err(error) = self.validate_member(member_id, instance_id, generation) {
            let _ = reply.send(SyncOutcome::error(error));
            return false;
        }
        let outcome = |group: &Group, assignment: Bytes| SyncOutcome {
            error: 0,
            protocol_type: group.protocol_type.clone(),
            protocol: group.protocol.clone(),
            assignment,
        };
        match self.state {
            GroupState::PreparingRebalance | GroupState::Empty => {
                let _ = reply.send(SyncOutcome::error(ResponseError::RebalanceInProgress));
            }
            GroupState::Stable => {
                let assignment = self.members[member_id].assignment.clone();
                let _ = reply.send(outcome(self, assignment));
            }
            GroupState::CompletingRebalance => {
                if let Some(member) = self.members.get_mut(member_id) {
                    member.pending_sync = Some(reply);
                }
                if self.leader.as_deref() == Some(member_id) {
                    let mut assignments: HashMap<String, Bytes> = assignments.into_iter().collect();
                    self.state = GroupState::Stable;
                    let ids: Vec<String> = self.members.keys().cloned().collect();
                    for id in ids {
                        let assignment = assignments.remove(&id).unwrap_or_default();
                        let answer = outcome(self, assignment.clone());
                        if let Some(member) = self.members.get_mut(&id) {
                            member.assignment = assignment;
                            if let Some(reply) = member.pending_sync.take() {
                                let _ = reply.send(answer);
                            }
                        }
                    }
                    return true;
                }
            }
        }
        false
    }

    /// The group as `__consumer_offsets` keeps it: members and assignments only when stable.
    pub fn to_record(&self) -> GroupRecord {
        let protocol = self.protocol.clone().unwrap_or_default();
        let stable = self.state == GroupState::Stable;
        let members = if stable {
            self.members
                .values()
                .map(|m| MemberRecord {
                    id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    session_timeout_ms: m.session_timeout_ms.clamp(0, i32::MAX as i64) as i32,
                    rebalance_timeout_ms: m.rebalance_timeout_ms.clamp(0, i32::MAX as i64) as i32,
                    subscription: m.metadata_for(&protocol),
                    assignment: m.assignment.clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        GroupRecord {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol,
            leader: if stable { self.leader.clone().unwrap_or_default() } else { String::new() },
            members,
        }
    }

    /// Takes over what a record says (a later record replaces an earlier one): a stable group
    /// comes back stable, with its members, their assignments and fresh session deadlines.
    pub fn restore(&mut self, record: GroupRecord, now: i64) {
        self.generation = self.generation.max(record.generation);
        self.protocol_type = Some(record.protocol_type).filter(|p| !p.is_empty());
        self.members.clear();
        self.static_members.clear();
        if record.members.is_empty() || record.protocol.is_empty() {
            self.state = GroupState::Empty;
            self.leader = None;
            return;
        }
        self.protocol = Some(record.protocol.clone());
        self.leader = Some(record.leader).filter(|l| !l.is_empty());
        for m in record.members {
            if let Some(instance) = &m.instance_id {
                self.static_members.insert(instance.clone(), m.id.clone());
            }
            let member = Member {
                id: m.id.clone(),
                instance_id: m.instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                session_timeout_ms: m.session_timeout_ms as i64,
                rebalance_timeout_ms: m.rebalance_timeout_ms as i64,
                protocols: vec![(record.protocol.clone(), m.subscription)],
                assignment: m.assignment,
                last_heartbeat: now,
                joined_at: 0,
                pending_join: None,
                pending_sync: None,
            };
            self.members.insert(m.id, member);
        }
        self.state = GroupState::Stable;
    }

    pub fn heartbeat(&mut self, member_id: &str, instance_id: Option<&str>, generation: i32, now: i64) -> ResponseError {
        if let Err(error) = self.validate_member(member_id, instance_id, generation) {
            return error;
        }
        if let Some(member) = self.members.get_mut(member_id) {
            member.last_heartbeat = now;
        }
        match self.state {
            GroupState::PreparingRebalance => ResponseError::RebalanceInProgress,
            _ => ResponseError::Unknown(0),
        }
    }

    /// LeaveGroup for one member (by id, or by static instance id).
    pub fn leave(&mut self, member_id: &str, instance_id: Option<&str>, now: i64) -> Result<bool, ResponseError> {
        let id = match instance_id {
            Some(instance) => match self.static_members.get(instance) {
                Some(known) if member_id.is_empty() || known == member_id => known.clone(),
                Some(_) => return Err(ResponseError::FencedInstanceId),
                None => return Err(ResponseError::UnknownMemberId),
            },
            None => member_id.to_owned(),
        };
        if !self.members.contains_key(&id) {
            return Err(ResponseError::UnknownMemberId);
        }
        self.remove_member(&id);
        Ok(self.rebalance_after_departure(now))
    }

    fn rebalance_after_departure(&mut self, now: i64) -> bool {
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(now, 0);
                self.maybe_complete_join(now)
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now),
            GroupState::Empty => false,
        }
    }

    /// Session expiry and rebalance deadlines. True if a rebalance completed.
    pub fn tick(&mut self, now: i64) -> bool {
        self.pending_member_ids.retain(|_, until| *until > now);
        let mut completed = self.maybe_complete_join(now);
        if self.state != GroupState::Empty {
            // As in Kafka, a member parked on a join or sync is alive; any other member must
            // heartbeat within its session timeout, in every state, or a crashed member would
            // hold a rebalance until its (much longer) rebalance timeout.
            let expired: Vec<String> = self
                .members
                .values()
                .filter(|m| m.pending_join.is_none() && m.pending_sync.is_none() && now - m.last_heartbeat > m.session_timeout_ms)
                .map(|m| m.id.clone())
                .collect();
            if !expired.is_empty() {
                for id in &expired {
                    tracing::info!(group = self.id, member = id, "session expired");
                    self.remove_member(id);
                }
                completed |= self.rebalance_after_departure(now);
            }
        }
        completed
    }

    /// Whether a commit from this member and generation may be accepted.
    pub fn accepts_commit(&self, member_id: &str, instance_id: Option<&str>, generation: i32) -> Result<(), ResponseError> {
        if generation < 0 && member_id.is_empty() {
            // A consumer that manages its own assignment ("simple" commit): only into a group
            // that has no members.
            return if self.members.is_empty() { Ok(()) } else { Err(ResponseError::UnknownMemberId) };
        }
        self.validate_member(member_id, instance_id, generation)?;
        // Members of the current generation may commit while a rebalance gathers them (that is
        // how they hand off cleanly), but not while the new assignment is being distributed.
        if self.state == GroupState::CompletingRebalance {
            return Err(ResponseError::RebalanceInProgress);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(member_id: &str, instance: Option<&str>) -> JoinRequest {
        JoinRequest {
            member_id: member_id.to_owned(),
            instance_id: instance.map(str::to_owned),
            client_id: "c".into(),
            client_host: String::new(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 30_000,
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), Bytes::from_static(b"m"))],
            require_known_member_id: true,
        }
    }

    /// Joins a new dynamic member through KIP-394's two steps; returns its id and join receiver.
    fn join_new(group: &mut Group, now: i64) -> (String, oneshot::Receiver<JoinOutcome>) {
        let (tx, mut rx) = oneshot::channel();
        group.join(request("", None), tx, now, 0);
        let first = rx.try_recv().expect("answered at once");
        assert_eq!(first.error, ResponseError::MemberIdRequired.code());
        let (tx, rx) = oneshot::channel();
        group.join(request(&first.member_id, None), tx, now, 0);
        (first.member_id, rx)
    }

    #[test]
    fn two_members_join_sync_and_rebalance_when_one_leaves() {
        let mut group = Group::new("g", 0);
        let (a, mut a_join) = join_new(&mut group, 0);
        // Alone and with no delay, a's join completes at once: generation 1, a leads.
        let joined = a_join.try_recv().unwrap();
        assert_eq!((joined.error, joined.generation, joined.leader.as_str()), (0, 1, a.as_str()));
        assert_eq!(joined.members.len(), 1);
        let (tx, mut synced) = oneshot::channel();
        group.sync(&a, None, 1, vec![(a.clone(), Bytes::from_static(b"all"))], tx);
        assert_eq!(&synced.try_recv().unwrap().assignment[..], b"all");
        assert_eq!(group.state, GroupState::Stable);

        // b joins: a must rejoin before the generation completes.
        let (b, mut b_join) = join_new(&mut group, 100);
        assert!(b_join.try_recv().is_err());
        assert_eq!(group.heartbeat(&a, None, 1, 100), ResponseError::RebalanceInProgress);
        let (tx, mut a_rejoin) = oneshot::channel();
        assert!(group.join(request(&a, None), tx, 200, 0));
        let (a_out, b_out) = (a_rejoin.try_recv().unwrap(), b_join.try_recv().unwrap());
        assert_eq!((a_out.generation, b_out.generation), (2, 2));
        assert_eq!((a_out.members.len(), b_out.members.len()), (2, 0), "only the leader sees members");
        // A follower's sync waits for the leader's.
        let (tx, mut b_sync) = oneshot::channel();
        group.sync(&b, None, 2, vec![], tx);
        assert!(b_sync.try_recv().is_err());
        let (tx, _a_sync) = oneshot::channel();
        group.sync(&a, None, 2, vec![(b.clone(), Bytes::from_static(b"half"))], tx);
        assert_eq!(&b_sync.try_recv().unwrap().assignment[..], b"half");
        assert_eq!(group.heartbeat(&b, None, 1, 300), ResponseError::IllegalGeneration);

        // a leaves: b alone forms generation 3 once it rejoins.
        assert!(!group.leave(&a, None, 400).unwrap());
        let (tx, mut b_again) = oneshot::channel();
        assert!(group.join(request(&b, None), tx, 500, 0));
        let out = b_again.try_recv().unwrap();
        assert_eq!((out.generation, out.leader.as_str()), (3, b.as_str()));
    }

    #[test]
    fn silent_members_expire_and_static_members_return_quietly() {
        let mut group = Group::new("g", 0);
        let (tx, mut a_join) = oneshot::channel();
        group.join(request("", Some("a")), tx, 0, 0);
        let a = a_join.try_recv().unwrap().member_id;
        let (tx, _) = oneshot::channel();
        group.sync(&a, Some("a"), 1, vec![(a.clone(), Bytes::from_static(b"x"))], tx);
        assert_eq!(group.state, GroupState::Stable);

        // The same instance returns under a new id: no rebalance, same generation, old id fenced.
        let (tx, mut back) = oneshot::channel();
        assert!(!group.join(request("", Some("a")), tx, 1_000, 0));
        let back = back.try_recv().unwrap();
        assert_eq!((back.error, back.generation), (0, 1));
        assert_ne!(back.member_id, a);
        assert_eq!(group.heartbeat(&a, Some("a"), 1, 1_000), ResponseError::FencedInstanceId);
        let (tx, mut synced) = oneshot::channel();
        group.sync(&back.member_id, Some("a"), 1, vec![], tx);
        assert_eq!(&synced.try_recv().unwrap().assignment[..], b"x", "the assignment is kept");

        // A member that crashes during a rebalance is dropped at its session timeout, not at the
        // rebalance deadline.
        let (c, _c_join) = join_new(&mut group, 2_000);
        assert_eq!(group.state, GroupState::PreparingRebalance);
        assert!(group.tick(13_000), "the silent static member expired and the rebalance completed");
        assert_eq!(group.members.keys().collect::<Vec<_>>(), vec![&c]);
        let (tx, _) = oneshot::channel();
        group.sync(&c, None, group.generation, vec![], tx);

        // No heartbeat for longer than the session timeout: gone, and the group is empty.
        assert!(group.tick(30_000));
        assert_eq!(group.state, GroupState::Empty);
        assert!(group.members.is_empty());
    }
}
