package io.medfuse.model.image;

/**
 * A DICOM object is well formed, but its pixel data is encoded in a transfer syntax medfuse does not decode (JPEG
 * 2000, JPEG-LS, lossless JPEG, big endian, video, or an unknown UID). The message names the syntax by name and UID.
 */
public class UnsupportedTransferSyntaxException extends ImageException {
    private static final long serialVersionUID = 1L;

    public UnsupportedTransferSyntaxException(String message) {
        super(message);
    }
}
