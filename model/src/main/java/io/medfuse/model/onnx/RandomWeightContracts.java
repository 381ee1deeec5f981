package io.medfuse.model.onnx;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.medfuse.model.contract.ClassLabel;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.ImageSpec;
import io.medfuse.model.contract.ModelContract;

/**
 * The contracts of the two models medfuse writes with random weights ({@link FusedCnnFactory}): the seed-size
 * model the benchmark times, and a demo-shaped model tests use as a realistic untrained network. Each contract
 * says in its description and provenance that its predictions mean nothing.
 */
public final class RandomWeightContracts {

    /** The seed the demo-shaped model's weights are drawn with. */
    public static final long DEMO_SEED = 42;

    /** The seed the benchmark's seed-size model's weights are drawn with. */
    public static final long BENCH_SEED = 7;

    private RandomWeightContracts() {
    }

    /** 64×64 RGB plus age, sex and anatomical site, three classes: the bundled model's shape, untrained. */
    public static ModelContract demoShaped() {
        return contract("medfuse-demo", "0.1.0-untrained",
                "untrained demo model: random weights, predictions are meaningless", 64,
                List.of(FeatureSpec.numeric("age", 50, 20, 0.0, 120.0, 50, true),
                        FeatureSpec.categorical("sex", List.of("male", "female")),
                        FeatureSpec.categorical("localization", List.of("back", "lower extremity", "trunk",
                                "upper extremity", "abdomen", "face", "chest", "foot", "scalp", "neck", "hand",
                                "ear", "genital", "acral"))),
                List.of(new ClassLabel("nevus", 0.6), new ClassLabel("benign_keratosis", 0.25),
                        new ClassLabel("melanoma", 0.15)),
                "small", DEMO_SEED, "random weights: an untrained placeholder");
    }

    /** 512×512 RGB plus age and lesion diameter, ten classes (the seed network ends in ten): for timing only. */
    public static ModelContract benchSeed() {
        List<ClassLabel> labels = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            labels.add(new ClassLabel("class" + i, 0.1));
        }
        return contract("medfuse-bench-seed", "0.0.0-random",
                "benchmark model: the seed-size architecture with random weights (timing only)", 512,
                List.of(FeatureSpec.numeric("age", 50, 20, 0.0, 120.0, 50, false),
                        FeatureSpec.numeric("lesion_diameter_mm", 6, 4, 0.0, 100.0, 6, false)),
                labels, "seed", BENCH_SEED, "random weights, for the benchmark only");
    }

    private static ModelContract contract(String name, String version, String description, int side,
                                          List<FeatureSpec> features, List<ClassLabel> labels,
                                          String architecture, long seed, String note) {
        Map<String, Object> provenance = new LinkedHashMap<>();
        provenance.put("architecture", architecture);
        provenance.put("seed", seed);
        provenance.put("note", note);
        return new ModelContract(ModelContract.CURRENT_VERSION, name, version, description,
                "image", "tabular", "probabilities", ModelContract.OutputKind.PROBABILITIES,
                new ImageSpec(side, side, 3, "NCHW", ImageSpec.ResizeMode.STRETCH,
                        List.of(0.5, 0.5, 0.5), List.of(0.25, 0.25, 0.25)),
                features, labels, ModelContract.PREPROCESSING_VERSION, false, provenance);
    }
}
