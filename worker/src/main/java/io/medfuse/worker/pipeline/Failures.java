package io.medfuse.worker.pipeline;

import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;

import io.medfuse.events.FailureReason;
import io.medfuse.model.image.ImageDecodeException;
import io.medfuse.model.image.ImageTooLargeException;
import io.medfuse.model.image.UnsupportedMediaTypeException;
import io.medfuse.model.image.UnsupportedTransferSyntaxException;
import io.medfuse.worker.batch.BatcherClosedException;
import io.medfuse.worker.batch.ModelRunException;
import io.medfuse.events.serde.AvroDecodeException;
import io.medfuse.events.serde.DecodeFailure;

/**
 * The one place that decides what a failure means for a request's answer: which dead-letter reason, with which
 * detail, or no answer at all (the worker is stopping: the request stays pending for the next owner). Everything
 * that can go wrong between a record and its answer arrives here as an exception.
 */
public final class Failures {

    private Failures() {
    }

    /**
     * The dead letter a failure becomes, or empty when it is no answer (pipeline or batcher closed, work
     * cancelled because the worker stops).
     */
    public static Optional<Outcome.Failed> classify(Throwable failure) {
        Throwable t = unwrap(failure);
        if (t instanceof PipelineClosedException || t instanceof BatcherClosedException
                || t instanceof RejectedExecutionException || t instanceof CancellationException) {
            return Optional.empty();
        }
        FailureReason reason;
        String detail = t.getMessage();
        if (t instanceof RequestRejectedException r) {
            reason = r.reason();
        } else if (t instanceof AvroDecodeException a) {
            reason = a.failure() == DecodeFailure.UNKNOWN_SCHEMA_ID || a.failure() == DecodeFailure.INCOMPATIBLE_SCHEMA
                    ? FailureReason.UNKNOWN_SCHEMA : FailureReason.UNDESERIALIZABLE;
        } else if (t instanceof RequestTimedOutException) {
            reason = FailureReason.TIMED_OUT;
        } else if (t instanceof ImageTooLargeException) {
            reason = FailureReason.IMAGE_TOO_LARGE;
        } else if (t instanceof UnsupportedTransferSyntaxException) {
            reason = FailureReason.UNSUPPORTED_TRANSFER_SYNTAX;
        } else if (t instanceof UnsupportedMediaTypeException) {
            reason = FailureReason.UNSUPPORTED_MEDIA_TYPE;
        } else if (t instanceof ImageDecodeException) {
            reason = FailureReason.IMAGE_UNDECODABLE;
        } else if (t instanceof ModelRunException) {
            reason = FailureReason.MODEL_ERROR;
        } else {
            // a worker bug, not the request's fault: the class only (a message may carry input values); the
            // caller logs the stack once
            reason = FailureReason.INTERNAL_ERROR;
            detail = "the worker failed on this request (" + t.getClass().getName() + "); see the worker's log";
        }
        return Optional.of(new Outcome.Failed(reason, detail == null ? reason.name() : detail));
    }

    /** The failure itself, without the CompletionException/ExecutionException wrappers futures add. */
    public static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
