package io.medfuse.model.contract;

import java.util.List;
import java.util.Objects;

/**
 * A feature's name, kind and sources: what is known before training fits its encoding. The trainer resolves CSV
 * rows through bindings before any {@link FeatureSpec} exists; serving and evaluation use the contract's.
 *
 * @param name feature name
 * @param kind how it will be encoded
 * @param sources where its value is read from, first present wins; at least one
 * @param dicomValues for a CATEGORICAL feature, how a DICOM source's codes (upper case) read in its vocabulary
 */
public record FeatureBinding(String name, FeatureSpec.Kind kind, List<FeatureSource> sources,
                             java.util.Map<String, String> dicomValues) {

    public FeatureBinding {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(kind, "kind");
        sources = List.copyOf(sources);
        if (sources.isEmpty()) {
            throw new IllegalArgumentException("feature '" + name + "' needs at least one source");
        }
        dicomValues = dicomValues == null ? java.util.Map.of() : java.util.Map.copyOf(dicomValues);
    }

    public FeatureBinding(String name, FeatureSpec.Kind kind, List<FeatureSource> sources) {
        this(name, kind, sources, null);
    }
}
