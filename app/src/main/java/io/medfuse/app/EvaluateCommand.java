package io.medfuse.app;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import io.medfuse.model.engine.EngineOptions;
import io.medfuse.trainer.eval.ClassificationMetrics;
import io.medfuse.trainer.eval.Evaluation;
import io.medfuse.trainer.eval.EvaluationReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code medfuse evaluate}: scores a contract-carrying ONNX model on labelled data through the serving path. */
@Command(name = "evaluate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Scores any ONNX model that carries a medfuse contract on a folder of images and a CSV, through the "
                    + "same preprocessing, tabular encoding and ONNX Runtime path the worker uses. The CSV needs the "
                    + "image and label columns and, for each contract feature, the column named as the feature or the "
                    + "one --source maps to the feature's source; rows are read through the sources the worker uses.",
            "Reports accuracy, balanced accuracy, macro one-vs-rest ROC AUC, per-class precision/recall/F1, the "
                    + "confusion matrix and expected calibration error (15 bins), overall, by sex and by age band "
                    + "(<40, 40-59, 60-79, 80+); a subgroup smaller than --min-subgroup rows is listed with its n "
                    + "and marked too small to judge. Writes DIR/metrics.json, DIR/predictions.csv (every image: "
                    + "label, prediction, each class's probability, the model's identity) and DIR/report.html with "
                    + "PNG charts. A model trained with --inputs image reads no clinical columns.",
            "",
            "Example:",
            "  medfuse evaluate --model model.onnx --images imgs --metadata test.csv --label dx --out eval/",
            ""
        })
