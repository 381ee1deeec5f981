package io.medfuse.worker.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Prediction;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.OutcomeConsumer;
import io.medfuse.testkit.SampleRequests;
import io.medfuse.testkit.SharedBroker;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.worker.models.ModelAnnouncement;
import io.medfuse.worker.models.ModelVariants;
import io.medfuse.worker.pipeline.RequestPipeline;
import io.medfuse.worker.pipeline.RequestPipeline.Role;

/**
 * Models announced on a real control topic while a worker serves a steady load: the swap, a refused candidate, a
 * canary's share, a shadow's own topic. Every request is answered exactly once throughout, and every prediction
 * names the model that produced it.
 */
class ModelSwapIT {

    static final EmbeddedKafka kafka = SharedBroker.kafka();
    static final InProcessSchemaRegistry registry = SharedBroker.registry();
    private static final int PARTITIONS = 3;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    private final ModelVariants variants = new ModelVariants();
    private final List<JsonNode> statuses = new CopyOnWriteArrayList<>();

    /** A fixture with control and status topics, and a worker on model file v1 that reads them. */
    private final class Setup implements AutoCloseable {
        final StreamFixture f = new StreamFixture(kafka, registry, PARTITIONS);
        final String control = "model-control-" + f.applicationId;
        final String status = "model-status-" + f.applicationId;
        final String shadow = "shadow-" + f.applicationId;
        final KafkaProducer<String, byte[]> announcer;
        final Thread statusReader;
        volatile boolean reading = true;
        MedfuseWorker worker;

        Setup() {
            kafka.createTopics(1, control, status, shadow);
            announcer = new KafkaProducer<>(kafka.clientProperties(), new StringSerializer(),
                    new ByteArraySerializer());
            statusReader = new Thread(this::readStatus, "status-reader");
            statusReader.start();
        }

        MedfuseWorker start(Map<String, Object> extra) throws Exception {
            Path v1 = ModelVariants.write(dir, "v1.onnx", variants.bundled());
            Map<String, Object> s = new HashMap<>(Map.of(WorkerConfig.MODEL_PATH, v1.toString(),
                    WorkerConfig.MODEL_CONTROL_TOPIC, control, WorkerConfig.MODEL_STATUS_TOPIC, status,
                    WorkerConfig.BATCH_MAX_SIZE, "8", WorkerConfig.BATCH_PADDED_SIZES, "1,2,4,8"));
            s.putAll(extra);
            worker = MedfuseWorker.start(f.workerConfig(s));
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            assertThat(worker.modelControl().orElseThrow().awaitCaughtUp(Duration.ofSeconds(30))).isTrue();
            f.startReading();
            return worker;
        }

        void announce(Role role, Path file, String sha, Double share) throws Exception {
            ModelAnnouncement a = new ModelAnnouncement(role, file.toUri(), sha, share, false);
            announcer.send(new ProducerRecord<>(control, a.key(), a.toJson())).get();
        }

        void announce(Role role, Path file, Double share) throws Exception {
            announce(role, file, OnnxModelFile.sha256(Files.readAllBytes(file)), share);
        }

        /** Waits for the worker's status event that ends with this state for the model file. */
        JsonNode awaitStatus(String state, Path file) throws InterruptedException {
            String uri = file.toUri().toString();
            assertThat(StreamFixture.await(() -> statuses.stream().anyMatch(s -> state.equals(s.path("state")
                    .asText()) && uri.equals(s.path("uri").asText())), Duration.ofSeconds(60)))
                    .as("status %s for %s; seen %s", state, uri, statuses).isTrue();
            return statuses.stream().filter(s -> state.equals(s.path("state").asText())
                    && uri.equals(s.path("uri").asText())).findFirst().orElseThrow();
        }

