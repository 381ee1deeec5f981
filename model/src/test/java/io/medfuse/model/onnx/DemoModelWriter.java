package io.medfuse.model.onnx;

import io.medfuse.model.contract.ClassLabel;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.ImageSpec;
import io.medfuse.model.contract.ModelContract;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A test fixture: the demo-shaped contract (64x64 RGB; age, sex, site) and the "small" architecture with seed 42
 * and random weights (untrained, and its contract says so). It was the bundled demo model until the trainer
 * produced a trained one (tools/train-bundled-model.sh); tests still use it as a realistic untrained model.
 *
 * <p>Usage: {@code DemoModelWriter <output.onnx>}; rerunning it writes identical bytes.
 */
public final class DemoModelWriter {

    /** The seed the demo's weights are drawn with. */
    public static final long SEED = 42;

    private DemoModelWriter() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: DemoModelWriter <output.onnx>");
            System.exit(2);
        }
        Path out = Path.of(args[0]);
        byte[] bytes = FusedCnnFactory.small(contract(), SEED);
        if (out.toAbsolutePath().getParent() != null) {
            Files.createDirectories(out.toAbsolutePath().getParent());
        }
        Files.write(out, bytes);
        System.out.println("wrote " + out + " (" + bytes.length + " bytes, sha256 " + OnnxModelFile.sha256(bytes)
                + ")");
    }

    /** The demo's contract: 64×64 RGB dermatoscopy-style images plus age, sex and anatomical site. */
    public static ModelContract contract() {
        Map<String, Object> provenance = new LinkedHashMap<>();
        provenance.put("architecture", "small");
        provenance.put("seed", SEED);
        provenance.put("note", "random weights: untrained placeholder until the trainer lands");
        return new ModelContract(ModelContract.CURRENT_VERSION, "medfuse-demo", "0.1.0-untrained",
                "untrained demo model: random weights, predictions are meaningless",
                "image", "tabular", "probabilities", ModelContract.OutputKind.PROBABILITIES,
                new ImageSpec(64, 64, 3, "NCHW", ImageSpec.ResizeMode.STRETCH,
                        List.of(0.5, 0.5, 0.5), List.of(0.25, 0.25, 0.25)),
                List.of(FeatureSpec.numeric("age", 50, 20, 0.0, 120.0, 50, true),
                        FeatureSpec.categorical("sex", List.of("male", "female")),
                        FeatureSpec.categorical("localization", List.of("back", "lower extremity", "trunk",
                                "upper extremity", "abdomen", "face", "chest", "foot", "scalp", "neck", "hand",
                                "ear", "genital", "acral"))),
                List.of(new ClassLabel("nevus", 0.6), new ClassLabel("benign_keratosis", 0.25),
                        new ClassLabel("melanoma", 0.15)),
                ModelContract.PREPROCESSING_VERSION, false, provenance);
    }
}
