package io.medfuse.model.onnx;

import io.medfuse.model.ModelException;

/** Bytes that should be an ONNX model cannot be read as one (truncated, not ONNX, unreadable file). */
public class OnnxFormatException extends ModelException {
    private static final long serialVersionUID = 1L;

    public OnnxFormatException(String message) {
        super(message);
    }

    public OnnxFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
