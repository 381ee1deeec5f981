package io.medfuse.worker.pipeline;

/**
 * The pipeline closed (the worker is stopping, or its task moved) before the request was answered. Not the
 * request's fault and not an answer: the request stays pending and whoever owns its partition next answers it.
 */
public class PipelineClosedException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public PipelineClosedException() {
        super("the pipeline closed before this request was answered");
    }
}
