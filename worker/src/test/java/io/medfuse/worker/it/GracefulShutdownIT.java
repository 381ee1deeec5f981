package io.medfuse.worker.it;

import io.medfuse.testkit.SharedBroker;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

import io.medfuse.events.Prediction;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.SampleRequests;

/**
 * A worker JVM gets SIGTERM mid-stream: it commits what it answered, hands back what it had in flight (it stays in
 * the pending store), closes the model and exits within a bounded time; the next instance answers the rest. Under
 * read_committed every request has exactly one answer.
 */
class GracefulShutdownIT {

    static final EmbeddedKafka kafka = SharedBroker.kafka();
    static final InProcessSchemaRegistry registry = SharedBroker.registry();

    @Test
    @SuppressWarnings("try") // worker B works on its own threads; the try only closes it
    void sigtermCommitsHandsBackInFlightWorkAndExitsInBoundedTimeWithNoLossOrDuplicate() throws Exception {
        int n = 300;
        try (StreamFixture f = new StreamFixture(kafka, registry, 4)) {
            Path dir = Files.createTempDirectory("medfuse-sigterm-it");
            Path log = dir.resolve("worker-a.log");
            Process a = f.startWorkerProcess(Map.of(), dir, "worker-a");
            f.startReading();
            SampleRequests samples = new SampleRequests(23, 64, "image/png");
            Set<String> ids = new HashSet<>();
            Thread producer = f.sendPaced(samples, "sigterm", n, 15, ids);
            assertThat(StreamFixture.await(() -> f.predicted.size() >= 60, Duration.ofSeconds(90)))
                    .as("worker A answers; its log: %s", log).isTrue();
            long sigterm = System.nanoTime();
            a.destroy(); // SIGTERM: the shutdown hook closes the worker
            boolean exited = a.waitFor(60, TimeUnit.SECONDS);
            double exitSeconds = (System.nanoTime() - sigterm) / 1e9;
            assertThat(exited).as("worker A exits after SIGTERM; its log: %s", log).isTrue();
            String aLog = Files.readString(log, StandardCharsets.UTF_8);
            assertThat(exitSeconds).as("seconds from SIGTERM to exit").isLessThan(40);
            assertThat(aLog).contains("worker stopped");
            assertThat(a.exitValue()).as("exit status after SIGTERM (128 + 15)").isEqualTo(143);
            int answeredByA = f.answers();
            try (MedfuseWorker b = MedfuseWorker.start(f.workerConfig(Map.of()))) {
                producer.join();
                assertThat(f.awaitEverythingAnswered(n, Duration.ofSeconds(180)))
                        .as("committed answers after the SIGTERM").isEqualTo(n);
            }
            assertThat(f.failed).isEmpty();
            Map<String, Long> perId = f.predicted.stream()
                    .collect(Collectors.groupingBy(Prediction::getRequestId, Collectors.counting()));
            assertThat(perId.keySet()).isEqualTo(ids);
            assertThat(perId.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList())
                    .as("duplicated request ids").isEmpty();
            System.out.printf("GracefulShutdownIT: worker A exited %.1f s after SIGTERM having answered %d; "
                    + "%d answered in all%n", exitSeconds, answeredByA, perId.size());
        }
    }
}
