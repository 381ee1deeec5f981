package io.medfuse.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.FailureReason;
import io.medfuse.events.LabelProbability;
import io.medfuse.events.ModelIdentity;
import io.medfuse.events.Prediction;
import io.medfuse.events.Timings;
import io.medfuse.model.contract.ClassLabel;
import io.medfuse.model.contract.ModelContract;

/** The aggregation behind 'medfuse watch': rates, latency percentiles, label mix and drift, dead letters. */
class WatchStatsTest {

    static final ModelIdentity MODEL = ModelIdentity.newBuilder().setName("derm").setVersion("1.0")
            .setSha256("0123456789abcdef0123").setExecutionProvider("CPU").build();

    static Prediction prediction(String id, String label, long requestedAt, long predictedAt) {
        return Prediction.newBuilder().setPredictionId("p-" + id).setRequestId(id).setModel(MODEL).setLabel(label)
                .setProbability(0.9).setProbabilities(List.of(new LabelProbability(label, 0.9)))
                .setRequestedAt(Instant.ofEpochMilli(requestedAt)).setPredictedAt(Instant.ofEpochMilli(predictedAt))
                .setTimings(Timings.newBuilder().setQueueWaitMs(1).setPreprocessMs(1).setInferenceMs(1)
                        .setBatchSize(1).setPaddedBatchSize(1).build())
                .build();
    }

    static FailedRequest deadLetter(FailureReason reason) {
        return FailedRequest.newBuilder().setRequestId("x").setReason(reason).setDetail("d").setSourceTopic("t")
                .setSourcePartition(0).setSourceOffset(1).setFailedAt(Instant.EPOCH).setModel(MODEL).build();
    }

    private static ModelContract contract(Map<String, Double> freqs) {
        List<ClassLabel> labels = freqs.entrySet().stream().map(e -> new ClassLabel(e.getKey(), e.getValue()))
                .toList();
        return new ModelContract(1, "derm", "1.0", null, "image", "tabular", "probs",
                ModelContract.OutputKind.PROBABILITIES, null, List.of(), labels, 1, true, Map.of());
    }

    @Test
    void countsRatesAndDeadLettersByReason() {
        WatchStats stats = new WatchStats(null, 0.2, 10, 100, 0);
        for (int i = 0; i < 10; i++) {
            stats.add(prediction("r" + i, "nv", 0, 10));
        }
        stats.add(deadLetter(FailureReason.IMAGE_UNDECODABLE));
        stats.add(deadLetter(FailureReason.IMAGE_UNDECODABLE));
        stats.add(deadLetter(FailureReason.INVALID_FIELD));

        WatchStats.Snapshot s = stats.snapshot(2_000);

        assertThat(s.predictions()).isEqualTo(10);
        assertThat(s.predictionsPerSecond()).isEqualTo(5.0);
        assertThat(s.deadLetters()).isEqualTo(3);
        assertThat(s.deadLettersByReason()).containsExactly(Map.entry("IMAGE_UNDECODABLE", 2L),
                Map.entry("INVALID_FIELD", 1L));
        assertThat(s.models()).containsExactly(Map.entry("derm 1.0 0123456789ab", 10L));
        // the next rate covers only what came since
        stats.add(prediction("r10", "nv", 0, 10));
        assertThat(stats.snapshot(3_000).predictionsPerSecond()).isEqualTo(1.0);
    }

    @Test
    void latencyPercentilesArePredictedMinusRequestedOverTheWindow() {
        WatchStats stats = new WatchStats(null, 0.2, 10, 100, 0);
        for (int ms = 1; ms <= 200; ms++) {
            stats.add(prediction("r" + ms, "nv", 1_000, 1_000 + ms));
        }

        WatchStats.Latency l = stats.snapshot(1).latency();

        // the window holds the last 100: 101..200 ms
        assertThat(l.samples()).isEqualTo(100);
        assertThat(l.p50()).isEqualTo(150);
        assertThat(l.p95()).isEqualTo(195);
        assertThat(l.p99()).isEqualTo(199);
    }

