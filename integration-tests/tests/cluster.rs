//! A 3-broker Weir cluster on loopback, driven by librdkafka (the rdkafka crate) through
//! faults: the leader `kill -9`-ed, a broker paused, a broker's Raft port cut, a rolling
//! restart. Afterwards everything acknowledged is read back at the offset its acknowledgement
//! named, nothing twice (idempotent producer), and offsets only grew.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use weir_integration_tests::cluster::TestCluster;
use weir_integration_tests::eventually;

const PARTITIONS: i32 = 3;

fn create_topic(cluster: &TestCluster, name: &str, partitions: i32, replication: i32) {
    let admin: AdminClient<DefaultClientContext> = cluster.client_config().create().expect("admin client");
    let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(replication));
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(20))).request_timeout(Some(Duration::from_secs(30)));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let results = runtime.block_on(admin.create_topics(&[topic], &options)).expect("create_topics");
    for result in results {
        result.unwrap_or_else(|(topic, e)| panic!("creating {topic}: {e}"));
    }
}

/// Every acknowledgement (partition, offset, value) and every failed delivery.
#[derive(Default)]
struct Deliveries {
    acked: Mutex<Vec<(i32, i64, String)>>,
    failed: Mutex<Vec<String>>,
}

struct Recorder(Arc<Deliveries>);

impl ClientContext for Recorder {}

impl ProducerContext for Recorder {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(message) => {
                let value = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
                self.0.acked.lock().unwrap().push((message.partition(), message.offset(), value));
            }
            Err((e, _)) => self.0.failed.lock().unwrap().push(e.to_string()),
        }
    }
}

/// An idempotent acks=all producer writing unique values to `topic` on its own thread until
/// stopped.
struct Load {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<usize>,
    deliveries: Arc<Deliveries>,
}

impl Load {
    fn start(cluster: &TestCluster, topic: &str) -> Load {
        let deliveries = Arc::new(Deliveries::default());
        let producer: ThreadedProducer<Recorder> = cluster
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "120000")
            .create_with_context(Recorder(deliveries.clone()))
            .expect("producer");
        let stop = Arc::new(AtomicBool::new(false));
        let (topic, stopping) = (topic.to_owned(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut sent = 0usize;
            while !stopping.load(Ordering::SeqCst) {
                let value = format!("v{sent}");
                match producer.send(BaseRecord::<(), _>::to(&topic).payload(&value)) {
                    Ok(()) => sent += 1,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => std::thread::sleep(Duration::from_millis(5)),
                    Err((e, _)) => panic!("produce: {e}"),
                }
                std::thread::sleep(Duration::from_micros(500));
            }
            producer.flush(Duration::from_secs(120)).expect("every record delivered or failed");
            sent
        });
        Load { stop, thread, deliveries }
    }

    /// Stops producing, waits for every delivery report; returns the acknowledgements.
    fn finish(self) -> Vec<(i32, i64, String)> {
        self.stop.store(true, Ordering::SeqCst);
        let sent = self.thread.join().expect("producer thread");
        let failed = self.deliveries.failed.lock().unwrap().clone();
        assert!(failed.is_empty(), "{} of {sent} deliveries failed: {:?}", failed.len(), &failed[..failed.len().min(5)]);
        let acked = self.deliveries.acked.lock().unwrap().clone();
        assert_eq!(acked.len(), sent, "every record sent was acknowledged");
        acked
    }
}

