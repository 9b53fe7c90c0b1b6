// Java kafka-clients consumer groups against Weir: two members of one group (subscribe,
// commitSync after every poll) share a 4-partition topic while the second joins and the first
// leaves; every record arrives exactly once; Admin lists the group and its committed offsets.
// Usage: GroupRoundTrip HOST:PORT TOPIC
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.*;

public class GroupRoundTrip {
    static final int RECORDS = 400;

    static void fail(String msg) {
        System.err.println("[java-group] FAIL: " + msg);
        System.exit(1);
    }

    public static void main(String[] args) throws Exception {
        String boot = args[0], topic = args[1], group = topic + "-group";
        Properties common = new Properties();
        common.put("bootstrap.servers", boot);
        try (Admin admin = Admin.create(common)) {
            admin.createTopics(List.of(new NewTopic(topic, 4, (short) 1))).all().get();
            Properties p = new Properties();
            p.putAll(common);
            p.put("key.serializer", StringSerializer.class.getName());
            p.put("value.serializer", StringSerializer.class.getName());
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
                for (int i = 0; i < RECORDS; i++) producer.send(new ProducerRecord<>(topic, "k" + i, "v" + i)).get();
            }
            Properties c = new Properties();
            c.putAll(common);
            c.put("group.id", group);
            c.put("enable.auto.commit", "false");
            c.put("auto.offset.reset", "earliest");
            c.put("key.deserializer", StringDeserializer.class.getName());
            c.put("value.deserializer", StringDeserializer.class.getName());
            Map<String, Integer> seen = new HashMap<>();
            KafkaConsumer<String, String> first = new KafkaConsumer<>(c);
            KafkaConsumer<String, String> second = new KafkaConsumer<>(c);
            first.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 60_000;
            // The first member alone until it has read a quarter.
            while (seen.size() < RECORDS / 4) {
                if (System.currentTimeMillis() > deadline) fail("first member stalled at " + seen.size());
                take(first, seen);
            }
            // The second joins; both keep polling through the rebalance.
            second.subscribe(List.of(topic));
            while (second.assignment().isEmpty() || first.assignment().size() == 4) {
                if (System.currentTimeMillis() > deadline) fail("second member never got partitions");
                take(first, seen);
                take(second, seen);
            }
            // The first leaves; the second finishes.
            first.close();
            while (seen.size() < RECORDS) {
                if (System.currentTimeMillis() > deadline) fail("second member stalled at " + seen.size());
                take(second, seen);
            }
            second.close();
            for (Map.Entry<String, Integer> e : seen.entrySet()) {
                if (e.getValue() != 1) fail(e.getKey() + " delivered " + e.getValue() + " times");
            }
            Collection<ConsumerGroupListing> groups = admin.listConsumerGroups().all().get();
            if (groups.stream().noneMatch(g -> g.groupId().equals(group))) fail("listConsumerGroups lacks " + group + ": " + groups);
            Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            long committed = offsets.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
            if (offsets.size() != 4 || committed != RECORDS) fail("committed offsets " + offsets + " sum " + committed);
            System.out.println("[java-group] OK: " + RECORDS + " records once each; group listed; offsets " + committed);
        }
    }

    static void take(KafkaConsumer<String, String> consumer, Map<String, Integer> seen) {
        ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(100));
        for (ConsumerRecord<String, String> r : records) seen.merge(r.key(), 1, Integer::sum);
        if (!records.isEmpty()) consumer.commitSync();
    }
}
