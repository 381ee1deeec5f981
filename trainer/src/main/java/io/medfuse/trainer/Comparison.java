package io.medfuse.trainer;

import io.medfuse.trainer.data.Dataset;
import io.medfuse.trainer.data.GroupedSplit;
import io.medfuse.trainer.eval.ClassificationMetrics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Does the clinical data help? Trains fused, image-only and tabular-only networks on the same split, repeated over
 * several seeds (a new grouped split and initialisation each) or over K grouped folds, and summarises balanced
 * accuracy, macro ROC AUC and ECE on the validation rows as mean ± sample standard deviation, plus the paired
 * differences fused − image and fused − tabular (per repeat, then mean ± sd).
 */
public final class Comparison {

    /** The three networks, in table order. */
    public static final List<InputMode> MODES = List.of(InputMode.FUSED, InputMode.IMAGE, InputMode.TABULAR);

    private Comparison() {
    }

    /**
     * One trained network.
     *
     * @param repeat 0-based seed or fold index
     * @param split "seed 42" or "fold 1/5"
     */
    public record Run(InputMode mode, int repeat, String split, long seed, int trainRows, int validationRows,
                      ClassificationMetrics metrics, int bestEpoch, int epochsRun, double parityMaxDelta,
                      double seconds) {
    }

    /** All runs, the summary as JSON-ready values, and the side-by-side table. */
    public record Result(List<Run> runs, Map<String, Object> json, String table) {
    }

    /**
     * @param seeds repeats with seeds hp.seed(), hp.seed()+1, … (ignored when folds ≥ 2)
     * @param folds K grouped folds (0: use seeds)
     * @param log one line per finished network (and per epoch, from {@code epochs})
     * @throws TrainerException or DatasetException from training
     */
    public static Result run(Dataset dataset, HyperParameters hp, int seeds, int folds, Consumer<String> log,
                             Consumer<EpochStats> epochs, StopSignal stop) {
        List<GroupedSplit> splits = new ArrayList<>();
        List<String> names = new ArrayList<>();
        if (folds >= 2) {
            splits.addAll(GroupedSplit.folds(dataset, folds, hp.seed()));
            for (int f = 0; f < folds; f++) {
                names.add("fold " + (f + 1) + "/" + folds);
            }
        } else {
            if (seeds < 1) {
                throw new IllegalArgumentException("--seeds must be >= 1, got " + seeds);
            }
            for (int r = 0; r < seeds; r++) {
                splits.add(GroupedSplit.of(dataset, hp.validationFraction(), hp.seed() + r));
                names.add("seed " + (hp.seed() + r));
            }
        }
        List<Run> runs = new ArrayList<>();
        List<String> labels = dataset.labels();
        for (int r = 0; r < splits.size(); r++) {
            long seed = folds >= 2 ? hp.seed() : hp.seed() + r;
            for (InputMode mode : MODES) {
                if (stop.isStopped()) {
                    break;
                }
                HyperParameters h = hp.withSeed(seed).withInputs(mode);
                TrainingRun.Outcome out = TrainingRun.train(dataset, h, splits.get(r),
                        "compare-" + hp.architecture() + "-" + mode.cli(), "1", epochs, stop);
                ClassificationMetrics m = ClassificationMetrics.of(out.training().validationProbabilities(),
                        out.validationLabels(), labels.size());
                Run run = new Run(mode, r, names.get(r), seed, out.split().train().size(),
                        out.split().validation().size(), m, (Integer) out.validation().get("bestEpoch"),
                        (Integer) out.validation().get("epochsRun"), out.parityMaxDelta(), out.seconds());
                runs.add(run);
                log.accept(String.format(Locale.ROOT, "%-8s %-9s %-8s bal acc %.3f  macro AUC %.3f  ECE %.3f  "
                                + "(best epoch %d of %d%s, %.0f s)", hp.architecture(), names.get(r), mode.cli(),
                        m.balancedAccuracy(), m.macroAuc(), m.ece(), run.bestEpoch(), run.epochsRun(),
                        Boolean.TRUE.equals(out.validation().get("refit")) ? ", refit" : "", run.seconds()));
            }
        }
        return summarise(dataset, hp, folds >= 2 ? "folds" : "seeds", runs);
    }

