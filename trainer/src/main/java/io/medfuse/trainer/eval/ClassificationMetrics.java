package io.medfuse.trainer.eval;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Metrics of class probabilities against true labels; pure arithmetic, no I/O.
 *
 * <ul>
 *   <li>accuracy: share of rows whose argmax (first on ties) is the label;</li>
 *   <li>balanced accuracy: mean recall over the classes present in the labels;</li>
 *   <li>macro ROC AUC: one-vs-rest AUC per class (Mann–Whitney, ties count ½), averaged over the classes that have
 *       both positive and negative rows; NaN when none has;</li>
 *   <li>precision / recall / F1 per class from the argmax confusion matrix (0 where undefined, as
 *       scikit-learn's {@code zero_division=0});</li>
 *   <li>expected calibration error: confidence = max probability, {@value #ECE_BINS} equal-width bins
 *       (0,1/15], (1/15,2/15], … (a confidence of 0 goes to the first bin), ECE = Σ |B|/n · |accuracy(B) −
 *       mean confidence(B)|.</li>
 * </ul>
 *
 * @param n rows
 * @param accuracy see above
 * @param balancedAccuracy see above
 * @param macroAuc see above
 * @param ece see above
 * @param confusion [true][predicted] counts
 * @param perClass per class, in label order
 * @param reliability the ECE bins (only the non-empty ones)
 */
public record ClassificationMetrics(int n, double accuracy, double balancedAccuracy, double macroAuc, double ece,
                                    int[][] confusion, List<PerClass> perClass, List<Bin> reliability) {

    /** Bins of the expected calibration error. */
    public static final int ECE_BINS = 15;

    /**
     * @param support rows of this class
     * @param auc one-vs-rest ROC AUC (NaN without both positives and negatives)
     */
    public record PerClass(int support, double precision, double recall, double f1, double auc) {
    }

    /**
     * @param lower exclusive lower edge (inclusive for the first bin)
     * @param upper inclusive upper edge
     */
    public record Bin(double lower, double upper, int count, double accuracy, double confidence) {
    }

    /**
     * @param probabilities n rows of class probabilities
     * @param labels n class indices in [0, classes)
     * @throws IllegalArgumentException on mismatched sizes or labels out of range
     */
    public static ClassificationMetrics of(float[][] probabilities, int[] labels, int classes) {
        int n = labels.length;
        if (probabilities.length != n) {
            throw new IllegalArgumentException(probabilities.length + " probability rows for " + n + " labels");
        }
        int[][] confusion = new int[classes][classes];
        int right = 0;
        double[] binConf = new double[ECE_BINS];
        int[] binRight = new int[ECE_BINS];
        int[] binCount = new int[ECE_BINS];
        for (int i = 0; i < n; i++) {
            if (labels[i] < 0 || labels[i] >= classes || probabilities[i].length != classes) {
                throw new IllegalArgumentException("row " + i + ": label " + labels[i] + " / " + probabilities[i].length
                        + " probabilities for " + classes + " classes");
            }
            int p = argmax(probabilities[i]);
            confusion[labels[i]][p]++;
            boolean ok = p == labels[i];
            if (ok) {
                right++;
            }
            double conf = probabilities[i][p];
            int bin = Math.min(ECE_BINS - 1, Math.max(0, (int) Math.ceil(conf * ECE_BINS) - 1));
            binConf[bin] += conf;
            binCount[bin]++;
            binRight[bin] += ok ? 1 : 0;
        }
        List<PerClass> perClass = new ArrayList<>();
        double recallSum = 0;
        int present = 0;
        double aucSum = 0;
        int aucCount = 0;
        for (int c = 0; c < classes; c++) {
            int support = Arrays.stream(confusion[c]).sum();
            int predicted = 0;
            for (int t = 0; t < classes; t++) {
                predicted += confusion[t][c];
            }
            int tp = confusion[c][c];
            double precision = predicted == 0 ? 0 : (double) tp / predicted;
            double recall = support == 0 ? 0 : (double) tp / support;
            double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            double auc = auc(probabilities, labels, c);
            if (support > 0) {
                recallSum += recall;
                present++;
            }
            if (!Double.isNaN(auc)) {
                aucSum += auc;
                aucCount++;
            }
            perClass.add(new PerClass(support, precision, recall, f1, auc));
        }
        List<Bin> bins = new ArrayList<>();
        double ece = 0;
        for (int b = 0; b < ECE_BINS; b++) {
            if (binCount[b] > 0) {
                double acc = (double) binRight[b] / binCount[b];
                double conf = binConf[b] / binCount[b];
                ece += (double) binCount[b] / n * Math.abs(acc - conf);
                bins.add(new Bin((double) b / ECE_BINS, (double) (b + 1) / ECE_BINS, binCount[b], acc, conf));
            }
        }
        return new ClassificationMetrics(n, n == 0 ? Double.NaN : (double) right / n,
                present == 0 ? Double.NaN : recallSum / present, aucCount == 0 ? Double.NaN : aucSum / aucCount,
                n == 0 ? Double.NaN : ece, confusion, List.copyOf(perClass), List.copyOf(bins));
    }

    /** One-vs-rest ROC AUC of class {@code c} by ranks (ties ½); NaN without both positives and negatives. */
    public static double auc(float[][] probabilities, int[] labels, int c) {
        int n = labels.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingDouble(i -> probabilities[i][c]));
        double rankSumPos = 0;
        int pos = 0;
        for (int i = 0; i < n; ) {
            int j = i;
            while (j + 1 < n && probabilities[order[j + 1]][c] == probabilities[order[i]][c]) {
                j++;
            }
            double rank = (i + j) / 2.0 + 1; // average 1-based rank of the tie block
            for (int k = i; k <= j; k++) {
                if (labels[order[k]] == c) {
                    rankSumPos += rank;
                    pos++;
                }
            }
            i = j + 1;
        }
        int neg = n - pos;
        if (pos == 0 || neg == 0) {
            return Double.NaN;
        }
        return (rankSumPos - pos * (pos + 1) / 2.0) / ((double) pos * neg);
    }

    /**
     * The one-vs-rest ROC curve of class {@code c}: points (false-positive rate, true-positive rate) from (0,0) to
     * (1,1), one per distinct threshold; empty without both positives and negatives.
     */
    public static List<double[]> rocCurve(float[][] probabilities, int[] labels, int c) {
        int n = labels.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> probabilities[i][c]).reversed());
        int pos = 0;
        for (int l : labels) {
            pos += l == c ? 1 : 0;
        }
        int neg = n - pos;
        List<double[]> points = new ArrayList<>();
        if (pos == 0 || neg == 0) {
            return points;
        }
        points.add(new double[] {0, 0});
        int tp = 0;
        int fp = 0;
        for (int i = 0; i < n; i++) {
            if (labels[order[i]] == c) {
                tp++;
            } else {
                fp++;
            }
            if (i + 1 == n || probabilities[order[i + 1]][c] != probabilities[order[i]][c]) {
                points.add(new double[] {(double) fp / neg, (double) tp / pos});
            }
        }
        return points;
    }

    /** argmax of a row, first on ties. */
    public static int argmax(float[] row) {
        int best = 0;
        for (int i = 1; i < row.length; i++) {
            if (row[i] > row[best]) {
                best = i;
            }
        }
        return best;
    }

    /** As plain JSON values, with class names. */
    public Map<String, Object> toMap(List<String> labelNames) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("n", n);
        m.put("accuracy", json(accuracy));
        m.put("balancedAccuracy", json(balancedAccuracy));
        m.put("macroAuc", json(macroAuc));
        m.put("ece", json(ece));
        Map<String, Object> classes = new LinkedHashMap<>();
        for (int c = 0; c < perClass.size(); c++) {
            PerClass p = perClass.get(c);
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("support", p.support());
            row.put("precision", json(p.precision()));
            row.put("recall", json(p.recall()));
            row.put("f1", json(p.f1()));
            row.put("auc", json(p.auc()));
            classes.put(labelNames.get(c), row);
        }
        m.put("perClass", classes);
        m.put("confusionMatrix", Map.of("labels", labelNames, "rowsTrueColumnsPredicted", confusion));
        m.put("reliability", reliability.stream().map(b -> Map.of("lower", json(b.lower()), "upper", json(b.upper()),
                "count", b.count(), "accuracy", json(b.accuracy()), "confidence", json(b.confidence()))).toList());
        return m;
    }

    /** Rounded to 6 decimals; NaN as null (JSON has no NaN). */
    static Object json(double v) {
        return Double.isNaN(v) ? null : Math.round(v * 1e6) / 1e6;
    }
}
