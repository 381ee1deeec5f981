package io.medfuse.worker.topology;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.FailureReason;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Prediction;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.pipeline.InFlightLimit;
import io.medfuse.worker.pipeline.OnnxModel;
import io.medfuse.worker.pipeline.ReferencePolicy;
import io.medfuse.worker.pipeline.RequestPipeline;
import io.medfuse.worker.registry.RegistryOutage;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import io.medfuse.events.serde.AvroSerde;
import io.medfuse.events.serde.ConfluentAvroCodec;
import io.medfuse.testkit.NewerRequestSchema;
import io.medfuse.testkit.SampleRequests;

/** The production topology, driven by TopologyTestDriver with the bundled ONNX model and a real registry. */
class TopologyTest {

    private InProcessSchemaRegistry registryServer;
    private OnnxModel model;
    private RequestPipeline pipeline;
    private TopologyTestDriver driver;
    private TestInputTopic<String, byte[]> requests;
    private TestOutputTopic<String, byte[]> predictions;
    private TestOutputTopic<String, byte[]> deadLetters;
    private ConfluentAvroCodec<ImagingRequest> requestCodec;
    private ConfluentAvroCodec<Prediction> predictionCodec;
    private ConfluentAvroCodec<FailedRequest> deadLetterCodec;
    private Topology topology;
    private RegistryOutage outage;
    private Answers answers;
    private InFlightLimit limit;

    @BeforeEach
    void setUp() {
        registryServer = InProcessSchemaRegistry.start(0);
        var registry = new RestSchemaRegistryClient(RegistrySettings.of(registryServer.url()));
        model = OnnxModel.load(MedfuseWorker.bundledModel(), "bundled", EngineOptions.defaults().withDevice("cpu"));
        pipeline = new RequestPipeline(model, new RequestPipeline.Settings(2, 8, 5, ImageLimits.defaults(),
                ReferencePolicy.NONE, Duration.ofSeconds(30), Duration.ofMinutes(5), Duration.ofDays(7), 0));
        requestCodec = new ConfluentAvroCodec<>(registry, ImagingRequest.class, true);
        predictionCodec = new ConfluentAvroCodec<>(registry, Prediction.class, true);
        deadLetterCodec = new ConfluentAvroCodec<>(registry, FailedRequest.class, true);
        outage = new RegistryOutage(registry, Duration.ofMillis(500));
        limit = new InFlightLimit(16);
        drive(TopologySettings.of("req", "pred", "dead", 5, 1024));
    }

    /** Builds the production topology for {@code settings} and drives it (replacing any driver before). */
    private void drive(TopologySettings settings) {
        if (driver != null) {
            driver.close();
        }
        answers = new Answers(settings, new AvroSerde<>(predictionCodec).serializer(),
                new AvroSerde<>(deadLetterCodec).serializer(), model::identity);
        // the test driver has no broker: a restarted task would read its pending records from these
        PendingSource inputs = (topic, partition, offsets) -> {
            throw new AssertionError("no pending record is read again in these tests");
        };
        topology = TopologyFactory.build(settings, new TopologyFactory.Parts(requestCodec, answers, pipeline, limit,
                outage, new AnswerBacklog(), inputs));
        Properties props = new Properties();
        props.put(Answers.CONFIG_KEY, answers);
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "topology-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        driver = new TopologyTestDriver(topology, props);
        requests = driver.createInputTopic("req", new org.apache.kafka.common.serialization.StringSerializer(),
                new ByteArraySerializer());
        predictions = driver.createOutputTopic("pred", new StringDeserializer(),
                new org.apache.kafka.common.serialization.ByteArrayDeserializer());
        deadLetters = driver.createOutputTopic("dead", new StringDeserializer(),
                new org.apache.kafka.common.serialization.ByteArrayDeserializer());
    }

    @AfterEach
    void tearDown() {
        outage.close();
        driver.close();
        pipeline.close();
        model.close();
        registryServer.close();
    }

    /** Advances wall-clock time until n answers arrived (inference runs on the batcher's thread). */
    private List<Object> answers(int n) throws InterruptedException {
        List<Object> out = new ArrayList<>();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (out.size() < n && System.nanoTime() < deadline) {
            Thread.sleep(5);
            driver.advanceWallClockTime(Duration.ofMillis(10));
            for (KeyValue<String, byte[]> kv : predictions.readKeyValuesToList()) {
                out.add(predictionCodec.decode(kv.value));
            }
            for (KeyValue<String, byte[]> kv : deadLetters.readKeyValuesToList()) {
                out.add(deadLetterCodec.decode(kv.value));
            }
        }
        return out;
    }

