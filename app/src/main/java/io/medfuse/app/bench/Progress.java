package io.medfuse.app.bench;

import java.io.PrintStream;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * The live progress line on stderr: stage, count, rate and elapsed time, redrawn twice a second on a terminal and
 * printed every five seconds otherwise (so CI logs stay short). Stdout keeps only the table.
 */
final class Progress implements AutoCloseable {

    private final PrintStream err;
    private final boolean terminal;
    private final Thread thread;
    private volatile String label = "";
    private volatile LongSupplier counter = () -> 0;
    private volatile long stageStart = System.nanoTime();
    private volatile boolean running = true;
    private int lastLength;

    Progress(PrintStream err, boolean enabled) {
        this.err = err;
        this.terminal = System.console() != null;
        this.thread = new Thread(this::loop, "medfuse-bench-progress");
        this.thread.setDaemon(true);
        if (enabled) {
            thread.start();
        }
    }

    /** A new stage; {@code count} is read by the display thread. */
    void stage(String newLabel, LongSupplier count) {
        synchronized (this) {
            clearLine();
            this.label = newLabel;
            this.counter = count;
            this.stageStart = System.nanoTime();
        }
    }

    /** A stage whose progress is counted by the caller through the returned adder. */
    LongAdder stage(String newLabel) {
        LongAdder adder = new LongAdder();
        stage(newLabel, adder::sum);
        return adder;
    }

    /** A note between stages, on its own line. */
    synchronized void note(String text) {
        clearLine();
        err.println("[bench] " + text);
    }

    private void loop() {
        long lastPrinted = 0;
        while (running) {
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                return;
            }
            long now = System.nanoTime();
            if (label.isEmpty() || (!terminal && now - lastPrinted < 5_000_000_000L)) {
                continue;
            }
            lastPrinted = now;
            synchronized (this) {
                double seconds = (now - stageStart) / 1e9;
                long n = counter.getAsLong();
                String line = String.format("[bench] %s: %d done, %.1f/s, %.0f s", label, n,
                        seconds > 0 ? n / seconds : 0, seconds);
                if (terminal) {
                    err.print("\r" + line + " ".repeat(Math.max(0, lastLength - line.length())));
                    lastLength = line.length();
                } else {
                    err.println(line);
                }
                err.flush();
            }
        }
    }

    private void clearLine() {
        if (terminal && lastLength > 0) {
            err.print("\r" + " ".repeat(lastLength) + "\r");
            lastLength = 0;
        }
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
        synchronized (this) {
            clearLine();
        }
    }
}
