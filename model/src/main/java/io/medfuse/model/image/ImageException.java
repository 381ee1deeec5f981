package io.medfuse.model.image;

import io.medfuse.model.ModelException;

/**
 * An image could not be turned into a tensor. Subclasses name the cause, so the worker can route each to its own
 * dead-letter reason. Messages never contain pixel data or patient fields.
 */
public class ImageException extends ModelException {
    private static final long serialVersionUID = 1L;

    public ImageException(String message) {
        super(message);
    }

    public ImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
