package io.medfuse.worker.metrics;

import java.util.Map;

import io.medfuse.events.FailureReason;
import io.medfuse.events.ModelIdentity;
import io.medfuse.worker.batch.BatchStats;

/**
 * What the pipeline and the topology report while they work. Every method is cheap, never blocks and never throws;
 * the default does nothing ({@link #NONE}), so topology tests and tools that build a pipeline without metrics stay
 * unchanged. {@link MicrometerWorkerMetrics} is the production implementation.
 */
public interface WorkerMetrics {

    /** Reports nothing. */
    WorkerMetrics NONE = new WorkerMetrics() {
    };

    /** A record was read from the requests topic (before it is decoded); on a stream thread. */
    default void requestReceived() {
    }

    /**
     * A prediction was forwarded; on a stream thread.
     *
     * @param queueWaitNanos from the stream thread taking the request to the start of its model run
     * @param preprocessNanos image checks and decoding and the tabular encoding (not the fetch; resize and
     *                        normalisation are part of the batch's fill, inside queueWaitNanos)
     * @param inferenceNanos the model run of its batch
     */
    default void predicted(long queueWaitNanos, long preprocessNanos, long inferenceNanos) {
    }

    /**
     * What a forwarded prediction said beyond its label; on a stream thread.
     *
     * @param referral its referral mark (null: no threshold is set)
     * @param influenceShift its clinical-data shift (NaN: not measured)
     */
    default void predictionNotes(Boolean referral, double influenceShift) {
    }

    /** A dead letter was forwarded with this reason; on a stream thread. */
    default void deadLetter(FailureReason reason) {
    }

    /** A model run succeeded; on the batcher thread, once per run. */
    default void batchCompleted(BatchStats stats) {
    }

    /** A model run failed (it is split, or its one request becomes a MODEL_ERROR); on the batcher thread. */
    default void batchFailed(BatchStats stats) {
    }

    /** A request repeated an earlier one (same id, same content) and was not answered again; on a stream thread. */
    default void duplicateIgnored() {
    }

    /**
     * A forwarded prediction, by the model that answered it; on a stream thread.
     *
     * @param inferenceNanos its batch's model run
     * @param referral its referral mark (null: no threshold)
     */
    default void modelAnswered(ModelIdentity model, long inferenceNanos, Boolean referral) {
    }

    /** A run of this model failed; on its batcher thread. */
    default void modelRunFailed(ModelIdentity model) {
    }

    /** The models serving now, by role (lower-case: primary, canary, shadow). */
    default void modelsServing(Map<String, ModelIdentity> byRole) {
    }

    /** A model announced for a role was loaded, checked, warmed up and put in it. */
    default void modelInstalled(String role) {
    }

    /** A model announced for a role was refused, for this reason (see ModelRefusal). */
    default void modelRefused(String role, String reason) {
    }

    /** The shadow answered a request (its prediction went to the shadow topic). */
    default void shadowPredicted() {
    }

    /** The shadow failed on a request (the request's own answer is unaffected). */
    default void shadowFailed() {
    }

    /** The shadow model was skipped for a request (it held its limit of requests already, or was closing). */
    default void shadowSkipped() {
    }

    /** A task took {@code n} pending requests again after a crash or a rebalance; on a stream thread. */
    default void pendingResubmitted(int n) {
    }

    /** Of those, {@code n} records were read again from the requests topic; on a stream thread. */
    default void pendingReread(int n) {
    }
}