        private void readStatus() {
            Properties p = kafka.clientProperties();
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            p.put(ConsumerConfig.GROUP_ID_CONFIG, "status-reader-" + f.applicationId);
            try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(),
                    new StringDeserializer())) {
                c.subscribe(List.of(status));
                while (reading) {
                    c.poll(Duration.ofMillis(200)).forEach(r -> {
                        try {
                            statuses.add(JSON.readTree(r.value()));
                        } catch (java.io.IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    });
                }
            }
        }

        @Override
        public void close() {
            reading = false;
            try {
                statusReader.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            announcer.close();
            if (worker != null) {
                worker.close();
            }
            f.close();
        }
    }

    /** The partition the producer's default partitioner gives a request id (murmur2 of the key). */
    private static int partitionOf(String key) {
        return Utils.toPositive(Utils.murmur2(key.getBytes(StandardCharsets.UTF_8))) % PARTITIONS;
    }

    @Test
    void aSwapUnderSteadyLoadAnswersEveryRequestOnceAndSwitchesAtOnePointPerPartition() throws Exception {
        try (Setup s = new Setup()) {
            s.start(Map.of());
            Path v2 = ModelVariants.write(dir, "v2.onnx", variants.version("2", 2.0));
            String v1Version = variants.contract().version();
            Set<String> ids = new java.util.LinkedHashSet<>();
            Map<String, ImagingRequest> sent = new ConcurrentHashMap<>();
            int n = 1200;
            Thread producer = s.f.sendPaced(new SampleRequests(31, 64, "image/png"), "swap", n, 4, ids, sent);
            // announced while the load runs, once a share of it is answered by v1
            assertThat(StreamFixture.await(() -> s.f.answers() >= n / 4, Duration.ofSeconds(120))).isTrue();
            s.announce(Role.PRIMARY, v2, null);
            JsonNode serving = s.awaitStatus("serving", v2);
            producer.join();
            assertThat(s.f.awaitEverythingAnswered(n, Duration.ofSeconds(180))).isEqualTo(n);

            assertThat(serving.path("model").path("version").asText()).isEqualTo("2");
            assertThat(s.f.failed).as("dead letters").isEmpty();
            Map<String, List<Prediction>> byId = s.f.predicted.stream()
                    .collect(Collectors.groupingBy(Prediction::getRequestId));
            List<String> order;
            synchronized (ids) {
                order = new ArrayList<>(ids);
            }
            assertThat(byId.keySet()).containsExactlyInAnyOrderElementsOf(order);
            assertThat(byId.values()).as("answered exactly once").allMatch(l -> l.size() == 1);
            String v2Sha = OnnxModelFile.sha256(Files.readAllBytes(v2));
            Map<Integer, List<String>> versionsByPartition = new LinkedHashMap<>();
            for (String id : order) {
                Prediction p = byId.get(id).get(0);
                assertThat(p.getModel().getVersion()).isIn(v1Version, "2");
                if (p.getModel().getVersion().equals("2")) {
                    assertThat(p.getModel().getSha256()).isEqualTo(v2Sha);
                }
                versionsByPartition.computeIfAbsent(partitionOf(id), k -> new ArrayList<>())
                        .add(p.getModel().getVersion());
            }
            for (Map.Entry<Integer, List<String>> e : versionsByPartition.entrySet()) {
                List<String> versions = e.getValue();
                int firstV2 = versions.indexOf("2");
                assertThat(firstV2).as("partition %d switches to v2 within the load", e.getKey())
                        .isPositive();
                assertThat(versions.subList(0, firstV2)).as("partition %d before its switch", e.getKey())
                        .allMatch(v1Version::equals);
                assertThat(versions.subList(firstV2, versions.size())).as("partition %d after its switch",
                        e.getKey()).allMatch("2"::equals);
            }
            assertThat(s.worker.pipeline().identity().getVersion()).isEqualTo("2");
            String scrape = scrape(s.worker);
            assertThat(scrape).contains("medfuse_model_installed_total{role=\"primary\"} 1.0",
                    "medfuse_model_info{name=\"" + variants.contract().name() + "\"");
            assertThat(scrape).containsPattern("medfuse_model_predictions_total\\{model=\"[^\"]+\",version=\"2\"\\}");
        }
    }

