package io.medfuse.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node Kafka cluster (KRaft, one combined broker + controller) running inside this JVM, built from
 * Kafka's own test kit ({@code KafkaClusterTestKit}, an internal API: the Kafka version is pinned in the parent POM).
 * For the demo and for tests; production uses a real cluster.
 *
 * <p>Settings that a one-node cluster needs: internal topics at replication factor 1 (or consumer groups and
 * transactions hang), no initial rebalance delay, and a larger maximum message size for image payloads.
 * The owner closes it; closing deletes its data directory.
 */
public final class EmbeddedKafka implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);

    /** Largest record the embedded broker accepts; images travel inline. */
    public static final int MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

    private final KafkaClusterTestKit cluster;
    private final Path dataDir;

    private EmbeddedKafka(KafkaClusterTestKit cluster, Path dataDir) {
        this.cluster = cluster;
        this.dataDir = dataDir;
    }

    /** Starts a one-node cluster with default settings. */
    public static EmbeddedKafka start() {
        return start(Map.of());
    }

    /**
     * Starts a one-node cluster.
     *
     * @param brokerOverrides extra broker settings (e.g. SASL listeners), applied last
     * @throws EmbeddedKafkaException when the cluster cannot be formatted or started
     */
    public static EmbeddedKafka start(Map<String, Object> brokerOverrides) {
        long started = System.nanoTime();
        Path dir;
        try {
            dir = Files.createTempDirectory("medfuse-kafka-");
        } catch (java.io.IOException e) {
            throw new EmbeddedKafkaException("cannot create a data directory for the embedded broker: " + e, e);
        }
        KafkaClusterTestKit cluster = null;
        try {
            TestKitNodes nodes = new TestKitNodes.Builder()
                    .setCombined(true)
                    .setNumBrokerNodes(1)
                    .setNumControllerNodes(1)
                    .setBaseDirectory(dir)
                    // the default is an unreleased test metadata version
                    .setBootstrapMetadataVersion(MetadataVersion.latestProduction())
                    .build();
            KafkaClusterTestKit.Builder builder = new KafkaClusterTestKit.Builder(nodes).setDeleteOnClose(true);
            Map<String, Object> props = new java.util.LinkedHashMap<>();
            props.put("offsets.topic.replication.factor", "1");
            props.put("offsets.topic.num.partitions", "4");
            props.put("transaction.state.log.replication.factor", "1");
            props.put("transaction.state.log.min.isr", "1");
            props.put("transaction.state.log.num.partitions", "4");
            props.put("share.coordinator.state.topic.replication.factor", "1");
            props.put("share.coordinator.state.topic.min.isr", "1");
            props.put("group.initial.rebalance.delay.ms", "0");
            props.put("default.replication.factor", "1");
            props.put("min.insync.replicas", "1");
            props.put("num.partitions", "1");
            props.put("message.max.bytes", String.valueOf(MAX_MESSAGE_BYTES));
            props.put("replica.fetch.max.bytes", String.valueOf(MAX_MESSAGE_BYTES));
            props.put("auto.create.topics.enable", "false");
            props.putAll(brokerOverrides);
            props.forEach(builder::setConfigProp);
            cluster = builder.build();
            formatQuietly(cluster);
            cluster.startup();
            cluster.waitForReadyBrokers();
            EmbeddedKafka kafka = new EmbeddedKafka(cluster, dir);
            LOG.info("embedded Kafka broker ready at {} in {} ms", kafka.bootstrapServers(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            return kafka;
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            if (cluster != null) {
                try {
                    cluster.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw new EmbeddedKafkaException("the embedded Kafka broker did not start: " + e.getMessage(), e);
        }
    }

    /** Kafka's format step prints its bootstrap metadata to stdout; keep the demo's output readable. */
    private static void formatQuietly(KafkaClusterTestKit cluster) throws Exception {
        java.io.PrintStream out = System.out;
        synchronized (EmbeddedKafka.class) {
            System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
            try {
                cluster.format();
            } finally {
                System.setOut(out);
            }
        }
    }

    /** The bootstrap address clients connect to, e.g. {@code localhost:41234}. */
    public String bootstrapServers() {
        return cluster.bootstrapServers();
    }

    /** Client properties for this cluster (bootstrap servers only). */
    public Properties clientProperties() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        return p;
    }

    /** Creates topics (replication 1, image-sized records), ignoring those that exist already. */
    public void createTopics(int partitions, String... topics) {
        Topics.create(clientProperties(), partitions, topics);
    }

    /** The directory holding the broker's logs and metadata; deleted on close. */
    public Path dataDirectory() {
        return dataDir;
    }

    @Override
    public void close() {
        try {
            cluster.close();
        } catch (Exception e) {
            LOG.warn("embedded Kafka did not close cleanly: {}", e.toString());
        }
    }
}
