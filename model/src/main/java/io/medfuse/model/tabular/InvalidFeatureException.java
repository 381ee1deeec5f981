package io.medfuse.model.tabular;

import io.medfuse.model.ModelException;

/**
 * A tabular value cannot be encoded: a number outside the feature's valid range, NaN or infinite, or a value of the
 * wrong kind (a word where a number is expected). The request becomes a dead letter. The message names the feature
 * and what is valid; it never repeats free text, which could identify a patient.
 */
public class InvalidFeatureException extends ModelException {
    private static final long serialVersionUID = 1L;

    private final String feature;

    public InvalidFeatureException(String feature, String message) {
        super(message);
        this.feature = feature;
    }

    /** Name of the offending feature, as in the model contract. */
    public String feature() {
        return feature;
    }
}
