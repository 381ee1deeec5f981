package io.medfuse.worker.pipeline;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.medfuse.events.ClinicalInfluence;
import io.medfuse.events.FeatureInfluence;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.tabular.TabularEncoder;

/**
 * Measures how much a request's clinical data moved its prediction: the batcher runs the request's image a second
 * time with every tabular feature masked (and, per feature, with one feature masked at a time), in the same model
 * run, and this class turns the rows' probabilities into the prediction's {@link ClinicalInfluence}.
 *
 * <p>"Masked" is exactly what the contract does with a missing value: {@link TabularEncoder} encoding no value at
 * all (the numeric impute value with its missing indicator set, a categorical's unknown slot), so the masked row is
 * the row a request without any patient or clinical field gets. It is the same for every request and computed
 * once. Thread-safe (immutable).
 */
public final class InfluenceProbe {

    private final float[] masked;
    private final List<String> names;
    private final int[] starts;
    private final int[] widths;
    private final boolean perFeature;
    private final List<String> labels;

    private InfluenceProbe(ModelContract contract, boolean perFeature) {
        TabularEncoder encoder = new TabularEncoder(contract.tabular());
        this.masked = encoder.encode(Map.of()).values();
        List<FeatureSpec> features = contract.tabular();
        this.names = features.stream().map(FeatureSpec::name).toList();
        this.starts = new int[features.size()];
        this.widths = new int[features.size()];
        int at = 0;
        for (int i = 0; i < features.size(); i++) {
            starts[i] = at;
            widths[i] = features.get(i).width();
            at += widths[i];
        }
        this.perFeature = perFeature;
        this.labels = contract.labelNames();
    }

    /**
     * The probe for a model, or null when it has no tabular features (nothing to mask: the influence is not
     * defined, and predictions carry none).
     *
     * @param perFeature also mask one feature at a time (one more row per feature and request)
     */
    public static InfluenceProbe of(ModelContract contract, boolean perFeature) {
        return contract.tabular().isEmpty() ? null : new InfluenceProbe(contract, perFeature);
    }

    /** Rows the model runs per request for the probe (besides the request's own). */
    public int variantCount() {
        return 1 + (perFeature ? names.size() : 0);
    }

    /** The variant rows for a request's encoded row: all features masked, then each one masked alone. */
    public float[] variants(float[] row) {
        int width = masked.length;
        float[] out = new float[variantCount() * width];
        System.arraycopy(masked, 0, out, 0, width);
        if (perFeature) {
            for (int f = 0; f < names.size(); f++) {
                int base = (f + 1) * width;
                System.arraycopy(row, 0, out, base, width);
                System.arraycopy(masked, starts[f], out, base + starts[f], widths[f]);
            }
        }
        return out;
    }

    /**
     * The influence from the request's probabilities and its variant rows' probabilities.
     *
     * @param probabilities the request's own row, in label order
     * @param variants the rows {@link #variants} asked for, in that order
     */
    public ClinicalInfluence influence(float[] probabilities, float[][] variants) {
        if (variants.length != variantCount()) {
            throw new IllegalStateException("expected " + variantCount() + " masked rows, got " + variants.length);
        }
        int best = argmax(probabilities);
        float[] without = variants[0];
        List<FeatureInfluence> features = new ArrayList<>();
        if (perFeature) {
            for (int f = 0; f < names.size(); f++) {
                double p = variants[f + 1][best];
                features.add(new FeatureInfluence(names.get(f), p, (double) probabilities[best] - p));
            }
        }
        return ClinicalInfluence.newBuilder()
                .setLabelWithout(labels.get(argmax(without)))
                .setProbabilityWithout(without[best])
                .setShift((double) probabilities[best] - without[best])
                .setFeatures(features)
                .build();
    }

    /** The first index of the largest value (the prediction's label, as the worker picks it). */
    static int argmax(float[] p) {
        int best = 0;
        for (int i = 1; i < p.length; i++) {
            if (p[i] > p[best]) {
                best = i;
            }
        }
        return best;
    }
}
