//! ApiVersions, including KIP-511's fallback for versions the broker does not know.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use weir_protocol::response::{encode_response, ResponseFrame};
use weir_protocol::versions::SUPPORTED_APIS;

pub fn handle(request: &ApiVersionsRequest, version: i16) -> ApiVersionsResponse {
    // v3+ names the client; Kafka refuses names and versions outside its pattern (KIP-511).
    if version >= 3 && !(valid_client_software(&request.client_software_name) && valid_client_software(&request.client_software_version)) {
        return ApiVersionsResponse::default().with_error_code(ResponseError::InvalidRequest.code());
    }
    // No features are advertised: tagged fields stay at their defaults and are not sent, which
    // older librdkafka (Debian's kcat) needs.
    ApiVersionsResponse::default().with_api_keys(api_keys())
}

/// Kafka's `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?` for client software names and versions.
fn valid_client_software(value: &str) -> bool {
    let bytes = value.as_bytes();
    let edge = |b: &u8| b.is_ascii_alphanumeric();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => edge(first) && edge(last) && bytes.iter().all(|b| edge(b) || *b == b'-' || *b == b'.'),
        _ => false,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_software_follows_kafkas_pattern() {
        for good in ["librdkafka", "apache-kafka-java", "3.9.1", "2.16.0-RC1", "a"] {
            assert!(valid_client_software(good), "{good}");
        }
        for bad in ["", "-x", "x-", "has space", "ü", "1.0."] {
            assert!(!valid_client_software(bad), "{bad}");
        }
    }
}
