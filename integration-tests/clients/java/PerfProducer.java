import java.util.Arrays;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The benchmark's Java producer (`bench` scenarios `java-client` and `java-client-txn`):
 * kafka-clients with its defaults (acks=all, idempotent, 16 KiB batches, linger 5 ms, up to 5
 * requests in flight), 1 KiB records to partition 0 of TOPIC for SECONDS, as fast as it takes
 * them. With TRANSACTIONAL_ID it commits a transaction every RECORDS_PER_TXN records.
 *
 * Usage: PerfProducer BOOTSTRAP TOPIC SECONDS [TRANSACTIONAL_ID RECORDS_PER_TXN]
 * Prints one line: PERF acked=N failed=N seconds=S p50_ms=X p99_ms=X p999_ms=X
 * (latency from send() to the acknowledgement, over every acknowledged record).
 */
public class PerfProducer {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String topic = args[1];
        double seconds = Double.parseDouble(args[2]);
        String transactionalId = args.length > 3 ? args[3] : null;
        long perTxn = args.length > 4 ? Long.parseLong(args[4]) : 1000;
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        props.put("key.serializer", ByteArraySerializer.class.getName());
        props.put("value.serializer", ByteArraySerializer.class.getName());
        if (transactionalId != null) {
            props.put("transactional.id", transactionalId);
        }
        AtomicLong acked = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        // Latencies in microseconds, one slot per record sent (bounded: 16M records).
        int[] latencies = new int[1 << 24];
        byte[] value = new byte[1024];
        long start = System.nanoTime();
        long sent = 0;
        double elapsed;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            if (transactionalId != null) {
                producer.initTransactions();
                producer.beginTransaction();
            }
            start = System.nanoTime();
            while (System.nanoTime() - start < seconds * 1e9 && sent < latencies.length) {
                long sentAt = System.nanoTime();
                producer.send(new ProducerRecord<>(topic, 0, null, value), (metadata, error) -> {
                    if (error != null) {
                        failed.incrementAndGet();
                        return;
                    }
                    int slot = (int) acked.getAndIncrement();
                    latencies[slot] = (int) Math.min(Integer.MAX_VALUE, (System.nanoTime() - sentAt) / 1000);
                });
                sent++;
                if (transactionalId != null && sent % perTxn == 0) {
                    producer.commitTransaction();
                    producer.beginTransaction();
                }
            }
            if (transactionalId != null) {
                producer.commitTransaction();
            }
            producer.flush();
            elapsed = (System.nanoTime() - start) / 1e9;
        }
        int n = (int) acked.get();
        int[] sorted = Arrays.copyOf(latencies, n);
        Arrays.sort(sorted);
        System.out.printf("PERF acked=%d failed=%d seconds=%.3f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f%n",
            n, failed.get(), elapsed, percentile(sorted, 50), percentile(sorted, 99), percentile(sorted, 99.9));
    }

    static double percentile(int[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int rank = (int) Math.round(p / 100 * (sorted.length - 1));
        return sorted[Math.min(rank, sorted.length - 1)] / 1000.0;
    }
}
