package io.medfuse.worker.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.medfuse.events.ClinicalInfluence;
import io.medfuse.events.FeatureInfluence;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.LabelProbability;
import io.medfuse.events.Prediction;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.SampleRequests;
import io.medfuse.testkit.SharedBroker;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.config.WorkerConfig;

/**
 * The clinical data's influence on a real broker with the bundled model: what a prediction says about the same
 * image without its clinical data is what the same model answers to a separate request that carries the image and
 * no clinical data at all (and, per feature, one without that feature).
 */
class InfluenceIT {

    static final EmbeddedKafka kafka = SharedBroker.kafka();
    static final InProcessSchemaRegistry registry = SharedBroker.registry();
    private static final int IMAGES = 12;

    @Test
    void theInfluenceIsWhatTheSameModelAnswersWithoutTheClinicalData() throws Exception {
        SampleRequests samples = new SampleRequests(11, 64, "image/png");
        try (StreamFixture f = new StreamFixture(kafka, registry, 2);
             MedfuseWorker worker = MedfuseWorker.start(f.workerConfig(Map.of(
                     WorkerConfig.INFLUENCE_ENABLED, "true", WorkerConfig.INFLUENCE_PER_FEATURE, "true")))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            f.startReading();
            for (int i = 0; i < IMAGES; i++) {
                byte[] png = samples.image(1000 + i);
                double age = 20 + 5 * i;
                String sex = i % 2 == 0 ? "female" : "male";
                String site = SampleRequests.SITES.get(i % SampleRequests.SITES.size());
                f.send(samples.request("with-" + i, age, sex, site, png));
                ImagingRequest bare = samples.request("bare-" + i, null, null, null, png);
                bare.setPatient(null);
                f.send(bare);
                f.send(samples.request("no-age-" + i, null, sex, site, png));
            }
            f.flush();
            assertThat(StreamFixture.await(() -> f.answers() >= 3 * IMAGES, Duration.ofSeconds(90)))
                    .as("answers: %s / %s", f.predicted.size(), f.failed).isTrue();
            assertThat(f.failed).isEmpty();

            double largest = 0;
            for (int i = 0; i < IMAGES; i++) {
                Prediction with = f.prediction("with-" + i);
                Prediction bare = f.prediction("bare-" + i);
                Prediction noAge = f.prediction("no-age-" + i);
                ClinicalInfluence ci = with.getClinicalInfluence();
                assertThat(ci).as("with-%d carries the influence", i).isNotNull();
                assertThat(ci.getLabelWithout()).isEqualTo(bare.getLabel());
                assertThat(ci.getProbabilityWithout()).as("with-%d: P(%s) without its clinical data", i,
                        with.getLabel()).isCloseTo(probabilityOf(bare, with.getLabel()), within(1e-6));
                assertThat(ci.getShift()).isCloseTo(with.getProbability() - ci.getProbabilityWithout(),
                        within(1e-9));
                assertThat(ci.getFeatures()).extracting(FeatureInfluence::getFeature)
                        .containsExactly("age", "sex", "localization");
                assertThat(ci.getFeatures().get(0).getProbabilityWithout()).as("with-%d: age masked alone", i)
                        .isCloseTo(probabilityOf(noAge, with.getLabel()), within(1e-6));
                // a request without clinical data: masking changes nothing
                assertThat(bare.getClinicalInfluence().getShift()).isCloseTo(0.0, within(1e-6));
                assertThat(bare.getClinicalInfluence().getLabelWithout()).isEqualTo(bare.getLabel());
                largest = Math.max(largest, Math.abs(ci.getShift()));
            }
            assertThat(largest).as("the bundled model uses its clinical inputs").isGreaterThan(0.01);
        }
    }

    private static double probabilityOf(Prediction p, String label) {
        List<LabelProbability> ps = p.getProbabilities();
        return ps.stream().filter(x -> x.getLabel().equals(label)).findFirst().orElseThrow().getProbability();
    }

}
