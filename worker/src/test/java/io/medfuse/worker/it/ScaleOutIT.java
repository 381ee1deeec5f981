package io.medfuse.worker.it;

import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.testkit.SharedBroker;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

import io.medfuse.events.Prediction;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.SampleRequests;

/** Two worker instances sharing one application id over six partitions, on a real broker. */
class ScaleOutIT {

    static final EmbeddedKafka kafka = SharedBroker.kafka();
    static final InProcessSchemaRegistry registry = SharedBroker.registry();

    @Test
    void twoInstancesAnswerEveryOneOfAThousandRequestsExactlyOnceInBatches() throws Exception {
        int n = 1000;
        try (StreamFixture f = new StreamFixture(kafka, registry, 6);
             // batches fill to batch.max.size (not adaptive: the bundled model may be capped near 1 row per batch,
             // and this test checks that requests from several partitions share batches)
             MedfuseWorker a = MedfuseWorker.start(f.workerConfig(Map.of(WorkerConfig.BATCH_ADAPTIVE, "false")));
             MedfuseWorker b = MedfuseWorker.start(f.workerConfig(Map.of(WorkerConfig.BATCH_ADAPTIVE, "false")))) {
            assertThat(a.awaitRunning(Duration.ofSeconds(60))).isTrue();
            assertThat(b.awaitRunning(Duration.ofSeconds(60))).isTrue();
            f.startReading();
            SampleRequests samples = new SampleRequests(1, 64, "image/png");
            Set<String> ids = new HashSet<>();
            for (int i = 0; i < n; i++) {
                var r = samples.next("scale");
                ids.add(r.getRequestId());
                f.send(r);
            }
            f.flush();
            assertThat(f.awaitEverythingAnswered(n, Duration.ofSeconds(180))).as("committed answers").isEqualTo(n);
            assertThat(f.failed).isEmpty();
            Map<String, Long> perId = f.predicted.stream()
                    .collect(Collectors.groupingBy(Prediction::getRequestId, Collectors.counting()));
            assertThat(perId.keySet()).isEqualTo(ids);
            assertThat(perId.values()).allMatch(c -> c == 1);
            double meanBatch = f.predicted.stream().mapToInt(p -> p.getTimings().getBatchSize()).average()
                    .orElse(0);
            assertThat(meanBatch).isGreaterThan(1.0);
            Prediction any = f.predicted.get(0);
            assertThat(any.getModel().getSha256()).hasSize(64);
            assertThat(any.getModel().getName()).isEqualTo(a.classifier().identity().getName());
            assertThat(any.getProbabilities().stream().mapToDouble(p -> p.getProbability()).sum())
                    .isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-4));
            assertThat(f.predicted.stream().map(Prediction::getPredictionId).collect(Collectors.toSet())).hasSize(n);
            // both instances did work: each owns some of the partitions
            assertThat(a.pipeline().inferred()).isPositive();
            assertThat(b.pipeline().inferred()).isPositive();
            assertThat(a.pipeline().inferred() + b.pipeline().inferred()).isGreaterThanOrEqualTo(n);
            System.out.printf("ScaleOutIT: %d predictions, mean batch size %.1f, instance a %d, b %d%n",
                    f.predicted.size(), meanBatch, a.pipeline().inferred(), b.pipeline().inferred());
        }
    }
}
