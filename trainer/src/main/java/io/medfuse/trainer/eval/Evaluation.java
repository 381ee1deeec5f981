package io.medfuse.trainer.eval;

import io.medfuse.model.contract.FeatureSource;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.engine.OnnxClassifier;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.model.image.ImagePreprocessor;
import io.medfuse.model.tabular.TabularEncoder;
import io.medfuse.trainer.data.CsvTable;
import io.medfuse.trainer.data.Dataset;
import io.medfuse.trainer.data.DatasetOptions;
import io.medfuse.trainer.data.DatasetReader;
import io.medfuse.trainer.data.Sample;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Scores any contract-carrying ONNX model on a folder of images and a CSV through the serving path: the contract's
 * {@link ImagePreprocessor} and {@link TabularEncoder}, and {@link OnnxClassifier} (ONNX Runtime). Metrics overall,
 * by sex and by age band ({@link #ageBand}).
 */
public final class Evaluation {

    private static final float[] NO_PIXELS = new float[0];
    private static final int BATCH = 32;

    /** Subgroups with fewer rows are reported with their n and marked too small to judge, without metrics. */
    public static final int MIN_SUBGROUP = 30;

    private Evaluation() {
    }

    /**
     * @param labelColumn CSV column with the true label (values must be the contract's labels)
     * @param sexColumn column for the by-sex breakdown (skipped when the CSV has none)
     * @param ageColumn column for the by-age-band breakdown (skipped when the CSV has none)
     * @param columns source → the CSV column that stands for it ({@code --source COLUMN=SOURCE}); a feature's first
     *                source not named here is read from the column named as the feature
     * @param minSubgroup subgroups with fewer rows are marked too small to judge ({@link #MIN_SUBGROUP} by default)
     */
    public record Options(Path images, Path csv, String labelColumn, String imageColumn, String sexColumn,
                          String ageColumn, boolean allowExclusions, Map<FeatureSource, String> columns,
                          int minSubgroup) {

        public Options {
            columns = columns == null ? Map.of() : Map.copyOf(columns);
            if (minSubgroup < 1) {
                throw new IllegalArgumentException("minSubgroup must be >= 1, got " + minSubgroup);
            }
        }

        /** With the default minimum subgroup size. */
        public Options(Path images, Path csv, String labelColumn, String imageColumn, String sexColumn,
                       String ageColumn, boolean allowExclusions, Map<FeatureSource, String> columns) {
            this(images, csv, labelColumn, imageColumn, sexColumn, ageColumn, allowExclusions, columns,
                    MIN_SUBGROUP);
        }

        /** Every feature read from the column named as the feature. */
        public Options(Path images, Path csv, String labelColumn, String imageColumn, String sexColumn,
                       String ageColumn, boolean allowExclusions) {
            this(images, csv, labelColumn, imageColumn, sexColumn, ageColumn, allowExclusions, Map.of());
        }
    }

    /**
     * Everything measured; {@link #json()} is what metrics.json holds.
     *
     * @param images each row's image (the CSV's image column), in the order of {@code probabilities}
     * @param lines each row's line in the CSV
     * @param sha256 the model file's SHA-256
     * @param minSubgroup subgroups below this size are too small to judge
     */
    public record Result(ModelContract contract, List<String> labels, float[][] probabilities, int[] truth,
                         ClassificationMetrics overall, Map<String, ClassificationMetrics> bySex,
                         Map<String, ClassificationMetrics> byAgeBand, Map<String, Object> json,
                         List<String> images, List<Integer> lines, String sha256, int minSubgroup) {

        /** Whether a subgroup of {@code n} rows is too small to judge. */
        public boolean tooSmall(int n) {
            return n < minSubgroup;
        }
    }

    /**
     * Whether the model was trained on the image alone ({@code --inputs image}: its tabular weights are zero, so the
     * clinical columns are not read).
     */
    public static boolean imageOnly(ModelContract c) {
        return "image".equals(c.provenance().get("inputs"));
    }

    /**
     * @throws io.medfuse.trainer.data.DatasetException naming file, line and column on bad data
     * @throws io.medfuse.model.ModelException when the model cannot be loaded or run
     */
    public static Result run(Path model, Options o, EngineOptions engine) {
        return run(model, o, engine, line -> { });
    }

    /** As {@link #run(Path, Options, EngineOptions)}, reporting progress lines (rate, time left) to {@code progress}. */
    public static Result run(Path model, Options o, EngineOptions engine,
                             java.util.function.Consumer<String> progress) {
        try (OnnxClassifier ort = OnnxClassifier.load(model, engine)) {
            ModelContract c = ort.contract();
            // the contract's features with their sources: a CSV row resolves as a request would; an image-only
            // model reads none (they are imputed: its tabular weights are zero)
            boolean imageOnly = imageOnly(c);
            DatasetOptions options = new DatasetOptions(o.imageColumn(), o.labelColumn(),
                    imageOnly ? List.of() : c.tabular().stream().map(FeatureSpec::binding).toList(),
                    imageOnly ? Map.of() : o.columns(), null, c.labelNames(), o.allowExclusions());
            ImagePreprocessor pre = new ImagePreprocessor(c.image(), ImageLimits.defaults());
            // read and check every row and image first, keeping no pixels (224x224 images would not fit in memory)
            Dataset data = new DatasetReader(pre, pixels -> NO_PIXELS).reportingTo(progress)
                    .read(o.images(), o.csv(), options);
            DatasetReader again = new DatasetReader(pre);
            TabularEncoder encoder = new TabularEncoder(c.tabular());
            int n = data.samples().size();
            int size = c.image().tensorSize();
            int width = encoder.width();
            float[][] probabilities = new float[n][];
            int[] truth = new int[n];
            io.medfuse.trainer.data.ProgressLine scoring = new io.medfuse.trainer.data.ProgressLine(
                    "scoring " + c.name(), n, progress);
            for (int start = 0; start < n; start += BATCH) {
                int b = Math.min(BATCH, n - start);
                float[] images = new float[b * size];
                float[] tabular = new float[b * width];
                for (int i = 0; i < b; i++) {
                    Sample s = data.samples().get(start + i);
                    System.arraycopy(again.preprocessed(data, s), 0, images, i * size, size);
                    encoder.encodeInto(s.features(), tabular, i * width);
                    truth[start + i] = c.labelNames().indexOf(s.label());
                    scoring.step();
                }
                // what the network says; the contract's calibration is applied below, exactly as the engine does
                float[][] p = ort.predictUncalibrated(images, tabular, b);
                System.arraycopy(p, 0, probabilities, start, b);
            }
            scoring.done();
            float[][] raw = probabilities;
            float[][] calibrated = c.calibration() == null ? raw
                    : TemperatureScaling.scaled(raw, c.calibration().temperature());
            Result r = summarise(model, o, c, data, calibrated, truth, ort.sha256());
            r.json().put("inputs", imageOnly ? "image (the clinical columns are not read)" : "fused or as trained");
            if (c.calibration() != null) {
                Map<String, Object> cal = new LinkedHashMap<>();
                cal.put("method", c.calibration().method());
                cal.put("temperature", c.calibration().temperature());
                cal.put("eceUncalibrated", ClassificationMetrics.of(raw, truth, c.labels().size()).ece());
                cal.put("eceCalibrated", r.overall().ece());
                cal.put("referralThreshold", c.calibration().referralThreshold());
                cal.put("fitOnValidation", c.calibration().fit());
                r.json().put("calibration", cal);
            }
            r.json().put("referral", referralTable(calibrated, truth, c.labels().size(),
                    c.calibration() == null ? null : c.calibration().referralThreshold()));
            return r;
        }
    }

    private static Result summarise(Path model, Options o, ModelContract c, Dataset data, float[][] probabilities,
                                    int[] truth, String sha256) {
        List<String> labels = c.labelNames();
        ClassificationMetrics overall = ClassificationMetrics.of(probabilities, truth, labels.size());
        CsvTable table = CsvTable.read(o.csv());
        Map<Integer, List<String>> byLine = new HashMap<>();
        for (int i = 0; i < table.rows().size(); i++) {
            byLine.put(table.lines().get(i), table.rows().get(i));
        }
        int sexCol = breakdownColumn(table, o.sexColumn(), o.columns().get(FeatureSource.PATIENT_SEX));
        int ageCol = breakdownColumn(table, o.ageColumn(), o.columns().get(FeatureSource.PATIENT_AGE));
        Map<String, ClassificationMetrics> bySex = sexCol < 0 ? Map.of()
                : subgroups(data, probabilities, truth, labels.size(), s -> {
                    String v = byLine.get(s.line()).get(sexCol).trim().toLowerCase(Locale.ROOT);
                    return v.isEmpty() ? "unknown" : v;
                });
        Map<String, ClassificationMetrics> byAge = ageCol < 0 ? Map.of()
                : subgroups(data, probabilities, truth, labels.size(),
                        s -> ageBand(byLine.get(s.line()).get(ageCol)));
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("model", model.toString());
        json.put("name", c.name());
        json.put("version", c.version());
        json.put("images", o.images().toString());
        json.put("metadata", o.csv().toString());
        json.put("rows", data.samples().size());
        json.put("excluded", data.excluded());
        json.put("labels", labels);
        json.put("eceBins", ClassificationMetrics.ECE_BINS);
        json.put("sha256", sha256);
        json.put("overall", overall.toMap(labels));
        json.put("minSubgroup", o.minSubgroup());
        json.put("bySex", group(bySex, labels, o.minSubgroup()));
        json.put("byAgeBand", group(byAge, labels, o.minSubgroup()));
        List<String> images = data.samples().stream().map(Sample::image).toList();
        List<Integer> lines = data.samples().stream().map(Sample::line).toList();
        return new Result(c, labels, probabilities, truth, overall, bySex, byAge, json, images, lines, sha256,
                o.minSubgroup());
    }

    /** The thresholds {@link #referralTable} lists (besides the contract's own). */
    static final double[] REFERRAL_THRESHOLDS = {0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95};

    /**
     * For each threshold: the share of rows whose top probability is below it (referred to a clinician) and the
     * accuracy and balanced accuracy of the rows kept, so a user can choose the threshold.
     *
     * @param own the contract's threshold, listed too when it is not one of {@link #REFERRAL_THRESHOLDS}
     */
    public static List<Map<String, Object>> referralTable(float[][] probabilities, int[] truth, int classes,
                                                         Double own) {
        java.util.TreeSet<Double> thresholds = new java.util.TreeSet<>();
        for (double t : REFERRAL_THRESHOLDS) {
            thresholds.add(t);
        }
        if (own != null) {
            thresholds.add(own);
        }
        List<Map<String, Object>> rows = new java.util.ArrayList<>();
        for (double t : thresholds) {
            List<float[]> keptP = new java.util.ArrayList<>();
            List<Integer> keptT = new java.util.ArrayList<>();
            for (int i = 0; i < truth.length; i++) {
                float top = 0;
                for (float v : probabilities[i]) {
                    top = Math.max(top, v);
                }
                if (top >= (float) t) { // in float, as the worker compares
                    keptP.add(probabilities[i]);
                    keptT.add(truth[i]);
                }
            }
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("threshold", t);
            row.put("referredShare", truth.length == 0 ? 0.0 : 1.0 - keptT.size() / (double) truth.length);
            row.put("kept", keptT.size());
            if (keptT.isEmpty()) {
                row.put("accuracyOfRest", null);
                row.put("balancedAccuracyOfRest", null);
            } else {
                ClassificationMetrics m = ClassificationMetrics.of(keptP.toArray(float[][]::new),
                        keptT.stream().mapToInt(Integer::intValue).toArray(), classes);
                row.put("accuracyOfRest", m.accuracy());
                row.put("balancedAccuracyOfRest", Double.isNaN(m.balancedAccuracy()) ? null
                        : m.balancedAccuracy());
            }
            row.put("contractThreshold", own != null && own == t);
            rows.add(row);
        }
        return rows;
    }

    /** The named column, else the column mapped to the patient field, else -1 (no breakdown). */
    private static int breakdownColumn(CsvTable table, String named, String mapped) {
        int i = table.header().indexOf(named);
        return i >= 0 || mapped == null ? i : table.header().indexOf(mapped);
    }

    /** "&lt;40", "40-59", "60-79", "80+" or "unknown" (empty or not a number). */
    public static String ageBand(String cell) {
        double age;
        try {
            age = Double.parseDouble(cell.trim());
        } catch (NumberFormatException e) {
            return "unknown";
        }
        if (!Double.isFinite(age)) {
            return "unknown";
        }
        return age < 40 ? "<40" : age < 60 ? "40-59" : age < 80 ? "60-79" : "80+";
    }

    private static Map<String, ClassificationMetrics> subgroups(Dataset data, float[][] p, int[] truth, int classes,
                                                                java.util.function.Function<Sample, String> key) {
        // age bands in age order, "unknown" last; other keys alphabetically
        List<String> order = List.of("<40", "40-59", "60-79", "80+", "unknown");
        Map<String, List<Integer>> rows = new TreeMap<>((a, b) -> {
            int ia = order.indexOf(a);
            int ib = order.indexOf(b);
            return ia >= 0 && ib >= 0 ? Integer.compare(ia, ib) : a.compareTo(b);
        });
        for (int i = 0; i < truth.length; i++) {
            rows.computeIfAbsent(key.apply(data.samples().get(i)), k -> new ArrayList<>()).add(i);
        }
        Map<String, ClassificationMetrics> out = new LinkedHashMap<>();
        rows.forEach((k, idx) -> {
            float[][] sp = new float[idx.size()][];
            int[] st = new int[idx.size()];
            for (int j = 0; j < idx.size(); j++) {
                sp[j] = p[idx.get(j)];
                st[j] = truth[idx.get(j)];
            }
            out.put(k, ClassificationMetrics.of(sp, st, classes));
        });
        return out;
    }

    private static Map<String, Object> group(Map<String, ClassificationMetrics> g, List<String> labels, int min) {
        Map<String, Object> out = new LinkedHashMap<>();
        g.forEach((k, m) -> {
            if (m.n() < min) {
                // a balanced accuracy of 1.000 over 4 patients is not a finding: n only
                Map<String, Object> small = new LinkedHashMap<>();
                small.put("n", m.n());
                small.put("tooSmallToJudge", true);
                out.put(k, small);
                return;
            }
            Map<String, Object> full = m.toMap(labels);
            Map<String, Object> brief = new LinkedHashMap<>();
            for (String key : List.of("n", "accuracy", "balancedAccuracy", "macroAuc", "ece", "perClass")) {
                brief.put(key, full.get(key));
            }
            out.put(k, brief);
        });
        return out;
    }
}
