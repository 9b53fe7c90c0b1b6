//! InitProducerId: a fresh producer id for an idempotent producer; for a transactional one,
//! its transactional id's producer id at the next epoch, from the transaction coordinator.

use std::sync::Arc;

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::server::Shared;
use crate::transactions::TransactionCoordinator;

/// KIP-588: PRODUCER_FENCED reaches InitProducerId clients from v4 on.
const FIRST_PRODUCER_FENCED_VERSION: i16 = 4;

pub async fn init_producer_id(shared: &Arc<Shared>, request: InitProducerIdRequest, version: i16) -> InitProducerIdResponse {
    let response = InitProducerIdResponse::default().with_producer_id(ProducerId(-1)).with_producer_epoch(-1);
    if let Some(transactional_id) = request.transactional_id.filter(|id| !id.is_empty()) {
        // KIP-360 (v3+): a producer re-initialising names its current id and epoch.
        let expected = (request.producer_id.0 >= 0).then_some((request.producer_id.0, request.producer_epoch));
        return match TransactionCoordinator::init_producer_id(shared, &transactional_id, request.transaction_timeout_ms, expected).await {
            Ok((id, epoch)) => response.with_producer_id(ProducerId(id)).with_producer_epoch(epoch),
            Err(e) => response.with_error_code(super::transactions::fenced_for(e, version, FIRST_PRODUCER_FENCED_VERSION).code()),
        };
    }
    // An idempotent producer (re)initialising always gets a fresh id at epoch 0, as Kafka does.
    match shared.metadata.next_producer_id().await {
        Ok(id) => response.with_producer_id(ProducerId(id)).with_producer_epoch(0),
        Err(refusal) => response.with_error_code(refusal.code()),
    }
}