/// Reads every partition from the beginning and checks the history: each acknowledged record
/// at the offset its acknowledgement named, no value twice, and acknowledged offsets growing
/// in acknowledgement order within each partition.
fn check_history(cluster: &TestCluster, topic: &str, acked: &[(i32, i64, String)]) {
    let mut last: HashMap<i32, i64> = HashMap::new();
    for (partition, offset, value) in acked {
        let previous = last.insert(*partition, *offset).unwrap_or(-1);
        assert!(*offset > previous, "partition {partition}: {value} acknowledged at {offset} after {previous}");
    }
    let consumer: BaseConsumer = cluster.client_config().set("group.id", "checker").set("enable.auto.commit", "false").create().expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        assignment.add_partition_offset(topic, p, Offset::Beginning).expect("assignment");
    }
    consumer.assign(&assignment).expect("assign");
    let mut read: BTreeMap<String, (i32, i64)> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while read.len() < acked.len() && Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            let value = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
            let at = (message.partition(), message.offset());
            if let Some(earlier) = read.insert(value.clone(), at) {
                panic!("{value} read twice: at {earlier:?} and at {at:?}");
            }
        }
    }
    for (partition, offset, value) in acked {
        assert_eq!(read.get(value), Some(&(*partition, *offset)), "acknowledged {value} at {partition}/{offset}");
    }
}

/// Waits until Metadata shows every replica of every partition of `topic` in sync.
fn wait_in_sync(cluster: &TestCluster, topic: &str) {
    let consumer: BaseConsumer = cluster.client_config().create().expect("metadata client");
    eventually(Duration::from_secs(60), "every replica back in sync", || {
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(2)).ok()?;
        let partitions = metadata.topics().first()?.partitions();
        (partitions.len() == PARTITIONS as usize && partitions.iter().all(|p| p.isr().len() == cluster.size())).then_some(())
    });
}

#[test]
fn acks_all_loses_nothing_when_the_leader_is_killed() {
    let mut cluster = TestCluster::start(3, &[]);
    create_topic(&cluster, "orders", PARTITIONS, 3);
    let load = Load::start(&cluster, "orders");
    std::thread::sleep(Duration::from_millis(1500));
    let leader = cluster.leader_of("orders", 0);
    cluster.kill9(leader);
    std::thread::sleep(Duration::from_secs(2));
    cluster.restart(leader);
    std::thread::sleep(Duration::from_secs(1));
    let acked = load.finish();
    assert!(acked.len() > 100, "the load ran: {} records", acked.len());
    check_history(&cluster, "orders", &acked);
    // The killed broker caught up and rejoined every partition's in-sync replicas.
    wait_in_sync(&cluster, "orders");
}

#[test]
fn acks_all_loses_nothing_through_a_pause_and_a_cut_raft_port() {
    let cluster = TestCluster::start(3, &[]);
    create_topic(&cluster, "events", PARTITIONS, 3);
    let load = Load::start(&cluster, "events");
    std::thread::sleep(Duration::from_secs(1));
    let paused = cluster.leader_of("events", 0);
    cluster.pause(paused);
    std::thread::sleep(Duration::from_secs(3));
    cluster.resume(paused);
    std::thread::sleep(Duration::from_secs(1));
    let cut = cluster.leader_of("events", 1);
    cluster.cut_raft(cut);
    std::thread::sleep(Duration::from_secs(3));
    cluster.heal_raft(cut);
    std::thread::sleep(Duration::from_secs(1));
    let acked = load.finish();
    check_history(&cluster, "events", &acked);
    wait_in_sync(&cluster, "events");
}

/// The Java client (kafka-clients 3.9.1, its defaults: acks=all, idempotence) through a
/// `kill -9` of the leader it writes to.
#[test]
fn java_producer_loses_nothing_when_the_leader_is_killed() {
    let mut cluster = TestCluster::start(3, &[]);
    create_topic(&cluster, "payments", PARTITIONS, 3);
    let clients = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients");
    let java = std::process::Command::new("bash")
        .arg(clients.join("java/driver.sh"))
        .args([&cluster.bootstrap(), "payments", "8"])
        .env("WEIR_JAVA_MAIN", "FailoverProducer")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the Java producer");
    std::thread::sleep(Duration::from_secs(4));
    let leader = cluster.leader_of("payments", 0);
    cluster.kill9(leader);
    std::thread::sleep(Duration::from_secs(2));
    cluster.restart(leader);
    let (done, output) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(java.wait_with_output());
    });
    let output = output.recv_timeout(Duration::from_secs(180)).expect("the Java producer finished").expect("Java producer output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut acked = Vec::new();
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["ACK", partition, offset, value] => acked.push((partition.parse().expect("partition"), offset.parse().expect("offset"), value.to_string())),
            ["ERR", ..] => panic!("a delivery failed: {line}"),
            _ => {}
        }
    }
    let done = stdout.lines().find_map(|l| l.strip_prefix("DONE ")).unwrap_or_else(|| panic!("the Java producer did not finish:\n{stdout}"));
    let sent: usize = done.split_whitespace().next().and_then(|n| n.parse().ok()).expect("sent count");
    assert_eq!(acked.len(), sent, "every record the Java producer sent was acknowledged");
    assert!(sent > 100, "the Java producer ran: {sent} records");
    check_history(&cluster, "payments", &acked);
    wait_in_sync(&cluster, "payments");
}

