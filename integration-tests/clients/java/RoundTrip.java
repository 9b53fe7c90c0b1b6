// Round trip through a Kafka-compatible broker with the Java kafka-clients 3.9.1.
//
// Usage: java -cp <build dir>:<kafka-clients and friends> RoundTrip HOST:PORT TOPIC
// (java/roundtrip.sh does this after setup.sh compiled the class.)
//
// 1. Admin: createTopics (3 partitions), describeTopics, describeCluster,
//    describeConfigs on the topic.
// 2. A KafkaProducer with default settings (idempotence is on by default)
//    plus acks=all sends 1000 records with keys, headers, explicit timestamps;
//    some to explicit partitions, some placed by the default partitioner;
//    one tombstone, one null key, one empty value, a few large values. Then a
//    small producer per compression codec (gzip, snappy, lz4, zstd). Every
//    future is checked.
// 3. A KafkaConsumer without group.id: assign all partitions, seekToBeginning,
//    poll until everything is seen; compare record by record with the
//    acknowledged (partition, offset); offsets strictly increasing; the
//    beginning/end offsets equal 0 and the record count.
// 4. offsetsForTimes for a timestamp in the middle must return, per
//    partition, the first offset whose timestamp is >= it; for a timestamp
//    after every record it must return null.
//
// Exits 0 only if everything checked out.

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class RoundTrip {
    static final int PARTITIONS = 3;
    static final int MAIN_RECORDS = 1000;
    static final int PER_CODEC_RECORDS = 25;
    static final String[] CODECS = {"gzip", "snappy", "lz4", "zstd"};
    static final long STEP_TIMEOUT_MS = 20_000;

    static final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Failure(String msg) { super(msg); }
    }

    static final class Rec {
        final int seq;
        final byte[] key;
        final byte[] value;
        final List<String> headerKeys = new ArrayList<>(); // parallel to headerValues
        final List<byte[]> headerValues = new ArrayList<>();
        final Integer partition;
        final long timestamp;
        RecordMetadata meta;

        Rec(int seq, String group, long baseTs) {
            this.seq = seq;
            byte[] k = (group + "-key-" + seq).getBytes(StandardCharsets.UTF_8);
            byte[] prefix = (group + "-value-" + seq + "-").getBytes(StandardCharsets.UTF_8);
            byte[] v = Arrays.copyOf(prefix, prefix.length + seq % 39);
            Arrays.fill(v, prefix.length, v.length, (byte) (seq % 251));
            if (seq % 7 != 0) {
                addHeader("seq", Integer.toString(seq).getBytes(StandardCharsets.UTF_8));
                addHeader("group", group.getBytes(StandardCharsets.UTF_8));
                if (seq % 3 == 0) {
                    addHeader("dup", "first".getBytes(StandardCharsets.UTF_8));
                    addHeader("dup", "second".getBytes(StandardCharsets.UTF_8));
                }
                if (seq % 5 == 0) addHeader("null-header", null);
            }
            if (seq == 10) v = null;      // tombstone
            if (seq == 11) k = null;      // null key
            if (seq == 12) v = new byte[0];
            if (seq % 250 == 17) {        // ~100 KiB
                v = new byte[100_000];
                for (int i = 0; i < v.length; i++) v[i] = (byte) (i * 31 + seq);
            }
            this.key = k;
            this.value = v;
            this.partition = (seq % 2 == 0 || k == null) ? Integer.valueOf((seq / 2) % PARTITIONS) : null;
            this.timestamp = baseTs + seq;
        }

        void addHeader(String k, byte[] v) {
            headerKeys.add(k);
            headerValues.add(v);
        }

        RecordHeaders headers() {
            RecordHeaders h = new RecordHeaders();
            for (int i = 0; i < headerKeys.size(); i++) h.add(headerKeys.get(i), headerValues.get(i));
            return h;
        }
    }

    static void log(String msg) {
        System.out.println("[java] " + msg);
        System.out.flush();
    }

    static Failure fail(String msg) {
        throw new Failure(msg);
    }

    static String show(byte[] b) {
        if (b == null) return "null";
        if (b.length > 40) return b.length + " bytes";
        return "'" + new String(b, StandardCharsets.UTF_8) + "'";
    }

    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: RoundTrip HOST:PORT TOPIC");
            System.exit(2);
        }
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(75_000);
            } catch (InterruptedException e) {
                return;
            }
            System.err.println("[java] FAIL: overall timeout (75 s)");
            System.err.flush();
            Runtime.getRuntime().halt(1);
        });
        watchdog.setDaemon(true);
        watchdog.start();
        int code;
        try {
            run(args[0], args[1]);
            code = 0;
        } catch (Failure e) {
            System.err.println("[java] FAIL: " + e.getMessage());
            code = 1;
        } catch (Throwable e) {
            e.printStackTrace();
            Throwable root = e;
            while (root.getCause() != null && root.getCause() != root) root = root.getCause();
            System.err.println("[java] FAIL: unexpected " + e + (root != e ? " (cause: " + root + ")" : ""));
            code = 1;
        }
        System.out.flush();
        System.err.flush();
        // Halt: never wait for lingering client threads.
        Runtime.getRuntime().halt(code);
    }

    static <T> T get(org.apache.kafka.common.KafkaFuture<T> f, String what) throws Exception {
        try {
            return f.get(STEP_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw fail(what + " failed: " + e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw fail(what + " timed out after " + STEP_TIMEOUT_MS + " ms");
        }
    }

    static void run(String bootstrap, String topic) throws Exception {
        long started = System.nanoTime();

        // --- admin ------------------------------------------------------------
        Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        ap.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) STEP_TIMEOUT_MS);
        ap.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) STEP_TIMEOUT_MS);
        try (Admin admin = Admin.create(ap)) {
            get(admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all(),
                "createTopics(" + topic + ")");
            log("created topic " + topic + " with " + PARTITIONS + " partitions");

            Map<String, TopicDescription> descs =
                get(admin.describeTopics(List.of(topic)).allTopicNames(), "describeTopics");
            TopicDescription d = descs.get(topic);
            if (d == null) fail("describeTopics did not return " + topic + ": " + descs);
            if (d.partitions().size() != PARTITIONS) fail("describeTopics: " + d.partitions().size() + " partitions, expected " + PARTITIONS + ": " + d);
            for (TopicPartitionInfo p : d.partitions()) {
                if (p.leader() == null || p.leader().isEmpty()) fail("describeTopics: partition " + p.partition() + " has no leader: " + d);
            }
            if (d.topicId() == null) fail("describeTopics: no topic id");
            log("describeTopics ok: " + d.partitions().size() + " partitions, topic id " + d.topicId());

            DescribeClusterResult cluster = admin.describeCluster();
            Collection<Node> nodes = get(cluster.nodes(), "describeCluster.nodes");
            String clusterId = get(cluster.clusterId(), "describeCluster.clusterId");
            Node controller = get(cluster.controller(), "describeCluster.controller");
            if (nodes.isEmpty()) fail("describeCluster: no nodes");
            log("describeCluster ok: cluster id " + clusterId + ", nodes " + nodes + ", controller " + controller);

            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            Map<ConfigResource, Config> configs =
                get(admin.describeConfigs(List.of(res)).all(), "describeConfigs(topic " + topic + ")");
            Config cfg = configs.get(res);
            if (cfg == null) fail("describeConfigs did not return the topic resource: " + configs);
            ConfigEntry cleanup = cfg.get("cleanup.policy");
            if (cleanup != null && !"delete".equals(cleanup.value())) {
                fail("describeConfigs: cleanup.policy=" + cleanup.value() + ", expected delete (default)");
            }
            log("describeConfigs ok: " + cfg.entries().size() + " entries"
                + (cleanup == null ? " (no cleanup.policy)" : ", cleanup.policy=" + cleanup.value()));
        }

        // --- produce ----------------------------------------------------------
        long baseTs = System.currentTimeMillis() - 3_600_000L;
        List<Rec> all = new ArrayList<>();
        List<Rec> main = new ArrayList<>();
        for (int i = 0; i < MAIN_RECORDS; i++) main.add(new Rec(i, "main", baseTs));
        produce(bootstrap, topic, main, null);
        all.addAll(main);
        int seq = MAIN_RECORDS;
        for (String codec : CODECS) {
            List<Rec> recs = new ArrayList<>();
            for (int i = 0; i < PER_CODEC_RECORDS; i++) recs.add(new Rec(seq++, codec, baseTs));
            produce(bootstrap, topic, recs, codec);
            all.addAll(recs);
        }

        Map<String, Rec> want = new HashMap<>();
        Map<Integer, List<Rec>> byPart = new TreeMap<>();
        for (Rec r : all) {
            if (r.partition != null && r.meta.partition() != r.partition) {
                fail("seq " + r.seq + " sent to partition " + r.partition + " but acked on " + r.meta.partition());
            }
            if (!r.meta.hasOffset() || r.meta.offset() < 0) fail("seq " + r.seq + " acked without a valid offset: " + r.meta);
            String id = r.meta.partition() + "/" + r.meta.offset();
            if (want.put(id, r) != null) fail("offset " + id + " acked twice");
            byPart.computeIfAbsent(r.meta.partition(), p -> new ArrayList<>()).add(r);
        }
        for (Map.Entry<Integer, List<Rec>> e : byPart.entrySet()) {
            long prev = -1;
            for (Rec r : e.getValue()) { // in send order
                if (r.meta.offset() <= prev) fail("partition " + e.getKey() + ": acked offsets not in send order");
                prev = r.meta.offset();
            }
        }

        // --- consume (assign mode, no group) ----------------------------------
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
        cp.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) STEP_TIMEOUT_MS);
        cp.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) STEP_TIMEOUT_MS);
        List<String> problems = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int p = 0; p < PARTITIONS; p++) tps.add(new TopicPartition(topic, p));
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            Map<String, Rec> pending = new HashMap<>(want);
            Map<Integer, Long> last = new HashMap<>();
            int got = 0;
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STEP_TIMEOUT_MS);
            boolean extraRound = false;
            long extraDeadline = 0;
            while (true) {
                long now = System.nanoTime();
                if (!extraRound && pending.isEmpty()) {
                    extraRound = true; // one more second to catch duplicates/extras
                    extraDeadline = now + TimeUnit.MILLISECONDS.toNanos(1000);
                }
                if (extraRound ? now > extraDeadline : now > deadline) break;
                for (ConsumerRecord<byte[], byte[]> m : consumer.poll(Duration.ofMillis(200))) {
                    got++;
                    int p = m.partition();
                    long o = m.offset();
                    Long prev = last.get(p);
                    if (prev != null && o <= prev) problems.add("partition " + p + ": offset " + o + " after " + prev + " (not strictly increasing)");
                    last.put(p, o);
                    Rec r = pending.remove(p + "/" + o);
                    if (r == null) {
                        problems.add("unexpected or duplicate record at partition " + p + " offset " + o + " key " + show(m.key()));
                        continue;
                    }
                    compare(r, m, problems);
                }
                if (problems.size() > 20) break;
            }
            if (!pending.isEmpty() && problems.size() <= 20) {
                problems.add("consumed " + got + " records; " + pending.size() + " acked record(s) never consumed within "
                    + STEP_TIMEOUT_MS + " ms, e.g. " + new ArrayList<>(new TreeMap<>(pending).keySet()).subList(0, Math.min(10, pending.size())));
            }

            try {
                Map<TopicPartition, Long> begin = consumer.beginningOffsets(tps, Duration.ofMillis(STEP_TIMEOUT_MS));
                Map<TopicPartition, Long> end = consumer.endOffsets(tps, Duration.ofMillis(STEP_TIMEOUT_MS));
                for (TopicPartition tp : tps) {
                    long n = byPart.getOrDefault(tp.partition(), List.of()).size();
                    if (begin.get(tp) == null || begin.get(tp) != 0 || end.get(tp) == null || end.get(tp) != n) {
                        problems.add("partition " + tp.partition() + ": beginning/end offsets " + begin.get(tp) + "/" + end.get(tp) + ", expected 0/" + n);
                    }
                }
            } catch (RuntimeException e) {
                problems.add("beginningOffsets/endOffsets threw " + e);
            }

            // offsetsForTimes: a timestamp in the middle, one before and one after everything.
            long mid = baseTs + MAIN_RECORDS / 2;
            Map<TopicPartition, OffsetAndTimestamp> found = offsetsForTimes(consumer, tps, mid, "mid", problems);
            if (found != null) {
                for (TopicPartition tp : tps) {
                    Rec first = null;
                    for (Rec r : byPart.getOrDefault(tp.partition(), List.of())) {
                        if (r.timestamp >= mid) { first = r; break; }
                    }
                    OffsetAndTimestamp f = found.get(tp);
                    if (first == null) {
                        if (f != null) problems.add("offsetsForTimes(" + tp + ", mid): got " + f + ", expected null");
                    } else if (f == null || f.offset() != first.meta.offset() || f.timestamp() != first.timestamp) {
                        problems.add("offsetsForTimes(" + tp + ", mid=" + mid + "): got " + f + ", expected offset "
                            + first.meta.offset() + " timestamp " + first.timestamp);
                    }
                }
            }
            found = offsetsForTimes(consumer, tps, baseTs - 60_000, "before all", problems);
            if (found != null) {
                for (TopicPartition tp : tps) {
                    OffsetAndTimestamp f = found.get(tp);
                    List<Rec> recs = byPart.getOrDefault(tp.partition(), List.of());
                    if (!recs.isEmpty() && (f == null || f.offset() != 0 || f.timestamp() != recs.get(0).timestamp)) {
                        problems.add("offsetsForTimes(" + tp + ", before all): got " + f + ", expected offset 0 timestamp " + recs.get(0).timestamp);
                    }
                }
            }
            found = offsetsForTimes(consumer, tps, baseTs + 10_000_000L, "after all", problems);
            if (found != null) {
                for (TopicPartition tp : tps) {
                    if (found.get(tp) != null) problems.add("offsetsForTimes(" + tp + ", after all): got " + found.get(tp) + ", expected null");
                }
            }
            consumer.close(Duration.ofSeconds(5));
        }
        if (!problems.isEmpty()) {
            fail("checks failed:\n  " + String.join("\n  ", problems.subList(0, Math.min(20, problems.size()))));
        }
        StringBuilder counts = new StringBuilder();
        for (Map.Entry<Integer, List<Rec>> e : byPart.entrySet()) counts.append(e.getKey()).append('=').append(e.getValue().size()).append(' ');
        log(String.format("OK: %d records round-tripped, per partition {%s}, offsetsForTimes ok, %.1fs",
            all.size(), counts.toString().trim(), (System.nanoTime() - started) / 1e9));
    }

    static Map<TopicPartition, OffsetAndTimestamp> offsetsForTimes(
            KafkaConsumer<byte[], byte[]> consumer, List<TopicPartition> tps, long ts, String what, List<String> problems) {
        Map<TopicPartition, Long> query = new HashMap<>();
        for (TopicPartition tp : tps) query.put(tp, ts);
        try {
            return consumer.offsetsForTimes(query, Duration.ofMillis(STEP_TIMEOUT_MS));
        } catch (RuntimeException e) {
            problems.add("offsetsForTimes(" + what + ", timestamp " + ts + ") threw " + e);
            return null;
        }
    }

    static void produce(String bootstrap, String topic, List<Rec> recs, String codec) throws Exception {
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) STEP_TIMEOUT_MS);
        pp.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) STEP_TIMEOUT_MS);
        pp.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) STEP_TIMEOUT_MS + 5000);
        if (codec != null) pp.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
        String name = codec == null ? "default settings" : "compression " + codec;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp)) {
            List<Future<RecordMetadata>> futures = new ArrayList<>();
            for (Rec r : recs) {
                futures.add(producer.send(new ProducerRecord<>(topic, r.partition, r.timestamp, r.key, r.value, r.headers())));
            }
            producer.flush();
            for (int i = 0; i < recs.size(); i++) {
                try {
                    recs.get(i).meta = futures.get(i).get(STEP_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                } catch (java.util.concurrent.ExecutionException e) {
                    throw fail("send of seq " + recs.get(i).seq + " (" + name + ") failed: " + e.getCause());
                } catch (java.util.concurrent.TimeoutException e) {
                    throw fail("send of seq " + recs.get(i).seq + " (" + name + ") not acked within " + STEP_TIMEOUT_MS + " ms");
                }
            }
            producer.close(Duration.ofSeconds(5));
        }
        log("produced " + recs.size() + " records with " + name);
    }

    static void compare(Rec r, ConsumerRecord<byte[], byte[]> m, List<String> problems) {
        String id = "seq " + r.seq + " (" + m.partition() + "/" + m.offset() + ")";
        if (!Arrays.equals(m.key(), r.key)) problems.add(id + ": key " + show(m.key()) + " != " + show(r.key));
        if (!Arrays.equals(m.value(), r.value)) problems.add(id + ": value " + show(m.value()) + " != " + show(r.value));
        if (m.timestampType() != TimestampType.CREATE_TIME || m.timestamp() != r.timestamp) {
            problems.add(id + ": timestamp " + m.timestampType() + " " + m.timestamp() + " != CreateTime " + r.timestamp);
        }
        Header[] hs = m.headers().toArray();
        boolean same = hs.length == r.headerKeys.size();
        for (int i = 0; same && i < hs.length; i++) {
            same = hs[i].key().equals(r.headerKeys.get(i)) && Arrays.equals(hs[i].value(), r.headerValues.get(i));
        }
        if (!same) {
            StringBuilder sb = new StringBuilder();
            for (Header h : hs) sb.append(h.key()).append('=').append(show(h.value())).append(' ');
            problems.add(id + ": headers [" + sb.toString().trim() + "] differ from the " + r.headerKeys.size() + " sent");
        }
    }
}
