package io.medfuse.trainer.data;

import java.util.Map;

/**
 * One usable row: its preprocessed image and raw feature values.
 *
 * @param line 1-based CSV line
 * @param image image file name as written in the CSV
 * @param label class label
 * @param group split group (lesion or patient id; the line number when there is no group column)
 * @param features feature name → {@link Double} (numeric), {@link String} (categorical) or null (missing), as
 *                 {@link io.medfuse.model.tabular.TabularEncoder} takes them
 * @param pixels CHW floats from {@link io.medfuse.model.image.ImagePreprocessor}; shared, do not modify
 */
public record Sample(int line, String image, String label, String group, Map<String, Object> features,
                     float[] pixels) {

    @Override
    public String toString() {
        return "Sample[line=" + line + ", image=" + image + ", label=" + label + ", group=" + group + "]";
    }
}
