package io.medfuse.worker.pipeline;

/** The request was not answered within {@code request.deadline.ms}; its answer is a TIMED_OUT dead letter. */
public class RequestTimedOutException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * @param deadlineMs the deadline that passed
     * @param stage what the request was doing when it passed, e.g. "fetching its image"
     */
    public RequestTimedOutException(long deadlineMs, String stage) {
        super("the request was not answered within request.deadline.ms = " + deadlineMs + " ms (it was " + stage
                + ")");
    }
}
