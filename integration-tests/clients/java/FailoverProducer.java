// A Java kafka-clients producer with the client's defaults for durability (acks=all,
// idempotence on) writing unique values for a number of seconds, for the cluster failover
// tests: each acknowledgement is printed as `ACK <partition> <offset> <value>`, each failed
// delivery as `ERR <value> <error>`, and finally `DONE <sent> <failed>`.
// Usage: WEIR_JAVA_MAIN=FailoverProducer java/driver.sh BOOTSTRAP TOPIC SECONDS

import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public class FailoverProducer {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String topic = args[1];
        long seconds = Long.parseLong(args[2]);
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        props.put("key.serializer", StringSerializer.class.getName());
        props.put("value.serializer", StringSerializer.class.getName());
        props.put("acks", "all");
        props.put("enable.idempotence", "true");
        props.put("delivery.timeout.ms", "120000");
        AtomicLong failed = new AtomicLong();
        long sent = 0;
        long end = System.currentTimeMillis() + seconds * 1000;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            while (System.currentTimeMillis() < end) {
                String value = "j" + sent;
                producer.send(new ProducerRecord<>(topic, value), (metadata, error) -> {
                    if (error != null) {
                        failed.incrementAndGet();
                        System.out.println("ERR " + value + " " + error);
                    } else {
                        System.out.println("ACK " + metadata.partition() + " " + metadata.offset() + " " + value);
                    }
                });
                sent++;
                Thread.sleep(1);
            }
            producer.flush();
        }
        System.out.println("DONE " + sent + " " + failed.get());
    }
}
