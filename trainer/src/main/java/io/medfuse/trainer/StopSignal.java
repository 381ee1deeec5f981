package io.medfuse.trainer;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Asks a running training to stop after the current batch and keep the best weights so far (Ctrl-C: the command
 * line's shutdown hook calls {@link #stop()} and waits for the model to be written). Thread-safe.
 */
public final class StopSignal {
    private final AtomicBoolean stopped = new AtomicBoolean();

    public void stop() {
        stopped.set(true);
    }

    public boolean isStopped() {
        return stopped.get();
    }
}