    @Test
    void leavesPredictionsWithAnImplausibleRequestedAtOutOfTheLatency() {
        WatchStats stats = new WatchStats(null, 0.2, 10, 100, 0);
        for (int ms = 1; ms <= 9; ms++) {
            stats.add(prediction("r" + ms, "nv", 1_000, 1_000 + ms * 10L));
        }
        // a producer whose clock says 1970: a year of "latency" that the worker flagged
        Prediction odd = Prediction.newBuilder(prediction("odd", "nv", 0, 31_536_000_000L))
                .setFlags(List.of("requestedAt:implausible")).build();
        stats.add(odd);

        WatchStats.Latency l = stats.snapshot(1).latency();

        assertThat(l.samples()).isEqualTo(9);
        assertThat(l.excluded()).isEqualTo(1);
        assertThat(l.p99()).isEqualTo(90);
        assertThat(stats.snapshot(2).predictions()).as("still counted as a prediction").isEqualTo(10);
    }

    @Test
    void comparesTheLabelMixWithTheTrainingMixAndWarnsBeyondTheThreshold() {
        WatchStats stats = new WatchStats(contract(Map.of("nv", 0.7, "mel", 0.2, "bkl", 0.1)), 0.2, 10, 1000, 0);
        for (int i = 0; i < 7; i++) {
            stats.add(prediction("a" + i, "nv", 0, 1));
        }
        assertThat(stats.snapshot(1).drift()).as("under min samples").isNull();
        for (int i = 0; i < 2; i++) {
            stats.add(prediction("b" + i, "mel", 0, 1));
        }
        stats.add(prediction("c", "bkl", 0, 1));

        WatchStats.Snapshot same = stats.snapshot(2);
        assertThat(same.drift()).isCloseTo(0.0, within(1e-9));
        assertThat(same.driftWarning()).isFalse();

        for (int i = 0; i < 10; i++) {
            stats.add(prediction("m" + i, "mel", 0, 1));
        }
        // now 7 nv, 12 mel, 1 bkl of 20: |0.35-0.7| + |0.6-0.2| + |0.05-0.1| = 0.8, halved
        WatchStats.Snapshot drifted = stats.snapshot(3);
        assertThat(drifted.predictedMix()).containsEntry("mel", 0.6);
        assertThat(drifted.drift()).isCloseTo(0.4, within(1e-9));
        assertThat(drifted.driftWarning()).isTrue();
        assertThat(WatchCommand.text(drifted, "medfuse.predictions")).contains("WARNING", "mel", "60.0%", "20.0%");
    }

    @Test
    void withoutAContractShowsTheMixWithoutComparison() {
        WatchStats stats = new WatchStats(null, 0.2, 1, 10, 0);
        stats.add(prediction("a", "nv", 0, 5));

        WatchStats.Snapshot s = stats.snapshot(1);

        assertThat(s.trainingMix()).isNull();
        assertThat(s.drift()).isNull();
        assertThat(WatchCommand.text(s, "p")).contains("pass --model").doesNotContain("WARNING");
    }

    @Test
    void aContractWithoutFrequenciesGivesNoTrainingMix() {
        assertThat(WatchStats.trainingMix(contract(Map.of("nv", 0.5)))).containsEntry("nv", 1.0);
        ModelContract unknown = new ModelContract(1, "m", "1", null, "i", "t", "o",
                ModelContract.OutputKind.PROBABILITIES, null, List.of(), List.of(new ClassLabel("nv", null)), 1,
                true, Map.of());
        assertThat(WatchStats.trainingMix(unknown)).isNull();
    }

