// Admin checks with Java kafka-clients 3.9.1's Admin. Usage: AdminChecks BOOTSTRAP PREFIX [configs|lead|all]
// (run through java/driver.sh with WEIR_JAVA_MAIN=AdminChecks). Prints one
// `RESULT <id> PASS|FAIL <detail>` line per check (the contract of ../SCENARIOS.md), exits 0.
// Section `configs`: topic and broker configs. Section `lead`: admin APIs implemented on main in
// parallel (DeleteRecords, DescribeLogDirs, DescribeProducers, ElectLeaders, reassignments).
// The Python twin is ../python/admin_checks.py.

import java.io.FileReader;
import java.io.Reader;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.AlterConfigsOptions;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeConfigsOptions;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.NewPartitionReassignment;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetOutOfRangeException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.ElectionNotNeededException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class AdminChecks {
    static final long STEP_MS = 20_000, DRIVER_MS = 120_000;
    static final Duration STEP = Duration.ofMillis(STEP_MS);

    static final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;
        Failure(String message) { super(message); }
    }

    interface Check { Object run() throws Exception; }

    static String boot, prefix;
    static Admin admin;

    public static void main(String[] args) throws Exception {
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: AdminChecks BOOTSTRAP PREFIX [configs|lead|all]");
            System.exit(2);
        }
        boot = args[0];
        prefix = args[1];
        String section = args.length == 3 ? args[2] : "all";
        Thread watchdog = new Thread(() -> {
            try { Thread.sleep(DRIVER_MS); } catch (InterruptedException e) { return; }
            System.err.println("[java admin] driver timed out");
            Runtime.getRuntime().halt(3);
        });
        watchdog.setDaemon(true);
        watchdog.start();
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) STEP_MS);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) STEP_MS);
        admin = Admin.create(props);

        Map<String, Check> configs = new LinkedHashMap<>();
        configs.put("create_topic_full_config_set_kafka_accepts", AdminChecks::fullConfigSet);
        configs.put("describe_topic_defaults_and_synonyms", AdminChecks::defaultsAndSynonyms);
        configs.put("create_topic_invalid_values_refused", AdminChecks::invalidValues);
        configs.put("alter_configs_topic_replaces_overrides", AdminChecks::legacyAlter);
        configs.put("incremental_alter_topic", AdminChecks::incrementalTopic);
        configs.put("broker_configs_dynamic", AdminChecks::brokerConfigs);

        // ---- lead: admin APIs implemented on main in parallel ----
        Map<String, Check> lead = new LinkedHashMap<>();
        lead.put("delete_records", AdminChecks::deleteRecords);
        lead.put("describe_log_dirs", AdminChecks::describeLogDirs);
        lead.put("describe_producers", AdminChecks::describeProducers);
        lead.put("elect_leaders", AdminChecks::electLeaders);
        lead.put("list_partition_reassignments", AdminChecks::listReassignments);
        lead.put("alter_partition_reassignments", AdminChecks::alterReassignments);

        Map<String, Check> run = new LinkedHashMap<>();
        if (!section.equals("lead")) run.putAll(configs);
        if (!section.equals("configs")) run.putAll(lead);
        for (Map.Entry<String, Check> check : run.entrySet()) {
            long started = System.nanoTime();
            try {
                String summary = String.valueOf(check.getValue().run());
                report(check.getKey(), "PASS", summary + String.format(" (%.1fs)", (System.nanoTime() - started) / 1e9));
            } catch (Failure e) {
                report(check.getKey(), "FAIL", e.getMessage());
            } catch (Throwable e) {
                Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
                e.printStackTrace();
                report(check.getKey(), "FAIL", cause.getClass().getSimpleName() + ": " + cause.getMessage());
            }
        }
        admin.close(Duration.ofSeconds(5));
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }

    static void report(String id, String status, String detail) {
        String line = String.join(" ", String.valueOf(detail).trim().split("\\s+"));
        System.out.println("RESULT " + id + " " + status + " " + (line.length() > 400 ? line.substring(0, 400) : line));
        System.out.flush();
    }

    static void fail(String message) { throw new Failure(message); }

    static void check(boolean ok, String message) { if (!ok) fail(message); }

    /** The exception `action` fails with (unwrapped), or null. */
    static Throwable failure(Check action) {
        try {
            action.run();
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (Exception e) {
            return e;
        }
    }

    static void expect(String what, Class<? extends Throwable> type, Check action) {
        Throwable got = failure(action);
        check(type.isInstance(got), what + ": expected " + type.getSimpleName() + ", got " + got);
    }

    static Map<String, String> loadFullConfigSet() throws Exception {
        Properties p = new Properties();
        Path file = Path.of(System.getProperty("user.dir"), "full-topic-configs.properties");
        try (Reader r = new FileReader(file.toFile())) { p.load(r); }
        Map<String, String> out = new TreeMap<>();
        p.forEach((k, v) -> out.put((String) k, (String) v));
        return out;
    }

    static void create(String topic, Map<String, String> configs) throws Exception {
        admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1).configs(configs))).all().get(STEP_MS, TimeUnit.MILLISECONDS);
    }

    static Config describe(ConfigResource.Type type, String name) throws Exception {
        ConfigResource r = new ConfigResource(type, name);
        DescribeConfigsOptions options = new DescribeConfigsOptions().includeSynonyms(true).includeDocumentation(true);
        return admin.describeConfigs(List.of(r), options).all().get(STEP_MS, TimeUnit.MILLISECONDS).get(r);
    }

    static void alter(ConfigResource.Type type, String name, boolean validateOnly, AlterConfigOp... ops) throws Exception {
        ConfigResource r = new ConfigResource(type, name);
        admin.incrementalAlterConfigs(Map.of(r, List.of(ops)), new AlterConfigsOptions().validateOnly(validateOnly))
            .all().get(STEP_MS, TimeUnit.MILLISECONDS);
    }

    static AlterConfigOp op(String name, String value, AlterConfigOp.OpType type) {
        return new AlterConfigOp(new ConfigEntry(name, value), type);
    }

    static String nodeId() throws Exception {
        return String.valueOf(admin.describeCluster().nodes().get(STEP_MS, TimeUnit.MILLISECONDS).iterator().next().id());
    }

    // ---- configs ----

    static String fullConfigSet() throws Exception {
        String topic = prefix + "-full";
        Map<String, String> wanted = loadFullConfigSet();
        create(topic, wanted);
        Config got = describe(ConfigResource.Type.TOPIC, topic);
        for (Map.Entry<String, String> w : wanted.entrySet()) {
            ConfigEntry e = got.get(w.getKey());
            check(e != null, w.getKey() + " not described");
            check(w.getValue().equals(e.value()) && e.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG,
                w.getKey() + ": " + e.value() + " " + e.source() + ", wanted " + w.getValue() + " DYNAMIC_TOPIC_CONFIG");
            check(e.documentation() != null && !e.documentation().isEmpty(), w.getKey() + ": no documentation");
        }
        Set<String> extra = new TreeSet<>();
        for (ConfigEntry e : got.entries()) if (!wanted.containsKey(e.name())) extra.add(e.name());
        check(extra.isEmpty(), "described configs outside Kafka's topic config set: " + extra);
        return wanted.size() + " configs created and described as DYNAMIC_TOPIC_CONFIG, with documentation";
    }

    static String defaultsAndSynonyms() throws Exception {
        String topic = prefix + "-plain";
        create(topic, Map.of());
        Config got = describe(ConfigResource.Type.TOPIC, topic);
        ConfigEntry ret = got.get("retention.ms"), seg = got.get("segment.bytes"), ratio = got.get("min.cleanable.dirty.ratio");
        check("604800000".equals(ret.value()) && ret.source() == ConfigEntry.ConfigSource.DEFAULT_CONFIG, "retention.ms " + ret);
        check(ret.type() == ConfigEntry.ConfigType.LONG && seg.type() == ConfigEntry.ConfigType.INT
            && ratio.type() == ConfigEntry.ConfigType.DOUBLE && "0.5".equals(ratio.value()), "types: " + ret.type() + " " + seg.type() + " " + ratio);
        check(seg.synonyms().size() == 1 && seg.synonyms().get(0).name().equals("log.segment.bytes")
            && seg.synonyms().get(0).source() == ConfigEntry.ConfigSource.DEFAULT_CONFIG, "segment.bytes synonyms " + seg.synonyms());
        check(!ret.isReadOnly() && !ret.isSensitive(), "retention.ms read-only or sensitive");
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        Config some = admin.describeConfigs(List.of(r), new DescribeConfigsOptions()).all().get().get(r);
        check(some.get("retention.ms").synonyms().isEmpty() && some.get("retention.ms").documentation() == null,
            "synonyms/documentation returned without being asked");
        expect("unknown topic", UnknownTopicOrPartitionException.class, () -> describe(ConfigResource.Type.TOPIC, prefix + "-missing"));
        return got.entries().size() + " configs; defaults, types, synonyms only when asked; unknown topic refused";
    }

    static String invalidValues() throws Exception {
        Map<String, String> cases = new TreeMap<>(Map.of("segment.bytes", "100", "retention.ms", "-5", "cleanup.policy", "sometimes",
            "message.timestamp.type", "Now", "preallocate", "yes", "min.cleanable.dirty.ratio", "2", "no.such.config", "1",
            "remote.storage.enable", "true", "compression.gzip.level", "0", "leader.replication.throttled.replicas", "0-1"));
        for (Map.Entry<String, String> c : cases.entrySet()) {
            expect(c.getKey() + "=" + c.getValue(), InvalidConfigurationException.class,
                () -> { create(prefix + "-bad-" + c.getKey().replace('.', '-'), Map.of(c.getKey(), c.getValue())); return null; });
        }
        return cases.size() + " invalid configs refused with INVALID_CONFIG";
    }

    @SuppressWarnings("deprecation")
    static String legacyAlter() throws Exception {
        String topic = prefix + "-legacy";
        create(topic, Map.of("max.message.bytes", "5000", "retention.ms", "100000"));
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        admin.alterConfigs(Map.of(r, new Config(List.of(new ConfigEntry("retention.ms", "200000"))))).all().get();
        Config got = describe(ConfigResource.Type.TOPIC, topic);
        check("200000".equals(got.get("retention.ms").value()), "retention.ms " + got.get("retention.ms"));
        check(got.get("max.message.bytes").source() == ConfigEntry.ConfigSource.DEFAULT_CONFIG,
            "max.message.bytes kept its override: AlterConfigs must replace the whole set");
        admin.alterConfigs(Map.of(r, new Config(List.of(new ConfigEntry("retention.ms", "1")))), new AlterConfigsOptions().validateOnly(true)).all().get();
        check("200000".equals(describe(ConfigResource.Type.TOPIC, topic).get("retention.ms").value()), "validateOnly changed retention.ms");
        return "retention.ms altered; the other override removed; validateOnly changes nothing";
    }

    static String incrementalTopic() throws Exception {
        String topic = prefix + "-incr";
        create(topic, Map.of("max.message.bytes", "5000"));
        alter(ConfigResource.Type.TOPIC, topic, false, op("retention.ms", "300000", AlterConfigOp.OpType.SET),
            op("max.message.bytes", null, AlterConfigOp.OpType.DELETE), op("cleanup.policy", "compact", AlterConfigOp.OpType.APPEND));
        Config got = describe(ConfigResource.Type.TOPIC, topic);
        String seen = got.get("retention.ms").value() + " " + got.get("max.message.bytes").value() + " " + got.get("cleanup.policy").value();
        check(seen.equals("300000 1048588 delete,compact"), "after SET/DELETE/APPEND: " + seen);
        alter(ConfigResource.Type.TOPIC, topic, false, op("cleanup.policy", "delete", AlterConfigOp.OpType.SUBTRACT));
        check("compact".equals(describe(ConfigResource.Type.TOPIC, topic).get("cleanup.policy").value()), "SUBTRACT delete did not leave compact");
        alter(ConfigResource.Type.TOPIC, topic, true, op("retention.ms", "1", AlterConfigOp.OpType.SET));
        check("300000".equals(describe(ConfigResource.Type.TOPIC, topic).get("retention.ms").value()), "validateOnly changed retention.ms");
        expect("APPEND to a LONG", InvalidConfigurationException.class,
            () -> { alter(ConfigResource.Type.TOPIC, topic, false, op("retention.ms", "1", AlterConfigOp.OpType.APPEND)); return null; });
        expect("segment.bytes=1", InvalidConfigurationException.class,
            () -> { alter(ConfigResource.Type.TOPIC, topic, false, op("segment.bytes", "1", AlterConfigOp.OpType.SET)); return null; });
        expect("unknown topic", UnknownTopicOrPartitionException.class,
            () -> { alter(ConfigResource.Type.TOPIC, prefix + "-missing", false, op("retention.ms", "1", AlterConfigOp.OpType.SET)); return null; });
        return "SET, DELETE, APPEND, SUBTRACT, validateOnly; bad values, APPEND to non-list, unknown topic refused";
    }

    static String brokerConfigs() throws Exception {
        String node = nodeId(), topic = prefix + "-plain", name = "log.segment.delete.delay.ms";
        // log.segment.delete.delay.ms is the broker synonym of file.delete.delay.ms.
        alter(ConfigResource.Type.BROKER, "", false, op(name, "70000", AlterConfigOp.OpType.SET));
        ConfigEntry e = describe(ConfigResource.Type.TOPIC, topic).get("file.delete.delay.ms");
        check("70000".equals(e.value()) && e.source() == ConfigEntry.ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, "topic after a cluster default: " + e);
        Config defaults = describe(ConfigResource.Type.BROKER, "");
        check(defaults.entries().size() == 1 && "70000".equals(defaults.get(name).value()), "cluster defaults: " + defaults);
        alter(ConfigResource.Type.BROKER, node, false, op(name, "80000", AlterConfigOp.OpType.SET));
        ConfigEntry b = describe(ConfigResource.Type.BROKER, node).get(name);
        check("80000".equals(b.value()) && b.source() == ConfigEntry.ConfigSource.DYNAMIC_BROKER_CONFIG && !b.isReadOnly()
            && b.synonyms().size() == 3, "broker " + node + ": " + b);
        alter(ConfigResource.Type.BROKER, node, false, op(name, null, AlterConfigOp.OpType.DELETE));
        alter(ConfigResource.Type.BROKER, "", false, op(name, null, AlterConfigOp.OpType.DELETE));
        e = describe(ConfigResource.Type.TOPIC, topic).get("file.delete.delay.ms");
        check("60000".equals(e.value()) && e.source() == ConfigEntry.ConfigSource.DEFAULT_CONFIG, "after DELETE: " + e);
        Config broker = describe(ConfigResource.Type.BROKER, node);
        check(broker.get("num.partitions").isReadOnly() && broker.get("node.id").value().equals(node), "num.partitions/node.id " + broker.get("node.id"));
        check(broker.get("ssl.keystore.password").isSensitive() && broker.get("ssl.keystore.password").value() == null, "password not sensitive");
        expect("static num.partitions", InvalidRequestException.class,
            () -> { alter(ConfigResource.Type.BROKER, node, false, op("num.partitions", "3", AlterConfigOp.OpType.SET)); return null; });
        expect("per-broker listeners as cluster default", InvalidRequestException.class,
            () -> { alter(ConfigResource.Type.BROKER, "", false, op("listeners", "PLAINTEXT://:1", AlterConfigOp.OpType.SET)); return null; });
        expect("bad value", InvalidRequestException.class,
            () -> { alter(ConfigResource.Type.BROKER, node, true, op("log.segment.bytes", "10", AlterConfigOp.OpType.SET)); return null; });
        expect("APPEND to a non-list", InvalidConfigurationException.class,
            () -> { alter(ConfigResource.Type.BROKER, node, false, op("log.retention.ms", "1", AlterConfigOp.OpType.APPEND)); return null; });
        return "cluster default and per-broker values with sources and synonyms, DELETE; static, per-broker-only and bad values refused";
    }

    // ---- lead: admin APIs implemented on main in parallel ----

    static String topicWithRecords(String name, int n, boolean idempotent) throws Exception {
        String topic = prefix + "-" + name;
        create(topic, Map.of());
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, idempotent);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < n; i++) producer.send(new ProducerRecord<>(topic, 0, "k" + i, "v" + i)).get(STEP_MS, TimeUnit.MILLISECONDS);
        }
        return topic;
    }

    static String deleteRecords() throws Exception {
        String topic = topicWithRecords("delrec", 10, false);
        TopicPartition tp = new TopicPartition(topic, 0);
        long low = admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(4))).lowWatermarks().get(tp).get().lowWatermark();
        check(low == 4, "low watermark " + low);
        long earliest = admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).partitionResult(tp).get().offset();
        check(earliest == 4, "earliest after deleteRecords " + earliest);
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer())) {
            consumer.assign(List.of(tp));
            consumer.seek(tp, 0);
            long deadline = System.currentTimeMillis() + STEP_MS;
            while (System.currentTimeMillis() < deadline) {
                try {
                    check(consumer.poll(Duration.ofMillis(500)).isEmpty(), "records read below the log start offset");
                } catch (OffsetOutOfRangeException expected) {
                    return "low watermark 4; earliest follows; fetching 0 → OffsetOutOfRangeException";
                }
            }
        }
        fail("no OffsetOutOfRangeException fetching offset 0");
        return "";
    }

    static String describeLogDirs() throws Exception {
        String topic = topicWithRecords("logdirs", 5, false);
        int node = Integer.parseInt(nodeId());
        Map<String, LogDirDescription> dirs = admin.describeLogDirs(List.of(node)).allDescriptions().get().get(node);
        check(dirs != null && dirs.size() == 1, "log dirs " + dirs);
        LogDirDescription dir = dirs.values().iterator().next();
        var replica = dir.replicaInfos().get(new TopicPartition(topic, 0));
        check(replica != null && replica.size() > 0, "partition of " + topic + ": " + replica);
        return "one log dir with " + dir.replicaInfos().size() + " partitions; " + topic + "-0 is " + replica.size() + " bytes";
    }

    static String describeProducers() throws Exception {
        String topic = topicWithRecords("producers", 3, true);
        TopicPartition tp = new TopicPartition(topic, 0);
        List<ProducerState> states = admin.describeProducers(List.of(tp)).partitionResult(tp).get().activeProducers();
        check(states.size() == 1, "producers " + states);
        ProducerState s = states.get(0);
        check(s.producerId() >= 0 && s.producerEpoch() >= 0 && s.lastSequence() == 2, "state " + s);
        return "producer " + s.producerId() + " epoch " + s.producerEpoch() + " last sequence 2";
    }

    static String electLeaders() throws Exception {
        String topic = topicWithRecords("elect", 1, false);
        TopicPartition tp = new TopicPartition(topic, 0);
        Map<TopicPartition, Optional<Throwable>> result = admin.electLeaders(ElectionType.PREFERRED, Set.of(tp)).partitions().get();
        Optional<Throwable> error = result.get(tp);
        check(error != null && error.isPresent() && error.get() instanceof ElectionNotNeededException, "result " + result);
        return "PREFERRED → ElectionNotNeededException";
    }

    static String listReassignments() throws Exception {
        var reassignments = admin.listPartitionReassignments().reassignments().get();
        check(reassignments.isEmpty(), "reassignments " + reassignments);
        return "no reassignments";
    }

    static String alterReassignments() throws Exception {
        String topic = topicWithRecords("reassign", 1, false);
        TopicPartition tp = new TopicPartition(topic, 0);
        int node = Integer.parseInt(nodeId());
        admin.alterPartitionReassignments(Map.of(tp, Optional.of(new NewPartitionReassignment(List.of(node))))).all().get();
        check(admin.listPartitionReassignments().reassignments().get().isEmpty(), "reassignment still listed");
        return "reassigned to broker " + node + " (the only one); none pending";
    }
}
