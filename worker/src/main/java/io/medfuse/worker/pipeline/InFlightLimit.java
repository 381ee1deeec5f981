package io.medfuse.worker.pipeline;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The bound on requests held between their admission to the pipeline and their outcome, for the whole instance
 * ({@code max.in.flight}): memory stays flat under any backlog. Whoever takes a permit gives it back when the
 * request's future completes; in the worker both happen in {@code InferenceProcessor}. Thread-safe.
 */
public final class InFlightLimit {

    private final int capacity;
    private final Semaphore permits;

    public InFlightLimit(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be >= 1, got " + capacity);
        }
        this.capacity = capacity;
        this.permits = new Semaphore(capacity);
    }

    /** Takes a permit if one frees within {@code timeoutMillis} (0: only if one is free now). */
    public boolean tryAcquire(long timeoutMillis) throws InterruptedException {
        return timeoutMillis <= 0 ? permits.tryAcquire() : permits.tryAcquire(timeoutMillis, TimeUnit.MILLISECONDS);
    }

    /** Gives a permit back; once per permit taken. */
    public void release() {
        permits.release();
    }

    /** Requests holding a permit now. */
    public int inFlight() {
        return capacity - permits.availablePermits();
    }

    public int capacity() {
        return capacity;
    }
}