/// A broker that lost its data directory comes back under its old id: it withholds its votes
/// until it caught up (it may have acknowledged entries it no longer has), copies everything
/// from the leaders and rejoins every partition's in-sync replicas; nothing acknowledged is lost.
#[test]
fn a_broker_restarted_with_an_empty_data_directory_rejoins_safely() {
    let mut cluster = TestCluster::start(3, &[]);
    create_topic(&cluster, "ledger", PARTITIONS, 3);
    let load = Load::start(&cluster, "ledger");
    std::thread::sleep(Duration::from_secs(1));
    let wiped = cluster.leader_of("ledger", 0);
    cluster.kill9(wiped);
    std::fs::remove_dir_all(cluster.data_dir(wiped)).expect("wipe the data directory");
    cluster.restart(wiped);
    wait_in_sync(&cluster, "ledger");
    // Then the other two take turns being killed: the wiped broker's copies must be whole.
    for other in (1..=3).filter(|&id| id != wiped) {
        cluster.kill9(other);
        std::thread::sleep(Duration::from_secs(2));
        cluster.restart(other);
        wait_in_sync(&cluster, "ledger");
    }
    let acked = load.finish();
    check_history(&cluster, "ledger", &acked);
}

#[test]
fn a_rolling_restart_under_load_fails_no_delivery() {
    let mut cluster = TestCluster::start(3, &[]);
    create_topic(&cluster, "rolling", PARTITIONS, 3);
    let load = Load::start(&cluster, "rolling");
    for id in 1..=3 {
        std::thread::sleep(Duration::from_millis(500));
        cluster.terminate(id);
        cluster.restart(id);
        wait_in_sync(&cluster, "rolling");
    }
    let acked = load.finish();
    check_history(&cluster, "rolling", &acked);
}

#[test]
fn a_consumer_group_keeps_its_offsets_when_its_coordinator_is_killed() {
    let mut cluster = TestCluster::start(3, &[]);
    create_topic(&cluster, "jobs", PARTITIONS, 3);
    let load = Load::start(&cluster, "jobs");
    std::thread::sleep(Duration::from_millis(500));
    let acked = load.finish();
    let total = acked.len();
    let group = "workers";
    let consumer = |cluster: &TestCluster| -> BaseConsumer {
        cluster
            .client_config()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .expect("consumer")
    };
    let value = |m: &rdkafka::message::BorrowedMessage<'_>| String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
    // Half of the records, committed.
    let first = consumer(&cluster);
    first.subscribe(&["jobs"]).expect("subscribe");
    let mut committed = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while committed.len() < total / 2 && Instant::now() < deadline {
        if let Some(Ok(message)) = first.poll(Duration::from_millis(100)) {
            committed.insert(value(&message));
        }
    }
    assert_eq!(committed.len(), total / 2, "read half");
    first.commit_consumer_state(CommitMode::Sync).expect("commit");
    drop(first);
    // Kafka's coordinator for a group: the leader of __consumer_offsets partition
    // abs(hashCode(group)) % 50.
    let hash = group.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32));
    let offsets_partition = (hash.unsigned_abs() % 50) as i32;
    let coordinator = cluster.leader_of("__consumer_offsets", offsets_partition);
    cluster.kill9(coordinator);
    // A new member of the group starts where the group committed, at the new coordinator: it
    // reads the rest (a rebalance may make it read some of those twice) and nothing committed.
    let second = consumer(&cluster);
    second.subscribe(&["jobs"]).expect("subscribe");
    let mut rest = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while committed.len() + rest.len() < total && Instant::now() < deadline {
        if let Some(Ok(message)) = second.poll(Duration::from_millis(100)) {
            let v = value(&message);
            assert!(!committed.contains(&v), "{v} was committed by the group, yet read again after the coordinator failed over");
            rest.insert(v);
        }
    }
    assert_eq!(committed.len() + rest.len(), total, "the second member read everything the group had not committed");
    drop(second);
    cluster.restart(coordinator);
}

