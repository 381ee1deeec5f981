package io.medfuse.model.contract;

import java.util.List;
import java.util.Map;

/**
 * How a model's probabilities are made to mean what they say, and when a prediction should go to a clinician.
 * Kept in the contract; the engine applies it to every output row, so the worker, {@code evaluate} and the
 * monitoring see calibrated probabilities.
 *
 * <p>Temperature scaling (Guo et al., 2017): {@code p'_c = p_c^(1/T) / Σ_k p_k^(1/T)}, i.e. the softmax of the
 * logits divided by T. T &gt; 1 softens an over-confident model, T &lt; 1 sharpens an under-confident one; the
 * predicted class never changes.
 *
 * @param method {@code temperature} (the only one so far)
 * @param temperature T &gt; 0, fitted on the validation split by the trainer (minimum negative log-likelihood)
 * @param referralThreshold a prediction whose calibrated top probability is below this is marked "refer to a
 *                          clinician"; null: no threshold (the worker's {@code referral.threshold} may set one)
 * @param fit how the fit went: validation rows, NLL and ECE before and after; free-form, for people
 */
public record Calibration(String method, double temperature, Double referralThreshold, Map<String, Object> fit) {

    /** The method this code applies. */
    public static final String TEMPERATURE = "temperature";

    public Calibration {
        fit = fit == null ? Map.of() : Map.copyOf(fit);
    }

    /** Adds every problem to {@code problems}. */
    void validate(List<String> problems) {
        if (!TEMPERATURE.equals(method)) {
            problems.add("calibration.method '" + method + "' is not supported (this medfuse applies '"
                    + TEMPERATURE + "')");
        }
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            problems.add("calibration.temperature must be a finite number > 0, got " + temperature);
        }
        if (referralThreshold != null && !(referralThreshold > 0 && referralThreshold <= 1)) {
            problems.add("calibration.referralThreshold must be in (0, 1], got " + referralThreshold);
        }
    }

    /** Applies the temperature to one row of probabilities, in place. */
    public void applyInPlace(float[] probabilities) {
        apply(probabilities, temperature);
    }

    /** {@code p^(1/T)} normalised, computed in double from log p (a 0 stays 0). */
    public static void apply(float[] p, double temperature) {
        if (temperature == 1.0) {
            return;
        }
        double[] z = new double[p.length];
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < p.length; i++) {
            z[i] = p[i] > 0 ? Math.log(p[i]) / temperature : Double.NEGATIVE_INFINITY;
            max = Math.max(max, z[i]);
        }
        if (max == Double.NEGATIVE_INFINITY) {
            return;
        }
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            z[i] = Math.exp(z[i] - max);
            sum += z[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] = (float) (z[i] / sum);
        }
    }
}
