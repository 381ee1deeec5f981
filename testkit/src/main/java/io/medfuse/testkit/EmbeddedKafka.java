package io.medfuse.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
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

    /** Creates topics (replication 1), ignoring those that exist already. */
    public void createTopics(int partitions, String... topics) {
        List<NewTopic> newTopics = new ArrayList<>();
        for (String t : topics) {
            newTopics.add(new NewTopic(t, partitions, (short) 1)
                    .configs(Map.of("max.message.bytes", String.valueOf(MAX_MESSAGE_BYTES))));
        }
        try (Admin admin = Admin.create(clientProperties())) {
            for (var entry : admin.createTopics(newTopics).values().entrySet()) {
                try {
                    entry.getValue().get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new EmbeddedKafkaException("cannot create topic " + entry.getKey() + ": "
                                + e.getCause().getMessage(), e.getCause());
                    }
                }
            }
            awaitVisible(admin, List.of(topics));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EmbeddedKafkaException("interrupted while creating topics", e);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new EmbeddedKafkaException("timed out creating topics " + List.of(topics), e);
        }
    }

    /**
     * createTopics returns once the controller has the topics; the broker's metadata may lag behind, and a client
     * that describes them at once (the worker's start-up check) was told they do not exist (a flaky ScaleOutIT).
     */
    private static void awaitVisible(Admin admin, List<String> topics) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                admin.describeTopics(topics).allTopicNames().get(10, TimeUnit.SECONDS);
                return;
            } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                if (System.nanoTime() > deadline) {
                    throw new EmbeddedKafkaException("topics " + topics + " were created but are not visible after "
                            + "30 s: " + e.getMessage(), e);
                }
                TimeUnit.MILLISECONDS.sleep(50);
            }
        }
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
