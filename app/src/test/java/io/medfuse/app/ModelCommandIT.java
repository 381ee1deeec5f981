package io.medfuse.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import io.medfuse.model.contract.Calibration;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.SampleRequests;
import io.medfuse.testkit.SharedBroker;
import io.medfuse.testkit.Waits;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.worker.pipeline.RequestPipeline.Role;

/**
 * 'medfuse model announce / status / remove' and 'medfuse watch --shadow-topic' against a running worker on a
 * real broker: a shadow and a canary announced from the command line, what the workers made of them, the agreement
 * between the answers and the shadow.
 */
class ModelCommandIT {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static Path variant(Path dir, String version, double temperature) throws Exception {
        byte[] bundled = MedfuseWorker.bundledModel();
        ModelContract c = OnnxModelFile.readContract(bundled, "bundled");
        ModelContract v = c.withVersion(version)
                .withCalibration(new Calibration(Calibration.TEMPERATURE, temperature, null, Map.of()));
        Path file = dir.resolve(version + ".onnx");
        Files.write(file, OnnxModelFile.attachContract(bundled, v));
        return file;
    }

    @Test
    void announcesAShadowAndACanaryAndWatchShowsTheAgreement(@TempDir Path dir) throws Exception {
        EmbeddedKafka kafka = SharedBroker.kafka();
        InProcessSchemaRegistry registry = SharedBroker.registry();
        String s = UUID.randomUUID().toString().substring(0, 8);
        String requests = "mc-requests-" + s;
        String predictions = "mc-predictions-" + s;
        String deadLetters = "mc-dead-letters-" + s;
        String control = "mc-control-" + s;
        String status = "mc-status-" + s;
        String shadowTopic = "mc-shadow-" + s;
        kafka.createTopics(2, requests, predictions, deadLetters);
        kafka.createTopics(1, control, status, shadowTopic);
        Map<String, Object> settings = new HashMap<>();
        settings.put(WorkerConfig.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        settings.put(WorkerConfig.REGISTRY_URL, registry.url().toString());
        settings.put(WorkerConfig.APPLICATION_ID, "mc-" + s);
        settings.put(WorkerConfig.TOPIC_REQUESTS, requests);
        settings.put(WorkerConfig.TOPIC_PREDICTIONS, predictions);
        settings.put(WorkerConfig.TOPIC_DEAD_LETTERS, deadLetters);
        settings.put(WorkerConfig.MODEL_DEVICE, "cpu");
        settings.put(WorkerConfig.METRICS_PORT, "0");
        settings.put(WorkerConfig.STATE_DIR, Files.createDirectories(dir.resolve("state")).toString());
        settings.put(WorkerConfig.MODEL_CONTROL_TOPIC, control);
        settings.put(WorkerConfig.MODEL_STATUS_TOPIC, status);
        settings.put(WorkerConfig.MODEL_SHADOW_TOPIC, shadowTopic);
        Path models = Files.createDirectories(dir.resolve("models"));
        settings.put(WorkerConfig.MODEL_CONTROL_DIR, models.toString());
        Path shadow = variant(models, "shadow-1", 1.5);
        Path canary = variant(models, "canary-1", 2.0);
        String bootstrap = kafka.bootstrapServers();

        try (MedfuseWorker worker = MedfuseWorker.start(WorkerConfig.load(null, Map.of(), settings))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();

            CliRun noShare = CliRun.of("model", "announce", "--bootstrap", bootstrap, "--topic", control, "--role",
                    "canary", "--file", canary.toString());
            assertThat(noShare.exit()).isEqualTo(2);
            assertThat(noShare.err()).contains("a canary needs --share between 0 and 1");

            CliRun a = CliRun.of("model", "announce", "--bootstrap", bootstrap, "--topic", control, "--role",
                    "shadow", "--file", shadow.toString());
            assertThat(a.exit()).as(a.err()).isZero();
            assertThat(a.out()).contains("announced medfuse-demo shadow-1 (sha256 ", "as shadow on " + control);
            CliRun b = CliRun.of("model", "announce", "--bootstrap", bootstrap, "--topic", control, "--role",
                    "canary", "--share", "0.5", "--file", canary.toString());
            assertThat(b.exit()).as(b.err()).isZero();
            assertThat(Waits.until(() -> worker.pipeline().model(Role.CANARY) != null
                    && worker.pipeline().model(Role.SHADOW) != null, Duration.ofSeconds(60))).isTrue();
            List<JsonNode> events = status(bootstrap, status);
            assertThat(events).extracting(e -> e.path("state").asText() + " " + e.path("role").asText() + " "
                    + e.path("model").path("version").asText())
                    .contains("serving shadow shadow-1", "serving canary canary-1");

            int n = 60;
            var client = new RestSchemaRegistryClient(RegistrySettings.of(registry.url()));
            try (RequestPublisher publisher = new RequestPublisher(bootstrap, client, requests, 0, Map.of())) {
                SampleRequests samples = new SampleRequests(51, 64, "image/png");
                for (int i = 0; i < n; i++) {
                    publisher.publish(samples.next("mc"));
                }
                publisher.flush();
            }
            // every request answered and shadowed (each is one model row, the shadow's one more)
            assertThat(Waits.until(() -> worker.pipeline().inferred() >= 2L * n, Duration.ofSeconds(90)))
                    .as("inferred %d", worker.pipeline().inferred()).isTrue();

            CliRun watch = CliRun.of("watch", "--bootstrap", bootstrap, "--registry", registry.url().toString(),
                    "--predictions-topic", predictions, "--dead-letters-topic", deadLetters, "--shadow-topic",
                    shadowTopic, "--from-beginning", "--json", "--interval", "1", "--duration", "8");
            assertThat(watch.exit()).as(watch.err()).isZero();
            List<String> lines = watch.out().lines().filter(l -> l.startsWith("{")).toList();
            JsonNode last = JSON.readTree(lines.get(lines.size() - 1));
            assertThat(last.path("predictions").asLong()).isEqualTo(n);
            JsonNode sh = last.path("shadow");
            assertThat(sh.path("pairs").asInt()).isEqualTo(n);
            // the same network under other temperatures: the labels agree on every request
            assertThat(sh.path("agreement").asDouble()).isEqualTo(1.0);
            assertThat(sh.path("models").fieldNames().next()).contains("shadow-1");
            List<String> answering = new java.util.ArrayList<>();
            last.path("models").fieldNames().forEachRemaining(answering::add);
            assertThat(answering).as("the primary and the canary answered").hasSize(2)
                    .anyMatch(m -> m.contains("canary-1"));

            CliRun removed = CliRun.of("model", "remove", "--bootstrap", bootstrap, "--topic", control, "--role",
                    "canary");
            assertThat(removed.exit()).as(removed.err()).isZero();
            assertThat(Waits.until(() -> worker.pipeline().model(Role.CANARY) == null, Duration.ofSeconds(60)))
                    .isTrue();
            CliRun printed = CliRun.of("model", "status", "--bootstrap", bootstrap, "--topic", status,
                    "--timeout", "2");
            assertThat(printed.exit()).isZero();
            assertThat(printed.out()).contains("\"state\":\"removed\",\"role\":\"canary\"");
        }
    }

    /** The status events so far, as 'model status' prints them. */
    private static List<JsonNode> status(String bootstrap, String topic) throws Exception {
        CliRun r = CliRun.of("model", "status", "--bootstrap", bootstrap, "--topic", topic, "--timeout", "2");
        assertThat(r.exit()).as(r.err()).isZero();
        List<JsonNode> events = new java.util.ArrayList<>();
        for (String line : r.out().lines().filter(l -> l.startsWith("{")).toList()) {
            events.add(JSON.readTree(line));
        }
        return events;
    }
}
