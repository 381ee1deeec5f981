package io.medfuse.model.image;

/**
 * The encoded image is over {@link ImageLimits#maxBytes()}, or its header declares more than
 * {@link ImageLimits#maxPixels()} pixels. Raised before any pixel is decoded.
 */
public class ImageTooLargeException extends ImageException {
    private static final long serialVersionUID = 1L;

    public ImageTooLargeException(String message) {
        super(message);
    }
}