    @Test
    void aBadCandidateIsRefusedAndTheCurrentModelKeepsServing() throws Exception {
        try (Setup s = new Setup()) {
            s.start(Map.of());
            Path v2 = ModelVariants.write(dir, "v2.onnx", variants.version("2", 2.0));
            s.announce(Role.PRIMARY, v2, "0".repeat(64), null);
            JsonNode refused = s.awaitStatus("refused", v2);
            assertThat(refused.path("reason").asText()).isEqualTo("sha256-mismatch");
            assertThat(refused.path("instance").asText()).isEqualTo(s.worker.instanceId());
            assertThat(refused.path("model").path("version").asText()).isEqualTo(variants.contract().version());
            Path labels = ModelVariants.write(dir, "labels.onnx", variants.otherLabels("3"));
            s.announce(Role.PRIMARY, labels, null);
            assertThat(s.awaitStatus("refused", labels).path("reason").asText()).isEqualTo("labels-differ");

            SampleRequests samples = new SampleRequests(41, 64, "image/png");
            for (int i = 0; i < 20; i++) {
                s.f.send(samples.next("after"));
            }
            s.f.flush();
            assertThat(StreamFixture.await(() -> s.f.answers() >= 20, Duration.ofSeconds(60))).isTrue();
            assertThat(s.f.predicted).extracting(p -> p.getModel().getVersion())
                    .containsOnly(variants.contract().version());
            assertThat(scrape(s.worker)).contains(
                    "medfuse_model_refused_total{reason=\"sha256-mismatch\",role=\"primary\"} 1.0",
                    "medfuse_model_refused_total{reason=\"labels-differ\",role=\"primary\"} 1.0");
        }
    }

