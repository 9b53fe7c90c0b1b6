use thiserror::Error;

#[derive(Debug, Error)]
pub enum BrokerError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    InvalidConfig(String),
    #[error(transparent)]
    Storage(#[from] weir_storage::StorageError),
    #[error(transparent)]
    Protocol(#[from] weir_protocol::ProtocolError),
    #[error("{op}: {source}")]
    Io {
        op: String,
        #[source]
        source: std::io::Error,
    },
    #[error("metadata: {0}")]
    Metadata(String),
    /// A request of the admin CLI (`weir topic …`, `weir group …`) failed or was refused.
    #[error("{0}")]
    Client(String),
}
