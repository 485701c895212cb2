// The testkit's Java peer: asks the real Kafka Java client and MM2's client library what they see,
// so tests compare strait against them. Compiled by the testkit with javac against the pinned
// Kafka jars; prints one JSON document on stdout on a line starting with RESULT_PREFIX (client
// logs may share stdout), errors on stderr with exit code 1.
//
//   java Testbed mirror-client BOOTSTRAP [key=value ...]
//       MirrorClient's view: upstreamClusters, replicationHops per upstream, heartbeatTopics,
//       checkpointTopics, remoteTopics (with their source cluster).
//   java Testbed translate BOOTSTRAP REMOTE_CLUSTER GROUP [key=value ...]
//       RemoteClusterUtils.translateOffsets: where GROUP resumes on this cluster.
//   java Testbed produce-transactions BOOTSTRAP TOPIC PARTITIONS COMMITTED ABORTED [key=value ...]
//       A transactional producer writing, per partition, alternating transactions of COMMITTED
//       records (committed) and ABORTED records (aborted), values "c-<p>-<i>" / "a-<p>-<i>".
//   java Testbed consume BOOTSTRAP TOPIC [key=value ...]
//       Reads TOPIC from the beginning to its end (read_committed) and prints every record.
//   java Testbed digest BOOTSTRAP TOPIC [key=value ...]
//       Reads TOPIC from the beginning to its end (read_committed) and prints per partition the
//       record count and a SHA-256 over every record's key and value in order (each as a 4-byte
//       big-endian length, -1 for null, and the bytes): equal digests mean the same records in
//       the same order, for streams too long to print.
//   java Testbed delete-records BOOTSTRAP TOPIC PARTITION BEFORE [key=value ...]
//       Admin.deleteRecords: deletes the records of TOPIC-PARTITION before offset BEFORE and
//       prints the new low watermark.
//   java Testbed forward BOOTSTRAP TOPIC TARGET_BOOTSTRAP TARGET_TOPIC [key=value ...]
//       The Java client's poll->send loop, the simplest mirror: a consumer reads every
//       partition of TOPIC from the beginning and a producer (acks=all, idempotent, linger.ms=0
//       unless given) sends each record to the same partition of TARGET_TOPIC on
//       TARGET_BOOTSTRAP, until stdin closes; then flushes and prints how many it forwarded.

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.connect.mirror.MirrorClient;
import org.apache.kafka.connect.mirror.RemoteClusterUtils;

