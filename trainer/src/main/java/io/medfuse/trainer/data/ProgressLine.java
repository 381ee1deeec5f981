package io.medfuse.trainer.data;

import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * A progress line for long work over a known number of items (reading and decoding images, extracting backbone
 * features, scoring): at most one line per interval, "reading images: 1,200 of 2,808 (43 %), 31 per s, about 52 s
 * left", and one at the end with the total time. Thread-safe: {@link #step()} may be called from parallel workers.
 */
public final class ProgressLine {

    private final String what;
    private final int total;
    private final Consumer<String> out;
    private final long intervalNanos;
    private final LongSupplier clock;
    private final long start;
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicLong lastPrinted;

    /** Every 5 seconds on the system clock. */
    public ProgressLine(String what, int total, Consumer<String> out) {
        this(what, total, out, 5_000_000_000L, System::nanoTime);
    }

    /**
     * @param intervalNanos least time between two lines
     * @param clock nanoseconds, as {@link System#nanoTime()}
     */
    public ProgressLine(String what, int total, Consumer<String> out, long intervalNanos, LongSupplier clock) {
        this.what = Objects.requireNonNull(what, "what");
        this.total = total;
        this.out = Objects.requireNonNull(out, "out");
        this.intervalNanos = intervalNanos;
        this.clock = clock;
        this.start = clock.getAsLong();
        this.lastPrinted = new AtomicLong(start);
    }

    /** One item done; prints a line when the interval has passed since the last one. */
    public void step() {
        int d = done.incrementAndGet();
        long now = clock.getAsLong();
        long last = lastPrinted.get();
        if (now - last >= intervalNanos && d < total && lastPrinted.compareAndSet(last, now)) {
            double seconds = (now - start) / 1e9;
            double rate = seconds > 0 ? d / seconds : 0;
            String left = rate > 0 ? ", about " + duration((total - d) / rate) + " left" : "";
            out.accept(String.format(Locale.ROOT, "%s: %,d of %,d (%d %%), %s per s%s", what, d, total,
                    (int) (100L * d / Math.max(1, total)), rate >= 10 ? String.format(Locale.ROOT, "%.0f", rate)
                            : String.format(Locale.ROOT, "%.1f", rate), left));
        }
    }

    /** The closing line: how many, how long, how fast. */
    public void done() {
        double seconds = (clock.getAsLong() - start) / 1e9;
        int d = done.get();
        out.accept(String.format(Locale.ROOT, "%s: %,d done in %s (%.1f per s)", what, d, duration(seconds),
                seconds > 0 ? d / seconds : 0.0));
    }

    /** "52 s", "3 min 05 s", "1 h 02 min". */
    static String duration(double seconds) {
        long s = Math.round(seconds);
        if (s < 90) {
            return s + " s";
        }
        if (s < 3600) {
            return String.format(Locale.ROOT, "%d min %02d s", s / 60, s % 60);
        }
        return String.format(Locale.ROOT, "%d h %02d min", s / 3600, (s % 3600) / 60);
    }
}
