//! Weir's own wire format for Raft messages between brokers. raft-rs 0.7's protobuf 2 decoder
//! can be made to overflow its stack by crafted input (RUSTSEC-2024-0437), so nothing read from
//! the Raft port goes through it: every field is written and read here, flat, with every length
//! checked against what the frame holds. Entry and snapshot payloads come out as `Bytes` slices
//! of the frame (no copy).
//!
//! A frame: `u32 length` (of the rest, at most [`MAX_FRAME`]), `u8 version` (1), `u32 count`,
//! then `count` times `u64 group` + a message. A message: `u8 type`, `to`, `from`, `term`,
//! `log_term`, `index`, `commit`, `commit_term`, `request_snapshot`, `reject_hint` (u64 each),
//! `u8 reject`, `i64 priority`, `context` (u32 length + bytes), `u32 entry count` + entries,
//! `u8 has_snapshot` [+ snapshot]. An entry: `u8 type`, `term`, `index` (u64), `data`,
//! `context` (u32 length + bytes). A snapshot: `index`, `term` (u64), voters, learners,
//! voters_outgoing, learners_next (u32 count + u64s each), `u8 auto_leave`, `data`.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use protobuf::ProtobufEnum;
use raft::eraftpb::{ConfState, Entry, EntryType, Message, MessageType, Snapshot};

use crate::ReplicationError;

/// The largest frame accepted (a 1 MiB append message per group, many groups coalesced).
pub const MAX_FRAME: usize = 64 << 20;
const VERSION: u8 = 1;

fn malformed(why: &str) -> ReplicationError {
    ReplicationError::Malformed(why.to_owned())
}

/// Appends one frame holding `messages` (each with its group id) to `out`.
pub fn encode_frame(messages: &[(u64, Message)], out: &mut BytesMut) {
    let start = out.len();
    out.put_u32(0);
    out.put_u8(VERSION);
    out.put_u32(messages.len() as u32);
    for (group, message) in messages {
        out.put_u64(*group);
        encode_message(message, out);
    }
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

fn put_bytes(out: &mut BytesMut, bytes: &[u8]) {
    out.put_u32(bytes.len() as u32);
    out.put_slice(bytes);
}

fn put_ids(out: &mut BytesMut, ids: &[u64]) {
    out.put_u32(ids.len() as u32);
    for id in ids {
        out.put_u64(*id);
    }
}

fn encode_message(m: &Message, out: &mut BytesMut) {
    out.put_u8(m.get_msg_type().value() as u8);
    for value in [m.to, m.from, m.term, m.log_term, m.index, m.commit, m.commit_term, m.request_snapshot, m.reject_hint] {
        out.put_u64(value);
    }
    out.put_u8(m.reject as u8);
    out.put_i64(m.priority);
    put_bytes(out, &m.context);
    out.put_u32(m.entries.len() as u32);
    for e in m.entries.iter() {
        out.put_u8(e.get_entry_type().value() as u8);
        out.put_u64(e.term);
        out.put_u64(e.index);
        put_bytes(out, &e.data);
        put_bytes(out, &e.context);
    }
    match m.snapshot.as_ref() {
        None => out.put_u8(0),
        Some(s) => {
            out.put_u8(1);
            let meta = s.get_metadata();
            out.put_u64(meta.index);
            out.put_u64(meta.term);
            let conf = meta.get_conf_state();
            for ids in [&conf.voters, &conf.learners, &conf.voters_outgoing, &conf.learners_next] {
                put_ids(out, ids);
            }
            out.put_u8(conf.auto_leave as u8);
            put_bytes(out, &s.data);
        }
    }
}

/// Splits one whole frame off the front of `buf`, if it holds one: `Ok(None)` means read more.
/// A length over [`MAX_FRAME`] is an error (the connection is closed).
pub fn split_frame(buf: &mut BytesMut) -> Result<Option<Bytes>, ReplicationError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len > MAX_FRAME {
        return Err(ReplicationError::Malformed(format!("frame of {len} bytes exceeds {MAX_FRAME}")));
    }
    if buf.len() < 4 + len {
        buf.reserve(4 + len - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len).freeze()))
}

/// A reader that checks every length against what is left.
struct Reader(Bytes);

impl Reader {
    fn need(&self, n: usize) -> Result<(), ReplicationError> {
        if self.0.remaining() < n {
            return Err(malformed("truncated"));
        }
        Ok(())
    }
    fn u8(&mut self) -> Result<u8, ReplicationError> {
        self.need(1)?;
        Ok(self.0.get_u8())
    }
    fn u32(&mut self) -> Result<u32, ReplicationError> {
        self.need(4)?;
        Ok(self.0.get_u32())
    }
    fn u64(&mut self) -> Result<u64, ReplicationError> {
        self.need(8)?;
        Ok(self.0.get_u64())
    }
    fn bytes(&mut self) -> Result<Bytes, ReplicationError> {
        let len = self.u32()? as usize;
        self.need(len)?;
        Ok(self.0.split_to(len))
    }
    /// A count of items of at least `item_size` bytes each that the rest can hold.
    fn count(&mut self, item_size: usize) -> Result<usize, ReplicationError> {
        let count = self.u32()? as usize;
        if count.saturating_mul(item_size) > self.0.remaining() {
            return Err(malformed("a count larger than the frame"));
        }
        Ok(count)
    }
    fn ids(&mut self) -> Result<Vec<u64>, ReplicationError> {
        let count = self.count(8)?;
        (0..count).map(|_| self.u64()).collect()
    }
}

