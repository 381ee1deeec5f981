package io.medfuse.app.bench;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** Latency samples in ms and their percentiles (nearest rank). Not thread-safe; callers synchronise. */
final class Latencies {

    private double[] values = new double[1024];
    private int n;

    void add(double ms) {
        if (n == values.length) {
            values = Arrays.copyOf(values, n * 2);
        }
        values[n++] = ms;
    }

    int count() {
        return n;
    }

    /** p in [0, 100]; NaN when empty. */
    double percentile(double p) {
        if (n == 0) {
            return Double.NaN;
        }
        double[] sorted = Arrays.copyOf(values, n);
        Arrays.sort(sorted);
        int rank = (int) Math.ceil(p / 100.0 * n);
        return sorted[Math.max(0, Math.min(n - 1, rank - 1))];
    }

    double mean() {
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += values[i];
        }
        return n == 0 ? Double.NaN : s / n;
    }

    /** p50, p95, p99, max, mean, count. */
    Map<String, Object> summary() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("p50_ms", Bench.round(percentile(50)));
        m.put("p95_ms", Bench.round(percentile(95)));
        m.put("p99_ms", Bench.round(percentile(99)));
        m.put("max_ms", Bench.round(percentile(100)));
        m.put("mean_ms", Bench.round(mean()));
        m.put("count", n);
        return m;
    }
}
