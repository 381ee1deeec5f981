package io.medfuse.model.contract;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The model contract: the JSON document kept in an ONNX file's {@code metadata_props} under
 * {@link #METADATA_KEY}. The trainer writes it, the worker reads it and checks it against the ONNX session's real
 * inputs and outputs before it serves anything.
 *
 * <p>Input tensors: {@code imageInput} is float32 [N, channels, height, width]; {@code tabularInput} is float32
 * [N, {@link #tabularWidth()}]; {@code output} is float32 [N, labels.size()] holding {@code outputKind} values.
 *
 * @param contractVersion version of this document's format; this code reads {@link #CURRENT_VERSION}
 * @param name model name, published on every prediction
 * @param version model version, published on every prediction and part of the prediction id
 * @param description free text, may be null
 * @param imageInput name of the image input tensor
 * @param tabularInput name of the tabular input tensor
 * @param output name of the output tensor
 * @param outputKind whether the output holds probabilities or logits (softmax is then applied by the engine)
 * @param image image preprocessing
 * @param tabular tabular features in tensor column order, at least one
 * @param labels output classes in output order
 * @param preprocessingVersion version of the preprocessing implementation the model was trained with
 * @param trained false for a model with random weights (the demo says so)
 * @param provenance how the model was made: seed, hyper-parameters, dataset fingerprint, metrics; free-form
 * @param calibration temperature scaling and referral threshold, applied by the engine; null: probabilities as the
 *                    model outputs them
 */
public record ModelContract(int contractVersion, String name, String version, String description,
                            String imageInput, String tabularInput, String output, OutputKind outputKind,
                            ImageSpec image, List<FeatureSpec> tabular, List<ClassLabel> labels,
                            int preprocessingVersion, boolean trained, Map<String, Object> provenance,
                            @com.fasterxml.jackson.annotation.JsonInclude(
                                    com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
                            Calibration calibration) {

    /** The metadata_props key the contract JSON is stored under. */
    public static final String METADATA_KEY = "medfuse.contract";
    /** The contract format this code writes and reads. */
    public static final int CURRENT_VERSION = 1;
    /** The preprocessing implementation version of this code (see ImagePreprocessor / TabularEncoder). */
    public static final int PREPROCESSING_VERSION = 1;

    /** What the output tensor holds. */
    public enum OutputKind { PROBABILITIES, LOGITS }

    public ModelContract {
        tabular = tabular == null ? null : List.copyOf(tabular);
        labels = labels == null ? null : List.copyOf(labels);
        provenance = provenance == null ? Map.of() : Map.copyOf(provenance);
    }

    /** A contract without calibration. */
    public ModelContract(int contractVersion, String name, String version, String description, String imageInput,
                         String tabularInput, String output, OutputKind outputKind, ImageSpec image,
                         List<FeatureSpec> tabular, List<ClassLabel> labels, int preprocessingVersion,
                         boolean trained, Map<String, Object> provenance) {
        this(contractVersion, name, version, description, imageInput, tabularInput, output, outputKind, image,
                tabular, labels, preprocessingVersion, trained, provenance, null);
    }

    /** This contract under another version (the same network published as a new model version). */
    public ModelContract withVersion(String v) {
        return new ModelContract(contractVersion, name, v, description, imageInput, tabularInput, output,
                outputKind, image, tabular, labels, preprocessingVersion, trained, provenance, calibration);
    }

    /** This contract with other labels (same count and order of outputs). */
    public ModelContract withLabels(List<ClassLabel> l) {
        return new ModelContract(contractVersion, name, version, description, imageInput, tabularInput, output,
                outputKind, image, tabular, l, preprocessingVersion, trained, provenance, calibration);
    }

    /** This contract with other tabular features (same tensor width, e.g. other sources). */
    public ModelContract withTabular(List<FeatureSpec> t) {
        return new ModelContract(contractVersion, name, version, description, imageInput, tabularInput, output,
                outputKind, image, t, labels, preprocessingVersion, trained, provenance, calibration);
    }

    /** This contract with {@code c} as its calibration (null: none). */
    public ModelContract withCalibration(Calibration c) {
        return new ModelContract(contractVersion, name, version, description, imageInput, tabularInput, output,
                outputKind, image, tabular, labels, preprocessingVersion, trained, provenance, c);
    }

    /** Number of tabular tensor columns: the sum of every feature's width. */
    public int tabularWidth() {
        return tabular.stream().mapToInt(FeatureSpec::width).sum();
    }

    /** Label names in output order. */
    public List<String> labelNames() {
        return labels.stream().map(ClassLabel::name).toList();
    }

    /**
     * Checks the whole document and reports every problem at once.
     *
     * @return this contract
     * @throws ModelContractException listing every problem found
     */
    public ModelContract validate() {
        List<String> problems = new ArrayList<>();
        if (contractVersion != CURRENT_VERSION) {
            problems.add("contractVersion " + contractVersion + " is not supported (this medfuse reads "
                    + CURRENT_VERSION + ")");
        }
        if (preprocessingVersion > PREPROCESSING_VERSION || preprocessingVersion < 1) {
            problems.add("preprocessingVersion " + preprocessingVersion + " is not supported (this medfuse implements "
                    + PREPROCESSING_VERSION + ")");
        }
        requireText(name, "name", problems);
        requireText(version, "version", problems);
        requireText(imageInput, "imageInput", problems);
        requireText(tabularInput, "tabularInput", problems);
        requireText(output, "output", problems);
        if (imageInput != null && imageInput.equals(tabularInput)) {
            problems.add("imageInput and tabularInput must differ, both are '" + imageInput + "'");
        }
        if (outputKind == null) {
            problems.add("outputKind is missing (PROBABILITIES or LOGITS)");
        }
        if (image == null) {
            problems.add("image is missing");
        } else {
            image.validate(problems);
        }
        if (tabular == null || tabular.isEmpty()) {
            problems.add("tabular must list at least one feature");
        } else {
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < tabular.size(); i++) {
                FeatureSpec f = tabular.get(i);
                if (f == null) {
                    problems.add("tabular[" + i + "] is null");
                    continue;
                }
                FeatureSpec.validate(f, i, problems);
                if (f.name() != null && !seen.add(f.name())) {
                    problems.add("tabular[" + i + "]: feature name '" + f.name() + "' appears twice");
                }
            }
        }
        if (labels == null || labels.size() < 2) {
            problems.add("labels must list at least two classes, got " + labels);
        } else {
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < labels.size(); i++) {
                ClassLabel l = labels.get(i);
                if (l == null || l.name() == null || l.name().isBlank()) {
                    problems.add("labels[" + i + "] has no name");
                } else if (!seen.add(l.name())) {
                    problems.add("labels[" + i + "]: '" + l.name() + "' appears twice");
                } else if (l.frequency() != null && !(l.frequency() >= 0 && l.frequency() <= 1)) {
                    problems.add("labels[" + i + "] (" + l.name() + "): frequency must be in [0,1], got "
                            + l.frequency());
                }
            }
        }
        if (calibration != null) {
            calibration.validate(problems);
        }
        if (!problems.isEmpty()) {
            throw new ModelContractException("invalid model contract"
                    + (name == null ? "" : " for model '" + name + "'") + ": " + String.join("; ", problems));
        }
        return this;
    }

    private static void requireText(String value, String field, List<String> problems) {
        if (value == null || value.isBlank()) {
            problems.add(field + " is missing");
        }
    }
}
