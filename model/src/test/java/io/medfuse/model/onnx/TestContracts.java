package io.medfuse.model.onnx;

import io.medfuse.model.contract.ClassLabel;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.ImageSpec;
import io.medfuse.model.contract.ModelContract;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Contracts and paths the ONNX and engine tests share. */
public final class TestContracts {

    private TestContracts() {
    }

    /**
     * A contract for a [N,channels,size,size] image and {@code numericFeatures} numeric features (no missing
     * indicator, so the tabular width equals the count) and {@code classes} classes.
     */
    public static ModelContract contract(int channels, int height, int width, int numericFeatures, int classes,
                                         ModelContract.OutputKind kind) {
        List<FeatureSpec> features = new ArrayList<>();
        for (int i = 0; i < numericFeatures; i++) {
            features.add(FeatureSpec.numeric("f" + i, 0, 1, null, null, 0, false));
        }
        List<ClassLabel> labels = new ArrayList<>();
        for (int i = 0; i < classes; i++) {
            labels.add(new ClassLabel("class" + i, null));
        }
        List<Double> mean = channels == 1 ? List.of(0.5) : List.of(0.5, 0.5, 0.5);
        List<Double> std = channels == 1 ? List.of(0.25) : List.of(0.25, 0.25, 0.25);
        return new ModelContract(ModelContract.CURRENT_VERSION, "test-model", "1.0", null, "image", "tabular",
                "probabilities", kind, new ImageSpec(width, height, channels, "NCHW", ImageSpec.ResizeMode.STRETCH,
                mean, std), features, labels, ModelContract.PREPROCESSING_VERSION, false, Map.of("seed", 1));
    }

    /** A square-image PROBABILITIES contract. */
    public static ModelContract contract(int channels, int size, int numericFeatures, int classes) {
        return contract(channels, size, size, numericFeatures, classes, ModelContract.OutputKind.PROBABILITIES);
    }

    /** A file under ../shared (system property medfuse.shared, set by the POM), when it exists. */
    public static Optional<Path> shared(String relative) {
        String root = System.getProperty("medfuse.shared");
        Path base = root != null ? Path.of(root) : Path.of("..", "..", "shared");
        Path file = base.resolve(relative).normalize();
        return Files.isRegularFile(file) ? Optional.of(file) : Optional.empty();
    }

    /** Deterministic pseudo-random floats in [-1, 1). */
    public static float[] floats(int count, long seed) {
        java.util.Random rng = new java.util.Random(seed);
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = rng.nextFloat() * 2 - 1;
        }
        return v;
    }
}