    static Result summarise(Dataset dataset, HyperParameters hp, String repeats, List<Run> runs) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("architecture", hp.architecture());
        json.put("hyperParameters", hp.toMap());
        json.put("repeatedOver", repeats);
        json.put("dataset", Map.of("csv", dataset.csv().toString(), "rows", dataset.samples().size(),
                "fingerprint", "sha256:" + dataset.fingerprint(), "labels", dataset.labels(),
                "features", dataset.options().featureColumns(),
                "group", String.valueOf(dataset.options().groupColumn())));
        Map<String, Object> summary = new LinkedHashMap<>();
        StringBuilder table = new StringBuilder();
        int repeatCount = runs.stream().mapToInt(Run::repeat).max().orElse(-1) + 1;
        table.append(String.format(Locale.ROOT, "%-14s %-22s %-22s %-22s%n", hp.architecture() + " (n=" + repeatCount
                + ")", "balanced accuracy", "macro AUC", "ECE"));
        for (InputMode mode : MODES) {
            List<Run> rs = runs.stream().filter(r -> r.mode() == mode).toList();
            if (rs.isEmpty()) {
                continue;
            }
            double[] bal = rs.stream().mapToDouble(r -> r.metrics().balancedAccuracy()).toArray();
            double[] auc = rs.stream().mapToDouble(r -> r.metrics().macroAuc()).toArray();
            double[] ece = rs.stream().mapToDouble(r -> r.metrics().ece()).toArray();
            summary.put(mode.cli(), Map.of("balancedAccuracy", stat(bal), "macroAuc", stat(auc), "ece", stat(ece),
                    "n", rs.size()));
            table.append(String.format(Locale.ROOT, "%-14s %-22s %-22s %-22s%n", mode.cli(), pm(bal), pm(auc),
                    pm(ece)));
        }
        Map<String, Object> diffs = new LinkedHashMap<>();
        for (InputMode other : List.of(InputMode.IMAGE, InputMode.TABULAR)) {
            List<double[]> d = paired(runs, other);
            if (d.isEmpty()) {
                continue;
            }
            double[] bal = d.stream().mapToDouble(x -> x[0]).toArray();
            double[] auc = d.stream().mapToDouble(x -> x[1]).toArray();
            double[] ece = d.stream().mapToDouble(x -> x[2]).toArray();
            diffs.put("fused-" + other.cli(), Map.of("balancedAccuracy", stat(bal), "macroAuc", stat(auc),
                    "ece", stat(ece), "perRepeatBalancedAccuracy", round(bal)));
            table.append(String.format(Locale.ROOT, "%-14s %-22s %-22s %-22s%n", "fused-" + other.cli(),
                    signedPm(bal), signedPm(auc), signedPm(ece)));
        }
        json.put("summary", summary);
        json.put("differences", diffs);
        json.put("runs", runs.stream().map(r -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("inputs", r.mode().cli());
            m.put("split", r.split());
            m.put("seed", r.seed());
            m.put("trainRows", r.trainRows());
            m.put("validationRows", r.validationRows());
            m.put("bestEpoch", r.bestEpoch());
            m.put("epochsRun", r.epochsRun());
            m.put("parityMaxDelta", r.parityMaxDelta());
            m.put("seconds", Math.round(r.seconds() * 10) / 10.0);
            m.put("metrics", r.metrics().toMap(dataset.labels()));
            return m;
        }).toList());
        return new Result(List.copyOf(runs), json, table.toString());
    }

    /** Per repeat where both exist: fused minus {@code other} in (balanced accuracy, macro AUC, ECE). */
    private static List<double[]> paired(List<Run> runs, InputMode other) {
        List<double[]> out = new ArrayList<>();
        for (Run f : runs) {
            if (f.mode() != InputMode.FUSED) {
                continue;
            }
            runs.stream().filter(o -> o.mode() == other && o.repeat() == f.repeat()).findFirst().ifPresent(o ->
                    out.add(new double[] {
                        f.metrics().balancedAccuracy() - o.metrics().balancedAccuracy(),
                        f.metrics().macroAuc() - o.metrics().macroAuc(),
                        f.metrics().ece() - o.metrics().ece()}));
        }
        return out;
    }

    /** mean and sample standard deviation (0 for one value). */
    static double[] meanSd(double[] v) {
        double mean = 0;
        for (double x : v) {
            mean += x;
        }
        mean /= v.length;
        double ss = 0;
        for (double x : v) {
            ss += (x - mean) * (x - mean);
        }
        return new double[] {mean, v.length > 1 ? Math.sqrt(ss / (v.length - 1)) : 0};
    }

    private static Map<String, Object> stat(double[] v) {
        double[] ms = meanSd(v);
        return Map.of("mean", Math.round(ms[0] * 1e4) / 1e4, "sd", Math.round(ms[1] * 1e4) / 1e4,
                "values", round(v));
    }

    private static List<Double> round(double[] v) {
        List<Double> out = new ArrayList<>();
        for (double x : v) {
            out.add(Math.round(x * 1e4) / 1e4);
        }
        return out;
    }

    private static String pm(double[] v) {
        double[] ms = meanSd(v);
        return String.format(Locale.ROOT, "%.3f ± %.3f", ms[0], ms[1]);
    }

    private static String signedPm(double[] v) {
        double[] ms = meanSd(v);
        return String.format(Locale.ROOT, "%+.3f ± %.3f", ms[0], ms[1]);
    }
}
