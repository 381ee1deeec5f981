package io.medfuse.model;

/**
 * Root of the model module's unchecked exceptions. Each subclass names a cause; messages name the file, field,
 * shape or value involved and what would fix it.
 */
public class ModelException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ModelException(String message) {
        super(message);
    }

    public ModelException(String message, Throwable cause) {
        super(message, cause);
    }
}
