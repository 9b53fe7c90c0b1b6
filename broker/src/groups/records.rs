//! The records of `__consumer_offsets`, modelled on Kafka's layout: a versioned key naming what
//! the record is about (a committed offset, or a group's metadata), and a versioned value, or no
//! value (a tombstone) when it was deleted. Later records for a key replace earlier ones.

use bytes::{Buf, BufMut, Bytes, BytesMut};

const OFFSET_KEY: i16 = 1;
const GROUP_KEY: i16 = 2;
const OFFSET_VALUE_VERSION: i16 = 3;
/// Version 0: protocol type, generation, protocol. Version 1 adds the leader and the members
/// with their subscriptions and assignments (Kafka's GroupMetadataValue keeps the same).
const GROUP_VALUE_VERSION: i16 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKey {
    Offset { group: String, topic: String, partition: i32 },
    Group { group: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
}

/// What survives of a group across restarts and coordinator moves: its generation, and, once
/// a rebalance completed, its leader and members with their assignments, so members carry on
/// at the new coordinator without rebalancing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: String,
    /// Empty unless the group was stable when written.
    pub leader: String,
    pub members: Vec<MemberRecord>,
}

/// A member of a stable group, as Kafka's MemberMetadata value stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    /// The member's metadata for the group's protocol.
    pub subscription: Bytes,
    pub assignment: Bytes,
}

fn put_bytes(buf: &mut BytesMut, b: &[u8]) {
    buf.put_i32(b.len() as i32);
    buf.put_slice(b);
}

fn get_bytes(buf: &mut Bytes) -> Option<Bytes> {
    let len = get(buf, 4, Bytes::get_i32)?;
    (len >= 0 && buf.remaining() >= len as usize).then(|| buf.split_to(len as usize))
}

fn put_string(buf: &mut BytesMut, s: &str) {
    buf.put_i16(s.len().min(i16::MAX as usize) as i16);
    buf.put_slice(&s.as_bytes()[..s.len().min(i16::MAX as usize)]);
}

fn get_string(buf: &mut Bytes) -> Option<String> {
    if buf.remaining() < 2 {
        return None;
    }
    let len = buf.get_i16();
    if len < 0 || buf.remaining() < len as usize {
        return None;
    }
    String::from_utf8(buf.split_to(len as usize).to_vec()).ok()
}

fn get<T>(buf: &mut Bytes, size: usize, read: impl FnOnce(&mut Bytes) -> T) -> Option<T> {
    (buf.remaining() >= size).then(|| read(buf))
}

impl RecordKey {
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::new();
        match self {
            RecordKey::Offset { group, topic, partition } => {
                buf.put_i16(OFFSET_KEY);
                put_string(&mut buf, group);
                put_string(&mut buf, topic);
                buf.put_i32(*partition);
            }
            RecordKey::Group { group } => {
                buf.put_i16(GROUP_KEY);
                put_string(&mut buf, group);
            }
        }
        buf.freeze()
    }

    pub fn decode(mut buf: Bytes) -> Option<RecordKey> {
        match get(&mut buf, 2, Bytes::get_i16)? {
            OFFSET_KEY => Some(RecordKey::Offset {
                group: get_string(&mut buf)?,
                topic: get_string(&mut buf)?,
                partition: get(&mut buf, 4, Bytes::get_i32)?,
            }),
            GROUP_KEY => Some(RecordKey::Group { group: get_string(&mut buf)? }),
            _ => None,
        }
    }
}

impl CommittedOffset {
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::new();
        buf.put_i16(OFFSET_VALUE_VERSION);
        buf.put_i64(self.offset);
        buf.put_i32(self.leader_epoch);
        put_string(&mut buf, &self.metadata);
        buf.put_i64(self.commit_timestamp);
        buf.freeze()
    }

    pub fn decode(mut buf: Bytes) -> Option<CommittedOffset> {
        (get(&mut buf, 2, Bytes::get_i16)? == OFFSET_VALUE_VERSION).then_some(())?;
        Some(CommittedOffset {
            offset: get(&mut buf, 8, Bytes::get_i64)?,
            leader_epoch: get(&mut buf, 4, Bytes::get_i32)?,
            metadata: get_string(&mut buf)?,
            commit_timestamp: get(&mut buf, 8, Bytes::get_i64)?,
        })
    }
}

