//! ApiVersions, including KIP-511's fallback for versions the broker does not know.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::ApiVersionsResponse;
use weir_protocol::response::{encode_response, ResponseFrame};
use weir_protocol::versions::SUPPORTED_APIS;

pub fn handle(_version: i16) -> ApiVersionsResponse {
    // No features are advertised: tagged fields stay at their defaults and are not sent, which
    // older librdkafka (Debian's kcat) needs.
    ApiVersionsResponse::default().with_api_keys(api_keys())
}

fn api_keys() -> Vec<ApiVersion> {
    SUPPORTED_APIS
        .iter()
        .map(|(key, range)| ApiVersion::default().with_api_key(*key as i16).with_min_version(range.min).with_max_version(range.max))
        .collect()
}

/// The answer to an ApiVersions request of a version newer than Weir knows: a v0-format
/// response with UNSUPPORTED_VERSION and the supported ranges, so the client can retry lower.
pub fn unsupported_version_response(correlation_id: i32) -> Option<ResponseFrame> {
    let body = ApiVersionsResponse::default().with_error_code(ResponseError::UnsupportedVersion.code()).with_api_keys(api_keys());
    encode_response(correlation_id, 0, &body, &[]).ok()
}
