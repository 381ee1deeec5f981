package io.medfuse.model.contract;

import io.medfuse.model.ModelException;

/** A model contract is missing, malformed, or does not match the ONNX graph it travels with. */
public class ModelContractException extends ModelException {
    private static final long serialVersionUID = 1L;

    public ModelContractException(String message) {
        super(message);
    }

    public ModelContractException(String message, Throwable cause) {
        super(message, cause);
    }
}
