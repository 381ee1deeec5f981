package io.medfuse.model.tabular;

import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.ModelContractException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Turns a request's tabular values into the model's tabular tensor row, exactly as the contract's
 * {@link FeatureSpec}s say. The worker and the trainer both use this class, so serving cannot drift from training.
 *
 * <p>Columns follow the feature order; each feature takes {@link FeatureSpec#width()} columns.
 * <ul>
 *   <li><b>NUMERIC</b>: {@code (x - center) / scale}, computed in double and stored as float. Accepted values: any
 *       {@link Number}, or text that is a plain decimal number ({@code "63"}, {@code " 4.5e1 "}). A missing value
 *       is replaced by {@code impute} (raw units), encoded the same way, and flagged {@code "<name>:imputed"}; with
 *       {@code missingIndicator} the next column is 1 for a missing value, else 0. NaN, infinity, a value outside
 *       [{@code min}, {@code max}] (a null bound is open), other text or a {@link Boolean} throw
 *       {@link InvalidFeatureException}.</li>
 *   <li><b>CATEGORICAL</b>: one-hot over the vocabulary plus a final "unknown" slot. Values are compared with the
 *       vocabulary after trimming, ignoring case (in {@link Locale#ROOT}); a {@link Boolean}, {@link Number} or other
 *       object (an enum, an Avro enum symbol) by its string form, a whole floating-point number also as an integer
 *       ({@code 1.0} matches {@code "1"}). A missing value sets the unknown slot and is flagged
 *       {@code "<name>:imputed"}; a value not in the vocabulary sets the unknown slot and is flagged
 *       {@code "<name>:unknown"}.</li>
 * </ul>
 * A value is missing when its key is absent, it is null, or it is blank text. Keys are the feature names, matched
 * exactly: {@link FeatureResolver} turns a request or a CSV row into this map, reading each feature from its
 * sources. {@link CharSequence} values (such as Avro's {@code Utf8}) count as text.
 *
 * <p>Immutable and thread-safe.
 */
public final class TabularEncoder {

    /** Longer text is not a number a clinician would type; refusing it early keeps parsing cheap. */
    private static final int MAX_NUMBER_TEXT = 64;

    private final List<FeatureSpec> features;
    private final List<Column> columns;
    private final int width;

    /**
     * @param features tabular features in tensor column order, as in a validated model contract
     * @throws ModelContractException when a feature cannot be encoded (missing scale, empty vocabulary, ...), listing
     *                                every problem
     */
    public TabularEncoder(List<FeatureSpec> features) {
        Objects.requireNonNull(features, "features");
        List<String> problems = new ArrayList<>();
        if (features.isEmpty()) {
            problems.add("at least one tabular feature is needed");
        }
        List<Column> built = new ArrayList<>(features.size());
        Set<String> names = new HashSet<>();
        int total = 0;
        for (int i = 0; i < features.size(); i++) {
            FeatureSpec f = features.get(i);
            String where = "tabular[" + i + "]" + (f == null || f.name() == null ? "" : " (" + f.name() + ")");
            if (f == null || f.name() == null || f.name().isBlank()) {
                problems.add(where + ": needs a name");
                continue;
            }
            if (!names.add(f.name())) {
                problems.add(where + ": feature name appears twice");
            }
            Column column = switch (f.kind()) {
                case NUMERIC -> NumericColumn.of((FeatureSpec.Numeric) f, where, problems);
                case CATEGORICAL -> CategoricalColumn.of((FeatureSpec.Categorical) f, where, problems);
            };
            if (column != null) {
                built.add(column);
                total += column.width();
            }
        }
        if (!problems.isEmpty()) {
            throw new ModelContractException("cannot encode these tabular features: " + String.join("; ", problems));
        }
        this.features = List.copyOf(features);
        this.columns = List.copyOf(built);
        this.width = total;
    }

    /** The features, in column order. */
    public List<FeatureSpec> features() {
        return features;
    }

    /** Number of tensor columns: the sum of every feature's {@link FeatureSpec#width()}. */
    public int width() {
        return width;
    }

    /**
     * @param values feature name → {@link Number}, text, {@link Boolean} or null; absent, null and blank text are
     *               missing; a null map means every value is missing; names not in the contract are ignored
     * @throws InvalidFeatureException on the first value that cannot be encoded
     */
    public EncodedRow encode(Map<String, ?> values) {
        float[] row = new float[width];
        List<String> flags = encodeInto(values, row, 0);
        return new EncodedRow(row, flags);
    }

    /**
     * Same as {@link #encode(Map)}, writing {@link #width()} floats at {@code dst[offset..]} (a batch buffer's row).
     * Nothing outside that range is touched; on an exception the range's content is unspecified.
     *
     * @return the flags, in feature order; immutable, empty when nothing was assumed
     * @throws IndexOutOfBoundsException when dst cannot hold width() floats at offset
     * @throws InvalidFeatureException on the first value that cannot be encoded
     */
    public List<String> encodeInto(Map<String, ?> values, float[] dst, int offset) {
        Objects.requireNonNull(dst, "dst");
        Objects.checkFromIndexSize(offset, width, dst.length);
        List<String> flags = null;
        int at = offset;
        for (Column column : columns) {
            Object value = values == null ? null : values.get(column.name());
            String flag = column.write(isMissing(value) ? null : value, dst, at);
            if (flag != null) {
                if (flags == null) {
                    flags = new ArrayList<>(2);
                }
                flags.add(flag);
            }
            at += column.width();
        }
        return flags == null ? List.of() : List.copyOf(flags);
    }

    private static boolean isMissing(Object value) {
        return value == null || value instanceof CharSequence text && text.toString().isBlank();
    }

    /** One feature's columns. */
    private interface Column {
        String name();

        int width();

        /** Writes width() floats at dst[offset..] for a value that is present, or null for a missing one; returns a flag or null. */
        String write(Object value, float[] dst, int offset);
    }

    private record NumericColumn(String name, double center, double scale, Double min, Double max, double impute,
                                 boolean indicator) implements Column {

        static NumericColumn of(FeatureSpec.Numeric f, String where, List<String> problems) {
            int before = problems.size();
            if (f.center() == null || !Double.isFinite(f.center())) {
                problems.add(where + ": center must be a finite number");
            }
            if (f.scale() == null || !Double.isFinite(f.scale()) || !(f.scale() > 0)) {
                problems.add(where + ": scale must be a finite number > 0");
            }
            if (f.impute() == null || !Double.isFinite(f.impute())) {
                problems.add(where + ": impute must be a finite number");
            }
            if (f.min() != null && f.max() != null && f.min() > f.max()) {
                problems.add(where + ": min is above max");
            }
            if (problems.size() > before) {
                return null;
            }
            return new NumericColumn(f.name(), f.center(), f.scale(), f.min(), f.max(), f.impute(),
                    Boolean.TRUE.equals(f.missingIndicator()));
        }

        @Override
        public int width() {
            return indicator ? 2 : 1;
        }

        @Override
        public String write(Object value, float[] dst, int offset) {
            boolean missing = value == null;
            double x = missing ? impute : check(toNumber(value));
            dst[offset] = (float) ((x - center) / scale);
            if (indicator) {
                dst[offset + 1] = missing ? 1f : 0f;
            }
            return missing ? name + ":imputed" : null;
        }

        private double toNumber(Object value) {
            if (value instanceof Number n) {
                return n.doubleValue();
            }
            if (value instanceof CharSequence text) {
                String s = text.toString().trim();
                if (s.length() <= MAX_NUMBER_TEXT) {
                    try {
                        return new BigDecimal(s).doubleValue();
                    } catch (NumberFormatException e) {
                        // reported below, without echoing the text
                    }
                }
                throw new InvalidFeatureException(name, "feature '" + name + "' must be a number, got text of "
                        + s.length() + " characters that is not one; send a number" + range());
            }
            String kind = value instanceof Boolean ? "a boolean" : "a " + value.getClass().getSimpleName();
            throw new InvalidFeatureException(name, "feature '" + name + "' must be a number, got " + kind
                    + "; send a number" + range());
        }

        private double check(double x) {
            if (!Double.isFinite(x)) {
                throw new InvalidFeatureException(name, "feature '" + name + "' must be a finite number, got " + x
                        + "; send a number" + range());
            }
            if ((min != null && x < min) || (max != null && x > max)) {
                // the value itself is patient data: dead letters and logs name the feature and range only
                throw new InvalidFeatureException(name, "feature '" + name + "' is "
                        + (min != null && x < min ? "below" : "above") + " its valid range" + range()
                        + "; correct the value, or widen min/max in the model contract");
            }
            return x;
        }

        private String range() {
            if (min == null && max == null) {
                return "";
            }
            if (min == null) {
                return " (at most " + format(max) + ")";
            }
            if (max == null) {
                return " (at least " + format(min) + ")";
            }
            return " (" + format(min) + " to " + format(max) + ")";
        }

        private static String format(double x) {
            return x == Math.rint(x) && Math.abs(x) < 1e15 ? Long.toString((long) x) : Double.toString(x);
        }
    }

    private record CategoricalColumn(String name, Map<String, Integer> slots, int unknown) implements Column {

        static CategoricalColumn of(FeatureSpec.Categorical f, String where, List<String> problems) {
            if (f.vocabulary() == null || f.vocabulary().isEmpty()) {
                problems.add(where + ": a CATEGORICAL feature needs a non-empty vocabulary");
                return null;
            }
            Map<String, Integer> slots = new HashMap<>();
            for (int i = 0; i < f.vocabulary().size(); i++) {
                String v = f.vocabulary().get(i);
                if (v == null || slots.putIfAbsent(key(v), i) != null) {
                    problems.add(where + ": vocabulary values must be non-null and distinct ignoring case");
                    return null;
                }
            }
            return new CategoricalColumn(f.name(), Map.copyOf(slots), f.vocabulary().size());
        }

        private static String key(String text) {
            return text.trim().toLowerCase(Locale.ROOT);
        }

        @Override
        public int width() {
            return unknown + 1;
        }

        @Override
        public String write(Object value, float[] dst, int offset) {
            java.util.Arrays.fill(dst, offset, offset + unknown + 1, 0f);
            if (value == null) {
                dst[offset + unknown] = 1f;
                return name + ":imputed";
            }
            Integer slot = slots.get(key(value.toString()));
            if (slot == null && isWholeFloatingPoint(value)) {
                slot = slots.get(Long.toString(((Number) value).longValue()));
            }
            if (slot == null) {
                dst[offset + unknown] = 1f;
                return name + ":unknown";
            }
            dst[offset + slot] = 1f;
            return null;
        }

        private static boolean isWholeFloatingPoint(Object value) {
            if (value instanceof Double || value instanceof Float) {
                double d = ((Number) value).doubleValue();
                return d == Math.rint(d) && Math.abs(d) < 1e15;
            }
            if (value instanceof BigDecimal b) {
                return b.signum() == 0 || b.stripTrailingZeros().scale() <= 0;
            }
            return false;
        }
    }
}
