//! InitProducerId for idempotent producers (transactions are not offered yet).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use tracing::warn;

use crate::server::Shared;

pub async fn init_producer_id(shared: &Arc<Shared>, request: InitProducerIdRequest) -> InitProducerIdResponse {
    let response = InitProducerIdResponse::default();
    if let Some(transactional_id) = request.transactional_id {
        warn!(transactional_id = %transactional_id.0, "transactional producer refused: transactions are not supported");
        return response.with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
    }
    // An idempotent producer (re)initialising always gets a fresh id at epoch 0, as Kafka does.
    match shared.metadata.next_producer_id().await {
        Ok(id) => response.with_producer_id(ProducerId(id)).with_producer_epoch(0),
        Err(refusal) => response.with_error_code(refusal.code()),
    }
}
