package io.medfuse.app.bench;

import java.util.Arrays;
import java.util.function.LongSupplier;

/**
 * When each answer of a saturation stage was read; gives the steady-state rate and, with CPU clocks, the CPU time
 * per answer over the same steady span. Thread-safe.
 */
final class Arrivals {

    private final long started = System.nanoTime();
    private long[] nanos = new long[1024];
    private int n;
    private final int expected;
    private final LongSupplier[] clocks;
    /**
     * Each clock's reading at the steady span's first and last answer, then at the start and at the last expected
     * answer (for a stage too short for a steady span); -1 until read.
     */
    private final long[][] cpu;

    Arrivals() {
        this(0);
    }

    /**
     * @param expected the answers the stage waits for (the steady span runs from the 10th to the 90th percentile)
     * @param clocks CPU clocks read at both ends of the steady span
     */
    Arrivals(int expected, LongSupplier... clocks) {
        this.expected = expected;
        this.clocks = clocks;
        this.cpu = new long[clocks.length][];
        for (int i = 0; i < clocks.length; i++) {
            cpu[i] = new long[] {-1, -1, clocks[i].getAsLong(), -1};
        }
    }

    synchronized void add(long atNanos) {
        if (n == nanos.length) {
            nanos = Arrays.copyOf(nanos, n * 2);
        }
        if (clocks.length > 0 && (n == spanStart(expected) || n == spanEnd(expected) || n == expected - 1)) {
            for (int i = 0; i < clocks.length; i++) {
                long now = clocks[i].getAsLong();
                if (n == spanStart(expected)) {
                    cpu[i][0] = now;
                }
                if (n == spanEnd(expected)) {
                    cpu[i][1] = now;
                }
                if (n == expected - 1) {
                    cpu[i][3] = now;
                }
            }
        }
        nanos[n++] = atNanos;
    }

    private static int spanStart(int expected) {
        return (int) (expected * 0.1);
    }

    private static int spanEnd(int expected) {
        return Math.max(spanStart(expected) + 1, (int) Math.ceil(expected * 0.9) - 1);
    }

    /**
     * CPU ms per answer of clock {@code i} over the steady span; NaN when it was not read at both ends. Where the span
     * is under a second (a short stage answered in a few transactions: its answers arrive a commit at a time, so the
     * span can even be one instant), over the whole stage instead, as {@link #steadyRate} does.
     */
    synchronized double cpuMsPerAnswer(int i) {
        int a = spanStart(expected);
        int b = spanEnd(expected);
        if (n > b && nanos[b] - nanos[a] < 1_000_000_000L && cpu[i][3] >= 0) {
            return CpuClock.msPer(cpu[i][2], cpu[i][3], expected);
        }
        return CpuClock.msPer(cpu[i][0], cpu[i][1], b - a);
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
