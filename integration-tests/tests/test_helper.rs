//! The in-process test helper (`weir::testing`): many ephemeral brokers side by side in one
//! process, each on its own port, each used by a real client, and nothing left behind.

use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use weir::testing::{BlockingTestBroker, TestBroker};
use weir_integration_tests::kafka::consume_all;

fn client(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap).set("broker.address.family", "v4");
    config
}

async fn produce_and_consume(bootstrap: String, topic: String, n: usize) {
    let producer: FutureProducer = client(&bootstrap).set("acks", "all").create().unwrap();
    for i in 0..n {
        producer
            .send(FutureRecord::to(&topic).key(&format!("k{i}")).payload(&format!("v{i}")), Duration::from_secs(20))
            .await
            .expect("produce");
    }
    let read = tokio::task::spawn_blocking(move || consume_all(&client(&bootstrap), &topic, 1, n, Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(read.len(), n);
    for (i, record) in read.iter().enumerate() {
        assert_eq!(record.value.as_deref(), Some(format!("v{i}").as_bytes()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_ephemeral_brokers_in_parallel_leave_nothing_behind() {
    let starting: Vec<_> = (0..10).map(|_| tokio::spawn(TestBroker::start())).collect();
    let mut brokers = Vec::new();
    for start in starting {
        brokers.push(start.await.expect("broker started"));
    }
    let mut addresses: Vec<&str> = brokers.iter().map(|b| b.bootstrap_servers()).collect();
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 10, "each broker has its own port");
    let dirs: Vec<_> = brokers.iter().map(|b| b.data_dir().to_owned()).collect();
    assert!(dirs.iter().all(|d| d.exists()));

    let work: Vec<_> = brokers
        .iter()
        .enumerate()
        .map(|(i, b)| tokio::spawn(produce_and_consume(b.bootstrap_servers().to_owned(), format!("t{i}"), 20)))
        .collect();
    for w in work {
        w.await.unwrap();
    }
    // Half stop gracefully, half are simply dropped.
    let mut brokers = brokers;
    let dropped = brokers.split_off(5);
    for broker in brokers {
        broker.shutdown().await.expect("clean shutdown");
    }
    drop(dropped);
    for dir in dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

#[test]
fn blocking_helper_for_plain_tests() {
    let broker = BlockingTestBroker::start();
    let dir = broker.data_dir().to_owned();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(produce_and_consume(broker.bootstrap_servers().to_owned(), "plain".into(), 5));
    drop(broker);
    assert!(!dir.exists());
}
