package io.medfuse.worker.it;

import io.medfuse.testkit.SharedBroker;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.ServerSocket;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Prediction;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.WorkerStartException;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import io.medfuse.testkit.SampleRequests;
import io.medfuse.testkit.NewerRequestSchema;

/**
 * The schema registry as a fault: unreachable at start-up, the worker stops at once with one message (and a missing
 * model is found before Kafka is even asked); unreachable mid-stream, records whose writer schema the worker has not
 * cached wait (consumption pauses, readiness says why), nothing is skipped or lost, and the worker resumes by
 * itself when the registry is back.
 */
class RegistryOutageIT {

    static final EmbeddedKafka kafka = SharedBroker.kafka();

    @Test
    void anUnreachableRegistryStopsTheStartWithOneMessage() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        int metricsPort;
        try (ServerSocket s = new ServerSocket(0)) {
            metricsPort = s.getLocalPort();
        }
        try (InProcessSchemaRegistry registry = InProcessSchemaRegistry.start(0);
             StreamFixture f = new StreamFixture(kafka, registry, 1)) {
            WorkerConfig config = f.workerConfig(Map.of(WorkerConfig.REGISTRY_URL, "http://127.0.0.1:" + closed,
                    WorkerConfig.REGISTRY_TIMEOUT_MS, "3000", WorkerConfig.METRICS_PORT, String.valueOf(metricsPort)));
            long start = System.nanoTime();
            assertThatThrownBy(() -> MedfuseWorker.start(config)).isInstanceOf(WorkerStartException.class)
                    .hasMessageContaining("schema registry http://127.0.0.1:" + closed + " is not usable")
                    .hasMessageNotContaining("\n");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(15));
            try (ServerSocket again = new ServerSocket(metricsPort, 1, java.net.InetAddress.getLoopbackAddress())) {
                assertThat(again.getLocalPort()).as("the failed start released the metrics port").isEqualTo(
                        metricsPort);
            }

            WorkerConfig noModel = f.workerConfig(Map.of(WorkerConfig.MODEL_PATH, "/no/such/model.onnx",
                    WorkerConfig.BOOTSTRAP_SERVERS, "127.0.0.1:" + closed));
            start = System.nanoTime();
            assertThatThrownBy(() -> MedfuseWorker.start(noModel)).hasMessageContaining("model.path");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("the model is checked before Kafka")
                    .isLessThan(Duration.ofSeconds(10));
        }
    }

    @Test
    void anOutageMidStreamPausesTheWorkerLosesNothingAndEndsByItself() throws Exception {
        try (InProcessSchemaRegistry registry = InProcessSchemaRegistry.start(0);
             StreamFixture f = new StreamFixture(kafka, registry, 2);
             MedfuseWorker worker = MedfuseWorker.start(f.workerConfig(Map.of()))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            f.startReading();
            SampleRequests samples = new SampleRequests(31, 64, "image/png");
            Set<String> ids = new HashSet<>();
            for (int i = 0; i < 5; i++) {
                ImagingRequest r = samples.next("before");
                ids.add(r.getRequestId());
                f.send(r);
            }
            f.flush();
            assertThat(StreamFixture.await(() -> f.predicted.size() >= 5, Duration.ofSeconds(60))).isTrue();
            // a producer upgraded meanwhile: its schema id is new to the worker
            int newerId = new RestSchemaRegistryClient(RegistrySettings.of(registry.url()))
                    .register(f.requests + "-value", NewerRequestSchema.schema());
            registry.stop();
            try {
                for (int i = 0; i < 10; i++) {
                    ImagingRequest r = samples.next("during");
                    ids.add(r.getRequestId());
                    f.sendRaw(r.getRequestId(), NewerRequestSchema.encode(f.codec, f.requests, newerId, r));
                    ImagingRequest old = samples.next("during-old-schema");
                    ids.add(old.getRequestId());
                    f.send(old);
                }
                f.flush();
                int port = worker.telemetry().port();
                AtomicReference<String> ready = new AtomicReference<>();
                assertThat(StreamFixture.await(() -> {
                    ready.set(StreamFixture.health(port, "ready"));
                    return ready.get().startsWith("503");
                }, Duration.ofSeconds(30))).as("readiness: %s", ready.get()).isTrue();
                assertThat(ready.get()).contains("schema registry", "paused");
                assertThat(StreamFixture.health(port, "live")).startsWith("200");
                assertThat(worker.registryOutage().isDown()).isTrue();
            } finally {
                registry.restart();
            }
            assertThat(StreamFixture.await(() -> f.predicted.size() >= ids.size(), Duration.ofSeconds(60)))
                    .as("%d of %d answered after the outage", f.predicted.size(), ids.size()).isTrue();
            assertThat(worker.registryOutage().isDown()).isFalse();
            assertThat(worker.registryOutage().outages()).isEqualTo(1);
            Map<String, Long> perId = f.predicted.stream()
                    .collect(Collectors.groupingBy(Prediction::getRequestId, Collectors.counting()));
            assertThat(perId.keySet()).isEqualTo(ids);
            assertThat(perId.values()).allMatch(n -> n == 1);
            assertThat(f.failed).isEmpty();
        }
    }
}
