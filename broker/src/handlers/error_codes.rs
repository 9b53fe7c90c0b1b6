//! The error codes in each response, for `weir_request_errors_total` (Kafka's
//! `AbstractResponse.errorCounts`). Every error-code field of each response type, at any depth.
//! Written by walking the `kafka-protocol` message definitions; a new API needs its impl here
//! (`encode` requires it).

use kafka_protocol::messages::*;

/// Calls `add` with every error code a response carries (including 0, which is not counted).
pub trait ErrorCodes {
    fn error_codes(&self, add: &mut impl FnMut(i16));

    /// The non-zero codes and how often each occurs.
    fn error_counts(&self) -> Vec<(i16, u32)> {
        let mut counts: Vec<(i16, u32)> = Vec::new();
        self.error_codes(&mut |code| {
            if code != 0 {
                match counts.iter_mut().find(|(c, _)| *c == code) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((code, 1)),
                }
            }
        });
        counts
    }
}

impl ErrorCodes for ApiVersionsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
    }
}

impl ErrorCodes for MetadataResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.topics { add(a.error_code); for b in &a.partitions { add(b.error_code); } }
        add(self.error_code);
    }
}

impl ErrorCodes for DescribeClusterResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
    }
}

impl ErrorCodes for ProduceResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.responses { for b in &a.partition_responses { add(b.error_code); } }
    }
}

impl ErrorCodes for FetchResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
        for a in &self.responses { for b in &a.partitions { add(b.error_code); } }
    }
}

impl ErrorCodes for ListOffsetsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.topics { for b in &a.partitions { add(b.error_code); } }
    }
}

impl ErrorCodes for OffsetForLeaderEpochResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.topics { for b in &a.partitions { add(b.error_code); } }
    }
}

impl ErrorCodes for CreateTopicsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.topics { add(a.error_code); add(a.topic_config_error_code); }
    }
}

impl ErrorCodes for DeleteTopicsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.responses { add(a.error_code); }
    }
}

impl ErrorCodes for CreatePartitionsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.results { add(a.error_code); }
    }
}

impl ErrorCodes for DescribeConfigsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.results { add(a.error_code); }
    }
}

impl ErrorCodes for AlterConfigsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.responses { add(a.error_code); }
    }
}

impl ErrorCodes for IncrementalAlterConfigsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.responses { add(a.error_code); }
    }
}

impl ErrorCodes for InitProducerIdResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
    }
}

impl ErrorCodes for FindCoordinatorResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
        for a in &self.coordinators { add(a.error_code); }
    }
}

impl ErrorCodes for JoinGroupResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
    }
}

impl ErrorCodes for SyncGroupResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
    }
}

impl ErrorCodes for HeartbeatResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
    }
}

impl ErrorCodes for LeaveGroupResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
        for a in &self.members { add(a.error_code); }
    }
}

impl ErrorCodes for OffsetCommitResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.topics { for b in &a.partitions { add(b.error_code); } }
    }
}

impl ErrorCodes for OffsetFetchResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.topics { for b in &a.partitions { add(b.error_code); } }
        add(self.error_code);
        for a in &self.groups { for b in &a.topics { for c in &b.partitions { add(c.error_code); } } add(a.error_code); }
    }
}

impl ErrorCodes for DescribeGroupsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.groups { add(a.error_code); }
    }
}

impl ErrorCodes for ListGroupsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
    }
}

impl ErrorCodes for DeleteGroupsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.results { add(a.error_code); }
    }
}

impl ErrorCodes for OffsetDeleteResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
        for a in &self.topics { for b in &a.partitions { add(b.error_code); } }
    }
}

impl ErrorCodes for DeleteRecordsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.topics { for b in &a.partitions { add(b.error_code); } }
    }
}

impl ErrorCodes for DescribeLogDirsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
        for a in &self.results { add(a.error_code); }
    }
}

impl ErrorCodes for DescribeProducersResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.topics { for b in &a.partitions { add(b.error_code); } }
    }
}

impl ErrorCodes for ElectLeadersResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
        for a in &self.replica_election_results { for b in &a.partition_result { add(b.error_code); } }
    }
}

impl ErrorCodes for ListPartitionReassignmentsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
    }
}

impl ErrorCodes for AlterPartitionReassignmentsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
        for a in &self.responses { for b in &a.partitions { add(b.error_code); } }
    }
}


impl ErrorCodes for AddPartitionsToTxnResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
        for a in &self.results_by_transaction { for b in &a.topic_results { for c in &b.results_by_partition { add(c.partition_error_code); } } }
        for b in &self.results_by_topic_v3_and_below { for c in &b.results_by_partition { add(c.partition_error_code); } }
    }
}

impl ErrorCodes for AddOffsetsToTxnResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
    }
}

impl ErrorCodes for EndTxnResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
    }
}

impl ErrorCodes for TxnOffsetCommitResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.topics { for b in &a.partitions { add(b.error_code); } }
    }
}

impl ErrorCodes for WriteTxnMarkersResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.markers { for b in &a.topics { for c in &b.partitions { add(c.error_code); } } }
    }
}

impl ErrorCodes for DescribeTransactionsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        for a in &self.transaction_states { add(a.error_code); }
    }
}

impl ErrorCodes for ListTransactionsResponse {
    fn error_codes(&self, add: &mut impl FnMut(i16)) {
        add(self.error_code);
    }
}
