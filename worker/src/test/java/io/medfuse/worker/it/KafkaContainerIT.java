package io.medfuse.worker.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.kafka.KafkaContainer;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Prediction;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.testkit.OutcomeConsumer;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import io.medfuse.testkit.SampleRequests;
import io.medfuse.events.serde.ConfluentAvroCodec;

/**
 * The worker against the real Apache Kafka image (a container, as in production) instead of the in-JVM broker:
 * every request answered exactly once, health ready, metrics counting. Runs only where a Docker engine is present;
 * skipped otherwise (as on the development machines). The schema registry is the in-process one.
 */
@Testcontainers(disabledWithoutDocker = true)
class KafkaContainerIT {

    @Container
    static final KafkaContainer KAFKA = new KafkaContainer("apache/kafka:4.1.0");

    static InProcessSchemaRegistry registry;

    @BeforeAll
    static void startRegistry() {
        registry = InProcessSchemaRegistry.start(0);
    }

    @AfterAll
    static void stopRegistry() {
        if (registry != null) {
            registry.close();
        }
    }

    @Test
    @SuppressWarnings("try") // the reader works on its own thread; the try only closes it
    void workerAnswersEveryRequestOnceAgainstAKafkaContainer() throws Exception {
        String bootstrap = KAFKA.getBootstrapServers();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(List.of(new NewTopic("medfuse.requests", 3, (short) 1),
                    new NewTopic("medfuse.predictions", 2, (short) 1),
                    new NewTopic("medfuse.dead-letters", 2, (short) 1))).all().get();
        }
        Map<String, Object> settings = new HashMap<>();
        settings.put(WorkerConfig.BOOTSTRAP_SERVERS, bootstrap);
        settings.put(WorkerConfig.REGISTRY_URL, registry.url().toString());
        settings.put(WorkerConfig.APPLICATION_ID, "medfuse-container-it");
        settings.put(WorkerConfig.MODEL_DEVICE, "cpu");
        settings.put(WorkerConfig.METRICS_PORT, "0");
        settings.put("kafka.replication.factor", "1");
        var client = new RestSchemaRegistryClient(new RegistrySettings(registry.url(), null, null,
                Duration.ofSeconds(10)));
        List<Prediction> predicted = Collections.synchronizedList(new ArrayList<>());
        List<FailedRequest> failed = Collections.synchronizedList(new ArrayList<>());
        int n = 50;
        try (MedfuseWorker worker = MedfuseWorker.start(WorkerConfig.load(null, Map.of(), settings));
             OutcomeConsumer reader = new OutcomeConsumer(bootstrap, client, "medfuse.predictions",
                     "medfuse.dead-letters", Map.of(), OutcomeConsumer.of(predicted::add, failed::add));
             KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of(
                     ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap), new StringSerializer(),
                     new ByteArraySerializer())) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(90))).isTrue();
            HttpResponse<String> ready = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
                    "http://127.0.0.1:" + worker.telemetry().port() + "/health/ready")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(ready.statusCode()).isEqualTo(200);

            var codec = new ConfluentAvroCodec<>(client, ImagingRequest.class, true);
            SampleRequests samples = new SampleRequests(21, 48, "image/png");
            Set<String> ids = new HashSet<>();
            for (int i = 0; i < n; i++) {
                ImagingRequest r = samples.next("container");
                ids.add(r.getRequestId());
                producer.send(new ProducerRecord<>("medfuse.requests", r.getRequestId(),
                        codec.encode("medfuse.requests", r)));
            }
            producer.flush();
            assertThat(StreamFixture.await(() -> predicted.size() + failed.size() >= n, Duration.ofSeconds(120)))
                    .isTrue();
            // every committed answer read: a duplicate would be among them now
            java.util.Properties readerProps = new java.util.Properties();
            readerProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            long committed = io.medfuse.testkit.Waits.committedRecords(readerProps, Duration.ofSeconds(60),
                    "medfuse.predictions", "medfuse.dead-letters");
            assertThat(StreamFixture.await(() -> predicted.size() + failed.size() >= committed, Duration.ofSeconds(60)))
                    .isTrue();
            assertThat(committed).isEqualTo(n);
            assertThat(failed).isEmpty();
            assertThat(predicted).extracting(Prediction::getRequestId).containsExactlyInAnyOrderElementsOf(ids);
            assertThat(worker.telemetry().metrics().scrape()).contains("medfuse_predictions_total " + n + ".0");
        }
    }
}
