package io.medfuse.worker.batch;

import io.medfuse.model.engine.ModelInferenceException;

/**
 * The model failed on one request: its batch was split down to it and it still failed. The message says how,
 * with ONNX Runtime's error code when there is one, never input values.
 */
public class ModelRunException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ModelRunException(RuntimeException cause) {
        super(describe(cause), cause);
    }

    ModelRunException(String message, Throwable cause) {
        super(message, cause);
    }

    private static String describe(RuntimeException cause) {
        String code = cause instanceof ModelInferenceException m ? m.ortErrorCode() : null;
        return "the model failed on this request" + (code != null ? " (ONNX Runtime " + code + ")" : "") + ": "
                + cause.getMessage();
    }
}
