package io.medfuse.worker.it;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Prediction;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.testkit.OutcomeConsumer;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import io.medfuse.events.registry.SchemaRegistryClient;
import io.medfuse.events.serde.ConfluentAvroCodec;

/**
 * One test's slice of a real broker: unique topics and application id, a producer of request bytes and a
 * read_committed reader of every answer.
 */
final class StreamFixture implements AutoCloseable {

    final EmbeddedKafka kafka;
    /** The in-process registry, or null when the fixture uses another one by URL. */
    final InProcessSchemaRegistry registryServer;
    /** The registry the producer, the reader and the worker all use. */
    final java.net.URI registryUrl;
    final SchemaRegistryClient registry;
    final String requests;
    final String predictions;
    final String deadLetters;
    final String applicationId;
    final ConfluentAvroCodec<ImagingRequest> codec;
    final List<Prediction> predicted = Collections.synchronizedList(new ArrayList<>());
    final List<FailedRequest> failed = Collections.synchronizedList(new ArrayList<>());
    final java.nio.file.Path stateRoot;
    private final KafkaProducer<String, byte[]> producer;
    private OutcomeConsumer reader;

    StreamFixture(EmbeddedKafka kafka, InProcessSchemaRegistry registryServer, int partitions) {
        this(kafka, registryServer, registryServer.url(), partitions);
    }

    /** A fixture on any registry that speaks the Confluent API (e.g. {@link SharedRegistry}'s Apicurio). */
    StreamFixture(EmbeddedKafka kafka, java.net.URI registryUrl, int partitions) {
        this(kafka, null, registryUrl, partitions);
    }

    private StreamFixture(EmbeddedKafka kafka, InProcessSchemaRegistry registryServer, java.net.URI registryUrl,
                          int partitions) {
        this.kafka = kafka;
        this.registryServer = registryServer;
        this.registryUrl = registryUrl;
        this.registry = new RestSchemaRegistryClient(new RegistrySettings(registryUrl, null, null,
                Duration.ofSeconds(10)));
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        this.requests = "requests-" + suffix;
        this.predictions = "predictions-" + suffix;
        this.deadLetters = "dead-letters-" + suffix;
        this.applicationId = "medfuse-it-" + suffix;
        kafka.createTopics(partitions, requests);
        kafka.createTopics(2, predictions, deadLetters);
        this.codec = new ConfluentAvroCodec<>(registry, ImagingRequest.class, true);
        try {
            this.stateRoot = java.nio.file.Files.createTempDirectory("medfuse-it-state-");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Properties p = kafka.clientProperties();
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 16 * 1024 * 1024);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    }

