//! Malformed frames, unknown APIs and unsupported versions: the offending connection is
//! answered or closed the way Kafka does, and the broker keeps serving everyone else.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use weir_integration_tests::kafka::consume_all;
use weir_integration_tests::Weir;

fn connect(weir: &Weir) -> TcpStream {
    let stream = TcpStream::connect(&weir.addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

/// Sends raw bytes and reports whether the broker closed the connection (EOF) without answering.
fn closes_after(weir: &Weir, bytes: &[u8]) -> bool {
    let mut stream = connect(weir);
    stream.write_all(bytes).unwrap();
    let mut buf = [0u8; 64];
    matches!(stream.read(&mut buf), Ok(0)) || matches!(stream.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut bytes = (body.len() as i32).to_be_bytes().to_vec();
    bytes.extend_from_slice(body);
    bytes
}

fn header(api_key: i16, version: i16, correlation_id: i32) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&api_key.to_be_bytes());
    bytes.extend_from_slice(&version.to_be_bytes());
    bytes.extend_from_slice(&correlation_id.to_be_bytes());
    bytes.extend_from_slice(&(-1i16).to_be_bytes()); // null client id
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_closes_only_the_offending_connection() {
    let dir = tempfile::tempdir().unwrap();
    let weir = Weir::start(&dir.path().join("data"), &[]);
    // A bystander connection opened before the abuse must keep working after it.
    let mut bystander = connect(&weir);

    assert!(closes_after(&weir, &(-5i32).to_be_bytes()), "negative frame size");
    assert!(closes_after(&weir, &(200 * 1024 * 1024i32).to_be_bytes()), "frame over socket.request.max.bytes");
    assert!(closes_after(&weir, &frame(&header(9_999, 0, 1))), "unknown api key");
    assert!(closes_after(&weir, &frame(&header(0, 99, 1))), "unsupported Produce version");
    assert!(closes_after(&weir, &frame(&[0, 3])), "frame shorter than a header");
    let mut garbage = header(3, 9, 7); // Metadata v9 (flexible) with a body of junk
    garbage.extend_from_slice(&[0xff; 40]);
    assert!(closes_after(&weir, &frame(&garbage)), "undecodable body");
    // Array counts far larger than the frame must fail to decode, not exhaust memory.
    for count in [0x0100_0000i32, i32::MAX] {
        let mut lying = header(3, 1, 8);
        lying.extend_from_slice(&count.to_be_bytes());
        assert!(closes_after(&weir, &frame(&lying)), "lying array length {count}");
    }

    // KIP-511: an ApiVersions version from the future gets a v0 answer with UNSUPPORTED_VERSION.
    let mut stream = connect(&weir);
    stream.write_all(&frame(&header(18, 99, 42))).unwrap();
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).unwrap();
    let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut body).unwrap();
    assert_eq!(&body[0..4], &42i32.to_be_bytes(), "correlation id");
    assert_eq!(&body[4..6], &35i16.to_be_bytes(), "UNSUPPORTED_VERSION");
    assert!(i32::from_be_bytes(body[6..10].try_into().unwrap()) > 5, "the supported ranges are listed");

    // The bystander still gets answers: ApiVersions v0.
    bystander.write_all(&frame(&header(18, 0, 5))).unwrap();
    bystander.read_exact(&mut size).unwrap();
    let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
    bystander.read_exact(&mut body).unwrap();
    assert_eq!(&body[0..6], &[0, 0, 0, 5, 0, 0]);

    // And real clients produce and consume as before.
    let producer: FutureProducer = weir.client_config().set("acks", "all").create().unwrap();
    producer
        .send(FutureRecord::to("after-abuse").key("k").payload("still serving"), Duration::from_secs(20))
        .await
        .expect("produce after malformed input");
    let read = consume_all(&weir.client_config(), "after-abuse", 1, 1, Duration::from_secs(20));
    assert_eq!(read[0].value.as_deref(), Some(&b"still serving"[..]));
    let mut weir = weir;
    assert!(weir.is_running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_and_oversized_batches_get_kafka_error_codes() {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    let dir = tempfile::tempdir().unwrap();
    let weir = Weir::start_with_env(&dir.path().join("data"), &[], &[("WEIR_MESSAGE_MAX_BYTES", "2000")]);
    let producer: FutureProducer = weir.client_config().set("message.max.bytes", "100000").set("acks", "1").create().unwrap();
    let result = producer.send(FutureRecord::to("limits").key("big").payload(&vec![b'x'; 10_000]), Duration::from_secs(20)).await;
    match result {
        Err((KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge), _)) => {}
        other => panic!("expected MESSAGE_TOO_LARGE, got {other:?}"),
    }
    producer
        .send(FutureRecord::to("limits").key("small").payload("fits"), Duration::from_secs(20))
        .await
        .expect("a batch under message.max.bytes is accepted");
}

/// A tmpfs of fixed size mounted for one test (needs root, as CI has); unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: &std::path::Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(path).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .ok()?;
        status.success().then(|| SmallDisk(path.to_owned()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_gives_kafka_storage_error_and_loses_nothing() {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&dir.path().join("disk"), "8m") else {
        eprintln!("SKIPPED: mounting a tmpfs needs root");
        return;
    };
    let weir = Weir::start_with_env(&disk.0.join("data"), &[], &[("WEIR_LOG_SEGMENT_BYTES", "3145728")]);
    let producer: FutureProducer = weir
        .client_config()
        .set("acks", "all")
        .set("retries", "0")
        .set("enable.idempotence", "false")
        .set("message.timeout.ms", "10000")
        .create()
        .unwrap();
    let value = vec![b'x'; 64 * 1024];
    let mut acked = Vec::new();
    let mut storage_error = false;
    for i in 0..400 {
        match producer.send(FutureRecord::to("filling").key(&format!("{i}")).payload(&value), Duration::from_secs(20)).await {
            Ok(delivery) => acked.push(delivery.offset),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::KafkaStorageError), _)) => {
                storage_error = true;
                break;
            }
            Err((e, _)) => panic!("unexpected error {e}"),
        }
    }
    assert!(storage_error, "8 MiB filled without KAFKA_STORAGE_ERROR ({} acked)", acked.len());
    assert!(!acked.is_empty());
    let mut weir = weir;
    assert!(weir.is_running(), "the broker survives a full disk");
    let read = consume_all(&weir.client_config(), "filling", 1, acked.len(), Duration::from_secs(30));
    let offsets: Vec<i64> = read.iter().map(|r| r.offset).collect();
    assert_eq!(&offsets[..acked.len()], &acked[..], "every acknowledged record is readable");
    drop(weir);
}