final class EvaluateCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, paramLabel = "m.onnx", description = "The model to score.")
    Path model;

    @Option(names = "--images", required = true, paramLabel = "DIR", description = "Folder with the image files.")
    Path images;

    @Option(names = "--metadata", required = true, paramLabel = "FILE.csv",
            description = "CSV with a header row: one row per image.")
    Path metadata;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Folder for metrics.json, "
            + "report.html and the charts.")
    Path out;

    @Option(names = "--label", defaultValue = "label", paramLabel = "COLUMN",
            description = "Column with the true label (default: ${DEFAULT-VALUE}).")
    String label;

    @Option(names = "--image-column", defaultValue = "image", paramLabel = "COLUMN",
            description = "Column with the image file name (default: ${DEFAULT-VALUE}).")
    String imageColumn;

    @Option(names = "--sex-column", defaultValue = "sex", paramLabel = "COLUMN",
            description = "Column for the by-sex breakdown (default: ${DEFAULT-VALUE}; skipped when absent).")
    String sexColumn;

    @Option(names = "--age-column", defaultValue = "age", paramLabel = "COLUMN",
            description = "Column for the by-age-band breakdown (default: ${DEFAULT-VALUE}; skipped when absent).")
    String ageColumn;

    @Option(names = "--source", paramLabel = "COLUMN=SOURCE",
            description = "Read the feature whose source is SOURCE (patient.ageYears, patient.sex, clinical.<key>; "
                    + "'medfuse contract' lists each feature's) from this column. Default: a feature's first source "
                    + "is read from the column named as the feature. Repeatable.")
    java.util.Map<String, String> sources = new java.util.LinkedHashMap<>();

    @Option(names = "--training", paramLabel = "training.json",
            description = "A training.json from 'medfuse train --report' to draw the training curves.")
    Path training;

    @Option(names = "--min-subgroup", defaultValue = "" + Evaluation.MIN_SUBGROUP, paramLabel = "N",
            description = "Subgroups (by sex, by age band) with fewer rows are not scored (default: "
                    + "${DEFAULT-VALUE}).")
    int minSubgroup;

    @Option(names = "--allow-exclusions",
            description = "Leave bad rows out (counted by reason) instead of stopping at the first one.")
    boolean allowExclusions;

    private static String fmt(Object v) {
        return v == null ? "-" : String.format(Locale.ROOT, "%.3f", ((Number) v).doubleValue());
    }

    @Override
    public Integer call() {
        for (Path p : List.of(model, metadata)) {
            if (!Files.isRegularFile(p)) {
                throw new UserInputException(p + ": no such file");
            }
        }
        if (!Files.isDirectory(images)) {
            throw new UserInputException("--images " + images + ": no such folder");
        }
        if (training != null && !Files.isRegularFile(training)) {
            throw new UserInputException("--training " + training + ": no such file");
        }
        if (minSubgroup < 1) {
            throw new UserInputException("--min-subgroup must be >= 1, got " + minSubgroup);
        }
        EngineOptions cpu = EngineOptions.defaults().withDevice("cpu");
        Evaluation.Result r = Evaluation.run(model, new Evaluation.Options(images, metadata, label, imageColumn,
                sexColumn, ageColumn, allowExclusions, columnsBySource(), minSubgroup), cpu,
                line -> System.err.println("medfuse evaluate: " + line));
        Path html = EvaluationReport.write(out, r, training);
        ClassificationMetrics m = r.overall();
        System.out.printf(Locale.ROOT, "%s: %d rows  accuracy %.3f  balanced accuracy %.3f  macro AUC %.3f  "
                        + "ECE %.3f%n", r.contract().name(), m.n(), m.accuracy(), m.balancedAccuracy(), m.macroAuc(),
                m.ece());
        if (Evaluation.imageOnly(r.contract())) {
            System.out.println("  an image-only model (trained with --inputs image): the clinical columns were not read");
        }
        r.bySex().forEach((k, g) -> subgroup(r, "sex", k, g));
        r.byAgeBand().forEach((k, g) -> subgroup(r, "age", k, g));
        @SuppressWarnings("unchecked")
        Map<String, Object> cal = (Map<String, Object>) r.json().get("calibration");
        if (cal != null) {
            System.out.printf(Locale.ROOT, "calibration: temperature %.3f; ECE %.3f uncalibrated -> %.3f calibrated "
                    + "(the probabilities above and in metrics.json are calibrated, as the worker publishes them)%n",
                    cal.get("temperature"), cal.get("eceUncalibrated"), cal.get("eceCalibrated"));
        } else {
            System.out.println("calibration: none in the contract (probabilities as the network outputs them)");
        }
        System.out.println("referral: threshold  referred  accuracy of the rest  balanced accuracy of the rest");
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> referral = (List<Map<String, Object>>) r.json().get("referral");
        for (Map<String, Object> row : referral) {
            System.out.printf(Locale.ROOT, "          %9.2f  %7.1f%%  %20s  %29s%s%n", row.get("threshold"),
                    100 * ((Number) row.get("referredShare")).doubleValue(), fmt(row.get("accuracyOfRest")),
                    fmt(row.get("balancedAccuracyOfRest")),
                    Boolean.TRUE.equals(row.get("contractThreshold")) ? "  (the contract's)" : "");
        }
        System.out.println("wrote " + out.resolve("metrics.json") + ", " + out.resolve("predictions.csv") + " and "
                + html);
        return 0;
    }

    private static void subgroup(Evaluation.Result r, String by, String key, ClassificationMetrics g) {
        if (r.tooSmall(g.n())) {
            System.out.printf(Locale.ROOT, "  %s %-10s n=%-5d too small to judge (fewer than %d rows)%n", by, key,
                    g.n(), r.minSubgroup());
        } else {
            System.out.printf(Locale.ROOT, "  %s %-10s n=%-5d balanced accuracy %.3f  macro AUC %.3f%n", by, key,
                    g.n(), g.balancedAccuracy(), g.macroAuc());
        }
    }

    /** --source COLUMN=SOURCE as source → column; two columns for one source is an error. */
    private java.util.Map<io.medfuse.model.contract.FeatureSource, String> columnsBySource() {
        java.util.Map<io.medfuse.model.contract.FeatureSource, String> out = new java.util.LinkedHashMap<>();
        TrainingOptions.parseSources(sources).forEach((column, source) -> {
            String before = out.put(source, column);
            if (before != null) {
                throw new UserInputException("--source: columns '" + before + "' and '" + column + "' both name "
                        + source.id() + "; one column per source");
            }
        });
        return out;
    }
}
