package io.medfuse.model.tabular;

import java.util.Arrays;
import java.util.List;

/**
 * One encoded tabular row. Equality compares the values element by element; {@link #toString()} shows only the
 * width and the flags, because the values are a patient's encoded clinical data and rows end up in logs.
 *
 * @param values {@link TabularEncoder#width()} floats in tensor column order; the array is the caller's to keep
 * @param flags what the encoder had to assume, in feature order, e.g. {@code "age:imputed"} (value missing) or
 *              {@code "localization:unknown"} (value not in the vocabulary); immutable, empty when nothing was assumed
 */
public record EncodedRow(float[] values, List<String> flags) {

    public EncodedRow {
        flags = List.copyOf(flags);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof EncodedRow row && Arrays.equals(values, row.values) && flags.equals(row.flags);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(values) + flags.hashCode();
    }

    @Override
    public String toString() {
        return "EncodedRow[width=" + (values == null ? 0 : values.length) + ", flags=" + flags + "]";
    }
}
