package io.medfuse.trainer.eval;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Two models scored on the same images, compared paired: the difference B − A of balanced accuracy and of macro
 * AUC with a 95 % bootstrap interval (the same resampled images for both models, so what the images have in common
 * cancels), and McNemar's exact test on which images each got right. A difference whose interval excludes 0 (and a
 * small McNemar p) is one the data supports; each model's own interval says much less, because most of its width is
 * the images, shared by both.
 *
 * @param n images scored by both
 * @param baA balanced accuracy of A
 * @param baB balanced accuracy of B
 * @param baDiff B − A
 * @param baDiffLow 2.5th percentile of the bootstrap B − A
 * @param baDiffHigh 97.5th percentile
 * @param aucDiff macro AUC B − A (NaN when a class is absent)
 * @param aucDiffLow 2.5th percentile of the bootstrap (NaN when it could not be computed)
 * @param aucDiffHigh 97.5th percentile
 * @param onlyA images A got right and B wrong
 * @param onlyB images B got right and A wrong
 * @param mcNemarP exact two-sided McNemar p-value on {@code onlyA} vs {@code onlyB}
 * @param resamples bootstrap resamples
 */
public record PairedComparison(int n, double baA, double baB, double baDiff, double baDiffLow, double baDiffHigh,
                               double aucDiff, double aucDiffLow, double aucDiffHigh, int onlyA, int onlyB,
                               double mcNemarP, int resamples) {

    /**
     * @param a A's probabilities, one row per image
     * @param b B's, the same images in the same order
     * @param truth each image's class index
     * @param seed the bootstrap's seed (the result is a function of it)
     * @throws IllegalArgumentException when the rows do not line up
     */
    public static PairedComparison of(float[][] a, float[][] b, int[] truth, int classes, int resamples, long seed) {
        int n = truth.length;
        if (a.length != n || b.length != n || n == 0 || resamples < 1) {
            throw new IllegalArgumentException("paired comparison needs the same, non-empty rows for both models "
                    + "and >= 1 resample: " + a.length + "/" + b.length + "/" + n + ", " + resamples);
        }
        ClassificationMetrics ma = ClassificationMetrics.of(a, truth, classes);
        ClassificationMetrics mb = ClassificationMetrics.of(b, truth, classes);
        int onlyA = 0;
        int onlyB = 0;
        for (int i = 0; i < n; i++) {
            boolean ra = ClassificationMetrics.argmax(a[i]) == truth[i];
            boolean rb = ClassificationMetrics.argmax(b[i]) == truth[i];
            if (ra && !rb) {
                onlyA++;
            } else if (rb && !ra) {
                onlyB++;
            }
        }
        double[] ba = new double[resamples];
        double[] auc = new double[resamples];
        int aucOk = 0;
        SplittableRandom random = new SplittableRandom(seed);
        float[][] sa = new float[n][];
        float[][] sb = new float[n][];
        int[] st = new int[n];
        for (int r = 0; r < resamples; r++) {
            for (int i = 0; i < n; i++) {
                int k = random.nextInt(n);
                sa[i] = a[k];
                sb[i] = b[k];
                st[i] = truth[k];
            }
            ClassificationMetrics ra = ClassificationMetrics.of(sa, st, classes);
            ClassificationMetrics rb = ClassificationMetrics.of(sb, st, classes);
            ba[r] = rb.balancedAccuracy() - ra.balancedAccuracy();
            double d = rb.macroAuc() - ra.macroAuc();
            if (!Double.isNaN(d)) {
                auc[aucOk++] = d;
            }
        }
        Arrays.sort(ba);
        double[] aucs = Arrays.copyOf(auc, aucOk);
        Arrays.sort(aucs);
        return new PairedComparison(n, ma.balancedAccuracy(), mb.balancedAccuracy(),
                mb.balancedAccuracy() - ma.balancedAccuracy(), percentile(ba, 0.025), percentile(ba, 0.975),
                mb.macroAuc() - ma.macroAuc(), aucOk < resamples / 2 ? Double.NaN : percentile(aucs, 0.025),
                aucOk < resamples / 2 ? Double.NaN : percentile(aucs, 0.975), onlyA, onlyB,
                mcNemarExact(onlyA, onlyB), resamples);
    }

    /** Exact two-sided McNemar test: P(X ≤ min(b, c)) · 2 for X ~ Binomial(b + c, ½), at most 1. */
    static double mcNemarExact(int b, int c) {
        int m = b + c;
        if (m == 0) {
            return 1.0;
        }
        int k = Math.min(b, c);
        // log C(m, i) - m log 2, summed in probability space from the largest term down
        double[] logFact = new double[m + 1];
        for (int i = 1; i <= m; i++) {
            logFact[i] = logFact[i - 1] + Math.log(i);
        }
        double tail = 0;
        for (int i = 0; i <= k; i++) {
            tail += Math.exp(logFact[m] - logFact[i] - logFact[m - i] - m * Math.log(2));
        }
        return Math.min(1.0, 2 * tail);
    }

    private static double percentile(double[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(sorted.length - 1, lo + 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    /** As JSON: every field, NaN as null. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("n", n);
        m.put("balancedAccuracyA", num(baA));
        m.put("balancedAccuracyB", num(baB));
        m.put("balancedAccuracyDiff", num(baDiff));
        m.put("balancedAccuracyDiffCi95", java.util.Arrays.asList(num(baDiffLow), num(baDiffHigh)));
        m.put("macroAucDiff", num(aucDiff));
        m.put("macroAucDiffCi95", java.util.Arrays.asList(num(aucDiffLow), num(aucDiffHigh)));
        m.put("rightOnlyA", onlyA);
        m.put("rightOnlyB", onlyB);
        m.put("mcNemarP", num(mcNemarP));
        m.put("bootstrapResamples", resamples);
        return m;
    }

    private static Double num(double v) {
        return Double.isNaN(v) ? null : v;
    }
}
