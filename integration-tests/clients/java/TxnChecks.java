// Transactions and the last stable offset with Java kafka-clients 3.9.1, for
// tests/transactions.rs (one broker and the 3-broker cluster).
// Usage: WEIR_JAVA_MAIN=TxnChecks java/driver.sh BOOTSTRAP PREFIX [REPLICATION]
// Prints one `RESULT <id> PASS|FAIL <detail>` line per check (the contract of ../SCENARIOS.md),
// exits 0. Topics are PREFIX-<check> with REPLICATION replicas (default 1).
// - lso: with a transaction left open (records sent and flushed, no commit) and plain records
//   produced after it, a read_committed consumer's endOffsets and Admin.listOffsets(latest,
//   READ_COMMITTED) stop at the open transaction's first offset, and its polls return only what
//   precedes it, while read_uncommitted sees everything (endOffsets = the high watermark). After
//   the commit the same read_committed consumer receives the rest, and the LSO is the high
//   watermark.
// - aborted_invisible: records of aborted transactions, interleaved with committed ones and
//   plain records, never reach a read_committed consumer; read_uncommitted sees all of them.
// The confluent-kafka twin is ../python/txn_checks.py.

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class TxnChecks {
    static String bootstrap, prefix;
    static short replication = 1;
    static Admin admin;

    static class Failure extends RuntimeException {
        Failure(String message) { super(message); }
    }

    static void check(boolean ok, String message) {
        if (!ok) throw new Failure(message);
    }

    interface Check { String run() throws Exception; }

    public static void main(String[] args) {
        if (args.length != 2 && args.length != 3) {
            System.err.println("usage: TxnChecks BOOTSTRAP PREFIX [REPLICATION]");
            System.exit(64);
        }
        bootstrap = args[0];
        prefix = args[1];
        if (args.length == 3) replication = Short.parseShort(args[2]);
        Properties ap = new Properties();
        ap.put("bootstrap.servers", bootstrap);
        admin = Admin.create(ap);
        Thread watchdog = new Thread(() -> {
            try { Thread.sleep(140_000); } catch (InterruptedException e) { return; }
            System.err.println("[TxnChecks] timed out after 140s");
            Runtime.getRuntime().halt(3);
        });
        watchdog.setDaemon(true);
        watchdog.start();
        run("lso", TxnChecks::lso);
        run("aborted_invisible", TxnChecks::abortedInvisible);
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }

    static void run(String id, Check c) {
        long started = System.nanoTime();
        String status, detail;
        try {
            detail = c.run();
            status = "PASS";
        } catch (Failure e) {
            status = "FAIL";
            detail = e.getMessage();
        } catch (Throwable e) {
            e.printStackTrace();
            status = "FAIL";
            detail = e.toString();
        }
        detail = (detail + String.format(" (%.1fs)", (System.nanoTime() - started) / 1e9)).replaceAll("\\s+", " ");
        System.out.println("RESULT " + id + " " + status + " " + detail.substring(0, Math.min(400, detail.length())));
        System.out.flush();
    }

    // --- helpers ----------------------------------------------------------------------------

    static void create(String topic) throws Exception {
        admin.createTopics(List.of(new NewTopic(topic, 1, replication))).all().get(30, TimeUnit.SECONDS);
    }

    static KafkaProducer<String, String> producer(String txnId) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "all");
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        p.put("max.block.ms", "30000");
        if (txnId != null) p.put("transactional.id", txnId);
        KafkaProducer<String, String> producer = new KafkaProducer<>(p);
        if (txnId != null) producer.initTransactions();
        return producer;
    }

    static void send(KafkaProducer<String, String> producer, String topic, String tag, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            producer.send(new ProducerRecord<>(topic, 0, tag + "-k" + i, tag + "-v" + i)).get(30, TimeUnit.SECONDS);
        }
    }

    /** Plain (non-transactional) records, acknowledged one by one. */
    static void plain(String topic, String tag, int n) throws Exception {
        try (KafkaProducer<String, String> p = producer(null)) {
            send(p, topic, tag, n);
        }
    }

    static KafkaConsumer<String, String> reader(String topic, String isolation) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("group.id", prefix + "-reader-" + UUID.randomUUID());
        p.put("enable.auto.commit", "false");
        p.put("isolation.level", isolation);
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        KafkaConsumer<String, String> c = new KafkaConsumer<>(p);
        TopicPartition tp = new TopicPartition(topic, 0);
        c.assign(List.of(tp));
        c.seekToBeginning(List.of(tp));
        return c;
    }

    /** Records polled until `want` arrived (or 20 s), then for `settleMs` more. */
    static List<ConsumerRecord<String, String>> poll(KafkaConsumer<String, String> c, int want, long settleMs) {
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 20_000;
        while (got.size() < want && System.currentTimeMillis() < deadline) {
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) got.add(r);
        }
        long settle = System.currentTimeMillis() + settleMs;
        while (System.currentTimeMillis() < settle) {
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) got.add(r);
        }
        return got;
    }

    static List<String> keysOf(List<ConsumerRecord<String, String>> records) {
        List<String> out = new ArrayList<>();
        for (ConsumerRecord<String, String> r : records) out.add(r.key());
        return out;
    }

    static List<String> keys(String tag, int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(tag + "-k" + i);
        return out;
    }

    @SafeVarargs
    static List<String> concat(List<String>... lists) {
        List<String> out = new ArrayList<>();
        for (List<String> l : lists) out.addAll(l);
        return out;
    }

    static long listLatest(TopicPartition tp, IsolationLevel level) throws Exception {
        return admin.listOffsets(Map.of(tp, OffsetSpec.latest()), new ListOffsetsOptions(level))
                .partitionResult(tp).get(30, TimeUnit.SECONDS).offset();
    }

    // --- checks -----------------------------------------------------------------------------

    static String lso() throws Exception {
        String topic = prefix + "-lso";
        create(topic);
        TopicPartition tp = new TopicPartition(topic, 0);
        plain(topic, "before", 3);
        try (KafkaProducer<String, String> txn = producer(prefix + "-lso-txn");
             KafkaConsumer<String, String> rc = reader(topic, "read_committed");
             KafkaConsumer<String, String> ru = reader(topic, "read_uncommitted")) {
            txn.beginTransaction();
            send(txn, topic, "open", 5);                                // left open
            plain(topic, "later", 4);
            List<String> committedView = keysOf(poll(rc, 3, 3000));
            check(committedView.equals(keys("before", 3)),
                    "read_committed with a transaction open got " + committedView + ", want only before-k0..2");
            List<ConsumerRecord<String, String>> all = poll(ru, 12, 500);
            check(keysOf(all).equals(concat(keys("before", 3), keys("open", 5), keys("later", 4))),
                    "read_uncommitted with a transaction open got " + keysOf(all));
            // Offsets as the log has them (a cluster's partitions may hold control batches too).
            long firstOpen = all.get(3).offset();
            long hw = all.get(11).offset() + 1;
            long rcEnd = rc.endOffsets(List.of(tp)).get(tp);
            long ruEnd = ru.endOffsets(List.of(tp)).get(tp);
            long adminRc = listLatest(tp, IsolationLevel.READ_COMMITTED);
            long adminRu = listLatest(tp, IsolationLevel.READ_UNCOMMITTED);
            check(rcEnd == firstOpen, "read_committed endOffsets " + rcEnd + " with the transaction open from offset " + firstOpen);
            check(adminRc == firstOpen, "listOffsets(latest, READ_COMMITTED) " + adminRc + " with the transaction open from offset " + firstOpen);
            check(ruEnd == hw && adminRu == hw, "read_uncommitted endOffsets " + ruEnd + ", listOffsets " + adminRu + ", want the high watermark " + hw);
            long position = rc.position(tp);
            check(position <= firstOpen, "the read_committed consumer's position " + position + " is past the LSO " + firstOpen);

            txn.commitTransaction();
            List<String> rest = keysOf(poll(rc, 9, 1000));
            check(rest.equals(concat(keys("open", 5), keys("later", 4))),
                    "after the commit the read_committed consumer got " + rest);
            long rcAfter = rc.endOffsets(List.of(tp)).get(tp);
            long ruAfter = ru.endOffsets(List.of(tp)).get(tp);
            check(rcAfter == ruAfter && rcAfter > hw,
                    "after the commit endOffsets read_committed " + rcAfter + ", read_uncommitted " + ruAfter + " (want equal, past " + hw + ": the commit marker)");
            return "open transaction from offset " + firstOpen + ": read_committed endOffsets/listOffsets stop there, polls too, "
                    + "read_uncommitted up to " + hw + "; after the commit all visible, LSO = HW = " + rcAfter;
        }
    }

    static String abortedInvisible() throws Exception {
        String topic = prefix + "-aborted";
        create(topic);
        List<String> visible = new ArrayList<>();
        try (KafkaProducer<String, String> txn = producer(prefix + "-aborted-txn")) {
            for (int round = 0; round < 4; round++) {
                txn.beginTransaction();
                send(txn, topic, "aborted" + round, 5);
                txn.abortTransaction();
                txn.beginTransaction();
                send(txn, topic, "committed" + round, 3);
                txn.commitTransaction();
                visible.addAll(keys("committed" + round, 3));
                plain(topic, "plain" + round, 2);
                visible.addAll(keys("plain" + round, 2));
            }
        }
        try (KafkaConsumer<String, String> rc = reader(topic, "read_committed");
             KafkaConsumer<String, String> ru = reader(topic, "read_uncommitted")) {
            List<String> got = keysOf(poll(rc, visible.size(), 1500));
            check(got.equals(visible), "read_committed got " + got.size() + " records " + got + ", want " + visible);
            List<String> all = keysOf(poll(ru, 4 * 10, 500));
            check(all.size() == 40, "read_uncommitted got " + all.size() + " records, want 40 (20 aborted)");
        }
        return "4 rounds of abort + commit + plain: read_committed saw exactly the " + visible.size()
                + " committed and plain records in order, read_uncommitted all 40";
    }
}
