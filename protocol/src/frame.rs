//! Kafka framing: every request and response is a 4-byte big-endian size followed by that many
//! bytes.

use bytes::{Buf, Bytes, BytesMut};

use crate::ProtocolError;

/// Kafka's default for `socket.request.max.bytes`.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 100 * 1024 * 1024;

/// Splits one complete frame off the front of `buf`, or returns `None` when more bytes are
/// needed. A negative or oversized length is an error: Kafka closes such connections, because
/// the rest of the stream can no longer be trusted.
pub fn decode_frame(buf: &mut BytesMut, max_frame_bytes: usize) -> Result<Option<Bytes>, ProtocolError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if size < 0 {
        return Err(ProtocolError::NegativeFrameSize(size));
    }
    let size = size as usize;
    if size > max_frame_bytes {
        return Err(ProtocolError::FrameTooLarge { size, max: max_frame_bytes });
    }
    if buf.len() < 4 + size {
        buf.reserve(4 + size - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(size).freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_a_whole_frame() {
        let mut buf = BytesMut::from(&[0, 0, 0, 3, 1, 2][..]);
        assert!(decode_frame(&mut buf, 10).unwrap().is_none());
        buf.extend_from_slice(&[3, 0]);
        assert_eq!(&decode_frame(&mut buf, 10).unwrap().unwrap()[..], &[1, 2, 3]);
        assert_eq!(&buf[..], &[0]);
    }

    #[test]
    fn rejects_negative_and_oversized_frames() {
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(matches!(decode_frame(&mut buf, 10), Err(ProtocolError::NegativeFrameSize(-1))));
        let mut buf = BytesMut::from(&[0, 0, 0, 11][..]);
        assert!(matches!(decode_frame(&mut buf, 10), Err(ProtocolError::FrameTooLarge { size: 11, max: 10 })));
    }
}
