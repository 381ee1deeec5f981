package io.medfuse.model.image;

/**
 * The declared media type is not one medfuse decodes (image/png, image/jpeg), or the bytes are neither PNG nor JPEG.
 */
public class UnsupportedMediaTypeException extends ImageException {
    private static final long serialVersionUID = 1L;

    public UnsupportedMediaTypeException(String message) {
        super(message);
    }
}
