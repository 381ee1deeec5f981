package io.medfuse.worker.topology;

/**
 * The worker failed on a record before taking it into the pipeline, for a reason that is not the record's (a bug):
 * Kafka Streams' processing exception handler ({@link DeadLetterOnProcessingError}) answers it with an
 * INTERNAL_ERROR dead letter and processing goes on. Thrown only before the record is pending, so the dead letter
 * is its only answer.
 */
final class RequestProcessingException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String requestId;

    RequestProcessingException(String requestId, RuntimeException cause) {
        super("the worker failed on this request (" + cause.getClass().getName() + ")", cause);
        this.requestId = requestId;
    }

    /** The request id when it was known, else null. */
    String requestId() {
        return requestId;
    }
}
