// A consume-transform-produce loop with Java kafka-clients 3.9.1 (KIP-98 transactions, KIP-447
// group-metadata fencing), for tests/transactions.rs: a read_committed consumer in group GROUP
// reads INPUT; each poll's records become one transaction of a producer with the fixed
// transactional.id TXN_ID: every record is sent to OUTPUT (same key, value + "|t"), the next
// offsets go in with sendOffsetsToTransaction(offsets, consumer.groupMetadata()), then commit.
// The test SIGKILLs it mid-transaction and starts it again with the same transactional.id and
// group: the output, read with read_committed, must hold each input record exactly once.
//
// It runs until the group has consumed (and committed) INPUT up to its end offsets as of its
// start, then prints `DONE <transactions> <records>` and exits 0. Along the way it prints
// `COMMITTED <transaction> <records so far>` after each commit, `ABORTED <transaction> <error>`
// when it aborted one (and rewound to the group's committed offsets), and `FATAL <error>`
// (exit 2) when the producer was fenced or failed fatally. With WEIR_TXN_PAUSE_MS > 0 it flushes
// each transaction's records and offsets, prints `OPEN <transaction> <records>` and sleeps that
// long before committing: a kill after an OPEN line lands inside an open transaction whose
// records are in the log.
// Usage: WEIR_JAVA_MAIN=TxnPipeline java/driver.sh BOOTSTRAP INPUT OUTPUT GROUP TXN_ID
// Env: WEIR_TXN_PAUSE_MS (default 0), WEIR_TXN_MAX_POLL_RECORDS (default 50),
//      WEIR_TXN_DEADLINE_S (default 150: then it gives up with `FATAL deadline`).

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.FencedInstanceIdException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class TxnPipeline {
    static long env(String name, long fallback) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? fallback : Long.parseLong(v);
    }

    /** A transactional producer's settings, patient enough to ride out broker failovers (shared with TxnFailover). */
    static Properties transactionalProducer(String bootstrap, String txnId) {
        Properties pp = new Properties();
        pp.put("bootstrap.servers", bootstrap);
        pp.put("transactional.id", txnId);
        pp.put("enable.idempotence", "true");
        pp.put("acks", "all");
        pp.put("transaction.timeout.ms", "60000");
        pp.put("delivery.timeout.ms", "120000");
        pp.put("max.block.ms", "60000");
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        return pp;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: TxnPipeline BOOTSTRAP INPUT OUTPUT GROUP TXN_ID");
            System.exit(64);
        }
        String bootstrap = args[0], input = args[1], output = args[2], group = args[3], txnId = args[4];
        long pauseMs = env("WEIR_TXN_PAUSE_MS", 0);
        long maxPoll = env("WEIR_TXN_MAX_POLL_RECORDS", 50);
        long deadline = System.currentTimeMillis() + env("WEIR_TXN_DEADLINE_S", 150) * 1000;

        Properties pp = transactionalProducer(bootstrap, txnId);

        Properties cp = new Properties();
        cp.put("bootstrap.servers", bootstrap);
        cp.put("group.id", group);
        cp.put("isolation.level", "read_committed");
        cp.put("enable.auto.commit", "false");
        cp.put("auto.offset.reset", "earliest");
        cp.put("max.poll.records", Long.toString(maxPoll));
        // A killed member leaves the group by session timeout; keep both the session and the
        // rebalance (max.poll.interval.ms) short so the restarted instance is not held up.
        cp.put("session.timeout.ms", "6000");
        cp.put("heartbeat.interval.ms", "1000");
        cp.put("max.poll.interval.ms", "30000");
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", StringDeserializer.class.getName());

        long transactions = 0, records = 0;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp);
             KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp)) {
            // Fences an earlier incarnation and aborts its open transaction (and pending offsets)
            // before this one reads the group's offsets.
            producer.initTransactions();
            List<TopicPartition> partitions = new ArrayList<>();
            for (PartitionInfo p : consumer.partitionsFor(input, Duration.ofSeconds(30))) {
                partitions.add(new TopicPartition(input, p.partition()));
            }
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, Duration.ofSeconds(30));
            System.err.println("[TxnPipeline] input end offsets " + ends);
            consumer.subscribe(List.of(input));
            while (true) {
                if (System.currentTimeMillis() > deadline) {
                    System.out.println("FATAL deadline: " + records + " records in " + transactions + " transactions");
                    System.out.flush();
                    System.exit(2);
                }
                ConsumerRecords<String, String> polled = consumer.poll(Duration.ofMillis(200));
                if (polled.isEmpty()) {
                    if (caughtUp(consumer, ends)) break;
                    continue;
                }
                long n = transactions + 1;
                try {
                    producer.beginTransaction();
                    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                    for (ConsumerRecord<String, String> r : polled) {
                        producer.send(new ProducerRecord<>(output, r.key(), r.value() + "|t"));
                        offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    }
                    producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
                    if (pauseMs > 0) {
                        producer.flush();
                        System.out.println("OPEN " + n + " " + polled.count());
                        System.out.flush();
                        Thread.sleep(pauseMs);
                    }
                    producer.commitTransaction();
                    transactions = n;
                    records += polled.count();
                    System.out.println("COMMITTED " + n + " " + records);
                    System.out.flush();
                } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException
                         | FencedInstanceIdException | UnsupportedVersionException e) {
                    System.out.println("FATAL " + e);
                    System.out.flush();
                    System.exit(2);
                } catch (KafkaException e) {
                    // Abortable (e.g. CommitFailedException after a rebalance): abort, and
                    // read again from what the group committed.
                    System.out.println("ABORTED " + n + " " + e);
                    System.out.flush();
                    producer.abortTransaction();
                    rewind(consumer);
                }
            }
        }
        System.out.println("DONE " + transactions + " " + records);
        System.out.flush();
    }

    /** Every input partition assigned to this member and read up to its end offset. */
    static boolean caughtUp(KafkaConsumer<String, String> consumer, Map<TopicPartition, Long> ends) {
        Set<TopicPartition> assigned = consumer.assignment();
        if (!assigned.containsAll(ends.keySet())) return false;
        for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
            if (consumer.position(e.getKey(), Duration.ofSeconds(30)) < e.getValue()) return false;
        }
        return true;
    }

    /** Seeks every assigned partition to the group's committed offset (or the beginning). */
    static void rewind(KafkaConsumer<String, String> consumer) {
        Set<TopicPartition> assigned = consumer.assignment();
        Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(assigned, Duration.ofSeconds(30));
        for (TopicPartition tp : assigned) {
            OffsetAndMetadata o = committed.get(tp);
            if (o == null) consumer.seekToBeginning(List.of(tp));
            else consumer.seek(tp, o.offset());
        }
    }
}
