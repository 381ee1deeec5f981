package io.medfuse.worker.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Prediction;
import io.medfuse.testkit.KafkaBrokerProcess;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.WorkerStartException;
import io.medfuse.testkit.OutcomeConsumer;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import io.medfuse.testkit.SampleRequests;
import io.medfuse.events.serde.ConfluentAvroCodec;

/**
 * The worker against a broker that demands SASL SCRAM-SHA-512 (a broker process with SASL_PLAINTEXT and SASL_SSL
 * listeners; the SCRAM user is created with Admin.alterUserScramCredentials): the kafka.* settings (SASL, and the
 * trust store for TLS) reach every client and requests are answered; a wrong password stops start-up at once with a
 * message that says so.
 */
@org.junit.jupiter.api.Tag("slow") // -Pslow only: a TLS/SASL broker process, about 30 s
class SecureConnectionIT {

    static KafkaBrokerProcess broker;
    static InProcessSchemaRegistry registry;

    @BeforeAll
    static void start() {
        broker = KafkaBrokerProcess.start(true, Map.of());
        broker.addScramUser("medfuse", "right-password");
        registry = InProcessSchemaRegistry.start(0);
    }

    @AfterAll
    static void stop() {
        registry.close();
        broker.close();
    }

    private static Map<String, Object> sasl(String password) {
        return Map.of(
                "security.protocol", "SASL_PLAINTEXT",
                "sasl.mechanism", "SCRAM-SHA-512",
                "sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username="
                        + "\"medfuse\" password=\"" + password + "\";");
    }

    private static Map<String, Object> saslSsl(String password) {
        Map<String, Object> s = new HashMap<>(sasl(password));
        s.put("security.protocol", "SASL_SSL");
        s.putAll(broker.tlsClientSettings());
        return s;
    }

    private static Map<String, Object> workerSettings(String suffix, String password) {
        return workerSettings(suffix, broker.saslBootstrapServers(), sasl(password));
    }

    private static Map<String, Object> workerSettings(String suffix, String bootstrap, Map<String, Object> client) {
        Map<String, Object> s = new HashMap<>();
        s.put(WorkerConfig.BOOTSTRAP_SERVERS, bootstrap);
        s.put(WorkerConfig.REGISTRY_URL, registry.url().toString());
        s.put(WorkerConfig.APPLICATION_ID, "medfuse-sasl-" + suffix);
        s.put(WorkerConfig.TOPIC_REQUESTS, "requests-" + suffix);
        s.put(WorkerConfig.TOPIC_PREDICTIONS, "predictions-" + suffix);
        s.put(WorkerConfig.TOPIC_DEAD_LETTERS, "dead-letters-" + suffix);
        s.put(WorkerConfig.PREPROCESS_THREADS, "2");
        s.put(WorkerConfig.MODEL_INTRA_OP_THREADS, "1");
        s.put(WorkerConfig.MODEL_DEVICE, "cpu");
        client.forEach((k, v) -> s.put("kafka." + k, v));
        return s;
    }

    @Test
    void answersRequestsOverSaslScramWithSettingsPassedThroughKafkaKeys() throws Exception {
        answersOver(broker.saslBootstrapServers(), sasl("right-password"));
    }

    @Test
    void answersRequestsOverSaslScramOnTls() throws Exception {
        answersOver(broker.saslSslBootstrapServers(), saslSsl("right-password"));
    }

    @SuppressWarnings("try") // the reader works on its own thread; the try only closes it
    private static void answersOver(String bootstrap, Map<String, Object> client) throws Exception {
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        broker.createTopics(2, "requests-" + suffix, "predictions-" + suffix, "dead-letters-" + suffix);
        var registryClient = new RestSchemaRegistryClient(new RegistrySettings(registry.url(), null, null,
                Duration.ofSeconds(10)));
        ConfluentAvroCodec<ImagingRequest> codec = new ConfluentAvroCodec<>(registryClient, ImagingRequest.class,
                true);
        List<Prediction> predicted = Collections.synchronizedList(new ArrayList<>());
        List<FailedRequest> failed = Collections.synchronizedList(new ArrayList<>());
        Properties producerProps = new Properties();
        producerProps.put("bootstrap.servers", bootstrap);
        producerProps.putAll(client);
        try (MedfuseWorker worker = MedfuseWorker.start(WorkerConfig.load(null, Map.of(),
                     workerSettings(suffix, bootstrap, client)));
             KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerProps, new StringSerializer(),
                     new ByteArraySerializer());
             OutcomeConsumer reader = new OutcomeConsumer(bootstrap, registryClient,
                     "predictions-" + suffix, "dead-letters-" + suffix, client,
                     OutcomeConsumer.of(predicted::add, failed::add))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            SampleRequests samples = new SampleRequests(31, 64, "image/png");
            for (int i = 0; i < 20; i++) {
                ImagingRequest r = samples.next("sasl");
                producer.send(new ProducerRecord<>("requests-" + suffix, r.getRequestId(),
                        codec.encode("requests-" + suffix, r)));
            }
            producer.flush();
            assertThat(StreamFixture.await(() -> predicted.size() >= 20, Duration.ofSeconds(90)))
                    .as("%d predictions of 20 over %s", predicted.size(), client.get("security.protocol")).isTrue();
            assertThat(failed).isEmpty();
        }
    }

    @Test
    void aWrongPasswordStopsStartUpFastWithAClearMessage() {
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        broker.createTopics(1, "requests-" + suffix, "predictions-" + suffix, "dead-letters-" + suffix);
        long start = System.nanoTime();
        assertThatThrownBy(() -> MedfuseWorker.start(WorkerConfig.load(null, Map.of(),
                workerSettings(suffix, "wrong-password"))))
                .isInstanceOf(WorkerStartException.class)
                .hasMessageContaining("refused the worker's credentials")
                .hasMessageContaining("kafka.sasl.jaas.config")
                .hasMessageNotContaining("wrong-password");
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("SecureConnectionIT: a wrong password failed start-up in %.1f s%n", seconds);
        assertThat(seconds).as("seconds until the wrong password is reported").isLessThan(15);
    }
}
