package io.medfuse.worker.pipeline;

import io.medfuse.events.FailureReason;

/**
 * A request that cannot be answered with a prediction: it becomes a dead letter with {@link #reason()}. The message
 * is the dead letter's detail and never contains patient data values.
 */
public class RequestRejectedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final FailureReason reason;

    public RequestRejectedException(FailureReason reason, String detail) {
        super(detail);
        this.reason = reason;
    }

    public RequestRejectedException(FailureReason reason, String detail, Throwable cause) {
        super(detail, cause);
        this.reason = reason;
    }

    public FailureReason reason() {
        return reason;
    }
}
