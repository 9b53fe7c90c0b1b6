//! The APIs Weir implements and the version range of each. ApiVersions advertises exactly this
//! table, and requests outside it are refused before they reach a handler.

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::VersionRange;

/// Every API Weir serves, with the versions it serves. The ranges are the `kafka-protocol`
/// crate's full ranges (Kafka 4's baseline, KIP-896) unless a comment says why not.
pub const SUPPORTED_APIS: &[(ApiKey, VersionRange)] = &[
    (ApiKey::Produce, VersionRange { min: 3, max: 13 }),
    (ApiKey::Fetch, VersionRange { min: 4, max: 18 }),
    (ApiKey::ListOffsets, VersionRange { min: 1, max: 10 }),
    (ApiKey::Metadata, VersionRange { min: 0, max: 13 }),
    (ApiKey::ApiVersions, VersionRange { min: 0, max: 4 }),
    (ApiKey::CreateTopics, VersionRange { min: 2, max: 7 }),
    (ApiKey::DeleteTopics, VersionRange { min: 1, max: 6 }),
    (ApiKey::InitProducerId, VersionRange { min: 0, max: 5 }), // v6 is KIP-939 two-phase commit
    (ApiKey::OffsetForLeaderEpoch, VersionRange { min: 2, max: 4 }),
    (ApiKey::DescribeConfigs, VersionRange { min: 1, max: 4 }),
    (ApiKey::AlterConfigs, VersionRange { min: 0, max: 2 }),
    (ApiKey::IncrementalAlterConfigs, VersionRange { min: 0, max: 1 }),
    (ApiKey::CreatePartitions, VersionRange { min: 0, max: 3 }),
    (ApiKey::DescribeCluster, VersionRange { min: 0, max: 2 }),
    (ApiKey::FindCoordinator, VersionRange { min: 0, max: 6 }),
    (ApiKey::JoinGroup, VersionRange { min: 0, max: 9 }),
    (ApiKey::SyncGroup, VersionRange { min: 0, max: 5 }),
    (ApiKey::Heartbeat, VersionRange { min: 0, max: 4 }),
    (ApiKey::LeaveGroup, VersionRange { min: 0, max: 5 }),
    // v10 names topics by id in commits and fetches; clients fall back to v9.
    (ApiKey::OffsetCommit, VersionRange { min: 2, max: 9 }),
    (ApiKey::OffsetFetch, VersionRange { min: 1, max: 9 }),
    (ApiKey::DescribeGroups, VersionRange { min: 0, max: 6 }),
    (ApiKey::ListGroups, VersionRange { min: 0, max: 5 }),
    (ApiKey::DeleteGroups, VersionRange { min: 0, max: 2 }),
    (ApiKey::OffsetDelete, VersionRange { min: 0, max: 0 }),
    (ApiKey::DeleteRecords, VersionRange { min: 0, max: 2 }),
    (ApiKey::DescribeLogDirs, VersionRange { min: 1, max: 4 }),
    (ApiKey::DescribeProducers, VersionRange { min: 0, max: 0 }),
    (ApiKey::ElectLeaders, VersionRange { min: 0, max: 2 }),
    (ApiKey::AlterPartitionReassignments, VersionRange { min: 0, max: 1 }),
    (ApiKey::ListPartitionReassignments, VersionRange { min: 0, max: 0 }),
    // Transactions (KIP-98, KIP-447). The versions after these belong to KIP-890 part 2
    // (transaction version 2: an epoch bump per transaction, implicit AddPartitionsToTxn),
    // which clients use only when the broker advertises that feature; Weir does not.
    (ApiKey::AddPartitionsToTxn, VersionRange { min: 0, max: 4 }),
    (ApiKey::AddOffsetsToTxn, VersionRange { min: 0, max: 3 }),
    (ApiKey::EndTxn, VersionRange { min: 0, max: 4 }),
    (ApiKey::TxnOffsetCommit, VersionRange { min: 0, max: 3 }),
    (ApiKey::WriteTxnMarkers, VersionRange { min: 1, max: 1 }),
    (ApiKey::DescribeTransactions, VersionRange { min: 0, max: 0 }),
    // v2 adds a regular-expression filter on transactional ids (KIP-1152).
    (ApiKey::ListTransactions, VersionRange { min: 0, max: 1 }),
];

/// The versions of `api_key` Weir serves, or `None` when it does not serve that API at all.
pub fn supported_versions(api_key: ApiKey) -> Option<VersionRange> {
    SUPPORTED_APIS
        .iter()
        .find(|(key, _)| *key == api_key)
        .map(|(_, range)| *range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_range_is_within_what_the_codec_can_encode() {
        for (key, range) in SUPPORTED_APIS {
            let codec = key.valid_versions();
            assert!(range.min >= codec.min && range.max <= codec.max, "{key:?} {range}");
        }
    }
}

#[cfg(test)]
mod api_name_tests {
    #[test]
    fn every_supported_api_has_its_own_name() {
        let mut names: Vec<&str> = super::SUPPORTED_APIS.iter().map(|(key, _)| crate::request::api_name(*key)).collect();
        assert!(!names.contains(&"other"), "{names:?}");
        names.sort();
        names.dedup();
        assert_eq!(names.len(), super::SUPPORTED_APIS.len());
    }
}
