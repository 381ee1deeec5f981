package io.medfuse.trainer;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything that decides a training run, seed included; written into the model's provenance.
 *
 * @param architecture only {@code small} in this version
 * @param inputs which inputs the network sees
 * @param epochs maximum epochs, ≥ 1
 * @param batchSize images per optimizer step, ≥ 1
 * @param learningRate Adam's initial learning rate, decayed by a cosine schedule to 5 % over the run
 * @param seed seeds the split, weight initialisation, shuffling and augmentation
 * @param validationFraction share of rows (by group) held out for validation, in (0,1)
 * @param patience stop after this many epochs without a better validation balanced accuracy, ≥ 1
 * @param augment random flips and shifts of ±{@link #MAX_SHIFT} px on training images
 * @param imageSize the square image side the images are resized to
 */
public record HyperParameters(String architecture, InputMode inputs, int epochs, int batchSize, double learningRate,
                              long seed, double validationFraction, int patience, boolean augment, int imageSize) {

    /** Largest augmentation shift in pixels. */
    public static final int MAX_SHIFT = 4;

    /**
     * @throws IllegalArgumentException naming the bad value
     */
    public HyperParameters {
        if (!"small".equals(architecture)) {
            throw new IllegalArgumentException("--architecture: only 'small' is implemented so far, got '"
                    + architecture + "'");
        }
        if (inputs == null) {
            throw new IllegalArgumentException("inputs is missing");
        }
        if (epochs < 1 || batchSize < 1 || patience < 1) {
            throw new IllegalArgumentException("epochs, batch size and patience must be >= 1, got " + epochs + ", "
                    + batchSize + ", " + patience);
        }
        if (!(learningRate > 0) || !Double.isFinite(learningRate)) {
            throw new IllegalArgumentException("--lr must be a number > 0, got " + learningRate);
        }
        if (!(validationFraction > 0 && validationFraction < 1)) {
            throw new IllegalArgumentException("validation fraction must be in (0,1), got " + validationFraction);
        }
        if (imageSize < 8 || imageSize > 1024) {
            throw new IllegalArgumentException("--image-size must be in 8..1024, got " + imageSize);
        }
    }

    /** The defaults of {@code medfuse train}. */
    public static HyperParameters defaults() {
        return new HyperParameters("small", InputMode.FUSED, 30, 32, 3e-3, 42, 0.2, 6, true, 64);
    }

    public HyperParameters withInputs(InputMode m) {
        return new HyperParameters(architecture, m, epochs, batchSize, learningRate, seed, validationFraction,
                patience, augment, imageSize);
    }

    public HyperParameters withEpochs(int e) {
        return new HyperParameters(architecture, inputs, e, batchSize, learningRate, seed, validationFraction,
                patience, augment, imageSize);
    }

    /** As provenance: plain JSON values. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architecture", architecture);
        m.put("inputs", inputs.cli());
        m.put("epochs", epochs);
        m.put("batchSize", batchSize);
        m.put("learningRate", learningRate);
        m.put("schedule", "cosine to 5%");
        m.put("optimizer", "adam");
        m.put("seed", seed);
        m.put("validationFraction", validationFraction);
        m.put("patience", patience);
        m.put("augment", augment ? "flips, shift +-" + MAX_SHIFT + " px" : "none");
        m.put("imageSize", imageSize);
        m.put("classWeights", "balanced");
        return m;
    }
}
