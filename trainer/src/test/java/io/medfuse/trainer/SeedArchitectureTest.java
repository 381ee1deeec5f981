package io.medfuse.trainer;

import static org.assertj.core.api.Assertions.assertThat;

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
 * The seed network (designed for 512x512) at its smallest size, 232x232, where its feature map is 512x1x1: trained
 * by DJL, written by FusedCnnFactory.seed, and ONNX Runtime agrees with DJL within the parity tolerance.
 */
class SeedArchitectureTest {

    @TempDir
    static Path dir;
    static Dataset data;

    @BeforeAll
    static void read() {
        Path csv = new SyntheticDataset(2).write(dir, 20);
        data = TrainingRun.read(dir.resolve("images"), csv, new DatasetOptions("image", "label", List.of("age"),
                List.of("sex"), "lesion_id", null, false), HyperParameters.SEED_MIN_SIZE);
    }

    static HyperParameters hp(InputMode mode) {
        return new HyperParameters("seed", mode, 1, 8, 1e-3, 3, 0.3, 1, true, HyperParameters.SEED_MIN_SIZE);
    }

    @Test
    void fusedExportMatchesDjl() {
        TrainingRun.Outcome out = TrainingRun.train(data, hp(InputMode.FUSED), "seed-net", "1", s -> { },
                new StopSignal());
        assertThat(out.parityMaxDelta()).isLessThanOrEqualTo(TrainingRun.PARITY_TOLERANCE);
        assertThat(OnnxModelFile.readMetadata(out.onnx())).containsEntry(FusedCnnFactory.ARCHITECTURE_KEY, "seed");
    }

    @Test
    void tabularOnlyAblationExportsWithZeroConvolutions() {
        TrainingRun.Outcome out = TrainingRun.train(data, hp(InputMode.TABULAR), "seed-tab", "1", s -> { },
                new StopSignal());
        assertThat(out.parityMaxDelta()).isLessThanOrEqualTo(TrainingRun.PARITY_TOLERANCE);
    }

    @Test
    void tooSmallImagesAreRefusedUpFront() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new HyperParameters("seed", InputMode.FUSED, 1, 8,
                1e-3, 3, 0.3, 1, true, 64)).hasMessageContaining(">= 232");
    }
}
