package io.medfuse.model.image;

/**
 * The DICOM transfer syntaxes medfuse knows by UID: those it decodes, and the common ones it names when it refuses
 * them. Any other UID is refused as unknown.
 */
public enum TransferSyntax {
    IMPLICIT_VR_LITTLE_ENDIAN("1.2.840.10008.1.2", "Implicit VR Little Endian", Encoding.NATIVE, false, true),
    EXPLICIT_VR_LITTLE_ENDIAN("1.2.840.10008.1.2.1", "Explicit VR Little Endian", Encoding.NATIVE, true, true),
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN("1.2.840.10008.1.2.1.99", "Deflated Explicit VR Little Endian",
            Encoding.NATIVE, true, true),
    RLE_LOSSLESS("1.2.840.10008.1.2.5", "RLE Lossless", Encoding.RLE, true, true),
    JPEG_BASELINE("1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1)", Encoding.JPEG, true, true),
    JPEG_EXTENDED("1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 & 4)", Encoding.JPEG, true, true),
    EXPLICIT_VR_BIG_ENDIAN("1.2.840.10008.1.2.2", "Explicit VR Big Endian (retired)", Encoding.NATIVE, true, false),
    JPEG_LOSSLESS("1.2.840.10008.1.2.4.57", "JPEG Lossless, Non-Hierarchical (Process 14)", Encoding.JPEG, true,
            false),
    JPEG_LOSSLESS_SV1("1.2.840.10008.1.2.4.70", "JPEG Lossless, Non-Hierarchical, First-Order Prediction",
            Encoding.JPEG, true, false),
    JPEG_LS_LOSSLESS("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless", Encoding.OTHER, true, false),
    JPEG_LS_NEAR_LOSSLESS("1.2.840.10008.1.2.4.81", "JPEG-LS Lossy (Near-Lossless)", Encoding.OTHER, true, false),
    JPEG_2000_LOSSLESS("1.2.840.10008.1.2.4.90", "JPEG 2000 Image Compression (Lossless Only)", Encoding.OTHER, true,
            false),
    JPEG_2000("1.2.840.10008.1.2.4.91", "JPEG 2000 Image Compression", Encoding.OTHER, true, false),
    MPEG2_MAIN("1.2.840.10008.1.2.4.100", "MPEG2 Main Profile / Main Level", Encoding.OTHER, true, false),
    MPEG4_AVC("1.2.840.10008.1.2.4.102", "MPEG-4 AVC/H.264 High Profile / Level 4.1", Encoding.OTHER, true, false),
    HEVC("1.2.840.10008.1.2.4.107", "HEVC/H.265 Main Profile / Level 5.1", Encoding.OTHER, true, false),
    HTJ2K("1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 Image Compression (Lossless Only)", Encoding.OTHER,
            true, false);

    /** How the pixel data is stored. */
    public enum Encoding {
        /** Uncompressed samples in a defined-length Pixel Data element. */
        NATIVE,
        /** Encapsulated RLE Lossless segments (PS3.5 Annex G). */
        RLE,
        /** Encapsulated JPEG streams. */
        JPEG,
        /** Anything else medfuse does not decode. */
        OTHER
    }

    private final String uid;
    private final String label;
    private final Encoding encoding;
    private final boolean explicitVr;
    private final boolean supported;

    TransferSyntax(String uid, String label, Encoding encoding, boolean explicitVr, boolean supported) {
        this.uid = uid;
        this.label = label;
        this.encoding = encoding;
        this.explicitVr = explicitVr;
        this.supported = supported;
    }

    public String uid() {
        return uid;
    }

    /** The name PS3.6 gives it. */
    public String label() {
        return label;
    }

    public Encoding encoding() {
        return encoding;
    }

    boolean explicitVr() {
        return explicitVr;
    }

    boolean deflated() {
        return this == DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN;
    }

    /** Whether medfuse decodes pixel data in this syntax. */
    public boolean supported() {
        return supported;
    }

    /**
     * The syntax of a (0002,0010) value.
     *
     * @throws UnsupportedTransferSyntaxException when it is known but not decoded, or not known at all; the message
     *                                            names it (an invalid UID is not echoed)
     */
    static TransferSyntax ofUid(String value) {
        String uid = value == null ? "" : value.trim();
        for (TransferSyntax ts : values()) {
            if (ts.uid.equals(uid)) {
                if (!ts.supported) {
                    throw new UnsupportedTransferSyntaxException("the DICOM object's transfer syntax " + ts.label
                            + " (" + ts.uid + ") is not supported; " + supportedList());
                }
                return ts;
            }
        }
        String shown = uid.matches("[0-9.]{1,64}") ? "UID " + uid : "an invalid UID";
        throw new UnsupportedTransferSyntaxException("the DICOM object's transfer syntax (" + shown
                + ") is not one medfuse knows; " + supportedList());
    }

    static String supportedList() {
        StringBuilder sb = new StringBuilder("send one of: ");
        boolean first = true;
        for (TransferSyntax ts : values()) {
            if (ts.supported) {
                sb.append(first ? "" : ", ").append(ts.label);
                first = false;
            }
        }
        return sb.toString();
    }
}
