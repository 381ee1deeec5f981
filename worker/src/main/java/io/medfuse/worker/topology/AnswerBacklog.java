package io.medfuse.worker.topology;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Outcomes known but not yet forwarded by their stream task, across the instance: when some wait and none has been
 * forwarded for a while, the stream threads are stuck (the stall detector reads this). Thread-safe.
 */
public final class AnswerBacklog {

    private final AtomicInteger waiting = new AtomicInteger();
    private final AtomicLong lastForwardNanos = new AtomicLong(System.nanoTime());
    private final AtomicLong waitingSinceNanos = new AtomicLong(System.nanoTime());

    void added() {
        if (waiting.getAndIncrement() == 0) {
            waitingSinceNanos.set(System.nanoTime());
        }
    }

    void forwarded() {
        waiting.decrementAndGet();
        lastForwardNanos.set(System.nanoTime());
    }

    /** A task closed with outcomes it will never forward (its requests stay pending for the next owner). */
    void dropped(int n) {
        waiting.addAndGet(-n);
    }

    /** Outcomes waiting to be forwarded. */
    public int waiting() {
        return waiting.get();
    }

    /** Nanoseconds since an outcome was last forwarded or began to wait, whichever is later. */
    public long nanosWithoutForwarding() {
        return System.nanoTime() - Math.max(lastForwardNanos.get(), waitingSinceNanos.get());
    }
}