    @Test
    void summarisesTheClinicalInfluenceOfThePredictionsThatCarryIt() {
        WatchStats stats = new WatchStats(null, 0.2, 10, 100, 0);
        assertThat(stats.snapshot(1).influence()).as("no prediction carries it yet").isNull();
        for (int i = 0; i < 20; i++) {
            double shift = (i - 4) / 20.0; // -0.20 .. +0.75
            stats.add(Prediction.newBuilder(prediction("r" + i, "mel", 0, 1)).setClinicalInfluence(
                    io.medfuse.events.ClinicalInfluence.newBuilder().setLabelWithout(i < 5 ? "nv" : "mel")
                            .setProbabilityWithout(0.9 - shift).setShift(shift).build()).build());
        }
        stats.add(prediction("without", "mel", 0, 1));
        WatchStats.Influence inf = stats.snapshot(2).influence();
        assertThat(inf.samples()).isEqualTo(20);
        assertThat(inf.p5()).isCloseTo(-0.20, within(1e-9));
        assertThat(inf.p50()).isCloseTo(0.25, within(1e-9));
        assertThat(inf.p95()).isCloseTo(0.70, within(1e-9));
        assertThat(inf.labelChanged()).isCloseTo(0.25, within(1e-9));
        double abs = 0;
        for (int i = 0; i < 20; i++) {
            abs += Math.abs((i - 4) / 20.0);
        }
        assertThat(inf.meanAbsolute()).isCloseTo(abs / 20, within(1e-9));
        assertThat(WatchCommand.text(stats.snapshot(3), "t")).contains("clinical data's influence (last 20)")
                .contains("label changed by it in 25.0%");
    }

    @Test
    void jsonLineCarriesEveryField() throws Exception {
        WatchStats stats = new WatchStats(contract(Map.of("nv", 1.0)), 0.2, 1, 10, 0);
        stats.add(prediction("a", "nv", 0, 5));
        stats.add(deadLetter(FailureReason.MODEL_ERROR));

        String line = WatchCommand.json(stats.snapshot(1_000));

        assertThat(line).doesNotContain("\n");
        JsonNode n = new ObjectMapper().readTree(line);
        assertThat(n.get("predictions").asLong()).isEqualTo(1);
        assertThat(n.get("latencyMs").get("p99").asDouble()).isEqualTo(5.0);
        assertThat(n.get("predictedMix").get("nv").asDouble()).isEqualTo(1.0);
        assertThat(n.get("drift").asDouble()).isEqualTo(0.0);
        assertThat(n.get("deadLettersByReason").get("MODEL_ERROR").asLong()).isEqualTo(1);
        assertThat(n.get("contractModel").asText()).isEqualTo("derm 1.0");
    }

    @Test
    void pairsShadowPredictionsWithTheAnswersByRequestIdInEitherOrder() throws Exception {
        WatchStats stats = new WatchStats(null, 0.2, 1, 100, 0);
        ModelIdentity shadowModel = ModelIdentity.newBuilder(MODEL).setVersion("shadow-2").build();
        // answered first, shadow later; shadow first, answered later; one without a counterpart
        stats.add(prediction("a", "benign", 0, 10));
        stats.addShadow(Prediction.newBuilder(prediction("a", "benign", 0, 12)).setModel(shadowModel).build());
        stats.addShadow(Prediction.newBuilder(prediction("b", "malignant", 0, 12)).setModel(shadowModel).build());
        stats.add(prediction("b", "benign", 0, 10));
        stats.add(prediction("c", "benign", 0, 10));
        stats.add(prediction("d", "malignant", 0, 10));
        stats.addShadow(Prediction.newBuilder(prediction("d", "malignant", 0, 12)).setModel(shadowModel).build());

        WatchStats.Shadow s = stats.snapshot(1000).shadow();

        assertThat(s.pairs()).isEqualTo(3);
        assertThat(s.agreement()).isCloseTo(2 / 3.0, within(1e-9));
        assertThat(s.confusion()).isEqualTo(Map.of("benign", Map.of("benign", 1L, "malignant", 1L),
                "malignant", Map.of("malignant", 1L)));
        assertThat(s.shadowModels()).hasSize(1);
        assertThat(s.shadowModels().keySet().iterator().next()).contains("shadow-2");
        assertThat(stats.snapshot(2000).predictions()).as("shadow predictions are not answers").isEqualTo(4);
        String text = WatchCommand.text(stats.snapshot(3000), "t");
        assertThat(text).contains("agrees with the answered label on 66.7% of the last 3");
        assertThat(WatchCommand.json(stats.snapshot(4000))).contains("\"shadow\":{\"pairs\":3,\"agreement\":0.6667");
    }

    @Test
    void withoutAShadowThereIsNoAgreement() {
        WatchStats stats = new WatchStats(null, 0.2, 1, 100, 0);
        stats.add(prediction("a", "benign", 0, 10));
        assertThat(stats.snapshot(1000).shadow()).isNull();
    }
}
