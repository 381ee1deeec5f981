package io.medfuse.worker.batch;

/** Receives one request's outcome, on the batcher's thread: keep it short and never block. */
public interface BatchCallback {

    /** The request's class probabilities. */
    void completed(float[] probabilities, BatchStats stats);

    /** The model failed on this request alone (its batch was split down to it). */
    void failed(RuntimeException error, BatchStats stats);
}
