package io.medfuse.app.bench;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

import io.medfuse.events.ImagingRequest;
import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import io.medfuse.events.registry.SchemaRegistryClient;
import io.medfuse.events.serde.ConfluentAvroCodec;

/**
 * The cluster a run uses (embedded or external) and the topics it made: every topic and consumer group of a run
 * starts with the run's prefix, so {@link #close()} deletes exactly those (Kafka Streams' changelog topics included,
 * as they start with the application id).
 */
final class BenchCluster implements AutoCloseable {

    /** Largest record the run's topics accept (as the embedded broker). */
    static final int MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

    private final String bootstrap;
    private final URI registryUrl;
    private final Map<String, Object> clientOverrides;
    private final String prefix;
    private final Admin admin;
    private final SchemaRegistryClient registry;
    private final List<String> groups = new ArrayList<>();
    private final java.nio.file.Path stateRoot;
    private boolean deleteGroupsLoudly;
    private java.util.function.LongSupplier brokerCpu = CpuClock.UNKNOWN;
    private java.util.function.LongSupplier brokerJit = CpuClock.UNKNOWN;

    BenchCluster(String bootstrap, URI registryUrl, Map<String, Object> clientOverrides, String prefix) {
        this.bootstrap = bootstrap;
        this.registryUrl = registryUrl;
        this.clientOverrides = Map.copyOf(clientOverrides);
        this.prefix = prefix;
        Map<String, Object> props = new HashMap<>(clientOverrides);
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30_000);
        this.admin = Admin.create(props);
        this.registry = new RestSchemaRegistryClient(new RegistrySettings(registryUrl, null, null,
                Duration.ofSeconds(10)));
        try {
            this.stateRoot = java.nio.file.Files.createTempDirectory("medfuse-bench-state-");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot create a state folder for the run's workers", e);
        }
    }

    /** The broker's CPU clock (its own process on this machine), or one that says -1 (embedded, external). */
    java.util.function.LongSupplier brokerCpu() {
        return brokerCpu;
    }

    void brokerCpu(java.util.function.LongSupplier clock) {
        this.brokerCpu = clock;
    }

    /** The CPU clock of the broker's JIT compilers (part of {@link #brokerCpu}), or one that says -1. */
    java.util.function.LongSupplier brokerJit() {
        return brokerJit;
    }

    void brokerJit(java.util.function.LongSupplier clock) {
        this.brokerJit = clock;
    }

    /** The run's workers keep their Kafka Streams state here; deleted with the run. */
    java.nio.file.Path stateRoot() {
        return stateRoot;
    }

    /** An external cluster outlives the run: say which groups could not be deleted. */
    BenchCluster external() {
        this.deleteGroupsLoudly = true;
        return this;
    }

    String bootstrap() {
        return bootstrap;
    }

    URI registryUrl() {
        return registryUrl;
    }

    SchemaRegistryClient registry() {
        return registry;
    }

    Map<String, Object> clientOverrides() {
        return clientOverrides;
    }

    /** A name unique to this run: {@code <prefix>-<what>}. */
    String name(String what) {
        return prefix + "-" + what;
    }

    /** A Kafka Streams application id (= consumer group) of this run, deleted on close. */
    String applicationId(String what) {
        String id = name(what);
        groups.add(id);
        return id;
    }

    /** Creates a topic of this run (the cluster's default replication). */
    String topic(String what, int partitions) {
        String name = name(what);
        NewTopic t = new NewTopic(name, Optional.of(partitions), Optional.empty())
                .configs(Map.of("max.message.bytes", String.valueOf(MAX_MESSAGE_BYTES)));
        try {
            admin.createTopics(List.of(t)).all().get(60, TimeUnit.SECONDS);
            // the controller has it; wait until the broker's metadata has it too, or the worker's check fails
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (true) {
                try {
                    admin.describeTopics(List.of(name)).allTopicNames().get(10, TimeUnit.SECONDS);
                    break;
                } catch (ExecutionException e) {
                    if (System.nanoTime() > deadline) {
                        throw e;
                    }
                    Thread.sleep(50);
                }
            }
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot create topic " + name + ": " + e.getCause().getMessage(),
                    e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted creating " + name, e);
        } catch (TimeoutException e) {
            throw new IllegalStateException("timed out creating " + name + " on " + bootstrap, e);
        }
        return name;
    }

    /**
     * A producer as an imaging system might configure it: acks=all, 5 ms linger. Not idempotent: once, on a loaded
     * machine, an idempotent producer's flush never returned after a sequence-number error, which would hang the
     * whole run; a rare duplicate on loopback only costs the benchmark one extra request.
     */
    KafkaProducer<String, byte[]> producer() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 60_000);
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, MAX_MESSAGE_BYTES);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, 256L * 1024 * 1024);
        p.putAll(clientOverrides);
        return new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    }

    /**
     * Writes {@code count} requests of {@code model} to {@code topic} as fast as the broker takes them.
     *
     * @return how many the broker acknowledged
     */
    int load(String topic, BenchModel model, int count, String idPrefix, java.util.concurrent.atomic.LongAdder done) {
        ConfluentAvroCodec<ImagingRequest> codec = new ConfluentAvroCodec<>(registry, ImagingRequest.class, true);
        try (KafkaProducer<String, byte[]> producer = producer()) {
            for (int i = 0; i < count; i++) {
                String id = String.format("%s-%06d", idPrefix, i);
                producer.send(new ProducerRecord<>(topic, id,
                        codec.encode(topic, model.request(id, i, System.currentTimeMillis()))),
                        (meta, error) -> {
                            if (error == null) {
                                done.increment();
                            }
                        });
            }
            producer.flush();
        }
        return (int) done.sum();
    }

    /**
     * Kafka Streams does not leave its group on close (so a restart does not rebalance); such a group can only be
     * deleted once its members' sessions expire. Best effort: name what is left.
     */
    private void deleteGroups() throws InterruptedException {
        List<String> left = new ArrayList<>();
        for (String g : groups) {
            try {
                admin.deleteConsumerGroups(List.of(g)).all().get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof org.apache.kafka.common.errors.GroupIdNotFoundException)) {
                    left.add(g);
                }
            } catch (TimeoutException e) {
                left.add(g);
            }
        }
        if (!left.isEmpty() && deleteGroupsLoudly) {
            System.err.println("[bench] consumer groups still held by expiring sessions (delete them later): "
                    + left);
        }
    }

    /** Deletes this run's topics (with Kafka Streams' internal ones) and consumer groups. */
    @Override
    public void close() {
        try {
            List<String> mine = admin.listTopics().names().get(30, TimeUnit.SECONDS).stream()
                    .filter(t -> t.startsWith(prefix)).toList();
            if (!mine.isEmpty()) {
                admin.deleteTopics(mine).all().get(60, TimeUnit.SECONDS);
            }
            deleteGroups();
        } catch (ExecutionException | TimeoutException e) {
            System.err.println("[bench] could not delete every topic of prefix " + prefix + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            admin.close(Duration.ofSeconds(10));
            Bench.deleteQuietly(stateRoot);
        }
    }
}
