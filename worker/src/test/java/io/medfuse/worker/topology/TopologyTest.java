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
import io.medfuse.worker.pipeline.OnnxModel;
import io.medfuse.worker.pipeline.RequestPipeline;
import io.medfuse.worker.registry.InProcessSchemaRegistry;
import io.medfuse.worker.registry.RegistrySettings;
import io.medfuse.worker.registry.RestSchemaRegistryClient;
import io.medfuse.worker.serde.AvroSerde;
import io.medfuse.worker.serde.ConfluentAvroCodec;
import io.medfuse.worker.sample.SampleRequests;

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

    @BeforeEach
    void setUp() {
        registryServer = InProcessSchemaRegistry.start(0);
        var registry = new RestSchemaRegistryClient(RegistrySettings.of(registryServer.url()));
        model = OnnxModel.load(MedfuseWorker.bundledModel(), "bundled", EngineOptions.defaults().withDevice("cpu"));
        pipeline = new RequestPipeline(model, new RequestPipeline.Settings(2, 16, 8, 5, ImageLimits.defaults(),
                List.of("file"), Duration.ofSeconds(5)));
        requestCodec = new ConfluentAvroCodec<>(registry, ImagingRequest.class, true);
        predictionCodec = new ConfluentAvroCodec<>(registry, Prediction.class, true);
        deadLetterCodec = new ConfluentAvroCodec<>(registry, FailedRequest.class, true);
        topology = TopologyFactory.build(new TopologySettings("req", "pred", "dead", 5, 1024), requestCodec,
                new AvroSerde<>(predictionCodec).serializer(), new AvroSerde<>(deadLetterCodec).serializer(),
                pipeline);
        Properties props = new Properties();
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
        for (int i = 0; i < 10; i++) {
            ImagingRequest r = samples.next("t");
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
                model.identity()));
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
