//! Weir as the Kafka of a test suite: an ephemeral broker on a free loopback port, started in
//! process, stopped and cleaned up when the handle is dropped.
//!
//! ```no_run
//! # async fn demo() {
//! let broker = weir::testing::TestBroker::start().await;
//! let bootstrap = broker.bootstrap_servers(); // e.g. "127.0.0.1:41237"
//! // … point any Kafka client at `bootstrap` …
//! # }
//! ```

use std::path::PathBuf;

use crate::{Broker, BrokerError, Config};

fn ephemeral_config(config: Config) -> Config {
    let mut config = config.with("listeners", "127.0.0.1:0");
    config.ephemeral = true;
    config
}

/// An ephemeral broker for async tests. Dropping it stops the broker and removes its data.
pub struct TestBroker {
    broker: Option<Broker>,
    bootstrap: String,
    data_dir: PathBuf,
}

impl TestBroker {
    /// Starts an ephemeral broker with default settings on a free port. Panics if it cannot
    /// (tests want the failure at the line that asked for a broker).
    pub async fn start() -> TestBroker {
        TestBroker::start_with(Config::new()).await.expect("start an ephemeral weir broker")
    }

    /// Starts one with extra settings (Kafka property names: `num.partitions`, …).
    pub async fn start_with(config: Config) -> Result<TestBroker, BrokerError> {
        let broker = Broker::start(ephemeral_config(config)).await?;
        Ok(TestBroker { bootstrap: broker.bootstrap_servers(), data_dir: broker.data_dir().to_owned(), broker: Some(broker) })
    }

    /// `host:port` for a client's `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// The temporary data directory (gone once the broker stops).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// Stops the broker and waits until it has finished and its data is removed.
    pub async fn shutdown(mut self) -> Result<(), BrokerError> {
        match self.broker.take() {
            Some(broker) => broker.shutdown().await,
            None => Ok(()),
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(broker) = self.broker.take() {
            // Drop cannot wait: ask the broker to stop, and remove the data directory now (the
            // broker's remaining mappings stay valid after the files are unlinked).
            broker.stopper().stop();
            drop(broker);
        }
    }
}

/// An ephemeral broker for plain `#[test]` functions: runs on its own runtime thread.
/// Dropping it stops the broker, waits for it, and removes its data.
pub struct BlockingTestBroker {
    runtime: Option<tokio::runtime::Runtime>,
    broker: Option<Broker>,
    bootstrap: String,
    data_dir: PathBuf,
}

impl BlockingTestBroker {
    pub fn start() -> BlockingTestBroker {
        BlockingTestBroker::start_with(Config::new()).expect("start an ephemeral weir broker")
    }

    pub fn start_with(config: Config) -> Result<BlockingTestBroker, BrokerError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("weir-test-broker")
            .enable_all()
            .build()
            .map_err(|e| BrokerError::Io { op: "start a runtime".into(), source: e })?;
        let broker = runtime.block_on(Broker::start(ephemeral_config(config)))?;
        Ok(BlockingTestBroker {
            bootstrap: broker.bootstrap_servers(),
            data_dir: broker.data_dir().to_owned(),
            broker: Some(broker),
            runtime: Some(runtime),
        })
    }

    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }
}

impl Drop for BlockingTestBroker {
    fn drop(&mut self) {
        if let (Some(runtime), Some(broker)) = (self.runtime.take(), self.broker.take()) {
            let _ = runtime.block_on(broker.shutdown());
            runtime.shutdown_background();
        }
    }
}
