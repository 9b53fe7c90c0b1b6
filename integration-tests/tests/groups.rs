//! Consumer groups with librdkafka (the rdkafka crate) against the real binary: assignment,
//! departures, committed offsets across restarts, static membership, cooperative rebalancing.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, ClientContext};
use weir_integration_tests::kafka::create_topic;
use weir_integration_tests::Weir;

/// Counts rebalance callbacks, and remembers the largest revocation.
#[derive(Default)]
struct Rebalances {
    assigns: AtomicUsize,
    revokes: AtomicUsize,
    largest_revoke: AtomicUsize,
}

struct Watch(Arc<Rebalances>);
impl ClientContext for Watch {}
impl ConsumerContext for Watch {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(_) => {
                self.0.assigns.fetch_add(1, Ordering::SeqCst);
            }
            Rebalance::Revoke(list) => {
                self.0.revokes.fetch_add(1, Ordering::SeqCst);
                self.0.largest_revoke.fetch_max(list.count(), Ordering::SeqCst);
            }
            Rebalance::Error(_) => {}
        }
    }
}

type Member = BaseConsumer<Watch>;

fn member(weir: &Weir, group: &str, topic: &str, extra: &[(&str, &str)]) -> (Member, Arc<Rebalances>) {
    let mut config: ClientConfig = weir.client_config();
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500");
    for (k, v) in extra {
        config.set(*k, *v);
    }
    let watch = Arc::new(Rebalances::default());
    let consumer: Member = config.create_with_context(Watch(watch.clone())).expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    (consumer, watch)
}

fn assigned(consumer: &Member) -> BTreeSet<i32> {
    consumer.assignment().map(|l| l.elements().iter().map(|e| e.partition()).collect()).unwrap_or_default()
}

/// Polls every member until `done` holds for their assignments (bounded).
fn poll_until(members: &[&Member], what: &str, done: impl Fn(&[BTreeSet<i32>]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for m in members {
            let _ = m.poll(Duration::from_millis(20));
        }
        let now: Vec<BTreeSet<i32>> = members.iter().map(|m| assigned(m)).collect();
        if done(&now) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; assignments {now:?}");
    }
}

fn covers_disjointly(sets: &[BTreeSet<i32>], partitions: i32) -> bool {
    let total: usize = sets.iter().map(BTreeSet::len).sum();
    let union: BTreeSet<i32> = sets.iter().flatten().copied().collect();
    total == partitions as usize && union == (0..partitions).collect() && sets.iter().all(|s| !s.is_empty())
}

