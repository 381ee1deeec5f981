package io.medfuse.model.contract;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * One tabular feature, in tensor order: its name, where its value comes from ({@link #sources()}, first present
 * wins), and how it is encoded. One record per kind; {@link Kind} names the kinds, and code outside this type that
 * depends on the kind switches over {@link #kind()} with a switch expression (no default), so adding a kind makes
 * the compiler name every such place. (The project targets Java 17, which has no pattern switch over sealed types.)
 *
 * <p>In the contract's JSON a feature is an object with {@code "type": "NUMERIC"} or {@code "CATEGORICAL"}, its
 * fields, and {@code "sources"}: a list of {@link FeatureSource} texts. A contract written before sources existed
 * has none; its features read the source earlier versions used ({@link FeatureSource#defaultFor}).
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "type")
@JsonSubTypes({
        @JsonSubTypes.Type(value = FeatureSpec.Numeric.class, name = "NUMERIC"),
        @JsonSubTypes.Type(value = FeatureSpec.Categorical.class, name = "CATEGORICAL")})
public sealed interface FeatureSpec permits FeatureSpec.Numeric, FeatureSpec.Categorical {

    /** The kinds of tabular feature. */
    enum Kind { NUMERIC, CATEGORICAL }

    /** Feature name, unique within the contract; flags and messages use it. */
    String name();

    /** Where the value is read from, in order of precedence: the first source that has a value supplies it. */
    List<FeatureSource> sources();

    /** The kind of this feature. */
    @JsonIgnore
    Kind kind();

    /** How many tensor columns this feature occupies. */
    @JsonIgnore
    int width();

    /** Adds the problems of this kind's own fields (the name and sources are checked by {@link #validate}). */
    void validateFields(String where, List<String> problems);

    /** The feature's name, kind and sources, without what training fitted. */
    @JsonIgnore
    default FeatureBinding binding() {
        return new FeatureBinding(name(), kind(), sources());
    }

    /**
     * NUMERIC: encoded as {@code (x - center) / scale}; a value outside [{@code min}, {@code max}] (either may be
     * null = unbounded) or NaN is invalid (the request becomes a dead letter); a missing value is replaced by
     * {@code impute} (raw units) and flagged; with {@code missingIndicator} an extra column follows that is 1 when the
     * value was missing, else 0.
     *
     * <p>The numbers are boxed because a contract read from JSON may lack them; {@link ModelContract#validate()}
     * reports every one that is missing.
     */
    @JsonPropertyOrder({"name", "sources", "center", "scale", "min", "max", "impute", "missingIndicator"})
    record Numeric(String name, List<FeatureSource> sources, Double center, Double scale, Double min, Double max,
                   Double impute, Boolean missingIndicator) implements FeatureSpec {

        public Numeric {
            sources = sourcesOrDefault(name, sources);
        }

        @Override
        public Kind kind() {
            return Kind.NUMERIC;
        }

        @Override
        public int width() {
            return Boolean.TRUE.equals(missingIndicator) ? 2 : 1;
        }

        @Override
        public void validateFields(String where, List<String> problems) {
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
        }
    }

    /**
     * CATEGORICAL: one-hot over {@code vocabulary} plus one final "unknown" slot; a value not in the vocabulary
     * (compared case-insensitively after trimming) or a missing value sets the unknown slot and is flagged.
     */
    @JsonPropertyOrder({"name", "sources", "vocabulary", "dicomValues"})
    record Categorical(String name, List<FeatureSource> sources, List<String> vocabulary,
                       @com.fasterxml.jackson.annotation.JsonInclude(
                               com.fasterxml.jackson.annotation.JsonInclude.Include.NON_EMPTY)
                       Map<String, String> dicomValues) implements FeatureSpec {

        /**
         * @param dicomValues how a DICOM source's codes read in the vocabulary (e.g. {@code CHEST → chest}); keys
         *                    compared in upper case; empty: codes are used as they are
         */
        public Categorical {
            sources = sourcesOrDefault(name, sources);
            vocabulary = vocabulary == null ? null : java.util.Collections.unmodifiableList(
                    new java.util.ArrayList<>(vocabulary));
            java.util.Map<String, String> upper = new java.util.LinkedHashMap<>();
            if (dicomValues != null) {
                dicomValues.forEach((k, v) -> upper.put(k == null ? null : k.trim().toUpperCase(Locale.ROOT), v));
            }
            dicomValues = java.util.Collections.unmodifiableMap(upper);
        }

        public Categorical(String name, List<FeatureSource> sources, List<String> vocabulary) {
            this(name, sources, vocabulary, null);
        }

        @Override
        @JsonIgnore
        public FeatureBinding binding() {
            return new FeatureBinding(name, kind(), sources, dicomValues);
        }

        @Override
        public Kind kind() {
            return Kind.CATEGORICAL;
        }

        @Override
        public int width() {
            return vocabulary == null ? 1 : vocabulary.size() + 1;
        }

        @Override
        public void validateFields(String where, List<String> problems) {
            if (vocabulary == null || vocabulary.isEmpty()) {
                problems.add(where + ": a CATEGORICAL feature needs a non-empty vocabulary");
            } else if (vocabulary.stream().anyMatch(Objects::isNull) || vocabulary.stream()
                    .map(v -> v.trim().toLowerCase(Locale.ROOT)).distinct().count() != vocabulary.size()) {
                problems.add(where + ": vocabulary values must be non-null and distinct ignoring case, got "
                        + vocabulary);
            } else {
                dicomValues.forEach((code, value) -> {
                    if (code == null || code.isBlank() || value == null || vocabulary.stream()
                            .noneMatch(v -> v.trim().equalsIgnoreCase(value.trim()))) {
                        problems.add(where + ": dicomValues maps '" + code + "' to '" + value
                                + "', which is not in the vocabulary");
                    }
                });
            }
        }
    }

    /** A numeric feature read from the source earlier versions used for its name. */
    static Numeric numeric(String name, double center, double scale, Double min, Double max, double impute,
                           boolean missingIndicator) {
        return new Numeric(name, null, center, scale, min, max, impute, missingIndicator);
    }

    /** A categorical feature, with an implicit final "unknown" slot, read from the source earlier versions used. */
    static Categorical categorical(String name, List<String> vocabulary) {
        return new Categorical(name, null, vocabulary);
    }

    /** This feature read from other sources. */
    default FeatureSpec withSources(List<FeatureSource> sources) {
        Objects.requireNonNull(sources, "sources");
        return switch (kind()) {
            case NUMERIC -> {
                Numeric n = (Numeric) this;
                yield new Numeric(n.name(), sources, n.center(), n.scale(), n.min(), n.max(), n.impute(),
                        n.missingIndicator());
            }
            case CATEGORICAL -> new Categorical(name(), sources, ((Categorical) this).vocabulary(),
                    ((Categorical) this).dicomValues());
        };
    }

    private static List<FeatureSource> sourcesOrDefault(String name, List<FeatureSource> sources) {
        if (sources != null) {
            return java.util.Collections.unmodifiableList(new java.util.ArrayList<>(sources));
        }
        return name == null || name.isEmpty() ? List.of() : FeatureSource.defaultsFor(name);
    }

    /** Adds every problem of the feature at {@code index} to {@code problems}. */
    static void validate(FeatureSpec feature, int index, List<String> problems) {
        String name = feature.name();
        String where = "tabular[" + index + "]" + (name == null ? "" : " (" + name + ")");
        if (name == null || name.isBlank()) {
            problems.add(where + ": name is missing");
        }
        validateSources(feature, where, problems);
        feature.validateFields(where, problems);
    }

    private static void validateSources(FeatureSpec feature, String where, List<String> problems) {
        List<FeatureSource> sources = feature.sources();
        if (sources.isEmpty()) {
            problems.add(where + ": sources is empty; name at least one (" + FeatureSource.FORMS + ")");
            return;
        }
        Set<FeatureSource> seen = new HashSet<>();
        for (FeatureSource s : sources) {
            if (s == null) {
                problems.add(where + ": a source is null");
                continue;
            }
            if (!seen.add(s)) {
                problems.add(where + ": source " + s.id() + " is listed twice");
            }
            FeatureSource.ValueKind supplies = s.valueKind();
            if (feature.kind() == Kind.NUMERIC && supplies == FeatureSource.ValueKind.TEXT) {
                problems.add(where + ": a NUMERIC feature cannot read " + s.id() + ", which is text");
            }
            if (feature.kind() == Kind.CATEGORICAL && supplies == FeatureSource.ValueKind.NUMBER) {
                problems.add(where + ": a CATEGORICAL feature cannot read " + s.id() + ", which is a number");
            }
        }
    }
}
