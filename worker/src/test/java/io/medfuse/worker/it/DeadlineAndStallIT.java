package io.medfuse.worker.it;

import io.medfuse.testkit.SharedBroker;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;

import com.sun.net.httpserver.HttpServer;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.FailureReason;
import io.medfuse.events.ImagePayload;
import io.medfuse.events.ImageReference;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Patient;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.worker.pipeline.SlowClassifier;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.SampleRequests;

/**
 * Nothing a request does can hold the worker: a reference whose body never comes holds no thread and no other
 * request, and ends REFERENCE_UNREACHABLE at the fetch deadline; a model run that never returns makes its requests
 * TIMED_OUT at the request deadline, turns /health/ready DOWN and then /health/live DOWN with the reason, and the
 * worker recovers when the run returns.
 */
class DeadlineAndStallIT {

    static final EmbeddedKafka kafka = SharedBroker.kafka();
    static final InProcessSchemaRegistry registry = SharedBroker.registry();

    @Test
    void aStalledReferenceHoldsNeitherAThreadNorTheRequestsAfterIt() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        HttpServer stalling = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        stalling.setExecutor(Executors.newCachedThreadPool());
        stalling.createContext("/", exchange -> {
            try (exchange) {
                exchange.sendResponseHeaders(200, 10_000);
                exchange.getResponseBody().write(new byte[4]);
                exchange.getResponseBody().flush();
                release.await();
            } catch (IOException e) {
                // the worker hung up at its deadline
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        stalling.start();
        String server = "http://127.0.0.1:" + stalling.getAddress().getPort() + "/";
        try (StreamFixture f = new StreamFixture(kafka, registry, 2);
             MedfuseWorker worker = MedfuseWorker.start(f.workerConfig(Map.of(
                     WorkerConfig.PREPROCESS_THREADS, "1",
                     WorkerConfig.REFERENCE_HTTP_ALLOW, server,
                     WorkerConfig.REFERENCE_TIMEOUT_MS, "8000")))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            f.startReading();
            SampleRequests samples = new SampleRequests(21, 64, "image/png");
            for (int i = 0; i < 2; i++) {
                f.send(referenced("stalled-" + i, server + "image-" + i + ".png"));
            }
            Set<String> inline = new HashSet<>();
            for (int i = 0; i < 20; i++) {
                ImagingRequest r = samples.next("inline");
                inline.add(r.getRequestId());
                f.send(r);
            }
            f.flush();
            assertThat(StreamFixture.await(() -> f.answers() >= 22, Duration.ofSeconds(60))).isTrue();
            // every inline request was answered before either stalled reference gave up
            assertThat(f.predicted.stream().map(p -> p.getRequestId()).toList()).containsExactlyInAnyOrderElementsOf(
                    inline);
            assertThat(f.failed).hasSize(2).allSatisfy(d -> {
                assertThat(d.getReason()).isEqualTo(FailureReason.REFERENCE_UNREACHABLE);
                assertThat(d.getDetail()).contains("did not finish within 8000 ms");
            });
            List<Instant> predictedAt = f.predicted.stream().map(p -> p.getPredictedAt()).toList();
            List<Instant> gaveUpAt = f.failed.stream().map(FailedRequest::getFailedAt).toList();
            assertThat(predictedAt.stream().max(Instant::compareTo).orElseThrow())
                    .isBefore(gaveUpAt.stream().min(Instant::compareTo).orElseThrow());
            assertThat(worker.inFlight()).isZero();
        } finally {
            release.countDown();
            stalling.stop(0);
        }
    }

    @Test
    void aModelRunThatNeverReturnsTimesOutItsRequestsAndTakesTheWorkerOutOfService() throws Exception {
        try (StreamFixture f = new StreamFixture(kafka, registry, 2)) {
            WorkerConfig config = f.workerConfig(Map.of(
                    WorkerConfig.REQUEST_DEADLINE_MS, "1500",
                    WorkerConfig.HEALTH_STALL_READY_MS, "1000",
                    WorkerConfig.HEALTH_STALL_LIVE_MS, "2500"));
            SlowClassifier model = new SlowClassifier(MedfuseWorker.loadModel(config), 0);
            CountDownLatch hold = new CountDownLatch(1);
            try (MedfuseWorker worker = MedfuseWorker.start(config, model)) {
                assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
                int port = worker.telemetry().port();
                assertThat(StreamFixture.await(() -> StreamFixture.health(port, "ready").startsWith("200"), Duration.ofSeconds(30)))
                        .isTrue();
                f.startReading();
                model.hold = hold;
                SampleRequests samples = new SampleRequests(22, 64, "image/png");
                for (int i = 0; i < 3; i++) {
                    f.send(samples.next("hung"));
                }
                f.flush();
                assertThat(StreamFixture.await(() -> f.failed.size() >= 3, Duration.ofSeconds(60))).isTrue();
                assertThat(f.failed).allSatisfy(d -> {
                    assertThat(d.getReason()).isEqualTo(FailureReason.TIMED_OUT);
                    assertThat(d.getDetail()).contains("request.deadline.ms = 1500 ms");
                });
                AtomicReference<String> ready = new AtomicReference<>();
                assertThat(StreamFixture.await(() -> {
                    ready.set(StreamFixture.health(port, "ready"));
                    return ready.get().startsWith("503");
                }, Duration.ofSeconds(30))).isTrue();
                assertThat(ready.get()).contains("model run has taken");
                AtomicReference<String> live = new AtomicReference<>();
                assertThat(StreamFixture.await(() -> {
                    live.set(StreamFixture.health(port, "live"));
                    return live.get().startsWith("503");
                }, Duration.ofSeconds(30))).isTrue();
                assertThat(live.get()).contains("stalled");

                model.hold = null;
                hold.countDown();
                ImagingRequest after = samples.next("after");
                f.send(after);
                f.flush();
                assertThat(StreamFixture.await(() -> f.predicted.size() == 1, Duration.ofSeconds(60))).isTrue();
                assertThat(f.predicted.get(0).getRequestId()).isEqualTo(after.getRequestId());
                assertThat(StreamFixture.await(() -> StreamFixture.health(port, "live").startsWith("200")
                        && StreamFixture.health(port, "ready").startsWith("200"), Duration.ofSeconds(30))).isTrue();
                assertThat(f.failed).as("the hung requests were answered once, when their deadline passed")
                        .hasSize(3);
            } finally {
                hold.countDown();
            }
        }
    }

    private static ImagingRequest referenced(String id, String uri) {
        return ImagingRequest.newBuilder()
                .setRequestId(id)
                .setRequestedAt(Instant.now())
                .setPatient(Patient.newBuilder().setAgeYears(40.0).setSex("male").build())
                .setClinical(Map.of("localization", "back"))
                .setImage(ImagePayload.newBuilder().setMediaType("image/png")
                        .setReference(ImageReference.newBuilder().setUri(uri).build()).build())
                .build();
    }
}
