package io.medfuse.trainer.eval;

import java.util.LinkedHashMap;
import java.util.Map;

import io.medfuse.model.contract.Calibration;

/**
 * Fits the temperature of {@link Calibration} on validation rows: the T that minimises the mean negative
 * log-likelihood of the true labels under {@code p^(1/T)} normalised (Guo et al., 2017). The NLL is convex in 1/T,
 * so a golden-section search over log T in [1/20, 20] finds it; T = 1 is kept when it is no worse.
 */
public final class TemperatureScaling {

    static final double MIN_T = 0.05;
    static final double MAX_T = 20;

    private TemperatureScaling() {
    }

    /**
     * @param probabilities validation rows, each in label order
     * @param labels true class per row
     * @param classes number of classes
     * @param referralThreshold written into the calibration as it is (null: none)
     * @return the calibration, with its fit (rows, T, NLL and ECE before and after)
     */
    public static Calibration fit(float[][] probabilities, int[] labels, int classes, Double referralThreshold) {
        double lo = Math.log(MIN_T);
        double hi = Math.log(MAX_T);
        double g = (Math.sqrt(5) - 1) / 2;
        double a = hi - g * (hi - lo);
        double b = lo + g * (hi - lo);
        double fa = nll(probabilities, labels, Math.exp(a));
        double fb = nll(probabilities, labels, Math.exp(b));
        for (int i = 0; i < 80; i++) {
            if (fa <= fb) {
                hi = b;
                b = a;
                fb = fa;
                a = hi - g * (hi - lo);
                fa = nll(probabilities, labels, Math.exp(a));
            } else {
                lo = a;
                a = b;
                fa = fb;
                b = lo + g * (hi - lo);
                fb = nll(probabilities, labels, Math.exp(b));
            }
        }
        double t = Math.exp((lo + hi) / 2);
        double before = nll(probabilities, labels, 1);
        double after = nll(probabilities, labels, t);
        if (!(after < before) || labels.length == 0) {
            t = 1;
            after = before;
        }
        Map<String, Object> fit = new LinkedHashMap<>();
        fit.put("validationRows", labels.length);
        fit.put("nllBefore", round(before));
        fit.put("nllAfter", round(after));
        fit.put("eceBefore", round(ClassificationMetrics.of(probabilities, labels, classes).ece()));
        fit.put("eceAfter", round(ClassificationMetrics.of(scaled(probabilities, t), labels, classes).ece()));
        return new Calibration(Calibration.TEMPERATURE, round(t), referralThreshold, fit);
    }

    /** Mean −log p'(true label) under temperature t (probabilities floored at 1e-12). */
    static double nll(float[][] probabilities, int[] labels, double t) {
        if (labels.length == 0) {
            return 0;
        }
        double sum = 0;
        for (int i = 0; i < labels.length; i++) {
            double[] z = new double[probabilities[i].length];
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < z.length; c++) {
                z[c] = Math.log(Math.max(1e-12, probabilities[i][c])) / t;
                max = Math.max(max, z[c]);
            }
            double norm = 0;
            for (double v : z) {
                norm += Math.exp(v - max);
            }
            sum += -(z[labels[i]] - max - Math.log(norm));
        }
        return sum / labels.length;
    }

    /** Copies of the rows with temperature t applied, as the engine applies it. */
    public static float[][] scaled(float[][] probabilities, double t) {
        float[][] out = new float[probabilities.length][];
        for (int i = 0; i < probabilities.length; i++) {
            out[i] = probabilities[i].clone();
            Calibration.apply(out[i], t);
        }
        return out;
    }

    private static double round(double v) {
        return Math.round(v * 1e6) / 1e6;
    }
}
