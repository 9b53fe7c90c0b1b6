//! Turning a frame into a typed request.

use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};
use kafka_protocol::protocol::Decodable;

use crate::versions::supported_versions;
use crate::ProtocolError;

/// A decoded request: its header and its typed body.
#[derive(Debug)]
pub struct Request {
    pub api_key: ApiKey,
    pub header: RequestHeader,
    pub body: RequestKind,
}

impl Request {
    pub fn version(&self) -> i16 {
        self.header.request_api_version
    }
    pub fn correlation_id(&self) -> i32 {
        self.header.correlation_id
    }
}

/// The first 8 bytes of every request header, readable whatever the API and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPrefix {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
}

impl RequestPrefix {
    pub fn parse(frame: &[u8]) -> Result<RequestPrefix, ProtocolError> {
        if frame.len() < 8 {
            return Err(ProtocolError::TruncatedHeader(frame.len()));
        }
        Ok(RequestPrefix {
            api_key: i16::from_be_bytes([frame[0], frame[1]]),
            api_version: i16::from_be_bytes([frame[2], frame[3]]),
            correlation_id: i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]),
        })
    }
}

/// Decodes one request frame. Unknown APIs, versions outside [`crate::versions::SUPPORTED_APIS`]
/// and bodies that do not decode are errors; the caller decides how Kafka answers each.
pub fn decode_request(mut frame: Bytes) -> Result<Request, ProtocolError> {
    let prefix = RequestPrefix::parse(&frame)?;
    let api_key = ApiKey::try_from(prefix.api_key).map_err(|_| ProtocolError::UnknownApiKey(prefix.api_key))?;
    let supported = supported_versions(api_key).filter(|range| {
        prefix.api_version >= range.min && prefix.api_version <= range.max
    });
    if supported.is_none() {
        return Err(ProtocolError::UnsupportedVersion {
            api_key: prefix.api_key,
            version: prefix.api_version,
            correlation_id: prefix.correlation_id,
        });
    }
    let malformed = |reason: String| ProtocolError::Malformed {
        api: api_name(api_key),
        version: prefix.api_version,
        reason,
    };
    // The generated decoders report short input as errors; the unwind guard is a second line of
    // defence so that no byte pattern can take a connection task down with a panic.
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        let header_version = api_key.request_header_version(prefix.api_version);
        let header = RequestHeader::decode(&mut frame, header_version)?;
        let body = RequestKind::decode(api_key, &mut frame, prefix.api_version)?;
        Ok::<_, anyhow::Error>((header, body))
    }));
    match decoded {
        Ok(Ok((header, body))) => Ok(Request { api_key, header, body }),
        Ok(Err(error)) => Err(malformed(error.to_string())),
        Err(_) => Err(malformed("decoder panicked".into())),
    }
}

/// A readable API name for logs and errors.
pub fn api_name(api_key: ApiKey) -> &'static str {
    match api_key {
        ApiKey::Produce => "Produce",
        ApiKey::Fetch => "Fetch",
        ApiKey::ListOffsets => "ListOffsets",
        ApiKey::Metadata => "Metadata",
        ApiKey::ApiVersions => "ApiVersions",
        ApiKey::CreateTopics => "CreateTopics",
        ApiKey::DeleteTopics => "DeleteTopics",
        ApiKey::InitProducerId => "InitProducerId",
        ApiKey::OffsetForLeaderEpoch => "OffsetForLeaderEpoch",
        ApiKey::DescribeConfigs => "DescribeConfigs",
        ApiKey::CreatePartitions => "CreatePartitions",
        ApiKey::DescribeCluster => "DescribeCluster",
        ApiKey::FindCoordinator => "FindCoordinator",
        ApiKey::JoinGroup => "JoinGroup",
        ApiKey::SyncGroup => "SyncGroup",
        ApiKey::Heartbeat => "Heartbeat",
        ApiKey::LeaveGroup => "LeaveGroup",
        ApiKey::OffsetCommit => "OffsetCommit",
        ApiKey::OffsetFetch => "OffsetFetch",
        ApiKey::DescribeGroups => "DescribeGroups",
        ApiKey::ListGroups => "ListGroups",
        ApiKey::DeleteGroups => "DeleteGroups",
        ApiKey::OffsetDelete => "OffsetDelete",
        ApiKey::AlterConfigs => "AlterConfigs",
        ApiKey::IncrementalAlterConfigs => "IncrementalAlterConfigs",
        ApiKey::DeleteRecords => "DeleteRecords",
        ApiKey::DescribeLogDirs => "DescribeLogDirs",
        ApiKey::DescribeProducers => "DescribeProducers",
        ApiKey::ElectLeaders => "ElectLeaders",
        ApiKey::AlterPartitionReassignments => "AlterPartitionReassignments",
        ApiKey::ListPartitionReassignments => "ListPartitionReassignments",
        ApiKey::AddPartitionsToTxn => "AddPartitionsToTxn",
        ApiKey::AddOffsetsToTxn => "AddOffsetsToTxn",
        ApiKey::EndTxn => "EndTxn",
        ApiKey::TxnOffsetCommit => "TxnOffsetCommit",
        ApiKey::WriteTxnMarkers => "WriteTxnMarkers",
        ApiKey::DescribeTransactions => "DescribeTransactions",
        ApiKey::ListTransactions => "ListTransactions",
        _ => "other",
    }
}
