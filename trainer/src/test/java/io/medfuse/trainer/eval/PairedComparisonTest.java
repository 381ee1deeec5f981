package io.medfuse.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** Paired differences on the same images, checked against values worked out by hand. */
class PairedComparisonTest {

    /** A one-hot row for class {@code c} of 3, with a little doubt. */
    private static float[] says(int c) {
        float[] p = {0.1f, 0.1f, 0.1f};
        p[c] = 0.8f;
        return p;
    }

    @Test
    void mcNemarsExactTestByHand() {
        assertThat(PairedComparison.mcNemarExact(0, 0)).isEqualTo(1.0);
        assertThat(PairedComparison.mcNemarExact(5, 5)).isEqualTo(1.0);
        // 2 * P(X <= 0), X ~ Bin(10, 1/2) = 2 / 1024
        assertThat(PairedComparison.mcNemarExact(0, 10)).isCloseTo(2.0 / 1024, within(1e-12));
        // 2 * (C(12,0) + C(12,1) + C(12,2) + C(12,3)) / 4096 = 2 * 299 / 4096
        assertThat(PairedComparison.mcNemarExact(3, 9)).isCloseTo(598.0 / 4096, within(1e-12));
        assertThat(PairedComparison.mcNemarExact(9, 3)).isCloseTo(598.0 / 4096, within(1e-12));
    }

    @Test
    void theSameModelTwiceDiffersByNothing() {
        int n = 90;
        float[][] p = new float[n][];
        int[] truth = new int[n];
        for (int i = 0; i < n; i++) {
            truth[i] = i % 3;
            p[i] = says(i % 5 == 0 ? (i + 1) % 3 : i % 3);
        }
        PairedComparison c = PairedComparison.of(p, p, truth, 3, 500, 1);
        assertThat(c.baDiff()).isZero();
        assertThat(c.baDiffLow()).isZero();
        assertThat(c.baDiffHigh()).isZero();
        assertThat(c.onlyA()).isZero();
        assertThat(c.onlyB()).isZero();
        assertThat(c.mcNemarP()).isEqualTo(1.0);
    }

    @Test
    void aModelRightOnTwentyMoreImagesIsBetterAndTheIntervalSaysSo() {
        int n = 150;
        float[][] a = new float[n][];
        float[][] b = new float[n][];
        int[] truth = new int[n];
        for (int i = 0; i < n; i++) {
            truth[i] = i % 3;
            boolean aWrong = i % 5 == 0 || i % 7 == 0; // 30 + 21 - 4 = 47 wrong
            a[i] = says(aWrong ? (truth[i] + 1) % 3 : truth[i]);
            boolean bWrong = aWrong && i % 2 == 0; // B fixes about half of A's mistakes, makes none of its own
            b[i] = says(bWrong ? (truth[i] + 1) % 3 : truth[i]);
        }
        PairedComparison c = PairedComparison.of(a, b, truth, 3, 1000, 7);
        assertThat(c.onlyA()).isZero();
        assertThat(c.onlyB()).isGreaterThanOrEqualTo(20);
        assertThat(c.baDiff()).isPositive();
        assertThat(c.baDiffLow()).as("the 95 %% interval excludes 0").isPositive();
        assertThat(c.baDiffHigh()).isGreaterThan(c.baDiff());
        assertThat(c.mcNemarP()).isLessThan(1e-5);
        // the same seed, the same interval
        PairedComparison again = PairedComparison.of(a, b, truth, 3, 1000, 7);
        assertThat(again.baDiffLow()).isEqualTo(c.baDiffLow());
        assertThat(c.toMap()).containsKeys("balancedAccuracyDiffCi95", "mcNemarP", "macroAucDiffCi95");
    }
}
