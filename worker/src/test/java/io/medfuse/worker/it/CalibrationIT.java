package io.medfuse.worker.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Prediction;
import io.medfuse.model.contract.Calibration;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.SampleRequests;
import io.medfuse.testkit.SharedBroker;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.worker.pipeline.OnnxModel;
import io.medfuse.worker.pipeline.ReferencePolicy;
import io.medfuse.worker.pipeline.RequestPipeline;

/**
 * A contract's calibration is applied to what the worker publishes, and its referral threshold marks the
 * predictions below it; the worker's referral.threshold overrides the contract's.
 */
class CalibrationIT {

    static final EmbeddedKafka kafka = SharedBroker.kafka();
    static final InProcessSchemaRegistry registry = SharedBroker.registry();
    private static final double T = 2.5;
    private static final double THRESHOLD = 0.9;

    @Test
    void predictionsCarryCalibratedProbabilitiesAndAReferralBelowTheThreshold(@TempDir Path dir) throws Exception {
        byte[] bundled = MedfuseWorker.bundledModel();
        ModelContract c = OnnxModelFile.readContract(bundled, "bundled");
        Path model = dir.resolve("calibrated.onnx");
        Files.write(model, OnnxModelFile.attachContract(bundled, c.withCalibration(new Calibration(
                Calibration.TEMPERATURE, T, THRESHOLD, Map.of()))));

        SampleRequests samples = new SampleRequests(21, 64, "image/png");
        List<ImagingRequest> requests = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            requests.add(samples.next("cal"));
        }
        // what the bundled network itself answers to the same requests, through the same pipeline
        Map<String, float[]> raw = new java.util.HashMap<>();
        try (OnnxModel plain = OnnxModel.load(bundled, "bundled", EngineOptions.defaults().withDevice("cpu"));
             RequestPipeline pipeline = new RequestPipeline(plain, new RequestPipeline.Settings(1, 8, 5,
                     ImageLimits.defaults(), ReferencePolicy.NONE, Duration.ofSeconds(30), Duration.ofMinutes(5),
                     Duration.ofDays(7), 0))) {
            for (ImagingRequest r : requests) {
                raw.put(r.getRequestId(), pipeline.submit(r, pipeline.validate(r), System.nanoTime())
                        .get(30, TimeUnit.SECONDS).probabilities());
            }
        }

        try (StreamFixture f = new StreamFixture(kafka, registry, 2);
             MedfuseWorker worker = MedfuseWorker.start(f.workerConfig(Map.of(
                     WorkerConfig.MODEL_PATH, model.toString())))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            f.startReading();
            requests.forEach(f::send);
            f.flush();
            assertThat(StreamFixture.await(() -> f.answers() >= requests.size(), Duration.ofSeconds(60)))
                    .as("answers: %s / %s", f.predicted.size(), f.failed).isTrue();
            int referred = 0;
            for (ImagingRequest r : requests) {
                Prediction p = f.prediction(r.getRequestId());
                float[] expected = raw.get(r.getRequestId()).clone();
                Calibration.apply(expected, T);
                for (int k = 0; k < expected.length; k++) {
                    assertThat(p.getProbabilities().get(k).getProbability()).as("%s p[%d]", r.getRequestId(), k)
                            .isCloseTo(expected[k], within(1e-5));
                }
                assertThat(p.getReferral()).as("%s: top %.3f vs %.2f", r.getRequestId(), p.getProbability(),
                        THRESHOLD).isEqualTo(p.getProbability() < THRESHOLD);
                referred += p.getReferral() ? 1 : 0;
            }
            assertThat(referred).as("a softened model refers some, not all").isBetween(1, requests.size() - 1);
        }
    }

    /** The worker's referral.threshold overrides the contract's; 0 turns referral off. */
    @Test
    void theConfiguredThresholdOverridesTheContracts() {
        byte[] bundled = MedfuseWorker.bundledModel();
        ModelContract c = OnnxModelFile.readContract(bundled, "bundled").withCalibration(new Calibration(
                Calibration.TEMPERATURE, 1.0, 0.7, Map.of()));
        try (OnnxModel m = OnnxModel.load(OnnxModelFile.attachContract(bundled, c), "calibrated",
                EngineOptions.defaults().withDevice("cpu"))) {
            RequestPipeline.Settings base = new RequestPipeline.Settings(1, 8, 5, ImageLimits.defaults(),
                    ReferencePolicy.NONE, Duration.ofSeconds(30), Duration.ofMinutes(5), Duration.ofDays(7), 0);
            try (RequestPipeline fromContract = new RequestPipeline(m, base);
                 RequestPipeline overridden = new RequestPipeline(m, base.withReferralThreshold(0.95));
                 RequestPipeline off = new RequestPipeline(m, base.withReferralThreshold(0.0))) {
                assertThat(fromContract.referralThreshold()).isEqualTo(0.7);
                assertThat(overridden.referralThreshold()).isEqualTo(0.95);
                assertThat(off.referralThreshold()).isNull();
            }
        }
    }

}
