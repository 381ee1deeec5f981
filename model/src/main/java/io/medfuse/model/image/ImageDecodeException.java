package io.medfuse.model.image;

/**
 * The bytes cannot be decoded: empty, truncated, corrupt, of another format than the declared media type, or in a
 * colour model medfuse does not convert.
 */
public class ImageDecodeException extends ImageException {
    private static final long serialVersionUID = 1L;

    public ImageDecodeException(String message) {
        super(message);
    }

    public ImageDecodeException(String message, Throwable cause) {
        super(message, cause);
    }
}