    @Test
    void answersValidRequestsWithPredictionsCarryingModelIdentityTimingsAndADeterministicId() throws Exception {
        SampleRequests samples = new SampleRequests(5, 64, "image/png");
        java.util.Map<String, ImagingRequest> sent = new java.util.HashMap<>();
        for (int i = 0; i < 10; i++) {
            ImagingRequest r = samples.next("t");
            sent.put(r.getRequestId(), r);
            requests.pipeInput(r.getRequestId(), requestCodec.encode("req", r));
        }
        List<Object> out = answers(10);
        assertThat(out).hasSize(10).allMatch(o -> o instanceof Prediction);
        Prediction p = (Prediction) out.get(0);
        assertThat(p.getModel().getSha256()).isEqualTo(model.identity().getSha256());
        assertThat(p.getModel().getVersion()).isEqualTo(model.contract().version());
        assertThat(p.getProbabilities()).hasSize(model.contract().labels().size());
        assertThat(p.getLabel()).isIn(model.contract().labelNames());
        assertThat(p.getTimings().getBatchSize()).isBetween(1, 8);
        assertThat(p.getTimings().getInferenceMs()).isPositive();
        assertThat(p.getPredictionId()).isEqualTo(InferenceProcessor.predictionId(p.getRequestId(),
                RequestDigest.of(sent.get(p.getRequestId())), model.identity()));
        assertThat(limit.inFlight()).as("every permit is given back").isZero();
        KeyValueStore<Long, byte[]> pending = driver.getKeyValueStore(TopologyFactory.PENDING_STORE);
        assertThat(pending.approximateNumEntries()).as("answered requests leave the pending store").isZero();
    }

    @Test
    void routesUndecodableBytesAndBadImagesToDeadLettersAndKeepsGoing() throws Exception {
        SampleRequests samples = new SampleRequests(5, 64, "image/png");
        requests.pipeInput("x", "plain text".getBytes(StandardCharsets.UTF_8));
        ImagingRequest broken = samples.request("broken", 30.0, "male", "back", new byte[] {1, 2, 3});
        requests.pipeInput("broken", requestCodec.encode("req", broken));
        ImagingRequest ok = samples.next("t");
        requests.pipeInput(ok.getRequestId(), requestCodec.encode("req", ok));
        List<Object> out = answers(3);
        assertThat(out).hasSize(3);
        assertThat(out).filteredOn(o -> o instanceof Prediction).hasSize(1);
        List<FailureReason> reasons = out.stream().filter(o -> o instanceof FailedRequest)
                .map(o -> ((FailedRequest) o).getReason()).toList();
        assertThat(reasons).containsExactlyInAnyOrder(FailureReason.UNDESERIALIZABLE,
                FailureReason.IMAGE_UNDECODABLE);
        FailedRequest undecodable = out.stream().filter(o -> o instanceof FailedRequest)
                .map(o -> (FailedRequest) o).filter(f -> f.getReason() == FailureReason.UNDESERIALIZABLE)
                .findFirst().orElseThrow();
        assertThat(undecodable.getSourceTopic()).isEqualTo("req");
        assertThat(undecodable.getSourceOffset()).isZero();
        assertThat(undecodable.getRequestId()).isNull();
    }

    @Test
    void answersAProducerRetryOnceAndAReusedIdWithOtherContentWithADuplicateDeadLetter() throws Exception {
        SampleRequests samples = new SampleRequests(5, 64, "image/png");
        ImagingRequest first = samples.request("dup-1", 40.0, "female", "back", samples.image(1));
        ImagingRequest retry = ImagingRequest.newBuilder(first)
                .setRequestedAt(first.getRequestedAt().plusSeconds(3)).build(); // re-stamped: still the same request
        ImagingRequest other = samples.request("dup-1", 70.0, "male", "back", samples.image(2));
        requests.pipeInput(first.getRequestId(), requestCodec.encode("req", first));
        requests.pipeInput(retry.getRequestId(), requestCodec.encode("req", retry));
        requests.pipeInput(other.getRequestId(), requestCodec.encode("req", other));
        ImagingRequest filler = samples.next("after");
        requests.pipeInput(filler.getRequestId(), requestCodec.encode("req", filler));

        List<Object> out = answers(3);

        List<Prediction> predictions = out.stream().filter(o -> o instanceof Prediction).map(o -> (Prediction) o)
                .toList();
        assertThat(predictions).extracting(Prediction::getRequestId).containsExactlyInAnyOrder("dup-1",
                filler.getRequestId());
        List<FailedRequest> dead = out.stream().filter(o -> o instanceof FailedRequest).map(o -> (FailedRequest) o)
                .toList();
        assertThat(dead).hasSize(1);
        assertThat(dead.get(0).getReason()).isEqualTo(FailureReason.DUPLICATE_REQUEST_ID);
        assertThat(dead.get(0).getRequestId()).isEqualTo("dup-1");
        assertThat(dead.get(0).getSourceOffset()).isEqualTo(2);
        assertThat(dead.get(0).getDetail()).contains("req-0@0").doesNotContain("70");
        // the reused id with other content would have had its own prediction id: ids never collide
        assertThat(InferenceProcessor.predictionId("dup-1", RequestDigest.of(other), model.identity()))
                .isNotEqualTo(predictions.stream().filter(p -> p.getRequestId().equals("dup-1")).findFirst()
                        .orElseThrow().getPredictionId());
        assertThat(RequestDigest.of(retry)).isEqualTo(RequestDigest.of(first));
        KeyValueStore<Long, byte[]> pending = driver.getKeyValueStore(TopologyFactory.PENDING_STORE);
        assertThat(pending.approximateNumEntries()).isZero();
    }

