package io.medfuse.model.engine;

import io.medfuse.model.ModelException;

/**
 * ONNX Runtime could not load a model on the requested device, or failed while running a batch. Messages name the
 * model and, for a failed run, the batch shape.
 */
public class ModelInferenceException extends ModelException {
    private static final long serialVersionUID = 1L;

    public ModelInferenceException(String message) {
        super(message);
    }

    public ModelInferenceException(String message, Throwable cause) {
        super(message, cause);
    }
}
