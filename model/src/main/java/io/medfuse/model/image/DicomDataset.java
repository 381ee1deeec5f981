package io.medfuse.model.image;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * The elements of one DICOM dataset (the object itself, or an item of a sequence), by tag. Values are read from
 * the parsed buffer on demand, little endian. Strings are decoded as ISO 8859-1 (a superset of the default
 * repertoire that never fails), with leading and trailing spaces and NULs removed.
 *
 * <p>Values of patient tags are returned to the caller only; no method puts a value into an exception message.
 */
public final class DicomDataset {

    /** One element: its VR (as read, or from the implicit-VR dictionary), value position and any nested content. */
    record Element(int tag, String vr, int offset, int length, List<DicomDataset> items, List<Fragment> fragments) {
    }

    /**
     * One item of encapsulated pixel data.
     *
     * @param itemOffset position of the item's tag, relative to the first item (the Basic Offset Table)
     * @param offset position of the fragment's bytes in the buffer
     */
    record Fragment(long itemOffset, int offset, int length) {
    }

    private final byte[] buffer;
    private final Map<Integer, Element> elements = new HashMap<>();

    DicomDataset(byte[] buffer) {
        this.buffer = buffer;
    }

    void put(Element e) {
        elements.put(e.tag(), e);
    }

    byte[] buffer() {
        return buffer;
    }

    Element element(int tag) {
        return elements.get(tag);
    }

    /** Whether the dataset has the element (with or without a value). */
    public boolean contains(int tag) {
        return elements.containsKey(tag);
    }

    /** The first value of a string element, trimmed; empty when absent or empty. */
    public Optional<String> string(int tag) {
        List<String> values = strings(tag);
        return values.isEmpty() || values.get(0).isEmpty() ? Optional.empty() : Optional.of(values.get(0));
    }

    /** Every value of a (backslash-separated) string element, each trimmed; empty when absent. */
    public List<String> strings(int tag) {
        Element e = elements.get(tag);
        if (e == null || e.length() == 0 || e.items() != null || e.fragments() != null) {
            return List.of();
        }
        String text = new String(buffer, e.offset(), e.length(), StandardCharsets.ISO_8859_1);
        List<String> out = new ArrayList<>();
        for (String part : text.split("\\\\", -1)) {
            out.add(trim(part));
        }
        return out;
    }

    /**
     * Whether {@code value} has the form of a DICOM UID (PS3.5 9.1: digits and dots, at most 64 characters), the
     * only form in which medfuse echoes an identifier it was sent.
     */
    public static boolean isUid(String value) {
        return value != null && value.length() <= 64 && value.matches("[0-9]+(\\.[0-9]+)*");
    }

    /** A UID element's value when it has the form of a UID (anything else is treated as absent). */
    public Optional<String> uid(int tag) {
        return string(tag).filter(DicomDataset::isUid);
    }

    /** An unsigned 16-bit value (VR US), when present with at least two bytes. */
    public OptionalInt uint16(int tag) {
        Element e = elements.get(tag);
        if (e == null || e.length() < 2 || e.items() != null || e.fragments() != null) {
            return OptionalInt.empty();
        }
        return OptionalInt.of((buffer[e.offset()] & 0xFF) | (buffer[e.offset() + 1] & 0xFF) << 8);
    }

    /**
     * The first value of an integer string (VR IS), when present and readable.
     *
     * @throws ImageDecodeException when it is present but not an integer
     */
    public OptionalInt integerString(int tag) {
        Optional<String> s = string(tag);
        if (s.isEmpty()) {
            return OptionalInt.empty();
        }
        String v = s.get();
        if (v.length() > 12 || !v.matches("[+-]?[0-9]+")) {
            throw new ImageDecodeException("the DICOM element " + DicomTags.name(tag) + " is not an integer string");
        }
        long n = Long.parseLong(v);
        if (n < Integer.MIN_VALUE || n > Integer.MAX_VALUE) {
            throw new ImageDecodeException("the DICOM element " + DicomTags.name(tag) + " is out of range");
        }
        return OptionalInt.of((int) n);
    }

    /**
     * The first value of a decimal string (VR DS), when present.
     *
     * @throws ImageDecodeException when it is present but not a finite number
     */
    public OptionalDouble decimalString(int tag) {
        Optional<String> s = string(tag);
        if (s.isEmpty()) {
            return OptionalDouble.empty();
        }
        String v = s.get();
        if (v.length() > 16 || !v.matches("[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?")) {
            throw new ImageDecodeException("the DICOM element " + DicomTags.name(tag) + " is not a decimal string");
        }
        double d = Double.parseDouble(v);
        if (!Double.isFinite(d)) {
            throw new ImageDecodeException("the DICOM element " + DicomTags.name(tag) + " is out of range");
        }
        return OptionalDouble.of(d);
    }

    /** The items of a sequence element; empty when absent or not a sequence. */
    public List<DicomDataset> items(int tag) {
        Element e = elements.get(tag);
        return e == null || e.items() == null ? List.of() : Collections.unmodifiableList(e.items());
    }

    private static String trim(String s) {
        int start = 0;
        int end = s.length();
        while (start < end && (s.charAt(start) == ' ' || s.charAt(start) == 0)) {
            start++;
        }
        while (end > start && (s.charAt(end - 1) == ' ' || s.charAt(end - 1) == 0)) {
            end--;
        }
        return s.substring(start, end);
    }
}
