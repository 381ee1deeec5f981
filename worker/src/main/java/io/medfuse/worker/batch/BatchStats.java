package io.medfuse.worker.batch;

/**
 * How one request's batch went.
 *
 * @param batchSize requests in the batch that finally ran (after any split)
 * @param paddedSize batch size after padding
 * @param inferenceStartNanos {@link System#nanoTime()} when the run started
 * @param inferenceNanos duration of the model run
 */
public record BatchStats(int batchSize, int paddedSize, long inferenceStartNanos, long inferenceNanos) {
}
