package io.medfuse.app.bench;

import java.util.Arrays;

/** When each answer of a saturation stage was read; gives the steady-state rate. Thread-safe. */
final class Arrivals {

    private final long started = System.nanoTime();
    private long[] nanos = new long[1024];
    private int n;

    synchronized void add(long atNanos) {
        if (n == nanos.length) {
            nanos = Arrays.copyOf(nanos, n * 2);
        }
        nanos[n++] = atNanos;
    }

    synchronized int count() {
        return n;
    }

    /** Waits until {@code expected} answers arrived or the timeout passed; true when all came. */
    boolean await(int expected, long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (count() < expected) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(20);
        }
        return true;
    }

    /**
     * Answers per second between the 10th and the 90th percentile of {@code expected} arrivals: leaves out start-up
     * (consumer group join, first transaction, model load) and the tail, so the number is the steady state.
     */
    synchronized double steadyRate(int expected) {
        if (n < 2) {
            return 0;
        }
        int a = Math.min(n - 1, (int) (expected * 0.1));
        int b = Math.min(n - 1, Math.max(a + 1, (int) Math.ceil(expected * 0.9) - 1));
        long dt = nanos[b] - nanos[a];
        if (dt < 1_000_000_000L) {
            // a short run answered in a few transactions: too coarse, so count the whole stage (start-up included)
            dt = Math.max(1, nanos[n - 1] - started);
            return n / (dt / 1e9);
        }
        return (b - a) / (dt / 1e9);
    }
}