async fn produce(weir: &Weir, topic: &str, n: usize) {
    let producer: FutureProducer = weir.client_config().set("acks", "all").create().unwrap();
    for i in 0..n {
        producer
            .send(FutureRecord::to(topic).key(&format!("k{i}")).payload(&format!("v{i}")), Duration::from_secs(20))
            .await
            .expect("produce");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_share_six_partitions_and_rebalance_on_departure() {
    let dir = tempfile::tempdir().unwrap();
    let weir = Weir::start(&dir.path().join("data"), &["--config", "/dev/null"]);
    create_topic(&weir.client_config(), "six", 6, &[]).await;
    let weir = Arc::new(weir);
    let (a, _) = member(&weir, "g3", "six", &[]);
    let (b, _) = member(&weir, "g3", "six", &[]);
    let (c, _) = member(&weir, "g3", "six", &[]);
    poll_until(&[&a, &b, &c], "three disjoint assignments", |s| covers_disjointly(s, 6));
    // A member that leaves has its partitions moved to the others.
    drop(c);
    poll_until(&[&a, &b], "two members covering all six", |s| covers_disjointly(s, 6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_a_restart_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let weir = Weir::start(&data, &[]);
    create_topic(&weir.client_config(), "resume", 3, &[]).await;
    produce(&weir, "resume", 300).await;

    // First consumer: read 120 records, committing synchronously after each.
    let mut seen = BTreeSet::new();
    {
        let (consumer, _) = member(&weir, "resumers", "resume", &[]);
        let deadline = Instant::now() + Duration::from_secs(60);
        while seen.len() < 120 {
            assert!(Instant::now() < deadline, "timed out consuming");
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                assert!(seen.insert((m.partition(), m.offset())), "duplicate before restart");
                consumer.commit_message(&m, CommitMode::Sync).expect("commit");
            }
        }
        consumer.unsubscribe();
    }
    assert!(weir.terminate().success());

    let weir = Weir::start(&data, &[]);
    let (consumer, _) = member(&weir, "resumers", "resume", &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 300 {
        assert!(Instant::now() < deadline, "timed out after restart with {} records", seen.len());
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            assert!(seen.insert((m.partition(), m.offset())), "record {}/{} delivered again after its commit", m.partition(), m.offset());
        }
    }
    // Committed offsets are visible to an admin-style fetch as well.
    let committed = consumer.committed(Duration::from_secs(10)).expect("committed");
    assert_eq!(committed.count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_rejoins_without_a_rebalance() {
    let dir = tempfile::tempdir().unwrap();
    let weir = Weir::start(&dir.path().join("data"), &["--config", "/dev/null"]);
    create_topic(&weir.client_config(), "statics", 4, &[]).await;
    let (a, watch_a) = member(&weir, "static-group", "statics", &[("group.instance.id", "a")]);
    let (b, _) = member(&weir, "static-group", "statics", &[("group.instance.id", "b")]);
    poll_until(&[&a, &b], "two static members", |s| covers_disjointly(s, 4));
    let b_partitions = assigned(&b);
    let rebalances_before = watch_a.assigns.load(Ordering::SeqCst) + watch_a.revokes.load(Ordering::SeqCst);
    // b restarts with the same instance id well within its session timeout.
    drop(b);
    let (b, _) = member(&weir, "static-group", "statics", &[("group.instance.id", "b")]);
    poll_until(&[&a, &b], "b back with its partitions", |s| s[1] == b_partitions && covers_disjointly(s, 4));
    for _ in 0..20 {
        let _ = a.poll(Duration::from_millis(50));
    }
    assert_eq!(watch_a.assigns.load(Ordering::SeqCst) + watch_a.revokes.load(Ordering::SeqCst), rebalances_before, "a saw a rebalance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_rebalances_incrementally() {
    let dir = tempfile::tempdir().unwrap();
    let weir = Weir::start(&dir.path().join("data"), &["--config", "/dev/null"]);
    create_topic(&weir.client_config(), "coop", 6, &[]).await;
    let strategy = [("partition.assignment.strategy", "cooperative-sticky")];
    let (a, watch_a) = member(&weir, "coop-group", "coop", &strategy);
    poll_until(&[&a], "a owns everything", |s| s[0].len() == 6);
    let (b, _) = member(&weir, "coop-group", "coop", &strategy);
    poll_until(&[&a, &b], "a and b share", |s| covers_disjointly(s, 6));
    // a gave up only what b took: never all six at once.
    let largest = watch_a.largest_revoke.load(Ordering::SeqCst);
    assert!(largest > 0 && largest < 6, "a revoked {largest} partitions at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_member_loses_its_partitions_after_the_session_timeout() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let weir = Weir::start(&dir.path().join("data"), &["--config", "/dev/null"]);
    create_topic(&weir.client_config(), "crash", 4, &[]).await;
    let (survivor, _) = member(&weir, "crashers", "crash", &[]);
    poll_until(&[&survivor], "the survivor owns everything", |s| s[0].len() == 4);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/group_member.py");
    let mut victim = std::process::Command::new("python3")
        .arg(script)
        .args([weir.addr.as_str(), "crash", "crashers"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the victim");
    // Wait until the victim holds partitions (the survivor keeps polling meanwhile).
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = victim.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    poll_until(&[&survivor], "the victim to take partitions", |s| {
        rx.try_iter().any(|line| line != "assigned 0") || (s[0].len() < 4 && !s[0].is_empty())
    });
    poll_until(&[&survivor], "a split", |s| s[0].len() < 4 && !s[0].is_empty());
    victim.kill().expect("kill -9 the victim");
    let _ = victim.wait();
    // No LeaveGroup was sent: the session timeout (6 s) must hand everything back.
    let started = Instant::now();
    poll_until(&[&survivor], "the survivor to own everything again", |s| s[0].len() == 4);
    assert!(started.elapsed() >= Duration::from_secs(3), "partitions moved before the session could expire");
}

/// Found by the cluster work: a broker restart forgot every group's members, so each member's
/// next heartbeat or commit got UNKNOWN_MEMBER_ID and the group went through a full rebalance
/// (a consumer measured 22 s without partitions while its broker restarted every 5 s). The
/// coordinator now writes a stable group's members and assignments to `__consumer_offsets`
/// and restores them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_does_not_make_a_stable_group_rebalance() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let listen = format!("127.0.0.1:{}", weir_integration_tests::cluster::free_port());
    let weir = Weir::start(&data, &["--listen", &listen]);
    create_topic(&weir.client_config(), "steady", 2, &[]).await;
    produce(&weir, "steady", 20).await;
    let (consumer, rebalances) = member(&weir, "steady-group", "steady", &[]);
    poll_until(&[&consumer], "an assignment", |sets| sets[0].len() == 2);
    let assigns_before = rebalances.assigns.load(Ordering::SeqCst);
    assert!(weir.terminate().success());
    let weir = Weir::start(&data, &["--listen", &listen]);
    // The member carries on: its heartbeats and commits are accepted at the same generation.
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        let _ = consumer.poll(Duration::from_millis(100));
    }
    consumer.commit_consumer_state(CommitMode::Sync).expect("a commit after the restart is accepted");
    assert_eq!(rebalances.revokes.load(Ordering::SeqCst), 0, "the member's partitions were revoked");
    assert_eq!(rebalances.assigns.load(Ordering::SeqCst), assigns_before, "the group rebalanced");
    assert_eq!(assigned(&consumer).len(), 2);
    drop(weir);
}
