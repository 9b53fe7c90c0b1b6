//! Weir's wire layer: Kafka framing, request decoding and dispatch over the `kafka-protocol`
//! crate's generated messages, the API version ranges Weir implements, response encoding that
//! never copies record data, and a view over the v2 record-batch header.
//!
//! No I/O happens here: callers feed bytes in and get bytes (or typed messages) out.

pub mod batch;
pub mod client;
mod error;
pub mod frame;
pub mod request;
pub mod response;
pub mod versions;

pub use error::ProtocolError;
pub use kafka_protocol;