/// KIP-951: a produce at a follower is refused with NOT_LEADER_OR_FOLLOWER naming the leader,
/// its epoch and its endpoint, and a fetch there names the leader too.
#[test]
fn a_follower_names_the_leader_when_it_refuses_a_request() {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{BrokerId, FetchRequest, ProduceRequest, TopicName};
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::Compression;
    use weir_integration_tests::raw::{batch, RawClient};

    let cluster = TestCluster::start(3, &[]);
    create_topic(&cluster, "hinted", 1, 3);
    let leader = cluster.leader_of("hinted", 0);
    let follower = (1..=3).find(|&id| id != leader).expect("a follower");
    let mut client = RawClient::connect(&cluster.address(follower));
    let name = TopicName(StrBytes::from_static_str("hinted"));
    let records = batch(&[(Some(b"k"), b"v")], 0, Compression::None);
    let request = ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![TopicProduceData::default()
        .with_name(name.clone())
        .with_partition_data(vec![PartitionProduceData::default().with_index(0).with_records(Some(records))])]);
    let response = client.call(11, &request);
    let partition = &response.responses[0].partition_responses[0];
    assert_eq!(partition.error_code, 6, "NOT_LEADER_OR_FOLLOWER");
    assert_eq!(partition.current_leader.leader_id, BrokerId(leader));
    assert!(partition.current_leader.leader_epoch >= 1);
    let endpoint = response.node_endpoints.iter().find(|e| e.node_id == BrokerId(leader)).expect("the leader's endpoint");
    assert_eq!(format!("{}:{}", endpoint.host, endpoint.port), cluster.address(leader));
    let fetch = FetchRequest::default().with_replica_id(BrokerId(-1)).with_max_bytes(1 << 20).with_topics(vec![FetchTopic::default()
        .with_topic(name)
        .with_partitions(vec![FetchPartition::default().with_partition(0).with_partition_max_bytes(1 << 20)])]);
    let fetched = client.call(12, &fetch);
    let partition = &fetched.responses[0].partitions[0];
    assert_eq!(partition.error_code, 6, "NOT_LEADER_OR_FOLLOWER");
    assert_eq!(partition.current_leader.leader_id, BrokerId(leader));
}

/// Found by the fault harness: on a new cluster, Metadata named a controller that had not
/// registered yet (so was not in its broker list), and an admin client's first CreateTopics
/// waited out its timeout for one. A broker now always lists itself and names a registered
/// controller (or itself).
#[test]
fn a_new_clusters_metadata_names_a_controller_it_lists() {
    use kafka_protocol::messages::MetadataRequest;
    use weir_integration_tests::raw::RawClient;
    let cluster = TestCluster::start_serving(3, &[]);
    for id in 1..=3 {
        let mut client = RawClient::connect(&cluster.address(id));
        let metadata = client.call(12, &MetadataRequest::default().with_topics(Some(Vec::new())));
        let listed: Vec<i32> = metadata.brokers.iter().map(|b| b.node_id.0).collect();
        assert!(listed.contains(&id), "broker {id} lists itself: {listed:?}");
        assert!(listed.contains(&metadata.controller_id.0), "controller {} is among {listed:?}", metadata.controller_id.0);
    }
    // And an admin client's first CreateTopics, once the brokers registered, goes through at once.
    cluster.wait_registered();
    let started = Instant::now();
    create_topic(&cluster, "first", 1, 3);
    assert!(started.elapsed() < Duration::from_secs(8), "the first CreateTopics took {:?}", started.elapsed());
}

