package io.medfuse.model.engine;

import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.onnx.FusedCnnFactory;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.model.onnx.TestContracts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * A tiny model written once and checked in (src/test/resources/golden/tiny-fused.onnx: "small" architecture, 8x8
 * RGB, 2 features, 3 classes, seed 7). It must keep loading and keep giving the recorded numbers, so a change to the
 * contract format, the proto subset or the engine that would break models already in the field shows up here.
 * Regenerate only on purpose: {@code -Dmedfuse.writeGolden=true -Dtest=GoldenModelTest}, then update the values.
 */
class GoldenModelTest {

    private static final String RESOURCE = "/golden/tiny-fused.onnx";
    private static final ModelContract CONTRACT = TestContracts.contract(3, 8, 2, 3);

    /**
     * Recorded from ONNX Runtime 1.29.0 CPU on the checked-in file (sha256 7d13f23d…). The tolerance, 1e-5, allows
     * for other CPUs' SIMD kernels summing in another order, not for a changed graph.
     */
    private static final float[][] EXPECTED = {
        {0.3430866f, 0.37849507f, 0.27841836f},
        {0.27784884f, 0.6006674f, 0.12148373f},
    };

    @Test
    void checkedInGoldenModelStillLoadsAndPredictsTheRecordedValues() throws Exception {
        byte[] bytes;
        try (InputStream in = GoldenModelTest.class.getResourceAsStream(RESOURCE)) {
            assertThat(in).as(RESOURCE).isNotNull();
            bytes = in.readAllBytes();
        }

        try (OnnxClassifier classifier = OnnxClassifier.load(bytes, RESOURCE,
                EngineOptions.defaults().withDevice("cpu"))) {
            float[][] p = classifier.predict(images(), tabular(), 2);

            assertThat(classifier.contract()).isEqualTo(CONTRACT);
            for (int i = 0; i < EXPECTED.length; i++) {
                assertThat(p[i]).as("row %d: %s", i, java.util.Arrays.toString(p[i]))
                        .containsExactly(EXPECTED[i], within(1e-5f));
            }
        }
    }

    @Test
    @EnabledIfSystemProperty(named = "medfuse.writeGolden", matches = "true")
    void writeGoldenModel() throws Exception {
        Path out = Path.of("src/test/resources" + RESOURCE);
        Files.createDirectories(out.getParent());
        Files.write(out, FusedCnnFactory.small(CONTRACT, 7));
        try (OnnxClassifier classifier = OnnxClassifier.load(out, EngineOptions.defaults().withDevice("cpu"))) {
            for (float[] row : classifier.predict(images(), tabular(), 2)) {
                System.out.println("GOLDEN " + java.util.Arrays.toString(row) + " sha256 "
                        + OnnxModelFile.sha256(Files.readAllBytes(out)));
            }
        }
    }

    private static float[] images() {
        float[] v = new float[2 * 3 * 8 * 8];
        for (int i = 0; i < v.length; i++) {
            v[i] = (i % 17) / 8f - 1f;
        }
        return v;
    }

    private static float[] tabular() {
        return new float[] {-1.5f, 0.25f, 2f, -0.75f};
    }
}
