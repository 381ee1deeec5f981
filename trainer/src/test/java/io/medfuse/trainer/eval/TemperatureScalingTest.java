package io.medfuse.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;

import org.junit.jupiter.api.Test;

import io.medfuse.model.contract.Calibration;

class TemperatureScalingTest {

    /**
     * An over-confident model: the true class is drawn from probabilities p_true = softmax(z), but the model reports
     * softmax(3 z). The fit must find T near 3 and lower both the NLL and the ECE.
     */
    @Test
    void findsTheTemperatureOfAnOverConfidentModel() {
        Random r = new Random(3);
        int n = 4000;
        float[][] reported = new float[n][];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            double[] z = {r.nextGaussian(), r.nextGaussian(), r.nextGaussian()};
            double[] truth = softmax(z, 1);
            double u = r.nextDouble();
            labels[i] = u < truth[0] ? 0 : u < truth[0] + truth[1] ? 1 : 2;
            double[] over = softmax(z, 3);
            reported[i] = new float[] {(float) over[0], (float) over[1], (float) over[2]};
        }
        Calibration c = TemperatureScaling.fit(reported, labels, 3, 0.7);
        assertThat(c.temperature()).isCloseTo(3.0, within(0.3));
        assertThat(c.referralThreshold()).isEqualTo(0.7);
        assertThat((double) c.fit().get("nllAfter")).isLessThan((double) c.fit().get("nllBefore"));
        assertThat((double) c.fit().get("eceAfter")).isLessThan((double) c.fit().get("eceBefore") / 2);
        assertThat(c.fit()).containsEntry("validationRows", n);
    }

    @Test
    void aCalibratedModelKeepsATemperatureNearOne() {
        Random r = new Random(5);
        int n = 4000;
        float[][] p = new float[n][];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            double[] truth = softmax(new double[] {r.nextGaussian(), r.nextGaussian()}, 1);
            labels[i] = r.nextDouble() < truth[0] ? 0 : 1;
            p[i] = new float[] {(float) truth[0], (float) truth[1]};
        }
        assertThat(TemperatureScaling.fit(p, labels, 2, null).temperature()).isCloseTo(1.0, within(0.1));
    }

    private static double[] softmax(double[] z, double scale) {
        double[] e = new double[z.length];
        double sum = 0;
        for (int i = 0; i < z.length; i++) {
            e[i] = Math.exp(scale * z[i]);
            sum += e[i];
        }
        for (int i = 0; i < z.length; i++) {
            e[i] /= sum;
        }
        return e;
    }
}
