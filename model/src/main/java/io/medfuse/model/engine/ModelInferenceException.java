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

    /**
     * ONNX Runtime's own error code when it raised the failure (e.g. {@code ORT_INVALID_ARGUMENT}: this input was
     * refused; {@code ORT_RUNTIME_EXCEPTION}, {@code ORT_EP_FAIL}: the engine is failing), or null when the failure
     * was found by medfuse itself. Kept so callers can tell a bad input from a failing engine.
     */
    public String ortErrorCode() {
        for (Throwable t = getCause(); t != null; t = t.getCause()) {
            if (t instanceof ai.onnxruntime.OrtException ort) {
                return ort.getCode() == null ? null : ort.getCode().name();
            }
        }
        return null;
    }
}