/// Found by trying the README as a newcomer: after a rolling restart every partition was led
/// by the broker restarted first, for good. With `auto.leader.rebalance.enable` (Kafka's
/// default) leadership goes back to each partition's preferred replica once it is in sync.
#[test]
fn leadership_returns_to_the_preferred_replica() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("weir.properties");
    std::fs::write(&config, "leader.imbalance.check.interval.seconds=1\n").expect("write the config");
    let config = config.to_string_lossy().into_owned();
    let mut cluster = TestCluster::start(3, &["--config", &config]);
    create_topic(&cluster, "balanced", PARTITIONS, 3);
    let consumer: BaseConsumer = cluster.client_config().create().expect("metadata client");
    let preferred_lead = |consumer: &BaseConsumer| -> Option<bool> {
        let metadata = consumer.fetch_metadata(Some("balanced"), Duration::from_secs(2)).ok()?;
        let partitions = metadata.topics().first()?.partitions();
        Some(partitions.len() == PARTITIONS as usize && partitions.iter().all(|p| p.replicas().first() == Some(&p.leader())))
    };
    eventually(Duration::from_secs(30), "every preferred replica leading", || preferred_lead(&consumer).filter(|&b| b));
    // A clean stop hands broker 1's leaderships away; once it is back and in sync, they return.
    cluster.terminate(1);
    cluster.restart(1);
    eventually(Duration::from_secs(30), "leadership back at the preferred replicas", || preferred_lead(&consumer).filter(|&b| b));
}

/// The replication gauges: a leader whose follower is gone reports its partitions under-
/// replicated, then not once the follower is back in sync.
#[test]
fn metrics_show_under_replicated_partitions() {
    let mut cluster = TestCluster::start(3, &["--http-listen", "127.0.0.1:0"]);
    create_topic(&cluster, "watched", PARTITIONS, 3);
    wait_in_sync(&cluster, "watched");
    let leader = cluster.leader_of("watched", 0);
    let gauge = |cluster: &TestCluster, name: &str| -> Option<f64> {
        let scrape = cluster.broker(leader).scrape();
        scrape.samples.iter().find(|s| s.metric == name).and_then(|s| match s.value {
            prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => Some(v),
            _ => None,
        })
    };
    assert_eq!(gauge(&cluster, "weir_partitions_under_replicated"), Some(0.0));
    assert!(gauge(&cluster, "weir_partitions_led").unwrap_or(0.0) >= 1.0);
    let follower = (1..=3).find(|&id| id != leader).expect("a follower");
    cluster.kill9(follower);
    eventually(Duration::from_secs(30), "under-replicated partitions at the leader", || {
        gauge(&cluster, "weir_partitions_under_replicated").filter(|&v| v >= 1.0)
    });
    cluster.restart(follower);
    eventually(Duration::from_secs(30), "no under-replicated partitions", || gauge(&cluster, "weir_partitions_under_replicated").filter(|&v| v == 0.0));
}

#[test]
fn a_single_node_data_directory_is_refused_in_cluster_mode() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let single = weir_integration_tests::Weir::start(&data, &[]);
    assert!(single.terminate().success());
    let port = weir_integration_tests::cluster::free_port();
    let voters = format!("1@127.0.0.1:{port}");
    let mut clustered = weir_integration_tests::Weir::spawn(&data, &["--node-id", "1", "--voters", &voters], &[]);
    eventually(Duration::from_secs(30), "the broker to refuse the directory", || (!clustered.is_running()).then_some(()));
    assert!(clustered.log_text().contains("single-node broker's data"), "{}", clustered.log_text());
}
