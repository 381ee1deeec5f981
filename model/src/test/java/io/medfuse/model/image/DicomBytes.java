package io.medfuse.model.image;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** Little-endian DICOM bytes written element by element, for objects no tool would write (decoder tests). */
final class DicomBytes {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    DicomBytes raw(byte[] b) {
        out.writeBytes(b);
        return this;
    }

    DicomBytes ascii(String s) {
        return raw(s.getBytes(StandardCharsets.ISO_8859_1));
    }

    DicomBytes u16(int v) {
        return raw(new byte[] {(byte) v, (byte) (v >>> 8)});
    }

    DicomBytes u32(long v) {
        return raw(new byte[] {(byte) v, (byte) (v >>> 8), (byte) (v >>> 16), (byte) (v >>> 24)});
    }

    DicomBytes tag(int tag) {
        return u16(tag >>> 16).u16(tag & 0xFFFF);
    }

    /** An Explicit VR element with a short (2-byte) length, padded to even length with a space. */
    DicomBytes element(int tag, String vr, String value) {
        String v = value.length() % 2 == 0 ? value : value + " ";
        return tag(tag).ascii(vr).u16(v.length()).ascii(v);
    }

    byte[] bytes() {
        return out.toByteArray();
    }
}
