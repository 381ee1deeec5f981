package io.medfuse.worker.batch;

/** The batcher closed before the request ran: not the request's fault, so it must not become a dead letter. */
public class BatcherClosedException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public BatcherClosedException() {
        super("the batcher closed before this request ran");
    }
}
