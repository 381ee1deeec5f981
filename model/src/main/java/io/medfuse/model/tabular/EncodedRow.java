package io.medfuse.model.tabular;

import java.util.List;

/**
 * One encoded tabular row.
 *
 * @param values {@link TabularEncoder#width()} floats in tensor column order; the array is the caller's to keep
 * @param flags what the encoder had to assume, in feature order, e.g. {@code "age:imputed"} (value missing) or
 *              {@code "localization:unknown"} (value not in the vocabulary); immutable, empty when nothing was assumed
 */
public record EncodedRow(float[] values, List<String> flags) {

    public EncodedRow {
        flags = List.copyOf(flags);
    }
}