    /** Worker settings for this fixture's topics; extra settings win. */
    Map<String, Object> workerSettings(Map<String, Object> extra) {
        Map<String, Object> s = new HashMap<>();
        s.put(WorkerConfig.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        s.put(WorkerConfig.REGISTRY_URL, registryUrl.toString());
        s.put(WorkerConfig.APPLICATION_ID, applicationId);
        s.put(WorkerConfig.TOPIC_REQUESTS, requests);
        s.put(WorkerConfig.TOPIC_PREDICTIONS, predictions);
        s.put(WorkerConfig.TOPIC_DEAD_LETTERS, deadLetters);
        s.put(WorkerConfig.PREPROCESS_THREADS, "2");
        s.put(WorkerConfig.MODEL_INTRA_OP_THREADS, "1");
        s.put(WorkerConfig.MODEL_DEVICE, "cpu");
        s.put(WorkerConfig.METRICS_PORT, "0");
        s.put(WorkerConfig.METRICS_BIND_ADDRESS, "127.0.0.1");
        s.put(WorkerConfig.STATE_DIR, stateRoot.toString());
        s.putAll(extra);
        return s;
    }

    /**
     * Starts a worker as a separate JVM ({@code WorkerMain} with a properties file of this fixture's settings plus
     * {@code extra}), its output in {@code <dir>/<name>.log}.
     */
    Process startWorkerProcess(Map<String, Object> extra, java.nio.file.Path dir, String name)
            throws java.io.IOException {
        java.nio.file.Path config = dir.resolve(name + ".properties");
        Properties props = new Properties();
        workerSettings(extra).forEach((k, v) -> props.setProperty(k, String.valueOf(v)));
        try (java.io.Writer w = java.nio.file.Files.newBufferedWriter(config)) {
            props.store(w, "worker " + name);
        }
        return io.medfuse.testkit.ChildJvm.start(io.medfuse.worker.WorkerMain.class.getName(),
                List.of(config.toString()), List.of("-Xmx512m"), Map.of(), dir.resolve(name + ".log"));
    }

    /** The prediction read for {@code requestId}; fails naming the dead letters when there is none. */
    Prediction prediction(String requestId) {
        synchronized (predicted) {
            return predicted.stream().filter(x -> requestId.equals(x.getRequestId())).findFirst()
                    .orElseThrow(() -> new AssertionError("no prediction for " + requestId + "; dead letters "
                            + failed));
        }
    }

    WorkerConfig workerConfig(Map<String, Object> extra) {
        return WorkerConfig.load(null, Map.of(), workerSettings(extra));
    }

    void send(ImagingRequest request) {
        sendRaw(request.getRequestId(), codec.encode(requests, request));
    }

    void sendRaw(String key, byte[] value) {
        producer.send(new ProducerRecord<>(requests, key, value));
    }

    /** Sends and waits for the broker's acknowledgement: where the record landed. */
    RecordMetadata sendAndWait(String key, byte[] value) throws Exception {
        return producer.send(new ProducerRecord<>(requests, key, value)).get(30, TimeUnit.SECONDS);
    }

    /**
     * Starts a thread that sends {@code n} sample requests, one every {@code pauseMillis}, adding each id to
     * {@code ids} (synchronized on it) before sending, then flushes.
     */
    Thread sendPaced(io.medfuse.testkit.SampleRequests samples, String prefix, int n, long pauseMillis,
                     java.util.Set<String> ids) {
        return sendPaced(samples, prefix, n, pauseMillis, ids, new java.util.concurrent.ConcurrentHashMap<>());
    }

    /** As above, also keeping every request sent by its id in {@code sent}. */
    Thread sendPaced(io.medfuse.testkit.SampleRequests samples, String prefix, int n, long pauseMillis,
                     java.util.Set<String> ids, Map<String, ImagingRequest> sent) {
        Thread producer = new Thread(() -> {
            for (int i = 0; i < n; i++) {
                var r = samples.next(prefix);
                sent.put(r.getRequestId(), r);
                synchronized (ids) {
                    ids.add(r.getRequestId());
                }
                send(r);
                try {
                    Thread.sleep(pauseMillis);
                } catch (InterruptedException e) {
                    return;
                }
            }
            flush();
        }, "paced-producer");
        producer.start();
        return producer;
    }

    void flush() {
        producer.flush();
    }

    /** Starts reading answers (read_committed). */
    void startReading() {
        reader = new OutcomeConsumer(kafka.bootstrapServers(), registry, predictions, deadLetters, Map.of(),
                OutcomeConsumer.of(predicted::add, failed::add));
    }

    int answers() {
        return predicted.size() + failed.size();
    }

    /** A worker's health check as {@code "200 {json}"} or {@code "503 {json}"} (or why it could not be read). */
    static String health(int port, String check) {
        try {
            java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(
                    java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port + "/health/"
                            + check)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            return r.statusCode() + " " + r.body();
        } catch (java.io.IOException e) {
            return "unreachable " + e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    static boolean await(BooleanSupplier condition, Duration timeout) throws InterruptedException {
        return io.medfuse.testkit.Waits.until(condition, timeout);
    }

    /**
     * Waits until the reader has seen {@code expected} answers, then until the workers have committed every request
     * sent so far, and counts the answers committed with them. The order matters: a request's offset commits before
     * its answer when it waits in a batch (its pending entry covers it, ADR 0001), so "every offset committed" alone
     * does not mean "every answer committed". After this, a duplicate answer would already be in {@link #predicted}
     * or {@link #failed}.
     *
     * @return the number of committed answers (predictions and dead letters); more than {@code expected} is a
     *     duplicate
     */
    long awaitEverythingAnswered(long expected, Duration timeout) throws InterruptedException {
        flush();
        org.assertj.core.api.Assertions.assertThat(await(() -> answers() >= expected, timeout))
                .as("answers so far: %d predictions, %d dead letters of %d", predicted.size(), failed.size(),
                        expected).isTrue();
        org.assertj.core.api.Assertions.assertThat(io.medfuse.testkit.Waits.awaitCommitted(kafka.clientProperties(),
                applicationId, requests, timeout)).as("group %s committed every request of %s", applicationId,
                requests).isTrue();
        long committed = io.medfuse.testkit.Waits.committedRecords(kafka.clientProperties(), timeout, predictions,
                deadLetters);
        org.assertj.core.api.Assertions.assertThat(await(() -> answers() >= committed, timeout))
                .as("the reader saw %d committed answers, has %d", committed, answers()).isTrue();
        return committed;
    }

    @Override
    public void close() {
        if (reader != null) {
            reader.close();
        }
        producer.close();
        try (var walk = java.nio.file.Files.walk(stateRoot)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException e) {
            // a leftover temp folder is harmless
        }
    }
}