public final class Testbed {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final String RESULT_PREFIX = "TESTBED-RESULT ";

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            usage("missing command or bootstrap");
        }
        String command = args[0];
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", args[1]);
        int fixed = switch (command) {
            case "mirror-client" -> 2;
            case "translate" -> 4;
            case "produce-transactions" -> 6;
            case "consume", "digest" -> 3;
            case "delete-records", "forward" -> 5;
            default -> {
                usage("unknown command " + command);
                yield 0;
            }
        };
        if (args.length < fixed) {
            usage(command + " needs " + (fixed - 1) + " arguments");
        }
        for (int i = fixed; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) {
                usage("expected key=value, got " + args[i]);
            }
            props.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        try {
            switch (command) {
                case "mirror-client" -> mirrorClient(props);
                case "translate" -> translate(props, args[2], args[3]);
                case "produce-transactions" -> produceTransactions(props, args[2],
                        Integer.parseInt(args[3]), Integer.parseInt(args[4]),
                        Integer.parseInt(args[5]));
                case "consume" -> consume(props, args[2]);
                case "digest" -> digest(props, args[2]);
                case "delete-records" -> deleteRecords(props, args[2],
                        Integer.parseInt(args[3]), Long.parseLong(args[4]));
                case "forward" -> forward(props, args[2], args[3], args[4]);
                default -> throw new IllegalStateException(command);
            }
        } catch (Exception e) {
            System.err.println("Testbed " + command + " failed: " + e);
            e.printStackTrace(System.err);
            System.exit(1);
        }
    }

    private static void usage(String why) {
        System.err.println("Testbed: " + why
                + "\nusage: Testbed mirror-client|translate|produce-transactions|consume|digest|delete-records|forward BOOTSTRAP ...");
        System.exit(2);
    }

    private static void mirrorClient(Map<String, Object> props) throws Exception {
        try (MirrorClient client = new MirrorClient(props)) {
            TreeSet<String> upstream = new TreeSet<>(client.upstreamClusters());
            Map<String, Object> hops = new TreeMap<>();
            for (String cluster : upstream) {
                hops.put(cluster, client.replicationHops(cluster));
            }
            Map<String, Object> remote = new TreeMap<>();
            for (String topic : client.remoteTopics()) {
                remote.put(topic, client.replicationPolicy().topicSource(topic));
            }
            Map<String, Object> out = new TreeMap<>();
            out.put("upstreamClusters", new ArrayList<>(upstream));
            out.put("replicationHops", hops);
            out.put("heartbeatTopics", new ArrayList<>(new TreeSet<>(client.heartbeatTopics())));
            out.put("checkpointTopics", new ArrayList<>(new TreeSet<>(client.checkpointTopics())));
            out.put("remoteTopics", remote);
            result(json(out));
        }
    }

    private static void translate(Map<String, Object> props, String remoteCluster, String group)
            throws Exception {
        Map<TopicPartition, OffsetAndMetadata> offsets =
                RemoteClusterUtils.translateOffsets(props, remoteCluster, group, TIMEOUT);
        List<Object> rows = new ArrayList<>();
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
            Map<String, Object> row = new TreeMap<>();
            row.put("topic", e.getKey().topic());
            row.put("partition", e.getKey().partition());
            row.put("offset", e.getValue().offset());
            rows.add(row);
        }
        rows.sort((a, b) -> key(a).compareTo(key(b)));
        result(json(rows));
    }

    @SuppressWarnings("unchecked")
    private static String key(Object row) {
        Map<String, Object> m = (Map<String, Object>) row;
        return String.format("%s\u0000%010d", m.get("topic"), (Integer) m.get("partition"));
    }

    private static void produceTransactions(Map<String, Object> props, String topic,
            int partitions, int committed, int aborted) throws Exception {
        Properties p = new Properties();
        p.putAll(props);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "strait-testbed-" + topic);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        long written = 0;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            producer.initTransactions();
            for (int round = 0; round < 2; round++) {
                for (boolean commit : new boolean[] {true, false}) {
                    int n = commit ? committed : aborted;
                    producer.beginTransaction();
                    for (int part = 0; part < partitions; part++) {
                        for (int i = 0; i < n; i++) {
                            int index = round * n + i;
                            String value = (commit ? "c-" : "a-") + part + "-" + index;
                            producer.send(new ProducerRecord<>(topic, part,
                                    ("k-" + part + "-" + index).getBytes(StandardCharsets.UTF_8),
                                    value.getBytes(StandardCharsets.UTF_8)));
                            written++;
                        }
                    }
                    producer.flush();
                    if (commit) {
                        producer.commitTransaction();
                    } else {
                        producer.abortTransaction();
                    }
                }
            }
        }
        Map<String, Object> out = new TreeMap<>();
        out.put("written", written);
        result(json(out));
    }

    private static void deleteRecords(Map<String, Object> props, String topic, int partition,
            long before) throws Exception {
        try (Admin admin = Admin.create(props)) {
            TopicPartition tp = new TopicPartition(topic, partition);
            long low = admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(before)))
                    .lowWatermarks().get(tp).get().lowWatermark();
            result("{\"lowWatermark\":" + low + "}");
        }
    }

    /** The entries of {@code props} whose keys are among {@code names}. */
    private static Map<String, Object> only(Map<String, Object> props, Set<String> names) {
        Map<String, Object> kept = new HashMap<>(props);
        kept.keySet().retainAll(names);
        return kept;
    }

    private static void forward(Map<String, Object> props, String topic, String targetBootstrap,
            String targetTopic) throws Exception {
        // Each client takes the settings it knows (compression.type is the producer's alone).
        Map<String, Object> c = only(props, ConsumerConfig.configNames());
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        Map<String, Object> p = new HashMap<>();
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        p.putAll(only(props, ProducerConfig.configNames()));
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, targetBootstrap);
        AtomicBoolean open = new AtomicBoolean(true);
        Thread stdin = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                    // Only the end of stdin matters.
                }
            } catch (IOException e) {
                // A broken stdin ends the loop as its end would.
            }
            open.set(false);
        });
        stdin.setDaemon(true);
        stdin.start();
        AtomicReference<Exception> failed = new AtomicReference<>();
        long forwarded = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(c,
                new ByteArrayDeserializer(), new ByteArrayDeserializer());
                KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p,
                        new ByteArraySerializer(), new ByteArraySerializer())) {
            List<TopicPartition> parts = assignFromBeginning(consumer, topic);
            while (open.get() && failed.get() == null) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    producer.send(new ProducerRecord<>(targetTopic, r.partition(), r.timestamp(),
                            r.key(), r.value(), r.headers()), (sent, e) -> {
                                if (e != null) {
                                    failed.compareAndSet(null, e);
                                }
                            });
                    forwarded++;
                }
            }
            producer.flush();
        }
        if (failed.get() != null) {
            throw failed.get();
        }
        Map<String, Object> out = new TreeMap<>();
        out.put("forwarded", forwarded);
        result(json(out));
    }

    private static void consume(Map<String, Object> props, String topic) throws Exception {
        List<Object> records = new ArrayList<>();
        readCommitted(props, topic, r -> {
            Map<String, Object> row = new TreeMap<>();
            row.put("partition", r.partition());
            row.put("offset", r.offset());
            row.put("timestamp", r.timestamp());
            row.put("key", r.key() == null ? null : b64(r.key()));
            row.put("value", r.value() == null ? null : b64(r.value()));
            List<Object> headers = new ArrayList<>();
            for (Header h : r.headers()) {
                headers.add(List.of(h.key(), h.value() == null ? "" : b64(h.value())));
            }
            row.put("headers", headers);
            records.add(row);
        });
        result(json(records));
    }

    private static void digest(Map<String, Object> props, String topic) throws Exception {
        Map<Integer, MessageDigest> digests = new TreeMap<>();
        Map<Integer, Long> counts = new TreeMap<>();
        readCommitted(props, topic, r -> {
            MessageDigest d = digests.computeIfAbsent(r.partition(), p -> sha256());
            for (byte[] part : new byte[][] {r.key(), r.value()}) {
                d.update(ByteBuffer.allocate(4).putInt(part == null ? -1 : part.length).array());
                if (part != null) {
                    d.update(part);
                }
            }
            counts.merge(r.partition(), 1L, Long::sum);
        });
        Map<String, Object> out = new TreeMap<>();
        for (Map.Entry<Integer, MessageDigest> e : digests.entrySet()) {
            Map<String, Object> row = new TreeMap<>();
            row.put("records", counts.get(e.getKey()));
            row.put("sha256", HexFormat.of().formatHex(e.getValue().digest()));
            out.put(String.valueOf(e.getKey()), row);
        }
        result(json(out));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Assigns every partition of TOPIC to CONSUMER, each at its beginning; returns them. */
    private static List<TopicPartition> assignFromBeginning(
            KafkaConsumer<byte[], byte[]> consumer, String topic) {
        List<TopicPartition> parts = new ArrayList<>();
        consumer.partitionsFor(topic, TIMEOUT)
                .forEach(info -> parts.add(new TopicPartition(topic, info.partition())));
        consumer.assign(parts);
        consumer.seekToBeginning(parts);
        return parts;
    }

    /** Reads every partition of TOPIC from the beginning to its end offsets, read_committed. */
    private static void readCommitted(Map<String, Object> props, String topic,
            Consumer<ConsumerRecord<byte[], byte[]>> each) throws Exception {
        Map<String, Object> c = new HashMap<>(props);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(c,
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = assignFromBeginning(consumer, topic);
            Map<TopicPartition, Long> end = consumer.endOffsets(parts, TIMEOUT);
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (parts.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("did not reach the end offsets " + end);
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    each.accept(r);
                }
            }
        }
    }

    private static void result(String document) {
        System.out.println(RESULT_PREFIX + document);
        System.out.flush();
    }

    private static String b64(byte[] bytes) {
        return Base64.getEncoder().encodeToString(bytes);
    }

    /** Minimal JSON for maps, lists, strings, numbers, booleans and null. */
    @SuppressWarnings("unchecked")
    private static String json(Object value) {
        if (value == null) {
            return "null";
        } else if (value instanceof Map<?, ?> map) {
            StringBuilder sb = new StringBuilder("{");
            boolean first = true;
            for (Map.Entry<String, Object> e : ((Map<String, Object>) map).entrySet()) {
                sb.append(first ? "" : ",").append(json(e.getKey())).append(':')
                        .append(json(e.getValue()));
                first = false;
            }
            return sb.append('}').toString();
        } else if (value instanceof List<?> list) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < list.size(); i++) {
                sb.append(i == 0 ? "" : ",").append(json(list.get(i)));
            }
            return sb.append(']').toString();
        } else if (value instanceof String s) {
            StringBuilder sb = new StringBuilder("\"");
            for (char ch : s.toCharArray()) {
                switch (ch) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    default -> {
                        if (ch < 0x20) {
                            sb.append(String.format("\\u%04x", (int) ch));
                        } else {
                            sb.append(ch);
                        }
                    }
                }
            }
            return sb.append('"').toString();
        } else {
            return value.toString();
        }
    }
}
