package io.medfuse.trainer.data;

import java.util.List;
import java.util.Objects;

/**
 * Which CSV columns mean what.
 *
 * @param imageColumn column with the image file name, relative to the images folder (an extension-less name is
 *                    tried with .png, .jpg and .jpeg)
 * @param labelColumn column with the class label
 * @param numeric numeric feature columns, in tensor order (before the categorical ones)
 * @param categorical categorical feature columns, in tensor order
 * @param groupColumn column whose rows must stay on one side of the split (patient or lesion id), or null: each
 *                    row is its own group
 * @param labels the allowed labels in output order, or null: the sorted labels found in the data
 * @param allowExclusions false: any bad row is an error; true: bad rows are left out and counted by reason
 */
public record DatasetOptions(String imageColumn, String labelColumn, List<String> numeric, List<String> categorical,
                             String groupColumn, List<String> labels, boolean allowExclusions) {

    public DatasetOptions {
        Objects.requireNonNull(imageColumn, "imageColumn");
        Objects.requireNonNull(labelColumn, "labelColumn");
        numeric = numeric == null ? List.of() : List.copyOf(numeric);
        categorical = categorical == null ? List.of() : List.copyOf(categorical);
        labels = labels == null ? null : List.copyOf(labels);
    }

    /** All feature columns, numeric first. */
    public List<String> featureColumns() {
        return java.util.stream.Stream.concat(numeric.stream(), categorical.stream()).toList();
    }
}
