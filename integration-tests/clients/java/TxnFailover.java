// A transactional producer (Java kafka-clients 3.9.1) through a failover of its transaction
// coordinator, for tests/transactions.rs on the 3-broker cluster. It writes TXNS transactions of
// RECORDS records each to TOPIC (keys `t<i>-r<j>`, values `t<i>-r<j>-a<attempt>`). Transaction
// HOLD is begun, its records sent and flushed, then it prints `OPEN <HOLD>` and waits for a line
// on stdin (the test kills the coordinator meanwhile) before it commits. A commit that times out
// is retried; a transaction that fails abortably is aborted and sent again as the next attempt
// (`ABORTED <i> <attempt> <error>`); each success prints `COMMITTED <i> <attempt>`. A fatal error
// (fenced, out-of-order sequence, ...) prints `FATAL <error>` and exits 2. At the end:
// `DONE <committed transactions>`, exit 0. read_committed must then see each key exactly once,
// with the value of its transaction's committed attempt.
// Usage: WEIR_JAVA_MAIN=TxnFailover java/driver.sh BOOTSTRAP TOPIC TXN_ID TXNS RECORDS HOLD

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.Properties;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.UnsupportedVersionException;

public class TxnFailover {
    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println("usage: TxnFailover BOOTSTRAP TOPIC TXN_ID TXNS RECORDS HOLD");
            System.exit(64);
        }
        String bootstrap = args[0], topic = args[1], txnId = args[2];
        int txns = Integer.parseInt(args[3]), perTxn = Integer.parseInt(args[4]), hold = Integer.parseInt(args[5]);
        Properties pp = TxnPipeline.transactionalProducer(bootstrap, txnId);
        pp.put("request.timeout.ms", "10000");
        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in));
        int committed = 0;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
            producer.initTransactions();
            for (int t = 0; t < txns; t++) {
                for (int attempt = 1; ; attempt++) {
                    if (attempt > 5) {
                        System.out.println("FATAL transaction " + t + " failed 5 attempts");
                        System.out.flush();
                        System.exit(2);
                    }
                    try {
                        producer.beginTransaction();
                        for (int r = 0; r < perTxn; r++) {
                            String key = "t" + t + "-r" + r;
                            producer.send(new ProducerRecord<>(topic, key, key + "-a" + attempt));
                        }
                        producer.flush();
                        if (t == hold && attempt == 1) {
                            System.out.println("OPEN " + t);
                            System.out.flush();
                            String line = stdin.readLine();
                            System.err.println("[TxnFailover] go: " + line);
                        }
                        commit(producer);
                        committed++;
                        System.out.println("COMMITTED " + t + " " + attempt);
                        System.out.flush();
                        break;
                    } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException
                             | UnsupportedVersionException e) {
                        System.out.println("FATAL " + e);
                        System.out.flush();
                        System.exit(2);
                    } catch (KafkaException e) {
                        System.out.println("ABORTED " + t + " " + attempt + " " + e);
                        System.out.flush();
                        producer.abortTransaction();
                    }
                }
            }
        }
        System.out.println("DONE " + committed);
        System.out.flush();
    }

    /** commitTransaction, retried when it times out (the client allows calling it again). */
    static void commit(KafkaProducer<String, String> producer) {
        for (int i = 1; ; i++) {
            try {
                producer.commitTransaction();
                return;
            } catch (TimeoutException e) {
                System.err.println("[TxnFailover] commit timed out (" + i + "): " + e);
                if (i >= 3) throw e;
            }
        }
    }
}
