package io.medfuse.model.tabular;

import io.medfuse.model.contract.FeatureBinding;
import io.medfuse.model.contract.FeatureSource;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.SourceValues;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The one place that decides which value feeds which feature: each feature reads its {@link FeatureSource}s in
 * order and takes the first that has a value (present, not null, not blank text). The worker resolves requests
 * through it, the trainer and {@code evaluate} resolve CSV rows through it ({@link CsvSourceValues}), so serving,
 * training and evaluation cannot read a feature from different places.
 *
 * <p>Immutable and thread-safe.
 */
public final class FeatureResolver {

    private final List<FeatureBinding> bindings;

    /** @param bindings the features, in tensor order */
    public FeatureResolver(List<FeatureBinding> bindings) {
        this.bindings = List.copyOf(bindings);
    }

    /** The resolver for a contract's features. */
    public static FeatureResolver of(List<? extends FeatureSpec> features) {
        return new FeatureResolver(features.stream().map(FeatureSpec::binding).toList());
    }

    /** The features, in tensor order. */
    public List<FeatureBinding> bindings() {
        return bindings;
    }

    /**
     * @return feature name → the value of its first source that has one, or null when none has; every feature is
     *         a key. This is what {@link TabularEncoder#encode} takes.
     */
    public Map<String, Object> resolve(SourceValues values) {
        Objects.requireNonNull(values, "values");
        Map<String, Object> out = new HashMap<>(bindings.size() * 2);
        for (FeatureBinding b : bindings) {
            out.put(b.name(), first(b, values));
        }
        return out;
    }

    /** Which source supplied a feature's value, or null when none did (the value is then imputed). */
    public static FeatureSource origin(FeatureBinding binding, SourceValues values) {
        for (FeatureSource s : binding.sources()) {
            if (!missing(s.readFrom(values))) {
                return s;
            }
        }
        return null;
    }

    private static Object first(FeatureBinding b, SourceValues values) {
        for (FeatureSource s : b.sources()) {
            Object v = s.readFrom(values);
            if (!missing(v)) {
                return v;
            }
        }
        return null;
    }

    /** Absent, null, or blank text: the encoder imputes it. */
    public static boolean missing(Object value) {
        return value == null || value instanceof CharSequence text && text.toString().isBlank();
    }
}
