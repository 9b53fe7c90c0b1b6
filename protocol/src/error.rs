use thiserror::Error;

/// Everything that can be wrong with bytes that arrived from a client.
#[derive(Debug, Error)]
pub enum ProtocolError {
    #[error("frame size {0} is negative")]
    NegativeFrameSize(i32),
    #[error("frame size {size} exceeds socket.request.max.bytes ({max})")]
    FrameTooLarge { size: usize, max: usize },
    #[error("request of {0} bytes is too short for a request header")]
    TruncatedHeader(usize),
    #[error("unknown api key {0}")]
    UnknownApiKey(i16),
    #[error("unsupported version {version} of api {api_key}")]
    UnsupportedVersion {
        api_key: i16,
        version: i16,
        correlation_id: i32,
    },
    #[error("malformed {api} v{version} request: {reason}")]
    Malformed {
        api: &'static str,
        version: i16,
        reason: String,
    },
    #[error("cannot encode response: {0}")]
    Encode(String),
}
