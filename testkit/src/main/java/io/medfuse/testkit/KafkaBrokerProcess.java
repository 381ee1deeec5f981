package io.medfuse.testkit;

import java.io.IOException;
import java.io.Writer;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.Uuid;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real one-node Kafka cluster (KRaft, combined broker + controller) as a separate process started from Kafka's own
 * jars ({@code kafka.tools.StorageTool format --standalone}, then {@code kafka.Kafka server.properties}), for the
 * soak and tests that restart the broker or need listeners of their own (SASL). Ports are fixed at creation, so a
 * restarted broker comes back at the same address with the same data.
 *
 * <p>Listeners on 127.0.0.1: PLAINTEXT (inter-broker, tests' own clients), CONTROLLER and, when asked for,
 * SASL_PLAINTEXT and SASL_SSL with SCRAM-SHA-512 (users are added with {@link #addScramUser}; the TLS key is a
 * self-signed one made with the JDK's keytool, trusted through {@link #tlsClientSettings}). The owner closes it; closing stops
 * the process and deletes its folder.
 */
public final class KafkaBrokerProcess implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaBrokerProcess.class);

    private final Path dir;
    private final Path config;
    private final int port;
    private final int saslPort;
    private final int saslSslPort;
    private Process process;
    private int starts;

    private KafkaBrokerProcess(Path dir, Path config, int port, int saslPort, int saslSslPort) {
        this.dir = dir;
        this.config = config;
        this.port = port;
        this.saslPort = saslPort;
        this.saslSslPort = saslSslPort;
    }

    /**
     * Formats a new cluster in a temporary folder and starts it.
     *
     * @param saslScram also open a SASL_PLAINTEXT listener with SCRAM-SHA-512
     * @param overrides extra server.properties entries, applied last
     * @throws EmbeddedKafkaException when formatting or start-up fails (the broker's log is named)
     */
    public static KafkaBrokerProcess start(boolean saslScram, Map<String, String> overrides) {
        try {
            Path dir = Files.createTempDirectory("medfuse-broker-");
            int port = freePort();
            int controllerPort = freePort();
            int saslPort = saslScram ? freePort() : -1;
            int saslSslPort = saslScram ? freePort() : -1;
            Properties p = new Properties();
            p.setProperty("process.roles", "broker,controller");
            p.setProperty("node.id", "1");
            p.setProperty("controller.quorum.bootstrap.servers", "127.0.0.1:" + controllerPort);
            p.setProperty("controller.listener.names", "CONTROLLER");
            p.setProperty("inter.broker.listener.name", "PLAINTEXT");
            String listeners = "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort;
            String advertised = "PLAINTEXT://127.0.0.1:" + port;
            if (saslScram) {
                listeners += ",SASL_PLAINTEXT://127.0.0.1:" + saslPort + ",SASL_SSL://127.0.0.1:" + saslSslPort;
                advertised += ",SASL_PLAINTEXT://127.0.0.1:" + saslPort + ",SASL_SSL://127.0.0.1:" + saslSslPort;
                p.setProperty("sasl.enabled.mechanisms", "SCRAM-SHA-512");
                for (String listener : List.of("sasl_plaintext", "sasl_ssl")) {
                    p.setProperty("listener.name." + listener + ".scram-sha-512.sasl.jaas.config",
                            "org.apache.kafka.common.security.scram.ScramLoginModule required;");
                }
                makeKeyStores(dir);
                p.setProperty("ssl.keystore.type", "PKCS12");
                p.setProperty("ssl.keystore.location", dir.resolve(KEYSTORE).toString());
                p.setProperty("ssl.keystore.password", STORE_PASSWORD);
                p.setProperty("ssl.key.password", STORE_PASSWORD);
            }
            p.setProperty("listeners", listeners);
            p.setProperty("advertised.listeners", advertised);
            p.setProperty("listener.security.protocol.map",
                    "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL");
            p.setProperty("log.dirs", dir.resolve("data").toString());
            p.setProperty("offsets.topic.replication.factor", "1");
            p.setProperty("offsets.topic.num.partitions", "4");
            p.setProperty("transaction.state.log.replication.factor", "1");
            p.setProperty("transaction.state.log.min.isr", "1");
            p.setProperty("transaction.state.log.num.partitions", "4");
            p.setProperty("share.coordinator.state.topic.replication.factor", "1");
            p.setProperty("share.coordinator.state.topic.min.isr", "1");
            p.setProperty("group.initial.rebalance.delay.ms", "0");
            p.setProperty("default.replication.factor", "1");
            p.setProperty("min.insync.replicas", "1");
            p.setProperty("num.partitions", "1");
            p.setProperty("message.max.bytes", String.valueOf(EmbeddedKafka.MAX_MESSAGE_BYTES));
            p.setProperty("replica.fetch.max.bytes", String.valueOf(EmbeddedKafka.MAX_MESSAGE_BYTES));
            p.setProperty("auto.create.topics.enable", "false");
            // a one-node soak: the broker's own minimum, so a dead worker's partitions move quickly
            p.setProperty("group.min.session.timeout.ms", "6000");
            overrides.forEach(p::setProperty);
            Path config = dir.resolve("server.properties");
            try (Writer w = Files.newBufferedWriter(config)) {
                p.store(w, "medfuse one-node KRaft broker");
            }
            KafkaBrokerProcess broker = new KafkaBrokerProcess(dir, config, port, saslPort, saslSslPort);
            broker.format();
            broker.startProcess();
            return broker;
        } catch (IOException e) {
            throw new EmbeddedKafkaException("cannot prepare a broker folder: " + e, e);
        }
    }

    private static final String KEYSTORE = "broker-keystore.p12";
    private static final String TRUSTSTORE = "truststore.p12";
    /** Test-only stores in a temporary folder; not a secret. */
    private static final String STORE_PASSWORD = "medfuse-test-store";

    /** A self-signed key for CN=localhost with SAN IP 127.0.0.1, and a trust store holding its certificate. */
    private static void makeKeyStores(Path dir) {
        String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        Path cert = dir.resolve("broker.crt");
        keytool(dir, List.of(keytool, "-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048",
                "-validity", "30", "-dname", "CN=localhost", "-ext", "SAN=ip:127.0.0.1,dns:localhost",
                "-storetype", "PKCS12", "-keystore", dir.resolve(KEYSTORE).toString(), "-storepass", STORE_PASSWORD,
                "-keypass", STORE_PASSWORD));
        keytool(dir, List.of(keytool, "-exportcert", "-alias", "broker", "-keystore", dir.resolve(KEYSTORE).toString(),
                "-storepass", STORE_PASSWORD, "-rfc", "-file", cert.toString()));
        keytool(dir, List.of(keytool, "-importcert", "-noprompt", "-alias", "broker", "-file", cert.toString(),
                "-storetype", "PKCS12", "-keystore", dir.resolve(TRUSTSTORE).toString(), "-storepass",
                STORE_PASSWORD));
    }

    private static void keytool(Path dir, List<String> command) {
        try {
            Process k = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("keytool.log").toFile())).start();
            if (!k.waitFor(60, TimeUnit.SECONDS) || k.exitValue() != 0) {
                throw new EmbeddedKafkaException("keytool failed: " + command.get(1) + "; see "
                        + dir.resolve("keytool.log"));
            }
        } catch (IOException e) {
            throw new EmbeddedKafkaException("cannot run keytool: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EmbeddedKafkaException("interrupted while running keytool", e);
        }
    }

    /**
     * Client settings that trust this broker's TLS certificate ({@code ssl.truststore.*}); for the SASL_SSL listener.
     */
    public Map<String, String> tlsClientSettings() {
        if (saslSslPort < 0) {
            throw new IllegalStateException("this broker was started without TLS");
        }
        return Map.of("ssl.truststore.type", "PKCS12",
                "ssl.truststore.location", dir.resolve(TRUSTSTORE).toString(),
                "ssl.truststore.password", STORE_PASSWORD);
    }

    /** SASL_SSL (SCRAM-SHA-512 over TLS) bootstrap address. */
    public String saslSslBootstrapServers() {
        if (saslSslPort < 0) {
            throw new IllegalStateException("this broker was started without a SASL_SSL listener");
        }
        return "127.0.0.1:" + saslSslPort;
    }

    private void format() {
        Path log = dir.resolve("format.log");
        Process f = ChildJvm.start("kafka.tools.StorageTool", List.of("format", "--standalone", "-t",
                Uuid.randomUuid().toString(), "-c", config.toString()), List.of("-Xmx256m"), Map.of(), log);
        try {
            if (!f.waitFor(120, TimeUnit.SECONDS)) {
                f.destroyForcibly();
                throw new EmbeddedKafkaException("formatting the broker's storage took over 120 s; see " + log);
            }
            if (f.exitValue() != 0) {
                throw new EmbeddedKafkaException("formatting the broker's storage failed (exit " + f.exitValue()
                        + "); see " + log);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EmbeddedKafkaException("interrupted while formatting the broker's storage", e);
        }
    }

    private void startProcess() {
        long started = System.nanoTime();
        starts++;
        Path log = dir.resolve("broker.log");
        process = ChildJvm.start("kafka.Kafka", List.of(config.toString()), List.of("-Xmx512m"), Map.of(), log);
        awaitReady(Duration.ofSeconds(120), log);
        LOG.info("Kafka broker process {} ready at {} in {} ms (start #{})", process.pid(), bootstrapServers(),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), starts);
    }

    private void awaitReady(Duration timeout, Path log) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Properties p = clientProperties();
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 3000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5000);
        try (Admin admin = Admin.create(p)) {
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) {
                    throw new EmbeddedKafkaException("the broker process exited with " + process.exitValue()
                            + " during start-up; see " + log);
                }
                try {
                    if (!admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).isEmpty()) {
                        return;
                    }
                } catch (ExecutionException | TimeoutException e) {
                    TimeUnit.MILLISECONDS.sleep(250);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EmbeddedKafkaException("interrupted while waiting for the broker", e);
        }
        throw new EmbeddedKafkaException("the broker did not answer within " + timeout.toSeconds() + " s; see " + log);
    }

    /** PLAINTEXT bootstrap address, {@code 127.0.0.1:port}. */
    public String bootstrapServers() {
        return "127.0.0.1:" + port;
    }

    /** SASL_PLAINTEXT (SCRAM-SHA-512) bootstrap address. */
    public String saslBootstrapServers() {
        if (saslPort < 0) {
            throw new IllegalStateException("this broker was started without a SASL listener");
        }
        return "127.0.0.1:" + saslPort;
    }

    /** Admin/producer/consumer properties for the PLAINTEXT listener. */
    public Properties clientProperties() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        return p;
    }

    /** Creates topics (replication 1, image-sized records), ignoring those that exist already. */
    public void createTopics(int partitions, String... topics) {
        Topics.create(clientProperties(), partitions, topics);
    }

    /** Adds (or replaces) a SCRAM-SHA-512 user, over the PLAINTEXT listener. */
    public void addScramUser(String user, String password) {
        try (Admin admin = Admin.create(clientProperties())) {
            admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(user,
                    new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), password)))
                    .all().get(60, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new EmbeddedKafkaException("cannot add SCRAM user " + user + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EmbeddedKafkaException("interrupted while adding a SCRAM user", e);
        }
    }

    /** Stops the broker with SIGTERM (a controlled shutdown), SIGKILL after {@code timeout}. */
    public void stop(Duration timeout) {
        if (process == null || !process.isAlive()) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                LOG.warn("the broker did not stop within {} s; killing it", timeout.toSeconds());
                process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops and starts the broker process on the same ports and data, and waits until it answers. */
    public void restart() {
        stop(Duration.ofSeconds(60));
        startProcess();
    }

    /** The broker's folder (server.properties, broker.log, data). */
    /** The broker process's pid (for its CPU time), or -1 while it is not running. */
    public long pid() {
        Process p = process;
        return p != null && p.isAlive() ? p.pid() : -1;
    }

    public Path directory() {
        return dir;
    }

    @Override
    public void close() {
        stop(Duration.ofSeconds(30));
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            LOG.debug("could not delete {}: {}", dir, e.toString());
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        }
    }
}
