package io.medfuse.worker.batch;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The cap follows the cost per row the runs report; no clock is involved (every cost is given). */
class BatchSizerTest {

    private static BatchSizer sizer(int max) {
        // padded sizes 1, 2, 4, 8, 16, 32 as the worker's default batch.padded.sizes
        return new BatchSizer(max, n -> n <= 1 ? 1 : Integer.highestOneBit(n - 1) * 2);
    }

    /** Feeds each candidate size {@code runs} runs costing {@code msPerRow[i]} per row. */
    private static void feed(BatchSizer s, double[] msPerRow, int runs) {
        int[] sizes = s.sizes();
        for (int k = 0; k < runs; k++) {
            for (int i = 0; i < sizes.length; i++) {
                s.observe(sizes[i], (long) (msPerRow[i] * 1e6 * sizes[i]));
            }
        }
    }

    @Test
    void candidatesAreThePaddedSizesUpToTheMaximum() {
        assertThat(sizer(32).sizes()).containsExactly(1, 2, 4, 8, 16, 32);
        assertThat(sizer(20).sizes()).containsExactly(1, 2, 4, 8, 16, 20);
        assertThat(sizer(1).sizes()).containsExactly(1);
    }

    @Test
    void untilAnythingIsKnownBatchesFillToTheConfiguredMaximum() {
        assertThat(sizer(32).cap()).isEqualTo(32);
    }

    @Test
    void capsWhereARowCostsLeastWhenLargerBatchesGetDearer() {
        BatchSizer s = sizer(32);
        // the seed model on 2 cores in an earlier bench: cheapest at 8-16 rows, dearer at 32
        feed(s, new double[] {12.0, 8.0, 6.0, 4.0, 4.1, 6.5}, 30);
        assertThat(s.cap()).isEqualTo(8);
    }

    @Test
    void takesTheSmallestSizeWithinFivePercentOfTheCheapest() {
        BatchSizer s = sizer(32);
        // flat beyond 4: larger batches only add waiting
        feed(s, new double[] {6.0, 5.0, 3.3, 3.25, 3.2, 3.2}, 30);
        assertThat(s.cap()).isEqualTo(4);
    }

    @Test
    void keepsTheMaximumWhereEveryStepUpPays() {
        BatchSizer s = sizer(32);
        feed(s, new double[] {1.0, 0.6, 0.35, 0.2, 0.12, 0.07}, 30);
        assertThat(s.cap()).isEqualTo(32);
    }

    @Test
    void followsTheMachineWhenCostsChange() {
        BatchSizer s = sizer(32);
        feed(s, new double[] {12.0, 8.0, 6.0, 4.0, 4.1, 6.5}, 30);
        assertThat(s.cap()).isEqualTo(8);
        // the other load went away: large batches now pay
        feed(s, new double[] {10.0, 6.0, 4.0, 3.0, 2.0, 1.0}, 60);
        assertThat(s.cap()).isEqualTo(32);
    }

    @Test
    void aBatchInTheLowerHalfOfItsCandidateSaysNothingAboutIt() {
        BatchSizer s = sizer(32);
        feed(s, new double[] {12.0, 8.0, 6.0, 4.0, 4.1, 6.5}, 30);
        // 17 rows are padded to 32: their cost per row says little about full batches of 32
        for (int k = 0; k < 100; k++) {
            s.observe(17, (long) (0.1e6 * 17));
        }
        assertThat(s.cap()).isEqualTo(8);
    }

    @Test
    void exploresTheSizesAboveAndBelowTheCapInTurnEveryFiftiethRunAndOtherwiseStaysAtTheCap() {
        BatchSizer s = sizer(32);
        feed(s, new double[] {12.0, 8.0, 6.0, 4.0, 4.1, 6.5}, 30);
        int up = 0;
        int down = 0;
        for (int k = 0; k < 10 * BatchSizer.EXPLORE_EVERY; k++) {
            int limit = s.nextLimit();
            assertThat(limit).isIn(4, 8, 16);
            up += limit == 16 ? 1 : 0;
            down += limit == 4 ? 1 : 0;
        }
        assertThat(up).isEqualTo(5);
        assertThat(down).isEqualTo(5);
    }

    @Test
    void withoutASweepItStartsAtTheMaximumAndFindsACheaperSizeBelowIt() {
        BatchSizer s = sizer(32);
        // a model swapped in: no sweep; its runs are full batches of 32 rows at 6.5 ms per row, while 16 costs 4
        double[] cost = {12.0, 8.0, 6.0, 4.0, 4.0, 6.5};
        int[] sizes = s.sizes();
        for (int k = 0; k < 40 * BatchSizer.EXPLORE_EVERY; k++) {
            int rows = s.nextLimit();
            int i = java.util.Arrays.binarySearch(sizes, rows);
            s.observe(rows, (long) (cost[i] * 1e6 * rows));
        }
        assertThat(s.cap()).as("found going down from 32").isEqualTo(8);
    }

    @Test
    void aSweepThatFailsLeavesTheMaximum() {
        BatchSizer s = sizer(16);
        MicroBatcherTest.EchoModel failing = new MicroBatcherTest.EchoModel() {
            @Override
            public float[][] predict(float[] images, float[] tabular, int n) {
                throw new IllegalStateException("no session");
            }
        };
        // MicroBatcher logs this and goes on with the maximum
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> s.sweep(failing))
                .isInstanceOf(IllegalStateException.class);
        assertThat(s.cap()).isEqualTo(16);
    }
}
