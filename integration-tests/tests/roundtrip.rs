//! Produce with every codec, keys and headers through librdkafka; read everything back and
//! compare; restart the broker cleanly and read it all again.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use weir_integration_tests::kafka::{by_key, consume_all, create_topic, Received};
use weir_integration_tests::Weir;

const PER_CODEC: usize = 200;

/// What was produced under a key: value, headers, and where it was acknowledged.
type Sent = (Option<Vec<u8>>, Vec<(String, Option<Vec<u8>>)>, i32, i64);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_round_trips_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let weir = Weir::start(&data, &[]);
    let topic = "roundtrip";
    create_topic(&weir.client_config(), topic, 3, &[]).await;

    let mut sent: BTreeMap<Vec<u8>, Sent> = BTreeMap::new();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let producer: FutureProducer = weir
            .client_config()
            .set("compression.type", codec)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create()
            .expect("producer");
        let sends: Vec<_> = (0..PER_CODEC)
            .map(|i| {
                let key = format!("{codec}-{i:04}");
                // Every tenth value is null (a tombstone); values vary in size and content.
                let value = (i % 10 != 3).then(|| format!("{codec} value {i} {}", "x".repeat(i % 97)).into_bytes());
                let headers = vec![("codec".to_string(), Some(codec.as_bytes().to_vec())), ("i".to_string(), Some(i.to_string().into_bytes()))];
                let mut owned = OwnedHeaders::new();
                for (k, v) in &headers {
                    owned = owned.insert(Header { key: k, value: v.as_deref() });
                }
                let producer = producer.clone();
                let record_key = key.clone();
                let record_value = value.clone();
                let send = async move {
                    let mut record = FutureRecord::to(topic).key(record_key.as_bytes()).headers(owned);
                    if let Some(v) = &record_value {
                        record = record.payload(v.as_slice());
                    }
                    producer.send(record, Duration::from_secs(30)).await
                };
                (key, value, headers, send)
            })
            .collect();
        for (key, value, headers, send) in sends {
            let delivery = send.await.unwrap_or_else(|(e, _)| panic!("{codec} produce failed: {e}"));
            sent.insert(key.into_bytes(), (value, headers, delivery.partition, delivery.offset));
        }
    }

    let check = |received: Vec<Received>| {
        assert_eq!(received.len(), sent.len(), "record count");
        let received = by_key(&received);
        for (key, (value, headers, partition, offset)) in &sent {
            let got = received.get(key).unwrap_or_else(|| panic!("missing {}", String::from_utf8_lossy(key)));
            assert_eq!(&got.value, value, "value of {}", String::from_utf8_lossy(key));
            assert_eq!(&got.headers, headers);
            assert_eq!((got.partition, got.offset), (*partition, *offset), "position of {}", String::from_utf8_lossy(key));
        }
    };
    check(consume_all(&weir.client_config(), topic, 3, sent.len(), Duration::from_secs(30)));

    let status = weir.terminate();
    assert!(status.success(), "clean exit: {status:?}");
    assert!(data.join(".weir-clean-shutdown").exists(), "clean-shutdown marker written");

    let weir = Weir::start(&data, &[]);
    check(consume_all(&weir.client_config(), topic, 3, sent.len(), Duration::from_secs(30)));
    assert!(!weir.log_text().contains("will be recovered"), "a clean restart does not recover");
}
