package io.medfuse.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.engine.OnnxClassifier;
import io.medfuse.model.onnx.FusedCnnFactory;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.trainer.data.Dataset;
import io.medfuse.trainer.data.DatasetOptions;
import io.medfuse.trainer.synth.SyntheticDataset;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

/**
 * The frozen bundled MobileNetV2 with a trained head: features are extracted once, the head trains in DJL, the
 * export is ONE graph (backbone + head) whose probabilities on the raw validation images match DJL's on the cached
 * features. CI-sized: 48 synthetic images.
 */
class MobileNetV2TrainingTest {

    @TempDir
    static Path dir;
    static Dataset data;

    @BeforeAll
    static void read() {
        Path csv = new SyntheticDataset(5).write(dir, 48);
        data = TrainingRun.read(dir.resolve("images"), csv, new DatasetOptions("image", "label", List.of("age"),
                List.of("sex", "localization"), "lesion_id", null, false), hp(InputMode.FUSED));
    }

    static HyperParameters hp(InputMode mode) {
        return new HyperParameters("mobilenetv2", mode, 3, 16, 3e-3, 7, 0.3, 3, false, 224);
    }

    @Test
    void featuresAreCachedPooledBackboneOutputs() {
        assertThat(data.image()).isEqualTo(Backbone.IMAGE_SPEC);
        assertThat(data.samples()).allSatisfy(s -> {
            assertThat(s.pixels()).hasSize(Backbone.FEATURES);
            // after ReLU6 and averaging: in [0, 6], and not all zero
            for (float v : s.pixels()) {
                assertThat(v).isBetween(0f, 6f);
            }
        });
        assertThat(data.samples().get(0).pixels()).isNotEqualTo(new float[Backbone.FEATURES]);
    }

    @Test
    void exportIsOneGraphThatMatchesTheTrainedHead() {
        TrainingRun.Outcome out = TrainingRun.train(data, hp(InputMode.FUSED), "mnv2", "1", s -> { },
                new StopSignal());
        assertThat(out.parityMaxDelta()).isLessThanOrEqualTo(TrainingRun.PARITY_TOLERANCE);
        assertThat(OnnxModelFile.readMetadata(out.onnx())).containsEntry(FusedCnnFactory.ARCHITECTURE_KEY,
                "mobilenetv2");
        try (OnnxClassifier ort = OnnxClassifier.load(out.onnx(), "mnv2", EngineOptions.defaults().withDevice("cpu"))) {
            ModelContract c = ort.contract();
            assertThat(c.image()).isEqualTo(Backbone.IMAGE_SPEC
                    .withDecoder(io.medfuse.model.image.ImageDecoder.configured().contractId()));
            assertThat(c.imageInput()).isEqualTo("image");
            assertThat(c.tabularInput()).isEqualTo("tabular");
            assertThat(c.provenance()).containsEntry("architecture", "mobilenetv2").containsKey("backbone");
        }
    }

    @Test
    void imageOnlyAblationExportsAndMatches() {
        TrainingRun.Outcome out = TrainingRun.train(data, hp(InputMode.IMAGE).withEpochs(2), "mnv2-image", "1",
                s -> { }, new StopSignal());
        assertThat(out.parityMaxDelta()).isLessThanOrEqualTo(TrainingRun.PARITY_TOLERANCE);
    }
}
