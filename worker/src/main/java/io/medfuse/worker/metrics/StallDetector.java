package io.medfuse.worker.metrics;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Tells a worker that has stopped making progress while work waits: a model run that does not return, requests in
 * the pipeline with neither a model run nor a failure of their own for a while, or answers that the stream threads
 * do not write. Readiness turns DOWN after {@code ready}, liveness after {@code live} (so an orchestrator restarts
 * a truly stuck worker, whose pending requests the next owner answers). A pause for a schema registry outage is not
 * a stall: it shows on readiness with its own reason and never fails liveness. Reads its signals on every check;
 * keeps no state of its own.
 */
public final class StallDetector {

    /** Model runs that failed in a row before readiness reports a failing model. */
    static final int FAILING_MODEL_RUNS = 20;

    /** What the detector reads; every method is cheap and thread-safe. */
    public interface Signals {
        /** Requests inside the pipeline (admitted, not yet complete). */
        int outstanding();

        /** Nanoseconds since a model run or a request failing for its own reason. */
        long nanosSinceProgress();

        /** How long the model run in progress has taken, 0 when none runs. */
        long modelRunningForNanos();

        /** Model runs that failed in a row. */
        int consecutiveFailedRuns();

        /** Outcomes not yet forwarded by their stream task. */
        int answersWaiting();

        /** Nanoseconds since an outcome was forwarded (or began to wait). */
        long nanosWithoutForwarding();

        /** Why consumption is paused on purpose (a registry outage), if it is. */
        Optional<String> pausedBecause();
    }

    private final Signals signals;
    private final long readyNanos;
    private final long liveNanos;

    public StallDetector(Signals signals, Duration ready, Duration live) {
        this.signals = signals;
        this.readyNanos = ready.toNanos();
        this.liveNanos = live.toNanos();
    }

    /** Why readiness is DOWN, if it is. */
    public Optional<String> notReady() {
        Optional<String> paused = signals.pausedBecause();
        if (paused.isPresent()) {
            return paused;
        }
        Optional<String> stall = stall(readyNanos);
        if (stall.isPresent()) {
            return stall;
        }
        int failed = signals.consecutiveFailedRuns();
        if (failed >= FAILING_MODEL_RUNS) {
            return Optional.of("the model failed its last " + failed + " runs");
        }
        return Optional.empty();
    }

    /** Why liveness fails, if it does. */
    public Optional<String> notLive() {
        if (signals.pausedBecause().isPresent()) {
            return Optional.empty();
        }
        return stall(liveNanos).map(why -> "stalled: " + why + "; restarting the instance is the way out");
    }

    private Optional<String> stall(long threshold) {
        long run = signals.modelRunningForNanos();
        if (run >= threshold) {
            return Optional.of("a model run has taken " + seconds(run) + " s so far");
        }
        int inside = signals.outstanding();
        long quiet = signals.nanosSinceProgress();
        if (inside > 0 && quiet >= threshold) {
            return Optional.of("no progress for " + seconds(quiet) + " s while " + inside
                    + " request(s) are in the pipeline");
        }
        int waiting = signals.answersWaiting();
        long unforwarded = signals.nanosWithoutForwarding();
        if (waiting > 0 && unforwarded >= threshold) {
            return Optional.of(waiting + " answer(s) have waited " + seconds(unforwarded)
                    + " s to be written (the stream threads are not forwarding)");
        }
        return Optional.empty();
    }

    private static long seconds(long nanos) {
        return TimeUnit.NANOSECONDS.toSeconds(nanos);
    }
}
