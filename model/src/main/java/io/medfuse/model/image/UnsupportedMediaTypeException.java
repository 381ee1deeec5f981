package io.medfuse.model.image;

/**
 * The declared media type is not one medfuse decodes (image/png, image/jpeg, application/dicom).
 */
public class UnsupportedMediaTypeException extends ImageException {
    private static final long serialVersionUID = 1L;

    public UnsupportedMediaTypeException(String message) {
        super(message);
    }
}
