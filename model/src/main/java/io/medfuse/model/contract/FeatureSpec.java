package io.medfuse.model.contract;

import java.util.List;

/**
 * One tabular feature, in tensor order. Where a request's value comes from: {@code age} and {@code sex} are the
 * request's patient fields; any other name is looked up in the request's {@code clinical} map.
 *
 * <p>NUMERIC: encoded as {@code (x - center) / scale}; a value outside [{@code min}, {@code max}] (either may be
 * null = unbounded) or NaN is invalid (the request becomes a dead letter); a missing value is replaced by
 * {@code impute} (raw units) and flagged; with {@code missingIndicator} an extra column follows that is 1 when the
 * value was missing, else 0.
 *
 * <p>CATEGORICAL: one-hot over {@code vocabulary} plus one final "unknown" slot; a value not in the vocabulary
 * (compared case-insensitively after trimming) or a missing value sets the unknown slot and is flagged.
 *
 * @param name feature name, unique within the contract
 * @param type NUMERIC or CATEGORICAL
 * @param center NUMERIC only: subtracted before scaling
 * @param scale NUMERIC only: divisor, &gt; 0
 * @param min NUMERIC only: lowest valid raw value, or null
 * @param max NUMERIC only: highest valid raw value, or null
 * @param impute NUMERIC only: raw value used when the value is missing
 * @param missingIndicator NUMERIC only: whether an extra 0/1 "was missing" column follows
 * @param vocabulary CATEGORICAL only: the known values, in slot order
 */
public record FeatureSpec(String name, FeatureType type, Double center, Double scale, Double min, Double max,
                          Double impute, Boolean missingIndicator, List<String> vocabulary) {

    /** The two kinds of tabular feature. */
    public enum FeatureType { NUMERIC, CATEGORICAL }

    public FeatureSpec {
        vocabulary = vocabulary == null ? null : List.copyOf(vocabulary);
    }

    /** A numeric feature. */
    public static FeatureSpec numeric(String name, double center, double scale, Double min, Double max,
                                      double impute, boolean missingIndicator) {
        return new FeatureSpec(name, FeatureType.NUMERIC, center, scale, min, max, impute, missingIndicator, null);
    }

    /** A categorical feature with an implicit final "unknown" slot. */
    public static FeatureSpec categorical(String name, List<String> vocabulary) {
        return new FeatureSpec(name, FeatureType.CATEGORICAL, null, null, null, null, null, null, vocabulary);
    }

    /** How many tensor columns this feature occupies. */
    public int width() {
        return switch (type) {
            case NUMERIC -> Boolean.TRUE.equals(missingIndicator) ? 2 : 1;
            case CATEGORICAL -> vocabulary.size() + 1;
        };
    }

    void validate(int index, List<String> problems) {
        String where = "tabular[" + index + "]" + (name == null ? "" : " (" + name + ")");
        if (name == null || name.isBlank()) {
            problems.add(where + ": name is missing");
        }
        if (type == null) {
            problems.add(where + ": type is missing (NUMERIC or CATEGORICAL)");
            return;
        }
        switch (type) {
            case NUMERIC -> {
                if (center == null || !Double.isFinite(center)) {
                    problems.add(where + ": center must be a finite number");
                }
                if (scale == null || !(scale > 0) || !Double.isFinite(scale)) {
                    problems.add(where + ": scale must be a finite number > 0, got " + scale);
                }
                if (impute == null || !Double.isFinite(impute)) {
                    problems.add(where + ": impute must be a finite number (the value used when it is missing)");
                }
                if (min != null && max != null && min > max) {
                    problems.add(where + ": min " + min + " is above max " + max);
                }
                if (vocabulary != null) {
                    problems.add(where + ": a NUMERIC feature has no vocabulary");
                }
            }
            case CATEGORICAL -> {
                if (vocabulary == null || vocabulary.isEmpty()) {
                    problems.add(where + ": a CATEGORICAL feature needs a non-empty vocabulary");
                } else if (vocabulary.stream().map(v -> v == null ? null : v.trim().toLowerCase(java.util.Locale.ROOT))
                        .distinct().count() != vocabulary.size() || vocabulary.stream().anyMatch(java.util.Objects::isNull)) {
                    problems.add(where + ": vocabulary values must be non-null and distinct ignoring case, got "
                            + vocabulary);
                }
            }
        }
    }
}
