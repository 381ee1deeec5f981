package io.medfuse.trainer.data;

import io.medfuse.model.contract.ClassLabel;
import io.medfuse.model.contract.FeatureBinding;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.trainer.data.DatasetException.Reason;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Derives the contract's tabular features and label frequencies from the <em>training</em> split only, so nothing
 * about the validation rows leaks into the model:
 * <ul>
 *   <li>numeric: center = mean, scale = population standard deviation (1 when it is 0), impute = mean, valid range
 *       0..120 for an age (read from patient.ageYears) and open otherwise, a missing-value indicator column when training had missing
 *       values;</li>
 *   <li>categorical: the values seen in training (trimmed, first spelling kept, case-insensitive, sorted); other
 *       values and missing ones take the encoder's unknown slot.</li>
 * </ul>
 * Each feature keeps the sources the options gave it, so the contract says where serving reads it.
 */
public final class FeatureFitter {

    private FeatureFitter() {
    }

    /**
     * @throws DatasetException (UNUSABLE) when a numeric column has no value or a categorical column no value in the
     *                          training rows, or there are no feature columns at all
     */
    public static List<FeatureSpec> fit(Dataset dataset, List<Sample> training) {
        DatasetOptions o = dataset.options();
        if (o.featureColumns().isEmpty()) {
            throw new DatasetException(Reason.UNUSABLE, dataset.csv(), 0, null, "no tabular feature columns; name "
                    + "at least one with --numeric or --categorical (the model has a tabular input)");
        }
        List<FeatureSpec> specs = new ArrayList<>();
        for (FeatureBinding f : o.features()) {
            specs.add(switch (f.kind()) {
                case NUMERIC -> numeric(dataset, training, f);
                case CATEGORICAL -> categorical(dataset, training, f);
            });
        }
        return specs;
    }

    private static FeatureSpec numeric(Dataset dataset, List<Sample> training, FeatureBinding f) {
        String name = f.name();
        double sum = 0;
        double sq = 0;
        int count = 0;
        boolean missing = false;
        for (Sample s : training) {
            Object v = s.features().get(name);
            if (v == null) {
                missing = true;
                continue;
            }
            double x = ((Number) v).doubleValue();
            sum += x;
            sq += x * x;
            count++;
        }
        if (count == 0) {
            throw new DatasetException(Reason.UNUSABLE, dataset.csv(), 0, name,
                    "no training row has a value in this numeric column");
        }
        double mean = sum / count;
        double std = Math.sqrt(Math.max(0, sq / count - mean * mean));
        boolean age = DatasetReader.isAge(f);
        return new FeatureSpec.Numeric(name, f.sources(), mean, std > 1e-12 ? std : 1.0,
                age ? DatasetReader.AGE_MIN : null, age ? DatasetReader.AGE_MAX : null, mean, missing);
    }

    private static FeatureSpec categorical(Dataset dataset, List<Sample> training, FeatureBinding f) {
        String name = f.name();
        Map<String, String> seen = new TreeMap<>();
        for (Sample s : training) {
            Object v = s.features().get(name);
            if (v != null) {
                String text = v.toString().trim();
                seen.putIfAbsent(text.toLowerCase(Locale.ROOT), text);
            }
        }
        if (seen.isEmpty()) {
            throw new DatasetException(Reason.UNUSABLE, dataset.csv(), 0, name,
                    "no training row has a value in this categorical column");
        }
        return new FeatureSpec.Categorical(name, f.sources(), new ArrayList<>(seen.values()));
    }

    /** Labels in output order with their share of the training rows. */
    public static List<ClassLabel> labels(Dataset dataset, List<Sample> training) {
        List<ClassLabel> out = new ArrayList<>();
        for (String label : dataset.labels()) {
            long n = training.stream().filter(s -> s.label().equals(label)).count();
            out.add(new ClassLabel(label, training.isEmpty() ? null : (double) n / training.size()));
        }
        return out;
    }
}
