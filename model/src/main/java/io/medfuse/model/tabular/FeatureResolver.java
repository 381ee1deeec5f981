package io.medfuse.model.tabular;

import io.medfuse.model.contract.FeatureBinding;
import io.medfuse.model.contract.FeatureSource;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.SourceValues;
import java.util.ArrayList;
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
        return resolveWithFlags(values).values();
    }

    /**
     * What {@link #resolve} gives, and the flags that say where values came from: {@code <feature>:from-dicom}
     * when a DICOM tag supplied it, {@code <feature>:dicom-invalid} when a DICOM tag was there but unreadable (the
     * feature then took its next source, or is imputed).
     *
     * @param values feature name → value (every feature is a key); flags in feature order
     */
    public record Resolution(Map<String, Object> values, List<String> flags) {
    }

    /** See {@link Resolution}. */
    public Resolution resolveWithFlags(SourceValues values) {
        Objects.requireNonNull(values, "values");
        Map<String, Object> out = new HashMap<>(bindings.size() * 2);
        List<String> flags = new ArrayList<>(2);
        for (FeatureBinding b : bindings) {
            Object value = null;
            boolean invalidTag = false;
            for (FeatureSource s : b.sources()) {
                Object v = s.readFrom(values);
                if (v == SourceValues.INVALID) {
                    invalidTag |= s instanceof FeatureSource.Dicom;
                    continue;
                }
                if (!missing(v)) {
                    if (s instanceof FeatureSource.Dicom) {
                        flags.add(b.name() + ":from-dicom");
                        if (v instanceof String text && !b.dicomValues().isEmpty()) {
                            v = b.dicomValues().getOrDefault(text.trim().toUpperCase(java.util.Locale.ROOT), text);
                        }
                    }
                    value = v;
                    break;
                }
            }
            if (invalidTag) {
                flags.add(b.name() + ":dicom-invalid");
            }
            out.put(b.name(), value);
        }
        return new Resolution(out, List.copyOf(flags));
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

    /** Absent, null, blank text, or {@link SourceValues#INVALID}: the encoder imputes it. */
    public static boolean missing(Object value) {
        return value == null || value == SourceValues.INVALID
                || value instanceof CharSequence text && text.toString().isBlank();
    }
}