/// Decodes a frame from [`split_frame`] into `(group, message)` pairs.
pub fn decode_frame(frame: Bytes) -> Result<Vec<(u64, Message)>, ReplicationError> {
    let mut r = Reader(frame);
    if r.u8()? != VERSION {
        return Err(malformed("unknown frame version"));
    }
    // The smallest message is 91 bytes, and its group id 8 more.
    let count = r.count(99)?;
    let mut messages = Vec::with_capacity(count);
    for _ in 0..count {
        let group = r.u64()?;
        messages.push((group, decode_message(&mut r)?));
    }
    if r.0.has_remaining() {
        return Err(malformed("bytes after the last message"));
    }
    Ok(messages)
}

fn decode_message(r: &mut Reader) -> Result<Message, ReplicationError> {
    let mut m = Message::default();
    m.set_msg_type(MessageType::from_i32(r.u8()? as i32).ok_or_else(|| malformed("unknown message type"))?);
    m.to = r.u64()?;
    m.from = r.u64()?;
    m.term = r.u64()?;
    m.log_term = r.u64()?;
    m.index = r.u64()?;
    m.commit = r.u64()?;
    m.commit_term = r.u64()?;
    m.request_snapshot = r.u64()?;
    m.reject_hint = r.u64()?;
    m.reject = r.u8()? != 0;
    m.priority = r.u64()? as i64;
    m.context = r.bytes()?;
    let entries = r.count(25)?;
    let mut decoded = Vec::with_capacity(entries);
    for _ in 0..entries {
        let mut e = Entry::default();
        e.set_entry_type(EntryType::from_i32(r.u8()? as i32).ok_or_else(|| malformed("unknown entry type"))?);
        e.term = r.u64()?;
        e.index = r.u64()?;
        e.data = r.bytes()?;
        e.context = r.bytes()?;
        decoded.push(e);
    }
    m.set_entries(decoded.into());
    if r.u8()? != 0 {
        let mut s = Snapshot::default();
        let meta = s.mut_metadata();
        meta.index = r.u64()?;
        meta.term = r.u64()?;
        let mut conf = ConfState::default();
        conf.voters = r.ids()?;
        conf.learners = r.ids()?;
        conf.voters_outgoing = r.ids()?;
        conf.learners_next = r.ids()?;
        conf.auto_leave = r.u8()? != 0;
        meta.set_conf_state(conf);
        s.data = r.bytes()?;
        m.set_snapshot(s);
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgAppend);
        (m.to, m.from, m.term, m.log_term, m.index, m.commit) = (2, 1, 7, 6, 40, 39);
        m.reject_hint = 3;
        m.context = Bytes::from_static(b"ctx");
        let mut e = Entry::default();
        (e.term, e.index) = (7, 41);
        e.data = Bytes::from_static(b"a record batch");
        m.set_entries(vec![e.clone(), e].into());
        let mut s = Snapshot::default();
        s.data = Bytes::from_static(b"snap");
        s.mut_metadata().index = 30;
        s.mut_metadata().mut_conf_state().voters = vec![1, 2, 3];
        m.set_snapshot(s);
        m
    }

    #[test]
    fn frames_round_trip() {
        let mut out = BytesMut::new();
        let messages = vec![(9, sample()), (u64::MAX, Message::default())];
        encode_frame(&messages, &mut out);
        let frame = split_frame(&mut out).unwrap().unwrap();
        assert!(out.is_empty());
        assert_eq!(decode_frame(frame).unwrap(), messages);
    }

    #[test]
    fn every_cut_and_every_flipped_byte_is_an_error_or_a_message_never_a_panic() {
        let mut out = BytesMut::new();
        encode_frame(&[(1, sample())], &mut out);
        let frame = split_frame(&mut out).unwrap().unwrap();
        for cut in 0..frame.len() {
            assert!(decode_frame(frame.slice(..cut)).is_err(), "cut at {cut}");
        }
        for at in 0..frame.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bytes = frame.to_vec();
                bytes[at] ^= flip;
                let _ = decode_frame(Bytes::from(bytes));
            }
        }
        let mut huge = BytesMut::from(&(MAX_FRAME as u32 + 1).to_be_bytes()[..]);
        assert!(split_frame(&mut huge).is_err());
    }
}
