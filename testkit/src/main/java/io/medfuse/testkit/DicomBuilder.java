package io.medfuse.testkit;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Writes DICOM Part 10 objects byte by byte (Explicit VR Little Endian, or Implicit when asked) for tests that need
 * objects no tool would write: lying lengths, deep nesting, missing elements, broken fragments. Nothing is checked:
 * the point is to write what a hostile or broken producer could. Objects made by real implementations live under
 * {@code model/src/test/resources/dicom/independent}.
 */
public final class DicomBuilder {

    public static final String EXPLICIT_LE = "1.2.840.10008.1.2.1";
    public static final String IMPLICIT_LE = "1.2.840.10008.1.2";
    public static final String RLE = "1.2.840.10008.1.2.5";
    public static final String JPEG_BASELINE = "1.2.840.10008.1.2.4.50";

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final boolean explicit;

    private DicomBuilder(boolean explicit) {
        this.explicit = explicit;
    }

    /** A preamble, {@code DICM} and a meta group naming {@code transferSyntax}; the dataset follows. */
    public static DicomBuilder part10(String transferSyntax) {
        DicomBuilder meta = new DicomBuilder(true);
        meta.raw(new byte[128]).raw("DICM".getBytes(StandardCharsets.US_ASCII));
        DicomBuilder group = new DicomBuilder(true);
        group.element(0x0002_0001, "OB", new byte[] {0, 1});
        group.string(0x0002_0002, "UI", "1.2.840.10008.5.1.4.1.1.7");
        group.string(0x0002_0003, "UI", "1.2.826.0.1.3680043.10.1234.1");
        group.string(0x0002_0010, "UI", transferSyntax);
        group.string(0x0002_0012, "UI", "1.2.826.0.1.3680043.10.1234");
        byte[] body = group.bytes();
        meta.element(0x0002_0000, "UL", le32(body.length));
        meta.raw(body);
        DicomBuilder b = new DicomBuilder(!IMPLICIT_LE.equals(transferSyntax));
        b.raw(meta.bytes());
        return b;
    }

    /** A builder without preamble or meta group (for item contents, or a bare dataset). */
    public static DicomBuilder dataset(boolean explicitVr) {
        return new DicomBuilder(explicitVr);
    }

    /** An element with a value, padded to even length as DICOM requires (space for text, NUL otherwise). */
    public DicomBuilder string(int tag, String vr, String value) {
        byte[] v = value.getBytes(StandardCharsets.ISO_8859_1);
        if (v.length % 2 == 1) {
            byte[] padded = new byte[v.length + 1];
            System.arraycopy(v, 0, padded, 0, v.length);
            padded[v.length] = (byte) (vr.equals("UI") ? 0 : ' ');
            v = padded;
        }
        return element(tag, vr, v);
    }

    /** An unsigned short (VR US). */
    public DicomBuilder us(int tag, int value) {
        return element(tag, "US", new byte[] {(byte) value, (byte) (value >>> 8)});
    }

    /** An element with the given value and its true length. */
    public DicomBuilder element(int tag, String vr, byte[] value) {
        header(tag, vr, value.length);
        return raw(value);
    }

    /** An element header claiming {@code length} (which may lie, or be 0xFFFFFFFF: undefined). */
    public DicomBuilder header(int tag, String vr, long length) {
        tag(tag);
        if (explicit) {
            raw(vr.getBytes(StandardCharsets.US_ASCII));
            if (longVr(vr)) {
                raw(new byte[2]);
                raw(le32(length));
            } else {
                raw(new byte[] {(byte) length, (byte) (length >>> 8)});
            }
        } else {
            raw(le32(length));
        }
        return this;
    }

    /** An item or delimiter tag with a 4-byte length (items: {@code 0xFFFEE000}). */
    public DicomBuilder item(int tag, long length) {
        tag(tag);
        return raw(le32(length));
    }

    /** Encapsulated pixel data: an empty Basic Offset Table, each fragment, the sequence delimiter. */
    public DicomBuilder encapsulated(byte[]... fragments) {
        header(0x7FE0_0010, "OB", 0xFFFF_FFFFL);
        item(0xFFFE_E000, 0);
        for (byte[] f : fragments) {
            item(0xFFFE_E000, f.length);
            raw(f);
        }
        return item(0xFFFE_E0DD, 0);
    }

    /** The image pixel module of an 8-bit image: rows, columns, samples, photometric interpretation. */
    public DicomBuilder pixelModule(int rows, int columns, int samples, String photometric) {
        us(0x0028_0002, samples);
        string(0x0028_0004, "CS", photometric);
        if (samples > 1) {
            us(0x0028_0006, 0);
        }
        us(0x0028_0010, rows);
        us(0x0028_0011, columns);
        us(0x0028_0100, 8);
        us(0x0028_0101, 8);
        us(0x0028_0102, 7);
        return us(0x0028_0103, 0);
    }

    /**
     * A Secondary Capture object of an RGB image (Explicit VR Little Endian, elements in tag order) with the given
     * patient tags (null: left out) and UIDs: what a dermatoscope's DICOM export might send.
     *
     * @param patientAge an Age String such as {@code 045Y}
     * @param patientSex {@code M}, {@code F} or {@code O}
     */
    public static byte[] secondaryCapture(java.awt.image.BufferedImage image, String patientAge, String patientSex,
                                          String bodyPart, String studyUid, String seriesUid, String sopUid) {
        DicomBuilder b = part10(EXPLICIT_LE);
        b.string(0x0008_0016, "UI", "1.2.840.10008.5.1.4.1.1.7");
        b.string(0x0008_0018, "UI", sopUid);
        b.string(0x0008_0060, "CS", "XC");
        if (patientSex != null) {
            b.string(0x0010_0040, "CS", patientSex);
        }
        if (patientAge != null) {
            b.string(0x0010_1010, "AS", patientAge);
        }
        if (bodyPart != null) {
            b.string(0x0018_0015, "CS", bodyPart);
        }
        b.string(0x0020_000D, "UI", studyUid);
        b.string(0x0020_000E, "UI", seriesUid);
        int w = image.getWidth();
        int h = image.getHeight();
        b.pixelModule(h, w, 3, "RGB");
        byte[] pixels = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = image.getRGB(x, y);
                int i = 3 * (y * w + x);
                pixels[i] = (byte) (rgb >>> 16);
                pixels[i + 1] = (byte) (rgb >>> 8);
                pixels[i + 2] = (byte) rgb;
            }
        }
        return b.element(0x7FE0_0010, "OB", pixels).bytes();
    }

    /** A UID under 2.25 (PS3.5 B.2) from a name: the same name, the same UID. */
    public static String uidFor(String name) {
        java.util.UUID u = java.util.UUID.nameUUIDFromBytes(name.getBytes(StandardCharsets.UTF_8));
        java.math.BigInteger v = new java.math.BigInteger(1, java.nio.ByteBuffer.allocate(16)
                .putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits()).array());
        return "2.25." + v;
    }

    /** Bytes as they are. */
    public DicomBuilder raw(byte[] bytes) {
        out.writeBytes(bytes);
        return this;
    }

    public byte[] bytes() {
        return out.toByteArray();
    }

    private void tag(int tag) {
        raw(new byte[] {(byte) (tag >>> 16), (byte) (tag >>> 24), (byte) tag, (byte) (tag >>> 8)});
    }

    private static boolean longVr(String vr) {
        return switch (vr) {
            case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV" -> true;
            default -> false;
        };
    }

    private static byte[] le32(long v) {
        return new byte[] {(byte) v, (byte) (v >>> 8), (byte) (v >>> 16), (byte) (v >>> 24)};
    }
}
