package io.medfuse.worker.batch;

import io.medfuse.model.image.ImageTensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Learns which batch sizes pay for one model on this machine, and caps batches at the one that costs least per row
 * (issue 13, part 7): a larger batch is only worth its wait where it makes each row cheaper, and on a CPU a large
 * batch can make each row dearer (cache misses, the other cores busy decoding). The configured
 * {@code batch.max.size} stays the upper bound.
 *
 * <p>The candidate sizes are the padded sizes ONNX Runtime sees up to the maximum. A sweep at start times each one
 * (a warm-up run, then one timed run, on zero inputs); afterwards every run updates the candidate it belongs to
 * (an exponentially weighted mean of wall time per row, padding included). The cap is the smallest candidate within
 * {@value #GOOD_ENOUGH} of the cheapest: equal throughput at a shorter wait. Every {@value #EXPLORE_EVERY}th run
 * takes one size more or one less than the cap, in turn, so a size that got cheaper (the machine got quieter) is
 * noticed; a model swapped in while requests flow is not swept (that would delay the swap by seconds on a large
 * model) and learns from these runs alone, starting at the maximum. Thread-safe: the batcher's forming thread asks
 * for limits while its runner reports runs.
 */
final class BatchSizer {

    private static final Logger LOG = LoggerFactory.getLogger(BatchSizer.class);

    /** A candidate this much dearer per row than the cheapest still counts as as good. */
    static final double GOOD_ENOUGH = 0.05;
    static final int EXPLORE_EVERY = 50;
    private static final double ALPHA = 0.1;

    private final int max;
    private final int[] sizes;
    private final double[] nanosPerRow;
    private volatile int cap;
    private long runs;

    /**
     * @param max the configured largest batch (rows)
     * @param padded the model's padded size for a number of rows ({@link BatchModel#paddedSize})
     */
    BatchSizer(int max, java.util.function.IntUnaryOperator padded) {
        this.max = max;
        TreeSet<Integer> s = new TreeSet<>();
        for (int r = 1; r <= max; r++) {
            s.add(Math.min(max, Math.max(r, padded.applyAsInt(r))));
        }
        s.add(max);
        sizes = s.stream().mapToInt(Integer::intValue).toArray();
        nanosPerRow = new double[sizes.length];
        Arrays.fill(nanosPerRow, Double.NaN);
        cap = max;
    }

    /** The learned cap, in rows (the configured maximum until something is known). */
    int cap() {
        return cap;
    }

    /** The candidate sizes, smallest first. */
    int[] sizes() {
        return sizes.clone();
    }

    /**
     * The rows the next batch may hold: the cap, or on an exploring run (every {@value #EXPLORE_EVERY}th) the next
     * candidate above it and below it in turn (the one that exists when only one does), so a size that got cheaper,
     * or one never swept, is measured.
     */
    synchronized int nextLimit() {
        runs++;
        int c = cap;
        if (runs % EXPLORE_EVERY != 0) {
            return c;
        }
        int i = Arrays.binarySearch(sizes, c);
        boolean up = (runs / EXPLORE_EVERY) % 2 == 1;
        boolean canUp = i >= 0 && i + 1 < sizes.length;
        boolean canDown = i > 0;
        if (up && canUp || !canDown && canUp) {
            return sizes[i + 1];
        }
        if (canDown) {
            return sizes[i - 1];
        }
        return c;
    }

    /** Times each candidate on zero rows; a failure leaves the cap at the maximum (the batcher still runs). */
    synchronized void sweep(BatchModel model) {
        long t0 = System.nanoTime();
        for (int i = 0; i < sizes.length; i++) {
            int rows = sizes[i];
            // distinct zero images, each written as a request's would be
            ImageTensor[] images = new ImageTensor[rows];
            float[][] tabular = new float[rows][];
            float[] zeros = new float[model.imageSize()];
            float[] tab = new float[model.tabularWidth()];
            for (int r = 0; r < rows; r++) {
                images[r] = ImageTensor.of(zeros);
            }
            Arrays.fill(tabular, tab);
            model.predictRows(images, tabular); // warm-up: ONNX Runtime plans memory for this shape
            // one timed run: a sweep is paid for every model swapped in (a 512-px model: about a second), and the
            // runs that follow correct a noisy first figure
            long s = System.nanoTime();
            model.predictRows(images, tabular);
            nanosPerRow[i] = (System.nanoTime() - s) / (double) rows;
        }
        choose();
        LOG.info("batch sizes for this model on this machine (ms per row, swept in {} ms): {}; batches capped at {} "
                + "rows (batch.max.size {})", (System.nanoTime() - t0) / 1_000_000, describe(), cap, max);
    }

    /** A run of {@code rows} rows took {@code nanos}. */
    synchronized void observe(int rows, long nanos) {
        if (rows <= 0 || nanos <= 0) {
            return;
        }
        int i = bucket(rows);
        // a batch well below its candidate says little about it (padding dominates): only the upper half counts
        int lower = i == 0 ? 0 : sizes[i - 1];
        if (rows <= lower + (sizes[i] - lower) / 2 && i > 0) {
            return;
        }
        double perRow = nanos / (double) rows;
        nanosPerRow[i] = Double.isNaN(nanosPerRow[i]) ? perRow : (1 - ALPHA) * nanosPerRow[i] + ALPHA * perRow;
        int before = cap;
        choose();
        if (cap != before) {
            LOG.info("batch cap {} -> {} rows (ms per row: {})", before, cap, describe());
        }
    }

    private int bucket(int rows) {
        for (int i = 0; i < sizes.length; i++) {
            if (rows <= sizes[i]) {
                return i;
            }
        }
        return sizes.length - 1;
    }

    private void choose() {
        double best = Double.POSITIVE_INFINITY;
        for (double v : nanosPerRow) {
            if (!Double.isNaN(v) && v < best) {
                best = v;
            }
        }
        if (Double.isInfinite(best)) {
            return;
        }
        for (int i = 0; i < sizes.length; i++) {
            if (!Double.isNaN(nanosPerRow[i]) && nanosPerRow[i] <= best * (1 + GOOD_ENOUGH)) {
                cap = sizes[i];
                return;
            }
        }
    }

    /** "1: 4.10, 2: 3.95, ..." in ms per row. */
    synchronized String describe() {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < sizes.length; i++) {
            parts.add(sizes[i] + ": " + (Double.isNaN(nanosPerRow[i]) ? "?"
                    : String.format(Locale.ROOT, "%.3f", nanosPerRow[i] / 1e6)));
        }
        return String.join(", ", parts);
    }
}
