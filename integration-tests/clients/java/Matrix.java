// Compatibility-matrix driver for the Java kafka-clients 3.9.1 (Admin, KafkaProducer, KafkaConsumer).
// Usage: java/driver.sh BOOTSTRAP PREFIX. The scenarios are in ../SCENARIOS.md; the record sets
// and checks are the ones of ../python/matrix.py. Prints one RESULT line per scenario, exits 0.

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class Matrix {
    static final String[] SCENARIOS = {
        "create_topics", "describe_topics", "describe_configs", "create_partitions",
        "describe_cluster", "delete_topics",
        "keys_headers_nulls", "codec_none", "codec_gzip", "codec_snappy", "codec_lz4",
        "codec_zstd", "acks_0", "acks_1", "acks_all", "idempotent",
        "assign_seek", "offsets_for_times", "group_commit", "committed_offsets",
        "transactions", "send_offsets_to_transaction",
    };
    static final Map<String, String> NEEDS = Map.of(
        "describe_topics", "create_topics",
        "describe_configs", "create_topics",
        "create_partitions", "create_topics",
        "delete_topics", "create_topics",
        "committed_offsets", "group_commit");
    static final long STEP_MS = 20_000, DRIVER_MS = 120_000;
    static final Duration STEP = Duration.ofMillis(STEP_MS), CLOSE = Duration.ofSeconds(5);
    /** CreateTime of the records that carry explicit timestamps: an hour ago, whole seconds. */
    static final long T0 = (System.currentTimeMillis() / 1000 - 3600) * 1000;

    static String boot, prefix, adminTopic, groupTopic;
    static Admin admin;
    static Map<Integer, Long> groupEnds; // what group_commit leaves for committed_offsets

    static final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;
        Failure(String msg) { super(msg); }
    }

    static Failure fail(String msg) { return new Failure(msg); }

    interface Scenario { String run() throws Exception; }

    /** A check for waitUntil: null when satisfied, otherwise what it saw. */
    interface Check { String problem() throws Exception; }

    /** A record as sent; timestamp null = let the producer stamp it. */
    record Rec(byte[] key, byte[] value, List<Header> headers, Long timestamp) {}

    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: Matrix BOOTSTRAP PREFIX");
            System.exit(2);
        }
        boot = args[0];
        prefix = args[1];
        adminTopic = prefix + "-admin";
        groupTopic = prefix + "-group";
        Thread watchdog = new Thread(() -> {
            try { Thread.sleep(DRIVER_MS); } catch (InterruptedException e) { return; }
            System.err.println("[java] driver timed out after " + DRIVER_MS / 1000 + "s");
            System.err.flush();
            Runtime.getRuntime().halt(3);
        });
        watchdog.setDaemon(true);
        watchdog.start();
        Properties ap = new Properties();
        ap.put("bootstrap.servers", boot);
        admin = Admin.create(ap);

        Map<String, Scenario> impl = new HashMap<>();
        impl.put("create_topics", Matrix::createTopics);
        impl.put("describe_topics", () -> { partitionsAre(adminTopic, 3); return "partitions 0,1,2, each led by a cluster broker"; });
        impl.put("describe_configs", Matrix::describeConfigs);
        impl.put("create_partitions", Matrix::createPartitions);
        impl.put("describe_cluster", Matrix::describeCluster);
        impl.put("delete_topics", Matrix::deleteTopics);
        impl.put("keys_headers_nulls", () -> roundtrip("records", trickyRecords(), settings(), true)
            + " (null key/value, empty value, repeated + null headers, CreateTime)");
        for (String c : List.of("none", "gzip", "snappy", "lz4", "zstd"))
            impl.put("codec_" + c, () -> roundtrip("codec-" + c, keyed(c, 50, null), settings("compression.type", c), true));
        impl.put("acks_0", () -> roundtrip("acks-0", keyed("acks0", 50, null), settings("acks", "0", "enable.idempotence", "false"), false));
        impl.put("acks_1", () -> roundtrip("acks-1", keyed("acks1", 50, null), settings("acks", "1", "enable.idempotence", "false"), true));
        impl.put("acks_all", () -> roundtrip("acks-all", keyed("acksall", 50, null), settings("acks", "all"), true));
        impl.put("idempotent", () -> roundtrip("idempotent", keyed("idem", 200, null), settings("enable.idempotence", "true"), true));
        impl.put("assign_seek", Matrix::assignSeek);
        impl.put("offsets_for_times", Matrix::offsetsForTimes);
        impl.put("group_commit", Matrix::groupCommit);
        impl.put("committed_offsets", Matrix::committedOffsets);
        impl.put("transactions", Matrix::transactions);
        impl.put("send_offsets_to_transaction", Matrix::sendOffsetsToTransaction);

        Set<String> passed = new HashSet<>();
        for (String id : SCENARIOS) {
            long started = System.nanoTime();
            String need = NEEDS.get(id);
            if (need != null && !passed.contains(need)) {
                report(id, "FAIL", "needs " + need);
                continue;
            }
            try {
                String summary = impl.containsKey(id) ? impl.get(id).run() : null;
                if (summary == null) throw fail("not implemented by this driver");
                passed.add(id);
                report(id, "PASS", String.format("%s (%.1fs)", summary, (System.nanoTime() - started) / 1e9));
            } catch (Throwable e) {
                Throwable c = unwrap(e);
                if (!(c instanceof Failure)) c.printStackTrace();
                report(id, "FAIL", c instanceof Failure ? c.getMessage() : describe(c));
            }
        }
        System.out.flush();
        // The results are out; don't wait for the clients' threads.
        Runtime.getRuntime().halt(0);
    }

    static void report(String id, String status, String detail) {
        String line = String.join(" ", String.valueOf(detail).trim().split("\\s+"));
        System.out.println("RESULT " + id + " " + status + " " + (line.length() > 400 ? line.substring(0, 400) : line));
        System.out.flush();
    }

    static Throwable unwrap(Throwable e) {
        while (e instanceof ExecutionException && e.getCause() != null) e = e.getCause();
        return e;
    }

    static String describe(Throwable e) {
        e = unwrap(e);
        return e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    static <T> T get(KafkaFuture<T> f, long ms) throws Exception {
        try {
            return f.get(ms, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw fail("no answer within " + ms / 1000 + "s");
        }
    }

    static void waitUntil(String what, long timeoutMs, Check check) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (true) {
            String last;
            try { last = check.problem(); } catch (Exception e) { last = describe(e); }
            if (last == null) return;
            if (System.currentTimeMillis() > deadline)
                throw fail(what + " not true after " + timeoutMs / 1000 + "s (last: " + last + ")");
            Thread.sleep(200);
        }
    }

    static Map<String, Object> settings(String... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return m;
    }

    static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    static String show(byte[] v) {
        if (v == null) return "null";
        StringBuilder s = new StringBuilder(v.length + " bytes '");
        for (int i = 0; i < Math.min(v.length, 20); i++)
            s.append(v[i] >= 32 && v[i] < 127 ? String.valueOf((char) v[i]) : String.format("\\x%02x", v[i] & 0xff));
        return s.append(v.length > 20 ? "...'" : "'").toString();
    }

    static String show(Iterable<Header> headers) {
        List<String> out = new ArrayList<>();
        for (Header h : headers) out.add(h.key() + "=" + show(h.value()));
        return out.toString();
    }

    // --- record sets (as in matrix.py) -------------------------------------------

    /** n plain keyed records; with baseTs, record i has CreateTime baseTs + i*1000. */
    static List<Rec> keyed(String tag, int n, Long baseTs) {
        List<Rec> out = new ArrayList<>();
        for (int i = 0; i < n; i++)
            out.add(new Rec(b(tag + "-key-" + i), b(tag + "-value-" + i), List.of(), baseTs == null ? null : baseTs + i * 1000L));
        return out;
    }

    /** The 30 records of keys_headers_nulls. */
    static List<Rec> trickyRecords() {
        List<Rec> out = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            byte[] key = b("key-" + i);
            byte[] prefixBytes = b("value-" + i + "-");
            byte[] value = Arrays.copyOf(prefixBytes, prefixBytes.length + i);
            Arrays.fill(value, prefixBytes.length, value.length, (byte) (i * 7 % 256));
            List<Header> headers = new ArrayList<>();
            if (i % 3 != 0) {
                headers.add(new RecordHeader("seq", b(String.valueOf(i))));
                headers.add(new RecordHeader("dup", b("first")));
                headers.add(new RecordHeader("dup", b("second")));
                if (i % 4 == 1) headers.add(new RecordHeader("null-value", (byte[]) null));
            }
            if (i == 3) key = null;
            if (i == 4) value = null;
            if (i == 5) value = new byte[0];
            out.add(new Rec(key, value, headers, T0 + i));
        }
        return out;
    }

    // --- clients -------------------------------------------------------------------

    static void createTopic(String topic, int partitions, Map<String, String> configs) throws Exception {
        get(admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1).configs(configs))).all(), STEP_MS);
    }

    /** Sends recs in order (to `partition`, or by key if null); returns each one's ack, in send order. */
    static List<RecordMetadata> produce(String topic, List<Rec> recs, Integer partition, Map<String, Object> settings) {
        Properties p = new Properties();
        p.put("bootstrap.servers", boot);
        p.put("max.block.ms", (int) STEP_MS); // metadata wait in send()
        p.putAll(settings);
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        try {
            return sendAll(producer, topic, recs, partition);
        } finally {
            producer.close(CLOSE);
        }
    }

    /** Sends recs in order with `producer`; returns each one's ack, in send order. */
    static List<RecordMetadata> sendAll(KafkaProducer<byte[], byte[]> producer, String topic, List<Rec> recs, Integer partition) {
        List<Future<RecordMetadata>> futures = new ArrayList<>();
        for (Rec r : recs)
            futures.add(producer.send(new ProducerRecord<>(topic, partition, r.timestamp(), r.key(), r.value(), r.headers())));
        long deadline = System.currentTimeMillis() + STEP_MS;
        List<RecordMetadata> acks = new ArrayList<>();
        for (int i = 0; i < futures.size(); i++) {
            try {
                acks.add(futures.get(i).get(Math.max(0, deadline - System.currentTimeMillis()), TimeUnit.MILLISECONDS));
            } catch (ExecutionException | InterruptedException e) {
                throw fail("produce to " + topic + ": record " + i + ": " + describe(e));
            } catch (TimeoutException e) {
                throw fail("produce to " + topic + ": record " + i + " not acknowledged within " + STEP_MS / 1000 + "s");
            }
        }
        return acks;
    }

    static void checkAcked(List<RecordMetadata> acks, int partition, boolean offsets) {
        for (int i = 0; i < acks.size(); i++) {
            RecordMetadata m = acks.get(i);
            if (m.partition() != partition || (offsets && m.offset() != i))
                throw fail("acked offsets not " + partition + "/0.." + (acks.size() - 1) + " in send order: record " + i
                    + " acked at " + m.partition() + "/" + m.offset());
        }
    }

    static KafkaConsumer<byte[], byte[]> consumer(String group, String reset) {
        return consumer(group, reset, "read_uncommitted");
    }

    static KafkaConsumer<byte[], byte[]> consumer(String group, String reset, String isolation) {
        Properties p = new Properties();
        p.put("bootstrap.servers", boot);
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", reset);
        p.put("isolation.level", isolation);
        if (group != null) p.put("group.id", group);
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    /** Polls until n records have come, then for half a second more so extras show up too. */
    static List<ConsumerRecord<byte[], byte[]>> collect(KafkaConsumer<byte[], byte[]> c, int n) {
        List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + STEP_MS;
        while (got.size() < n) {
            if (System.currentTimeMillis() > deadline)
                throw fail("received " + got.size() + " of " + n + " records within " + STEP_MS / 1000 + "s");
            c.poll(Duration.ofMillis(200)).forEach(got::add);
        }
        long end = System.currentTimeMillis() + 500;
        while (System.currentTimeMillis() < end) c.poll(Duration.ofMillis(100)).forEach(got::add);
        for (ConsumerRecord<byte[], byte[]> r : got)
            if (r.timestampType() != TimestampType.CREATE_TIME)
                throw fail("record " + r.partition() + "/" + r.offset() + ": timestamp type " + r.timestampType() + ", want CreateTime");
        return got;
    }

    /** Reads `partition` of `topic` from `offset` with a manual assignment (no group). */
    static List<ConsumerRecord<byte[], byte[]>> read(String topic, int partition, long offset, int n) {
        KafkaConsumer<byte[], byte[]> c = consumer(null, "none");
        try {
            TopicPartition tp = new TopicPartition(topic, partition);
            c.assign(List.of(tp));
            if (offset == 0) c.seekToBeginning(List.of(tp));
            else c.seek(tp, offset);
            return collect(c, n);
        } finally {
            c.close(CLOSE);
        }
    }

    /** `got` must be all of `sent` (in send order) on one partition at consecutive offsets from
     *  firstOffset, field by field, nothing extra. A record sent without a timestamp must carry
     *  the one the producer stamped it with (its ack's timestamp). */
    static void compare(List<Rec> sent, List<RecordMetadata> acks, List<ConsumerRecord<byte[], byte[]>> got, int partition, long firstOffset) {
        got = new ArrayList<>(got);
        got.sort(Comparator.comparingInt((ConsumerRecord<byte[], byte[]> r) -> r.partition()).thenComparingLong(ConsumerRecord::offset));
        List<String> problems = new ArrayList<>();
        if (got.size() != sent.size()) problems.add("got " + got.size() + " records, sent " + sent.size());
        for (int i = 0; i < Math.min(sent.size(), got.size()); i++) {
            Rec want = sent.get(i);
            ConsumerRecord<byte[], byte[]> have = got.get(i);
            String where = "record " + i;
            if (have.partition() != partition || have.offset() != firstOffset + i)
                problems.add(where + ": at " + have.partition() + "/" + have.offset() + ", want " + partition + "/" + (firstOffset + i));
            if (!Arrays.equals(have.key(), want.key()))
                problems.add(where + ": key " + show(have.key()) + " != " + show(want.key()));
            if (!Arrays.equals(have.value(), want.value()))
                problems.add(where + ": value " + show(have.value()) + " != " + show(want.value()));
            if (!sameHeaders(have.headers().toArray(), want.headers()))
                problems.add(where + ": headers " + show(have.headers()) + " != " + show(want.headers()));
            long ts = want.timestamp() != null ? want.timestamp() : acks.get(i).timestamp();
            if (have.timestamp() != ts) problems.add(where + ": timestamp " + have.timestamp() + " != " + ts);
        }
        if (!problems.isEmpty())
            throw fail(String.join("; ", problems.subList(0, Math.min(5, problems.size())))
                + (problems.size() > 5 ? " (+" + (problems.size() - 5) + " more)" : ""));
    }

    static boolean sameHeaders(Header[] have, List<Header> want) {
        if (have.length != want.size()) return false;
        for (int i = 0; i < have.length; i++)
            if (!have[i].key().equals(want.get(i).key()) || !Arrays.equals(have[i].value(), want.get(i).value())) return false;
        return true;
    }

    /** Reads across partitions (groups): every sent record arrives once, by key, where it was acked. */
    static void compareExactlyOnce(List<Rec> sent, List<RecordMetadata> acks, List<ConsumerRecord<byte[], byte[]>> got) {
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < sent.size(); i++) index.put(new String(sent.get(i).key(), StandardCharsets.UTF_8), i);
        Set<String> seen = new HashSet<>();
        for (ConsumerRecord<byte[], byte[]> r : got) {
            String key = r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8);
            Integer i = index.get(key);
            if (i == null) throw fail("unexpected record " + key + " at " + r.partition() + "/" + r.offset());
            if (!seen.add(key)) throw fail("record " + key + " received twice");
            if (!Arrays.equals(r.value(), sent.get(i).value()))
                throw fail("record " + key + ": value " + show(r.value()) + " != " + show(sent.get(i).value()));
            RecordMetadata m = acks.get(i);
            if (r.partition() != m.partition() || r.offset() != m.offset())
                throw fail("record " + key + " at " + r.partition() + "/" + r.offset() + ", acked at " + m.partition() + "/" + m.offset());
            if (r.timestamp() != m.timestamp()) throw fail("record " + key + ": timestamp " + r.timestamp() + " != " + m.timestamp());
        }
        if (seen.size() != sent.size())
            throw fail((sent.size() - seen.size()) + " of " + sent.size() + " records never received");
    }

    /** Creates topic (1 partition), sends recs to partition 0; acks on 0, with checkOffsets at 0..n-1 in order. */
    static List<RecordMetadata> produceToNew(String topic, List<Rec> recs, Map<String, Object> settings, boolean checkOffsets) throws Exception {
        createTopic(topic, 1, Map.of());
        List<RecordMetadata> acks = produce(topic, recs, 0, settings);
        checkAcked(acks, 0, checkOffsets);
        return acks;
    }

    static String roundtrip(String name, List<Rec> recs, Map<String, Object> settings, boolean checkOffsets) throws Exception {
        String topic = prefix + "-" + name;
        List<RecordMetadata> acks = produceToNew(topic, recs, settings, checkOffsets);
        compare(recs, acks, read(topic, 0, 0, recs.size()), 0, 0);
        return recs.size() + " records, producer " + (settings.isEmpty() ? "defaults" : settings) + ": "
            + (checkOffsets ? "acked at 0.." + (recs.size() - 1) + ", " : "") + "read back equal";
    }

    // --- admin ---------------------------------------------------------------------

    static String createTopics() throws Exception {
        createTopic(adminTopic, 3, Map.of("retention.ms", "3600000"));
        try {
            createTopic(adminTopic, 3, Map.of());
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException))
                throw fail("second create failed with " + describe(e) + ", want TOPIC_ALREADY_EXISTS");
            return "created with 3 partitions + retention.ms; second create -> TopicExistsException";
        }
        throw fail("second create of the same topic succeeded");
    }

    static void partitionsAre(String topic, int n) throws Exception {
        List<Integer> want = IntStream.range(0, n).boxed().collect(Collectors.toList());
        waitUntil(topic + " has partitions 0.." + (n - 1) + " with leaders", STEP_MS, () -> {
            TopicDescription d = get(admin.describeTopics(List.of(topic)).allTopicNames(), 5000).get(topic);
            Set<Integer> brokers = get(admin.describeCluster().nodes(), 5000).stream().map(Node::id).collect(Collectors.toSet());
            Map<Integer, Integer> leaders = new TreeMap<>();
            for (TopicPartitionInfo p : d.partitions()) leaders.put(p.partition(), p.leader() == null ? null : p.leader().id());
            boolean ok = new ArrayList<>(leaders.keySet()).equals(want) && d.partitions().size() == n
                && leaders.values().stream().allMatch(brokers::contains);
            return ok ? null : "partitions/leaders " + leaders + ", brokers " + brokers;
        });
    }

    static String describeConfigs() throws Exception {
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, adminTopic);
        Config config = get(admin.describeConfigs(List.of(res)).all(), STEP_MS).get(res);
        Map<String, String> got = new TreeMap<>();
        for (String name : List.of("cleanup.policy", "retention.ms")) {
            ConfigEntry e = config == null ? null : config.get(name);
            got.put(name, e == null ? null : e.value());
        }
        if (!got.equals(Map.of("retention.ms", "3600000", "cleanup.policy", "delete"))) throw fail("configs " + got);
        return "retention.ms=3600000, cleanup.policy=delete";
    }

    static String createPartitions() throws Exception {
        get(admin.createPartitions(Map.of(adminTopic, NewPartitions.increaseTo(5))).all(), STEP_MS);
        partitionsAre(adminTopic, 5);
        return "grown to 5; describe shows 0..4 with leaders";
    }

    static String describeCluster() throws Exception {
        DescribeClusterResult d = admin.describeCluster();
        List<Node> brokers = new ArrayList<>(get(d.nodes(), STEP_MS));
        List<String> nodes = brokers.stream().map(n -> n.host() + ":" + n.port()).collect(Collectors.toList());
        String clusterId = get(d.clusterId(), STEP_MS);
        Node controller = get(d.controller(), STEP_MS);
        if (!nodes.equals(List.of(boot))) throw fail("brokers " + nodes + ", want [" + boot + "]");
        if (clusterId == null || clusterId.isEmpty()) throw fail("cluster id '" + clusterId + "'");
        return "one broker " + nodes.get(0) + " (id " + brokers.get(0).id() + "), cluster id " + clusterId
            + ", controller " + (controller == null ? null : controller.id());
    }

    static String deleteTopics() throws Exception {
        get(admin.deleteTopics(List.of(adminTopic)).all(), STEP_MS);
        waitUntil(adminTopic + " gone from the topic list", 10_000,
            () -> get(admin.listTopics().names(), 5000).contains(adminTopic) ? "still listed" : null);
        return "deleted; gone from the topic list";
    }

    // --- consume -------------------------------------------------------------------

    static String assignSeek() throws Exception {
        String topic = prefix + "-seek";
        List<Rec> recs = keyed("seek", 20, null);
        List<RecordMetadata> acks = produceToNew(topic, recs, settings(), true);
        compare(recs.subList(7, 20), acks.subList(7, 20), read(topic, 0, 7, 13), 0, 7);
        return "assign(0) + seek(7) -> exactly records 7..19";
    }

    static String offsetsForTimes() throws Exception {
        String topic = prefix + "-times";
        List<Rec> recs = keyed("times", 10, T0);
        List<RecordMetadata> acks = produceToNew(topic, recs, settings(), true);
        TopicPartition tp = new TopicPartition(topic, 0);
        OffsetAndTimestamp found, none;
        KafkaConsumer<byte[], byte[]> c = consumer(null, "none");
        try {
            found = c.offsetsForTimes(Map.of(tp, T0 + 4500), STEP).get(tp);
            none = c.offsetsForTimes(Map.of(tp, T0 + 100000), STEP).get(tp);
        } finally {
            c.close(CLOSE);
        }
        if (found == null || found.offset() != 5 || found.timestamp() != T0 + 5000)
            throw fail("offset for T0+4500: " + found + ", want offset 5 with timestamp T0+5000=" + (T0 + 5000));
        if (none != null) throw fail("offset for T0+100000: " + none + ", want null");
        compare(recs.subList(5, 10), acks.subList(5, 10), read(topic, 0, found.offset(), 5), 0, 5);
        return "T0+4500 -> 5 (timestamp T0+5000), T0+100000 -> null, records 5..9 from there";
    }

    static String groupCommit() throws Exception {
        createTopic(groupTopic, 2, Map.of());
        List<Rec> recs = keyed("group", 40, null);
        List<RecordMetadata> acks = produce(groupTopic, recs, null, settings());
        Map<Integer, Long> ends = new TreeMap<>(Map.of(0, 0L, 1, 0L));
        for (RecordMetadata m : acks) ends.merge(m.partition(), m.offset() + 1, Math::max);
        Map<Integer, Long> positions = new TreeMap<>();
        KafkaConsumer<byte[], byte[]> c = consumer(groupTopic, "earliest");
        try {
            c.subscribe(List.of(groupTopic));
            compareExactlyOnce(recs, acks, collect(c, recs.size()));
            c.commitSync(STEP);
            for (TopicPartition tp : c.assignment()) positions.put(tp.partition(), c.position(tp, STEP));
        } finally {
            c.close(CLOSE); // leaves the group
        }
        groupEnds = ends;
        return recs.size() + " records once each, where acked (ends " + ends + "); commitSync at positions " + positions;
    }

    static String committedOffsets() throws Exception {
        Set<TopicPartition> tps = Set.of(new TopicPartition(groupTopic, 0), new TopicPartition(groupTopic, 1));
        Map<Integer, Long> committed = new TreeMap<>(), high = new TreeMap<>(), listed = new TreeMap<>();
        KafkaConsumer<byte[], byte[]> c = consumer(groupTopic, "earliest");
        try {
            c.committed(tps, STEP).forEach((tp, om) -> committed.put(tp.partition(), om == null ? null : om.offset()));
            c.endOffsets(tps, STEP).forEach((tp, o) -> high.put(tp.partition(), o));
        } finally {
            c.close(CLOSE);
        }
        Map<TopicPartition, OffsetAndMetadata> fromAdmin =
            get(admin.listConsumerGroupOffsets(groupTopic).partitionsToOffsetAndMetadata(), STEP_MS);
        fromAdmin.forEach((tp, om) -> listed.put(tp.partition(), om == null ? null : om.offset()));
        if (!committed.equals(groupEnds) || !high.equals(groupEnds) || !listed.equals(groupEnds))
            throw fail("consumer committed() " + committed + ", admin listConsumerGroupOffsets " + listed
                + ", end offsets " + high + ", acked ends " + groupEnds);
        return "committed() = listConsumerGroupOffsets = end offsets " + committed;
    }

    // --- transactions ----------------------------------------------------------------

    /** A transactional producer, initialised; its blocking calls wait up to max.block.ms. */
    static KafkaProducer<byte[], byte[]> txnProducer(String transactionalId) {
        Properties p = new Properties();
        p.put("bootstrap.servers", boot);
        p.put("max.block.ms", (int) STEP_MS);
        p.put("transactional.id", transactionalId);
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        try {
            producer.initTransactions();
        } catch (RuntimeException e) {
            producer.close(CLOSE);
            throw e;
        }
        return producer;
    }

    /** Records tag0..tag9 (key = value). */
    static List<Rec> txnRecords(String tag) {
        List<Rec> out = new ArrayList<>();
        for (int i = 0; i < 10; i++) out.add(new Rec(b(tag + i), b(tag + i), List.of(), null));
        return out;
    }

    /** The same records with their values upper-cased. */
    static List<Rec> upper(List<Rec> recs) {
        return recs.stream().map(r -> new Rec(r.key(), b(new String(r.value(), StandardCharsets.UTF_8).toUpperCase()), List.of(), null))
            .collect(Collectors.toList());
    }

    /** Reads partition 0 of topic from the beginning with that isolation.level. */
    static List<ConsumerRecord<byte[], byte[]>> readIsolated(String topic, String isolation, int n) {
        KafkaConsumer<byte[], byte[]> c = consumer(null, "none", isolation);
        try {
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            return collect(c, n);
        } finally {
            c.close(CLOSE);
        }
    }

    /** Reads of transactional records: control records take offsets too, so `got` (in the order
     *  received) must be `sent` in order on partition 0, at exactly the acked offsets (which
     *  increase strictly), with the acked timestamps. */
    static void compareInOrder(List<Rec> sent, List<RecordMetadata> acks, List<ConsumerRecord<byte[], byte[]>> got) {
        List<String> problems = new ArrayList<>();
        if (got.size() != sent.size())
            problems.add("got " + got.size() + " records " + values(got) + ", want " + sent.size());
        for (int i = 0; i < Math.min(sent.size(), got.size()); i++) {
            Rec want = sent.get(i);
            RecordMetadata ack = acks.get(i);
            ConsumerRecord<byte[], byte[]> have = got.get(i);
            String where = "record " + i + " (" + show(want.value()) + ")";
            if (have.partition() != 0 || have.offset() != ack.offset())
                problems.add(where + ": at " + have.partition() + "/" + have.offset() + ", acked at " + ack.partition() + "/" + ack.offset());
            if (i > 0 && have.offset() <= got.get(i - 1).offset())
                problems.add(where + ": offset " + have.offset() + " after " + got.get(i - 1).offset());
            if (!Arrays.equals(have.key(), want.key())) problems.add(where + ": key " + show(have.key()) + " != " + show(want.key()));
            if (!Arrays.equals(have.value(), want.value())) problems.add(where + ": value " + show(have.value()) + " != " + show(want.value()));
            if (have.headers().toArray().length != 0) problems.add(where + ": headers " + show(have.headers()) + ", sent none");
            if (have.timestamp() != ack.timestamp()) problems.add(where + ": timestamp " + have.timestamp() + " != " + ack.timestamp());
        }
        if (!problems.isEmpty())
            throw fail(String.join("; ", problems.subList(0, Math.min(5, problems.size())))
                + (problems.size() > 5 ? " (+" + (problems.size() - 5) + " more)" : ""));
    }

    static String values(List<ConsumerRecord<byte[], byte[]>> got) {
        List<String> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : got) out.add(r.value() == null ? "null" : new String(r.value(), StandardCharsets.UTF_8));
        return out.size() > 12 ? out.subList(0, 12) + "..." : out.toString();
    }

    static String transactions() throws Exception {
        String topic = prefix + "-txn";
        createTopic(topic, 1, Map.of());
        List<Rec> a = txnRecords("a"), bs = txnRecords("b"), c = txnRecords("c");
        List<RecordMetadata> aAcks, bAcks, cAcks;
        KafkaProducer<byte[], byte[]> p = txnProducer(topic);
        try {
            p.beginTransaction();
            aAcks = sendAll(p, topic, a, 0);
            p.commitTransaction();
            p.beginTransaction();
            bAcks = sendAll(p, topic, bs, 0);
            p.abortTransaction();
            p.beginTransaction();
            cAcks = sendAll(p, topic, c, 0);
            p.commitTransaction();
        } finally {
            p.close(CLOSE);
        }
        List<Rec> committed = new ArrayList<>(a), all = new ArrayList<>(a);
        committed.addAll(c);
        all.addAll(bs);
        all.addAll(c);
        List<RecordMetadata> committedAcks = new ArrayList<>(aAcks), allAcks = new ArrayList<>(aAcks);
        committedAcks.addAll(cAcks);
        allAcks.addAll(bAcks);
        allAcks.addAll(cAcks);
        List<ConsumerRecord<byte[], byte[]>> got = readIsolated(topic, "read_committed", 20);
        compareInOrder(committed, committedAcks, got);
        compareInOrder(all, allAcks, readIsolated(topic, "read_uncommitted", 30));
        return "a0..a9 committed, b0..b9 aborted, c0..c9 committed (acked offsets " + allAcks.get(0).offset() + ".."
            + allAcks.get(29).offset() + "); read_committed got exactly a*, c* (offsets " + got.get(0).offset() + ".." + got.get(9).offset()
            + ", " + got.get(10).offset() + ".." + got.get(19).offset() + "), read_uncommitted all 30 in order";
    }

    /** The group's committed offset of tp through consumer c (read_committed: stable offsets only). */
    static Long committedOffset(KafkaConsumer<byte[], byte[]> c, TopicPartition tp) {
        OffsetAndMetadata om = c.committed(Set.of(tp), STEP).get(tp);
        return om == null ? null : om.offset();
    }

    static String sendOffsetsToTransaction() throws Exception {
        String group = prefix + "-eos", in = prefix + "-eos-in", out = prefix + "-eos-out";
        createTopic(in, 1, Map.of());
        createTopic(out, 1, Map.of());
        List<Rec> first = keyed("eos", 10, null), more = keyed("eos-more", 5, null);
        List<RecordMetadata> firstAcks = produce(in, first, 0, settings());
        checkAcked(firstAcks, 0, true);
        TopicPartition tp = new TopicPartition(in, 0);
        KafkaConsumer<byte[], byte[]> c = consumer(group, "earliest", "read_committed");
        KafkaProducer<byte[], byte[]> p = null;
        try {
            c.subscribe(List.of(in));
            p = txnProducer(group);
            // Round 1: consume 10, write them upper-cased, offsets (position 10) in the transaction, commit.
            compare(first, firstAcks, collect(c, 10), 0, 0);
            long pos = c.position(tp, STEP);
            if (pos != 10) throw fail("consumer position " + pos + " after 10 records, want 10");
            p.beginTransaction();
            List<RecordMetadata> outAcks = sendAll(p, out, upper(first), 0);
            p.sendOffsetsToTransaction(Map.of(tp, new OffsetAndMetadata(pos)), c.groupMetadata());
            p.commitTransaction();
            waitUntil("committed offset of " + in + "/0 is 10", STEP_MS, () -> {
                Long o = committedOffset(c, tp);
                return o != null && o == 10 ? null : "committed " + o;
            });
            compareInOrder(upper(first), outAcks, readIsolated(out, "read_committed", 10));
            // Round 2: 5 more; the same loop, but the transaction is aborted.
            List<RecordMetadata> moreAcks = produce(in, more, 0, settings());
            compare(more, moreAcks, collect(c, 5), 0, 10);
            long pos2 = c.position(tp, STEP);
            if (pos2 != 15) throw fail("consumer position " + pos2 + " after 15 records, want 15");
            p.beginTransaction();
            sendAll(p, out, upper(more), 0);
            p.sendOffsetsToTransaction(Map.of(tp, new OffsetAndMetadata(pos2)), c.groupMetadata());
            p.abortTransaction();
            compareInOrder(upper(first), outAcks, readIsolated(out, "read_committed", 10));
            Long afterAbort = committedOffset(c, tp);
            if (afterAbort == null || afterAbort != 10)
                throw fail("after the aborted transaction (offsets at 15) the consumer's committed() is " + afterAbort + ", want 10");
        } finally {
            c.close(CLOSE);
            if (p != null) p.close(CLOSE);
        }
        OffsetAndMetadata listed = get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata(), STEP_MS).get(tp);
        if (listed == null || listed.offset() != 10)
            throw fail("after the aborted transaction admin listConsumerGroupOffsets shows " + listed + ", want 10");
        return "10 records consumed, written upper-cased + offsets (position 10, consumer.groupMetadata()) committed in a transaction: "
            + "committed offset 10, read_committed output = those 10; 5 more in an aborted transaction: committed() and "
            + "listConsumerGroupOffsets still 10, output still those 10";
    }
}