    @Test
    void aCanaryAnswersItsShareAndAShadowWritesOnlyToItsOwnTopic() throws Exception {
        try (Setup s = new Setup()) {
            s.start(Map.of(WorkerConfig.MODEL_SHADOW_TOPIC, s.shadow));
            List<Prediction> shadowed = new CopyOnWriteArrayList<>();
            Path canary = ModelVariants.write(dir, "canary.onnx", variants.version("canary", 2.0));
            Path shadow = ModelVariants.write(dir, "shadow.onnx", variants.version("shadow", 1.5));
            s.announce(Role.CANARY, canary, 0.3);
            s.awaitStatus("serving", canary);
            s.announce(Role.SHADOW, shadow, null);
            s.awaitStatus("serving", shadow);
            OutcomeConsumer shadowReader = new OutcomeConsumer(kafka.bootstrapServers(), s.f.registry, s.shadow,
                    s.f.deadLetters, Map.of(), OutcomeConsumer.of(shadowed::add, x -> { }));
            try {
                int n = 400;
                SampleRequests samples = new SampleRequests(43, 64, "image/png");
                List<String> ids = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    ImagingRequest r = samples.next("canary");
                    ids.add(r.getRequestId());
                    s.f.send(r);
                }
                s.f.flush();
                assertThat(StreamFixture.await(() -> s.f.answers() >= n, Duration.ofSeconds(120))).isTrue();
                // a shadow behind the traffic skips requests rather than hold them (at most max.in.flight): every
                // request is shadowed or counted as skipped
                assertThat(StreamFixture.await(() -> distinct(shadowed) + shadowSkipped(s.worker) >= n,
                        Duration.ofSeconds(60))).as("shadow predictions: %d, skipped %d", shadowed.size(),
                        shadowSkipped(s.worker)).isTrue();
                assertThat(distinct(shadowed)).as("most are shadowed").isGreaterThanOrEqualTo(n / 2);

                assertThat(s.f.failed).isEmpty();
                long byCanary = s.f.predicted.stream().filter(p -> p.getModel().getVersion().equals("canary"))
                        .count();
                // binomial(400, 0.3): mean 120, sd 9.2; five sd either side
                assertThat(byCanary).isBetween(74L, 166L);
                for (Prediction p : s.f.predicted) {
                    boolean inShare = RequestPipeline.bucket(p.getRequestId()) < 0.3;
                    assertThat(p.getModel().getVersion()).as(p.getRequestId())
                            .isEqualTo(inShare ? "canary" : variants.contract().version());
                }
                assertThat(s.f.predicted).noneMatch(p -> p.getModel().getVersion().equals("shadow"));
                assertThat(shadowed).allMatch(p -> p.getModel().getVersion().equals("shadow"));
                assertThat(ids).containsAll(shadowed.stream().map(Prediction::getRequestId).toList());
                // the same network under another temperature: the shadow agrees on every label
                Map<String, String> answered = s.f.predicted.stream()
                        .collect(Collectors.toMap(Prediction::getRequestId, Prediction::getLabel));
                assertThat(shadowed).allMatch(p -> p.getLabel().equals(answered.get(p.getRequestId())));

                // share 0: rolled back without a restart
                s.announce(Role.CANARY, canary, 0.0);
                s.awaitStatus("share", canary);
                int before = s.f.predicted.size();
                for (int i = 0; i < 40; i++) {
                    s.f.send(samples.next("rolled-back"));
                }
                s.f.flush();
                assertThat(StreamFixture.await(() -> s.f.answers() >= n + 40, Duration.ofSeconds(60))).isTrue();
                assertThat(s.f.predicted.subList(before, s.f.predicted.size()))
                        .allMatch(p -> p.getModel().getVersion().equals(variants.contract().version()));
            } finally {
                shadowReader.close();
            }
            assertThat(scrape(s.worker)).containsPattern("medfuse_shadow_predictions_total [1-9]");
        }
    }

    @Test
    void aWorkerStartingAfterAnAnnouncementServesTheAnnouncedModelFromItsFirstRequest() throws Exception {
        try (Setup s = new Setup()) {
            Path v2 = ModelVariants.write(dir, "v2.onnx", variants.version("2", 2.0));
            Path old = ModelVariants.write(dir, "old.onnx", variants.version("old", 2.0));
            // an announcement replaced since (the topic is not compacted yet): only the latest per role is applied
            s.announce(Role.PRIMARY, old, "1".repeat(64), null);
            s.announce(Role.PRIMARY, v2, null);
            s.start(Map.of());
            JsonNode serving = s.awaitStatus("serving", v2);
            assertThat(serving.path("model").path("version").asText()).isEqualTo("2");
            assertThat(statuses).as("the replaced announcement is not applied on the way")
                    .noneMatch(st -> st.path("uri").asText().equals(old.toUri().toString()));
            SampleRequests samples = new SampleRequests(47, 64, "image/png");
            for (int i = 0; i < 10; i++) {
                s.f.send(samples.next("first"));
            }
            s.f.flush();
            assertThat(StreamFixture.await(() -> s.f.answers() >= 10, Duration.ofSeconds(60))).isTrue();
            assertThat(s.f.predicted).extracting(p -> p.getModel().getVersion()).containsOnly("2");
        }
    }

    private static long distinct(List<Prediction> ps) {
        return ps.stream().map(Prediction::getRequestId).distinct().count();
    }

    private static long shadowSkipped(MedfuseWorker worker) {
        try {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^medfuse_shadow_skipped_total (\\S+)$")
                    .matcher(scrape(worker));
            return m.find() ? (long) Double.parseDouble(m.group(1)) : 0;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static String scrape(MedfuseWorker worker) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
                "http://127.0.0.1:" + worker.telemetry().port() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString());
        return r.body();
    }
}
