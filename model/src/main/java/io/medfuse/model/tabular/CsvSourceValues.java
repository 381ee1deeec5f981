package io.medfuse.model.tabular;

import io.medfuse.model.contract.FeatureBinding;
import io.medfuse.model.contract.FeatureSource;
import io.medfuse.model.contract.SourceValues;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which CSV column stands for which {@link FeatureSource}, so that a CSV row can be resolved by
 * {@link FeatureResolver} exactly as a request is. A source is read from the column the user mapped to it
 * ({@code --source COLUMN=SOURCE}); otherwise a feature's first source is read from the column named as the
 * feature (the trainer names features after their columns). A source with no column is absent in every row.
 *
 * <p>Immutable and thread-safe.
 */
public final class CsvSourceValues {

    private final Map<FeatureSource, Integer> columns;
    private final Map<FeatureSource, String> columnNames;
    private final List<FeatureBinding> unbound;

    private CsvSourceValues(Map<FeatureSource, Integer> columns, Map<FeatureSource, String> columnNames,
                            List<FeatureBinding> unbound) {
        this.columns = Map.copyOf(columns);
        this.columnNames = java.util.Collections.unmodifiableMap(columnNames);
        this.unbound = List.copyOf(unbound);
    }

    /**
     * @param header the CSV's column names, in order
     * @param features the features to be read
     * @param explicit source → column name, as the user mapped them; a named column must exist in the header
     * @throws IllegalArgumentException when an explicitly mapped column is not in the header
     */
    public static CsvSourceValues bind(List<String> header, List<FeatureBinding> features,
                                       Map<FeatureSource, String> explicit) {
        Map<FeatureSource, Integer> columns = new HashMap<>();
        Map<FeatureSource, String> names = new LinkedHashMap<>();
        explicit.forEach((source, column) -> {
            int i = header.indexOf(column);
            if (i < 0) {
                throw new IllegalArgumentException("column '" + column + "' (mapped to " + source.id()
                        + ") is not in the header; the columns are " + header);
            }
            columns.put(source, i);
            names.put(source, column);
        });
        List<FeatureBinding> unbound = new ArrayList<>();
        for (FeatureBinding f : features) {
            FeatureSource first = f.sources().get(0);
            if (!columns.containsKey(first)) {
                int i = header.indexOf(f.name());
                if (i >= 0) {
                    columns.put(first, i);
                    names.put(first, f.name());
                }
            }
            if (f.sources().stream().noneMatch(columns::containsKey)) {
                unbound.add(f);
            }
        }
        return new CsvSourceValues(columns, names, unbound);
    }

    /** Features none of whose sources has a column: every row would impute them. */
    public List<FeatureBinding> unbound() {
        return unbound;
    }

    /** Source → the name of the column read for it. */
    public Map<FeatureSource, String> columnNames() {
        return columnNames;
    }

    /** The column read for a source, or null. */
    public String columnOf(FeatureSource source) {
        return columnNames.get(source);
    }

    /** One row's values by source: the trimmed cell text of the source's column, or null. */
    public SourceValues row(List<String> cells) {
        return new SourceValues() {
            @Override
            public Object patientAgeYears() {
                return cell(FeatureSource.PATIENT_AGE);
            }

            @Override
            public Object patientSex() {
                return cell(FeatureSource.PATIENT_SEX);
            }

            @Override
            public Object clinical(String key) {
                return cell(new FeatureSource.Clinical(key));
            }

            @Override
            public Object dicom(FeatureSource.DicomAttribute attribute) {
                return cell(new FeatureSource.Dicom(attribute));
            }

            private Object cell(FeatureSource source) {
                Integer i = columns.get(source);
                return i == null || i >= cells.size() ? null : cells.get(i).trim();
            }
        };
    }
}