    @Test
    void keepsARecordWhoseSchemaTheRegistryCannotServeAndAnswersItWhenTheRegistryIsBack() throws Exception {
        SampleRequests samples = new SampleRequests(5, 64, "image/png");
        // a producer with a newer schema version: its id is new to the worker's codec
        org.apache.avro.Schema newer = NewerRequestSchema.schema();
        int newerId = new RestSchemaRegistryClient(RegistrySettings.of(registryServer.url()))
                .register("req-value", newer);
        ImagingRequest r = samples.next("outage");
        byte[] value = NewerRequestSchema.encode(requestCodec, "req", newerId, r);
        registryServer.stop();
        try {
            requests.pipeInput(r.getRequestId(), value);
            driver.advanceWallClockTime(Duration.ofMillis(50));
            assertThat(outage.isDown()).as("the outage is noticed").isTrue();
            assertThat(predictions.isEmpty() && deadLetters.isEmpty()).as("nothing answered or skipped").isTrue();
            KeyValueStore<Long, byte[]> pending = driver.getKeyValueStore(TopologyFactory.PENDING_STORE);
            assertThat(pending.get(0L)).as("the record is kept pending, by its coordinates, not its bytes")
                    .hasSize(PendingRequest.COORDINATES_BYTES);
            assertThat(PendingRequest.fromBytes(pending.get(0L)).value()).isNull();
            assertThat(value.length).as("the request itself is larger").isGreaterThan(10 * PendingRequest.COORDINATES_BYTES);
        } finally {
            registryServer.restart();
        }
        // the probe runs on its own thread, with back-off
        assertThat(io.medfuse.testkit.Waits.until(() -> !outage.isDown(), Duration.ofSeconds(20)))
                .as("the registry probe saw the registry back").isTrue();
        List<Object> out = answers(1);
        assertThat(out).hasSize(1).allMatch(o -> o instanceof Prediction);
        assertThat(((Prediction) out.get(0)).getRequestId()).isEqualTo(r.getRequestId());
        assertThat(outage.outages()).isEqualTo(1);
    }

    @Test
    void answersAPredictionTooLargeForItsTopicWithADeadLetterInstead() throws Exception {
        drive(TopologySettings.of("req", "pred", "dead", 5, 1024).withMaxValueBytes(64, 1_000_000));
        ImagingRequest r = new SampleRequests(5, 64, "image/png").next("big");
        requests.pipeInput(r.getRequestId(), requestCodec.encode("req", r));

        List<Object> out = answers(1);

        assertThat(out).singleElement().isInstanceOfSatisfying(FailedRequest.class, d -> {
            assertThat(d.getReason()).isEqualTo(FailureReason.ANSWER_TOO_LARGE);
            assertThat(d.getRequestId()).isEqualTo(r.getRequestId());
            assertThat(d.getDetail()).contains("more than the predictions topic takes (64)");
        });
    }

    @Test
    void topologyMatchesTheCheckedInSnapshot() throws IOException {
        String actual = topology.describe().toString().trim();
        try (InputStream in = getClass().getResourceAsStream("topology.txt")) {
            assertThat(in).as("snapshot io/medfuse/worker/topology/topology.txt; current topology:%n%s", actual)
                    .isNotNull();
            String expected = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
            assertThat(actual)
                    .as("the topology changed: renaming a node or the store orphans its changelog topic; if the "
                            + "change is intended, update topology.txt")
                    .isEqualTo(expected);
        }
    }
}
