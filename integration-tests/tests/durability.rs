//! `kill -9` in the middle of acks=all production: after a restart every acknowledged record
//! is there (at the offset it was acknowledged with), and the log accepts new writes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use weir_integration_tests::kafka::{consume_to_end, create_topic};
use weir_integration_tests::{eventually, open_files, Weir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let weir = Weir::start(&data, &[]);
    let topic = "durable";
    create_topic(&weir.client_config(), topic, 2, &[]).await;

    let producer: FutureProducer = weir
        .client_config()
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "1")
        .set("message.timeout.ms", "5000")
        .create()
        .expect("producer");
    let acked = Arc::new(Mutex::new(Vec::new()));
    // Producers keep sending while the broker is killed under them.
    let mut senders = Vec::new();
    for worker in 0..4 {
        let producer = producer.clone();
        let acked = acked.clone();
        senders.push(tokio::spawn(async move {
            for i in 0..100_000 {
                let key = format!("w{worker}-{i:06}");
                let value = vec![b'v'; 512];
                match producer.send(FutureRecord::to(topic).key(&key).payload(&value), Duration::from_secs(5)).await {
                    Ok(delivery) => acked.lock().unwrap().push((key, delivery.partition, delivery.offset)),
                    Err(_) => break,
                }
            }
        }));
    }
    eventually(Duration::from_secs(60), "2000 acknowledged records", || (acked.lock().unwrap().len() >= 2000).then_some(()));
    weir.kill9();
    for sender in senders {
        let _ = tokio::time::timeout(Duration::from_secs(30), sender).await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 2000);

    let weir = Weir::start(&data, &[]);
    assert!(weir.log_text().contains("will be recovered"), "an unclean restart recovers");
    let received = consume_to_end(&weir.client_config(), topic, 2, Duration::from_secs(60));
    let positions: std::collections::HashMap<String, (i32, i64)> = received
        .iter()
        .map(|r| (String::from_utf8(r.key.clone().unwrap()).unwrap(), (r.partition, r.offset)))
        .collect();
    for (key, partition, offset) in &acked {
        assert_eq!(positions.get(key), Some(&(*partition, *offset)), "acknowledged record {key} lost or moved");
    }
    // Offsets are dense and unique per partition: nothing duplicated, nothing reordered.
    for p in 0..2 {
        let mut offsets: Vec<i64> = received.iter().filter(|r| r.partition == p).map(|r| r.offset).collect();
        let n = offsets.len();
        offsets.dedup();
        assert_eq!(offsets.len(), n, "duplicate offsets in partition {p}");
    }

    // And the recovered log takes new writes after the old ones.
    let producer: FutureProducer = weir.client_config().set("acks", "all").create().expect("producer");
    let delivery = producer
        .send(FutureRecord::to(topic).key("after").payload("restart").partition(0), Duration::from_secs(10))
        .await
        .expect("produce after recovery");
    let max_acked = acked.iter().filter(|(_, p, _)| *p == 0).map(|(_, _, o)| *o).max().unwrap_or(-1);
    assert!(delivery.offset > max_acked);
}

/// A data directory is locked: a second broker on it refuses to start (and says why), and the
/// first keeps serving.
#[test]
fn a_second_broker_cannot_open_a_data_directory_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _first = Weir::start(&data, &[]);
    let output = std::process::Command::new(weir_integration_tests::weir_binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run weir");
    assert!(!output.status.success(), "the second broker must not start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in use by another process"), "{stderr}");
}

/// A broker with more partitions than it may open files: segment files are opened on demand
/// and closed when the process is over its budget, so every partition still takes acks=all
/// writes, serves reads, and keeps what it acknowledged through `kill -9`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_partitions_than_open_files() {
    const LIMIT: u64 = 256;
    const PARTITIONS: i32 = 600;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let weir = Weir::start_with_open_file_limit(&data, &[], LIMIT);
    let topic = "wide";
    create_topic(&weir.client_config(), topic, PARTITIONS, &[]).await;

    let producer: FutureProducer = weir
        .client_config()
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "60000")
        .create()
        .expect("producer");
    let sends: Vec<_> = (0..PARTITIONS * 3)
        .map(|i| {
            let producer = producer.clone();
            tokio::spawn(async move {
                let key = format!("k{i:05}");
                let delivery = producer.send(FutureRecord::to(topic).key(&key).payload("v").partition(i % PARTITIONS), Duration::from_secs(60)).await;
                let delivery = delivery.unwrap_or_else(|(e, _)| panic!("record {key} not acknowledged: {e}"));
                (key, (delivery.partition, delivery.offset))
            })
        })
        .collect();
    let mut acked = std::collections::HashMap::new();
    for send in sends {
        let (key, position) = send.await.expect("send task");
        acked.insert(key, position);
    }
    let open = open_files(weir.pid()).unwrap() as u64;
    assert!(open < LIMIT, "{open} descriptors open");

    let positions = |weir: &Weir| -> std::collections::HashMap<String, (i32, i64)> {
        consume_to_end(&weir.client_config(), topic, PARTITIONS, Duration::from_secs(120))
            .into_iter()
            .map(|r| (String::from_utf8(r.key.unwrap()).unwrap(), (r.partition, r.offset)))
            .collect()
    };
    assert_eq!(positions(&weir), acked, "read back before the crash");
    weir.kill9();
    let weir = Weir::start_with_open_file_limit(&data, &[], LIMIT);
    assert_eq!(positions(&weir), acked, "read back after kill -9");
    assert!(!weir.log_text().contains("Too many open files"), "{}", weir.log_text());
}
