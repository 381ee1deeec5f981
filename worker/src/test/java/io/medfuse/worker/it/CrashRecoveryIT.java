package io.medfuse.worker.it;

import static org.assertj.core.api.Assertions.assertThat;

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
import io.medfuse.kafka.EmbeddedKafka;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.registry.InProcessSchemaRegistry;
import io.medfuse.worker.sample.SampleRequests;

/**
 * A worker in its own JVM is killed with SIGKILL mid-stream (no clean shutdown, no final commit); another instance
 * takes over. Under read_committed every request has exactly one answer: the pending-requests store re-submits
 * what the dead instance had consumed but not answered, and its uncommitted answers are never visible.
 */
class CrashRecoveryIT {

    static final EmbeddedKafka kafka = SharedBroker.kafka();
    static final InProcessSchemaRegistry registry = SharedBroker.registry();

    private static final Map<String, Object> FAST_FAILOVER = StreamFixture.FAST_FAILOVER;

    @Test
    @SuppressWarnings("try") // worker B works on its own threads; the try only closes it
    void noRequestIsLostOrDuplicatedWhenAnInstanceIsKilledMidStream() throws Exception {
        int n = 400;
        try (StreamFixture f = new StreamFixture(kafka, registry, 4)) {
            Path dir = Files.createTempDirectory("medfuse-crash-it");
            Path log = dir.resolve("worker-a.log");
            Process a = f.startWorkerProcess(FAST_FAILOVER, dir, "worker-a");
            f.startReading();
            SampleRequests samples = new SampleRequests(11, 64, "image/png");
            Set<String> ids = new HashSet<>();
            Thread producer = f.sendPaced(samples, "crash", n, 15, ids);
            boolean answering = StreamFixture.await(() -> f.predicted.size() >= 60, Duration.ofSeconds(90));
            assertThat(answering).as("worker A answers (alive: %s, exit: %s); its log: %s", a.isAlive(),
                    a.isAlive() ? "-" : a.exitValue(), log).isTrue();
            a.destroyForcibly(); // SIGKILL: no shutdown hook, no final commit
            assertThat(a.waitFor(30, TimeUnit.SECONDS)).isTrue();
            int answeredByA = f.answers();
            try (MedfuseWorker b = MedfuseWorker.start(f.workerConfig(FAST_FAILOVER))) {
                producer.join();
                assertThat(StreamFixture.await(() -> f.answers() >= n, Duration.ofSeconds(180)))
                        .as("%d answers of %d after the crash", f.answers(), n).isTrue();
                Thread.sleep(2000); // a duplicate would arrive now
            }
            assertThat(f.failed).isEmpty();
            Map<String, Long> perId = f.predicted.stream()
                    .collect(Collectors.groupingBy(Prediction::getRequestId, Collectors.counting()));
            assertThat(perId.keySet()).isEqualTo(ids);
            assertThat(perId.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList())
                    .as("duplicated request ids").isEmpty();
            assertThat(answeredByA).isLessThan(n);
            System.out.printf("CrashRecoveryIT: %d answered before the kill, %d in all%n", answeredByA, perId.size());
        }
    }
}
