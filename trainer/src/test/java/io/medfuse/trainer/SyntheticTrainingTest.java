package io.medfuse.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.engine.OnnxClassifier;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.trainer.data.Dataset;
import io.medfuse.trainer.data.DatasetOptions;
import io.medfuse.trainer.synth.SyntheticDataset;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The acceptance numbers on the synthetic set, whose label is (dark blob XOR age &gt; 50): the fused model learns it,
 * each ablation stays near chance. CI-sized: a few hundred 64×64 images, a few epochs each.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SyntheticTrainingTest {

    static final int COUNT = Integer.getInteger("medfuse.test.synthCount", 600);
    static final HyperParameters HP = new HyperParameters("small", InputMode.FUSED,
            Integer.getInteger("medfuse.test.epochs", 12), 32, 3e-3, 7, 0.25, 6, true, 64);

    @TempDir
    static Path dir;
    Dataset dataset;

    @BeforeAll
    void writeAndReadSyntheticSet() {
        Path csv = new SyntheticDataset(11).write(dir, COUNT);
        dataset = TrainingRun.read(dir.resolve("images"), csv, new DatasetOptions("image", "label", List.of("age"),
                List.of("sex", "localization"), "lesion_id", null, false), 64);
    }

    @Test
    void fusedModelLearnsTheRuleThatNeedsBothInputsAndExportsWithParity() {
        TrainingRun.Outcome out = train(InputMode.FUSED);

        assertThat(accuracy(out)).isGreaterThanOrEqualTo(0.85);
        assertThat(out.parityMaxDelta()).isLessThanOrEqualTo(1e-4);
        ModelContract contract = OnnxModelFile.readContract(out.onnx(), "exported");
        assertThat(contract.trained()).isTrue();
        assertThat(contract.labelNames()).containsExactly("benign", "malignant");
        assertThat(contract.provenance()).containsEntry("architecture", "small").containsEntry("inputs", "fused")
                .containsKey("datasetFingerprint").containsKey("metrics");
        // temperature scaling fitted on the validation split and written into the contract
        assertThat(contract.calibration()).isNotNull();
        assertThat(contract.calibration().temperature()).isPositive();
        assertThat((double) contract.calibration().fit().get("nllAfter"))
                .isLessThanOrEqualTo((double) contract.calibration().fit().get("nllBefore"));
        try (OnnxClassifier ort = OnnxClassifier.load(out.onnx(), "exported", EngineOptions.defaults()
                .withDevice("cpu"))) {
            assertThat(ort.contract()).isEqualTo(contract);
        }
    }

    @Test
    void imageOnlyModelStaysNearChanceAndStillServesTwoInputs() {
        TrainingRun.Outcome out = train(InputMode.IMAGE);

        assertThat(accuracy(out)).isLessThanOrEqualTo(0.65);
        assertThat(out.parityMaxDelta()).isLessThanOrEqualTo(1e-4);
        assertThat(out.contract().provenance()).containsEntry("inputs", "image");
        assertOutputIgnores(out, false);
    }

    @Test
    void tabularOnlyModelStaysNearChance() {
        TrainingRun.Outcome out = train(InputMode.TABULAR);

        assertThat(accuracy(out)).isLessThanOrEqualTo(0.65);
        assertThat(out.parityMaxDelta()).isLessThanOrEqualTo(1e-4);
        assertOutputIgnores(out, true);
    }

    /** The exported ablation has both inputs, and the one it was not trained on does not move its output. */
    private static void assertOutputIgnores(TrainingRun.Outcome out, boolean image) {
        ModelContract c = out.contract();
        int size = c.image().tensorSize();
        int width = c.tabularWidth();
        float[] images = new float[2 * size];
        float[] tabular = new float[2 * width];
        java.util.Random rng = new java.util.Random(1);
        for (int i = 0; i < images.length; i++) {
            images[i] = image ? (float) rng.nextGaussian() : 0.3f;
        }
        for (int i = 0; i < tabular.length; i++) {
            tabular[i] = image ? 0.5f : (float) rng.nextGaussian();
        }
        try (OnnxClassifier ort = OnnxClassifier.load(out.onnx(), "ablation", EngineOptions.defaults()
                .withDevice("cpu"))) {
            float[][] p = ort.predict(images, tabular, 2);
            assertThat(p[0]).containsExactly(p[1]);
        }
    }

    private TrainingRun.Outcome train(InputMode mode) {
        TrainingRun.Outcome out = TrainingRun.train(dataset, HP.withInputs(mode), "synthetic-" + mode.cli(), "test",
                s -> System.err.println(mode.cli() + " " + s.line()), new StopSignal());
        System.err.printf("%s: val acc %.3f, parity %.2e, %.1f s%n", mode.cli(), accuracy(out),
                out.parityMaxDelta(), out.seconds());
        return out;
    }

    private static double accuracy(TrainingRun.Outcome out) {
        return ((Number) out.validation().get("validationAccuracy")).doubleValue();
    }

    static Map<String, Object> metrics(TrainingRun.Outcome out) {
        return out.validation();
    }
}
