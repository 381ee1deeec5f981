package io.medfuse.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** Every metric against values worked out by hand on a fixed set of 6 predictions over 3 classes. */
class ClassificationMetricsTest {

    // true labels and probabilities (a, b, c)
    static final int[] LABELS = {0, 0, 1, 1, 2, 2};
    static final float[][] P = {
        {0.7f, 0.2f, 0.1f},  // true a, pred a, conf .7  ok
        {0.3f, 0.6f, 0.1f},  // true a, pred b, conf .6  wrong
        {0.1f, 0.8f, 0.1f},  // true b, pred b, conf .8  ok
        {0.2f, 0.5f, 0.3f},  // true b, pred b, conf .5  ok
        {0.4f, 0.1f, 0.5f},  // true c, pred c, conf .5  ok
        {0.9f, 0.05f, 0.05f} // true c, pred a, conf .9  wrong
    };

    @Test
    void handComputedValues() {
        ClassificationMetrics m = ClassificationMetrics.of(P, LABELS, 3);
        assertThat(m.n()).isEqualTo(6);
        assertThat(m.accuracy()).isCloseTo(4 / 6.0, within(1e-12));
        // recalls a 1/2, b 2/2, c 1/2
        assertThat(m.balancedAccuracy()).isCloseTo((0.5 + 1 + 0.5) / 3, within(1e-12));
        assertThat(m.confusion()).isDeepEqualTo(new int[][] {{1, 1, 0}, {0, 2, 0}, {1, 0, 1}});
        // precision a: predicted a = rows 0,5 -> 1/2; b: rows 1,2,3 -> 2/3; c: row 4 -> 1/1
        assertThat(m.perClass().get(0).precision()).isCloseTo(0.5, within(1e-12));
        assertThat(m.perClass().get(1).precision()).isCloseTo(2 / 3.0, within(1e-12));
        assertThat(m.perClass().get(2).precision()).isCloseTo(1.0, within(1e-12));
        assertThat(m.perClass().get(1).f1()).isCloseTo(2 * (2 / 3.0) * 1 / (2 / 3.0 + 1), within(1e-12)); // 0.8
        assertThat(m.perClass().get(2).f1()).isCloseTo(2 * 1 * 0.5 / 1.5, within(1e-12));
        // AUC a: positives .7,.3 vs negatives .1,.2,.4,.9: pairs won .7>{.1,.2,.4}=3, .3>{.1,.2}=2 -> 5/8
        assertThat(m.perClass().get(0).auc()).isCloseTo(5 / 8.0, within(1e-12));
        // AUC b: positives .8,.5 vs .2,.6,.1,.05: .8 beats 4, .5 beats 3 -> 7/8
        assertThat(m.perClass().get(1).auc()).isCloseTo(7 / 8.0, within(1e-12));
        // AUC c: positives .5,.05 vs .1,.1,.1,.3: .5 beats 4, .05 beats 0 -> 4/8
        assertThat(m.perClass().get(2).auc()).isCloseTo(0.5, within(1e-12));
        assertThat(m.macroAuc()).isCloseTo((5 / 8.0 + 7 / 8.0 + 0.5) / 3, within(1e-12));
        // ECE, 15 bins of width 1/15: .5 -> (.4667,.5333]: rows 3,4 both right, conf .5 -> |1-.5|*2/6; each other
        // confidence is alone in its bin (0.6f and 0.8f lie just above .6/.8, so one bin up; same sums):
        // .6 wrong -> .6/6; .7 right -> .3/6; .8 right -> .2/6; .9 wrong -> .9/6
        double ece = (2 * 0.5 + 0.6 + 0.3 + 0.2 + 0.9) / 6;
        assertThat(m.ece()).isCloseTo(ece, within(1e-6));
        assertThat(m.reliability()).hasSize(5);
    }

    @Test
    void tiesCountHalfAndAbsentClassesAreSkipped() {
        float[][] p = {{0.5f, 0.5f}, {0.5f, 0.5f}};
        int[] y = {0, 1};
        assertThat(ClassificationMetrics.auc(p, y, 0)).isEqualTo(0.5);
        ClassificationMetrics m = ClassificationMetrics.of(new float[][] {{0.9f, 0.1f}}, new int[] {0}, 2);
        assertThat(m.macroAuc()).isNaN();
        assertThat(m.balancedAccuracy()).isEqualTo(1.0);
    }

    @Test
    void rocCurveRunsFromOriginToOne() {
        var curve = ClassificationMetrics.rocCurve(P, LABELS, 1);
        assertThat(curve.get(0)).containsExactly(0, 0);
        assertThat(curve.get(curve.size() - 1)).containsExactly(1, 1);
    }
}
