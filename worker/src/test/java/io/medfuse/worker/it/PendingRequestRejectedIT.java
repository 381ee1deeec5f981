package io.medfuse.worker.it;

import io.medfuse.testkit.SharedBroker;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

import com.sun.net.httpserver.HttpServer;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.FailureReason;
import io.medfuse.events.ImagePayload;
import io.medfuse.events.ImageReference;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Patient;
import io.medfuse.events.Prediction;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.SampleRequests;

/**
 * A worker that allowed an image server dies (SIGKILL) while it fetches from it; its successor allows no server
 * (the policy was tightened). The requests the dead worker had taken are pending; the successor takes them again,
 * refuses their references and answers each with a REFERENCE_REFUSED dead letter, instead of failing its task
 * over and over: the recovery path runs, every request gets its one answer, and the successor keeps running.
 */
class PendingRequestRejectedIT {

    static final EmbeddedKafka kafka = SharedBroker.kafka();
    static final InProcessSchemaRegistry registry = SharedBroker.registry();

    @Test
    @SuppressWarnings("try") // worker B works on its own threads; the try only closes it
    void answersPendingRequestsThatTheNewWorkerRefusesWithDeadLetters() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger fetchesStarted = new AtomicInteger();
        HttpServer images = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        images.setExecutor(Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "stalling-image-server");
            t.setDaemon(true);
            return t;
        }));
        images.createContext("/", exchange -> {
            try (exchange) {
                fetchesStarted.incrementAndGet();
                exchange.sendResponseHeaders(200, 50_000);
                exchange.getResponseBody().write(new byte[8]);
                exchange.getResponseBody().flush();
                release.await(); // the body never comes while worker A lives
            } catch (IOException e) {
                // the worker went away
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        images.start();
        String server = "http://127.0.0.1:" + images.getAddress().getPort() + "/";
        int stalled = 6;
        try (StreamFixture f = new StreamFixture(kafka, registry, 3)) {
            Path dir = Files.createTempDirectory("medfuse-pending-rejected-it");
            Map<String, Object> a = new java.util.HashMap<>();
            a.put(WorkerConfig.REFERENCE_HTTP_ALLOW, server);
            a.put(WorkerConfig.REFERENCE_TIMEOUT_MS, "120000");
            a.put(WorkerConfig.REQUEST_DEADLINE_MS, "180000");
            Process workerA = f.startWorkerProcess(a, dir, "worker-a");
            f.startReading();
            SampleRequests samples = new SampleRequests(8, 64, "image/png");
            Set<String> inline = new HashSet<>();
            Set<String> referenced = new HashSet<>();
            for (int i = 0; i < stalled; i++) {
                ImagingRequest r = ImagingRequest.newBuilder()
                        .setRequestId("stalled-" + i)
                        .setRequestedAt(Instant.now())
                        .setPatient(Patient.newBuilder().setAgeYears(50.0).setSex("female").build())
                        .setClinical(Map.of("localization", "back"))
                        .setImage(ImagePayload.newBuilder().setMediaType("image/png")
                                .setReference(ImageReference.newBuilder().setUri(server + "image-" + i + ".png")
                                        .build()).build())
                        .build();
                referenced.add(r.getRequestId());
                f.send(r);
                ImagingRequest ok = samples.next("inline");
                inline.add(ok.getRequestId());
                f.send(ok);
            }
            f.flush();
            assertThat(StreamFixture.await(() -> fetchesStarted.get() >= stalled
                    && f.predicted.size() >= stalled, Duration.ofSeconds(90)))
                    .as("worker A fetches every reference (%d) and answers the inline requests (%d); log: %s",
                            fetchesStarted.get(), f.predicted.size(), dir.resolve("worker-a.log")).isTrue();
            // every request's offset committed: the stalled ones are in the pending store, not merely read (a record
            // whose transaction had not committed yet would reach B again from the topic, not from the store)
            assertThat(io.medfuse.testkit.Waits.awaitCommitted(kafka.clientProperties(), f.applicationId, f.requests,
                    Duration.ofSeconds(30))).as("worker A committed every request it took").isTrue();
            workerA.destroyForcibly(); // SIGKILL with the fetches in flight: those requests are pending
            assertThat(workerA.waitFor(30, TimeUnit.SECONDS)).isTrue();
            release.countDown();

            // the successor allows no image server at all
            try (MedfuseWorker b = MedfuseWorker.start(f.workerConfig(Map.of()))) {
                assertThat(StreamFixture.await(() -> f.failed.size() >= stalled, Duration.ofSeconds(90)))
                        .as("%d dead letters", f.failed.size()).isTrue();
                assertThat(b.state().isRunningOrRebalancing()).isTrue();
                double resubmitted = b.telemetry().metrics().registry().get("medfuse.pending.resubmitted").counter()
                        .count();
                assertThat(resubmitted).as("the pending requests were taken again").isGreaterThanOrEqualTo(stalled);
                assertThat(b.telemetry().metrics().registry().get("medfuse.pending.reread").counter().count())
                        .as("read again from the requests topic").isEqualTo(resubmitted);
                ImagingRequest after = samples.next("after");
                f.send(after);
                f.flush();
                assertThat(StreamFixture.await(() -> f.predicted.stream()
                        .anyMatch(p -> p.getRequestId().equals(after.getRequestId())), Duration.ofSeconds(60)))
                        .as("the successor keeps answering").isTrue();
                inline.add(after.getRequestId());
            }
            Map<String, Long> deadPerId = f.failed.stream()
                    .collect(Collectors.groupingBy(FailedRequest::getRequestId, Collectors.counting()));
            assertThat(deadPerId.keySet()).isEqualTo(referenced);
            assertThat(deadPerId.values()).allMatch(c -> c == 1);
            assertThat(f.failed).allSatisfy(d -> {
                assertThat(d.getReason()).isEqualTo(FailureReason.REFERENCE_REFUSED);
                assertThat(d.getDetail()).contains("image.reference.http.allow is empty");
            });
            Map<String, Long> predictedPerId = f.predicted.stream()
                    .collect(Collectors.groupingBy(Prediction::getRequestId, Collectors.counting()));
            assertThat(predictedPerId.keySet()).isEqualTo(inline);
            assertThat(predictedPerId.values()).allMatch(c -> c == 1);
        } finally {
            release.countDown();
            images.stop(0);
        }
    }
}