impl GroupRecord {
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::new();
        buf.put_i16(GROUP_VALUE_VERSION);
        put_string(&mut buf, &self.protocol_type);
        buf.put_i32(self.generation);
        put_string(&mut buf, &self.protocol);
        put_string(&mut buf, &self.leader);
        buf.put_i32(self.members.len() as i32);
        for m in &self.members {
            put_string(&mut buf, &m.id);
            match &m.instance_id {
                Some(id) => put_string(&mut buf, id),
                None => buf.put_i16(-1),
            }
            put_string(&mut buf, &m.client_id);
            put_string(&mut buf, &m.client_host);
            buf.put_i32(m.session_timeout_ms);
            buf.put_i32(m.rebalance_timeout_ms);
            put_bytes(&mut buf, &m.subscription);
            put_bytes(&mut buf, &m.assignment);
        }
        buf.freeze()
    }

    /// Reads versions 0 and 1; anything malformed is `None` (the record is skipped).
    pub fn decode(mut buf: Bytes) -> Option<GroupRecord> {
        let version = get(&mut buf, 2, Bytes::get_i16)?;
        (0..=GROUP_VALUE_VERSION).contains(&version).then_some(())?;
        let mut record = GroupRecord {
            protocol_type: get_string(&mut buf)?,
            generation: get(&mut buf, 4, Bytes::get_i32)?,
            protocol: get_string(&mut buf)?,
            leader: String::new(),
            members: Vec::new(),
        };
        if version >= 1 {
            record.leader = get_string(&mut buf)?;
            let count = get(&mut buf, 4, Bytes::get_i32)?;
            for _ in 0..count.max(0) {
                let id = get_string(&mut buf)?;
                let instance_id = if buf.remaining() >= 2 && buf.chunk()[..2] == [0xff, 0xff] {
                    buf.advance(2);
                    None
                } else {
                    Some(get_string(&mut buf)?)
                };
                record.members.push(MemberRecord {
                    id,
                    instance_id,
                    client_id: get_string(&mut buf)?,
                    client_host: get_string(&mut buf)?,
                    session_timeout_ms: get(&mut buf, 4, Bytes::get_i32)?,
                    rebalance_timeout_ms: get(&mut buf, 4, Bytes::get_i32)?,
                    subscription: get_bytes(&mut buf)?,
                    assignment: get_bytes(&mut buf)?,
                });
            }
        }
        Some(record)
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let key = RecordKey::Offset { group: "g".into(), topic: "t".into(), partition: 3 };
        assert_eq!(RecordKey::decode(key.encode()), Some(key));
        let value = CommittedOffset { offset: 42, leader_epoch: 0, metadata: "m".into(), commit_timestamp: 7 };
        assert_eq!(CommittedOffset::decode(value.encode()), Some(value));
        let member = MemberRecord {
            id: "m-1".into(),
            instance_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: 45_000,
            rebalance_timeout_ms: 300_000,
            subscription: Bytes::from_static(b"sub"),
            assignment: Bytes::from_static(b"assigned"),
        };
        let statics = MemberRecord { id: "m-2".into(), instance_id: Some("i".into()), ..member.clone() };
        let group = GroupRecord { protocol_type: "consumer".into(), generation: 5, protocol: "range".into(), leader: "m-1".into(), members: vec![member, statics] };
        assert_eq!(GroupRecord::decode(group.encode()), Some(group.clone()));
        for cut in 0..group.encode().len() {
            let _ = GroupRecord::decode(group.encode().slice(..cut));
        }
        // Version 0, as single nodes wrote it before.
        let mut v0 = BytesMut::new();
        v0.put_i16(0);
        put_string(&mut v0, "consumer");
        v0.put_i32(3);
        put_string(&mut v0, "range");
        let old = GroupRecord::decode(v0.freeze()).expect("version 0 decodes");
        assert_eq!((old.generation, old.members.len()), (3, 0));
        assert_eq!(RecordKey::decode(Bytes::from_static(&[0, 9, 1])), None);
    }
}
