package io.medfuse.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.medfuse.events.ImagingRequest;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.testkit.SampleRequests;
import io.medfuse.trainer.HyperParameters;
import io.medfuse.trainer.InputMode;
import io.medfuse.trainer.StopSignal;
import io.medfuse.trainer.TrainingRun;
import io.medfuse.trainer.data.DatasetOptions;
import io.medfuse.trainer.synth.SyntheticDataset;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.pipeline.Classifier;
import io.medfuse.worker.pipeline.OnnxModel;
import io.medfuse.worker.pipeline.Outcome;
import io.medfuse.worker.pipeline.ReferencePolicy;
import io.medfuse.worker.pipeline.RequestPipeline;

/**
 * On the synthetic data set, whose label needs both the image and the age (dark lesion XOR age &gt; 50), the
 * clinical data's influence is large for a fused model and zero for an image-only one, measured by the worker's
 * own pipeline on requests as an imaging system sends them.
 */
class ClinicalInfluenceTest {

    private static final int CASES = 60;
    private static final SyntheticDataset CASES_SOURCE = new SyntheticDataset(20261202L);

    @Test
    void aFusedModelTrainedOnTheSyntheticRuleLeansOnTheClinicalData() throws Exception {
        // the bundled model: the small fused network trained on this generator (tools/train-bundled-model.sh)
        try (Classifier fused = OnnxModel.load(MedfuseWorker.bundledModel(), "bundled",
                EngineOptions.defaults().withDevice("cpu"))) {
            List<Outcome.Predicted> answers = run(fused);
            double absolute = 0;
            int right = 0;
            int rightWithout = 0;
            for (int i = 0; i < CASES; i++) {
                var ci = answers.get(i).influence();
                absolute += Math.abs(ci.getShift());
                String truth = CASES_SOURCE.generate(i + 1).label();
                right += truth.equals(label(fused, answers.get(i).probabilities())) ? 1 : 0;
                rightWithout += truth.equals(ci.getLabelWithout()) ? 1 : 0;
            }
            double mean = absolute / CASES;
            System.out.printf("fused: mean |shift| %.3f; right %d with the clinical data, %d without (of %d)%n",
                    mean, right, rightWithout, CASES);
            assertThat(mean).as("mean |shift| of the predicted class's probability").isGreaterThan(0.2);
            assertThat(right - rightWithout).as("predictions the clinical data made right").isGreaterThan(CASES / 5);
        }
    }

    @Test
    void anImageOnlyModelIsNotMovedByTheClinicalDataAtAll(@TempDir Path dir) throws Exception {
        Path csv = new SyntheticDataset(5).write(dir, 80);
        HyperParameters hp = new HyperParameters("small", InputMode.IMAGE, 1, 32, 3e-3, 3, 0.25, 1, false, 64);
        var dataset = TrainingRun.read(dir.resolve("images"), csv, new DatasetOptions("image", "label",
                List.of("age"), List.of("sex", "localization"), "lesion_id", null, false), hp);
        TrainingRun.Outcome trained = TrainingRun.train(dataset, hp, "synthetic-image-only", "test", s -> { },
                new StopSignal());
        try (Classifier imageOnly = OnnxModel.load(trained.onnx(), "image-only",
                EngineOptions.defaults().withDevice("cpu"))) {
            for (Outcome.Predicted p : run(imageOnly)) {
                assertThat(p.influence().getShift()).isZero();
                assertThat(p.influence().getLabelWithout()).isEqualTo(label(imageOnly, p.probabilities()));
            }
        }
    }

    /** The synthetic cases as requests with age, sex and site, through the pipeline with the influence on. */
    private static List<Outcome.Predicted> run(Classifier model) throws Exception {
        SampleRequests samples = new SampleRequests(1, SyntheticDataset.SIZE, "image/png");
        RequestPipeline.Settings settings = new RequestPipeline.Settings(1, 8, 5, ImageLimits.defaults(),
                ReferencePolicy.NONE, Duration.ofSeconds(30), Duration.ofMinutes(5), Duration.ofDays(7), 0)
                .withInfluence(true, false);
        List<CompletableFuture<Outcome.Predicted>> futures = new ArrayList<>();
        try (RequestPipeline pipeline = new RequestPipeline(model, settings)) {
            for (int i = 1; i <= CASES; i++) {
                SyntheticDataset.Case c = CASES_SOURCE.generate(i);
                ImagingRequest r = samples.request("case-" + i, (double) c.age(), c.sex(), c.localization(),
                        c.png());
                futures.add(pipeline.submit(r, pipeline.validate(r), System.nanoTime()));
            }
            List<Outcome.Predicted> out = new ArrayList<>();
            for (CompletableFuture<Outcome.Predicted> f : futures) {
                Outcome.Predicted p = f.get(60, TimeUnit.SECONDS);
                assertThat(p.influence()).isNotNull();
                out.add(p);
            }
            return out;
        }
    }

    private static String label(Classifier model, float[] probabilities) {
        int best = 0;
        for (int i = 1; i < probabilities.length; i++) {
            if (probabilities[i] > probabilities[best]) {
                best = i;
            }
        }
        return model.contract().labelNames().get(best);
    }
}
