package io.medfuse.worker.topology;

/**
 * The topology's names and limits, built once from configuration.
 *
 * @param requestsTopic where ImagingRequest events come from
 * @param predictionsTopic where Prediction events go
 * @param deadLettersTopic where FailedRequest events go
 * @param forwardIntervalMs how often each task forwards finished results
 * @param deadLetterMaxOriginalBytes dead letters carry the original value up to this size
 */
public record TopologySettings(String requestsTopic, String predictionsTopic, String deadLettersTopic,
                               long forwardIntervalMs, int deadLetterMaxOriginalBytes) {
}
