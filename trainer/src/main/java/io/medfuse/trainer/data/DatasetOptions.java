package io.medfuse.trainer.data;

import io.medfuse.model.contract.FeatureBinding;
import io.medfuse.model.contract.FeatureSource;
import io.medfuse.model.contract.FeatureSpec;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Which CSV columns mean what.
 *
 * @param imageColumn column with the image file name, relative to the images folder (an extension-less name is
 *                    tried with .png, .jpg and .jpeg)
 * @param labelColumn column with the class label
 * @param features the tabular features in tensor order (numeric before categorical when the trainer makes them),
 *                 each with the sources it reads; rows are resolved through
 *                 {@link io.medfuse.model.tabular.FeatureResolver}, as the worker resolves requests
 * @param columns source → the CSV column that stands for it; a feature's first source not named here is read from
 *                the column named as the feature ({@link io.medfuse.model.tabular.CsvSourceValues})
 * @param groupColumn column whose rows must stay on one side of the split (patient or lesion id), or null: each
 *                    row is its own group
 * @param labels the allowed labels in output order, or null: the sorted labels found in the data
 * @param allowExclusions false: any bad row is an error; true: bad rows are left out and counted by reason
 */
public record DatasetOptions(String imageColumn, String labelColumn, List<FeatureBinding> features,
                             Map<FeatureSource, String> columns, String groupColumn, List<String> labels,
                             boolean allowExclusions) {

    public DatasetOptions {
        Objects.requireNonNull(imageColumn, "imageColumn");
        Objects.requireNonNull(labelColumn, "labelColumn");
        features = features == null ? List.of() : List.copyOf(features);
        columns = columns == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(columns));
        labels = labels == null ? null : List.copyOf(labels);
    }

    /** Feature columns read from the sources earlier versions used for their names (see {@link #forColumns}). */
    public DatasetOptions(String imageColumn, String labelColumn, List<String> numeric, List<String> categorical,
                          String groupColumn, List<String> labels, boolean allowExclusions) {
        this(imageColumn, labelColumn, bindings(numeric, categorical, Map.of()), columnsOf(bindings(numeric,
                categorical, Map.of())), groupColumn, labels, allowExclusions);
    }

    /**
     * The trainer's options: each numeric and categorical column becomes a feature named after it, read from the
     * source {@code sources} maps it to or, when unmapped, the source earlier versions used for that name
     * ({@code age} → patient.ageYears, {@code sex} → patient.sex, other → clinical.&lt;column&gt;).
     *
     * @param sources column → source, from {@code --source COLUMN=SOURCE}
     * @throws IllegalArgumentException when a mapped column is not a feature column, or two columns would feed the
     *                                  same source
     */
    public static DatasetOptions forColumns(String imageColumn, String labelColumn, List<String> numeric,
                                            List<String> categorical, Map<String, FeatureSource> sources,
                                            String groupColumn, List<String> labels, boolean allowExclusions) {
        List<String> all = new ArrayList<>();
        all.addAll(numeric == null ? List.of() : numeric);
        all.addAll(categorical == null ? List.of() : categorical);
        for (String column : sources.keySet()) {
            if (!all.contains(column)) {
                throw new IllegalArgumentException("--source " + column + "=" + sources.get(column).id() + ": '"
                        + column + "' is not one of the --numeric or --categorical columns " + all);
            }
        }
        List<FeatureBinding> features = bindings(numeric, categorical, sources);
        return new DatasetOptions(imageColumn, labelColumn, features, columnsOf(features), groupColumn, labels,
                allowExclusions);
    }

    private static List<FeatureBinding> bindings(List<String> numeric, List<String> categorical,
                                                 Map<String, FeatureSource> sources) {
        List<FeatureBinding> out = new ArrayList<>();
        for (String c : numeric == null ? List.<String>of() : numeric) {
            out.add(new FeatureBinding(c, FeatureSpec.Kind.NUMERIC,
                    FeatureSource.withDicomFallbacks(List.of(sources.getOrDefault(c, FeatureSource.defaultFor(c))))));
        }
        for (String c : categorical == null ? List.<String>of() : categorical) {
            out.add(new FeatureBinding(c, FeatureSpec.Kind.CATEGORICAL,
                    FeatureSource.withDicomFallbacks(List.of(sources.getOrDefault(c, FeatureSource.defaultFor(c))))));
        }
        return out;
    }

    /** Each feature's (single) source read from the column named as the feature. */
    private static Map<FeatureSource, String> columnsOf(List<FeatureBinding> features) {
        Map<FeatureSource, String> columns = new HashMap<>();
        for (FeatureBinding f : features) {
            String before = columns.put(f.sources().get(0), f.name());
            if (before != null) {
                throw new IllegalArgumentException("columns '" + before + "' and '" + f.name() + "' would both feed "
                        + f.sources().get(0).id() + "; map one of them elsewhere with --source COLUMN=SOURCE");
            }
        }
        return columns;
    }

    /** Names of the numeric features, in order. */
    public List<String> numeric() {
        return names(FeatureSpec.Kind.NUMERIC);
    }

    /** Names of the categorical features, in order. */
    public List<String> categorical() {
        return names(FeatureSpec.Kind.CATEGORICAL);
    }

    /** All feature names, in tensor order. */
    public List<String> featureColumns() {
        return features.stream().map(FeatureBinding::name).toList();
    }

    private List<String> names(FeatureSpec.Kind kind) {
        return features.stream().filter(f -> f.kind() == kind).map(FeatureBinding::name).toList();
    }
}
