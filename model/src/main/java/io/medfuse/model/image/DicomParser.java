package io.medfuse.model.image;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Reads a DICOM Part 10 object (PS3.10): the 128-byte preamble and {@code DICM}, the file meta group (always
 * Explicit VR Little Endian), then the dataset in its transfer syntax (Implicit or Explicit VR Little Endian,
 * Deflated Explicit VR Little Endian, or an encapsulated syntax whose dataset is Explicit VR Little Endian).
 *
 * <p>Hostile input is normal input: every length is checked against the bytes left before anything is sliced;
 * sequences may nest at most {@value #MAX_DEPTH} deep; a dataset may hold at most {@value #MAX_ELEMENTS} elements;
 * a deflated dataset inflates to at most a bound derived from {@link ImageLimits}; undefined lengths are followed to
 * their delimiters. Values are not copied: elements point into the buffer. Error messages name structure (tags,
 * offsets, lengths), never a value.
 */
public final class DicomParser {

    /** Deepest sequence nesting accepted. Real objects rarely nest more than four. */
    public static final int MAX_DEPTH = 16;
    /** Most elements (at every depth, pixel fragments included) accepted in one object. */
    public static final int MAX_ELEMENTS = 100_000;

    private static final int PREAMBLE = 128;
    private static final long UNDEFINED = 0xFFFF_FFFFL;
    /** VRs whose explicit length is 4 bytes after 2 reserved ones (PS3.5 7.1.2). */
    private static final Set<String> LONG_VRS = Set.of("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN",
            "UR", "UT", "UV");

    private final byte[] buf;
    private final boolean explicitVr;
    private int pos;
    private int elements;

    private DicomParser(byte[] buf, int pos, boolean explicitVr) {
        this.buf = buf;
        this.pos = pos;
        this.explicitVr = explicitVr;
    }

    /** Whether the bytes start like a Part 10 file: {@code DICM} after the 128-byte preamble. */
    public static boolean isPart10(byte[] bytes) {
        return bytes != null && bytes.length >= PREAMBLE + 4 && bytes[PREAMBLE] == 'D' && bytes[PREAMBLE + 1] == 'I'
                && bytes[PREAMBLE + 2] == 'C' && bytes[PREAMBLE + 3] == 'M';
    }

    /**
     * @throws ImageDecodeException when the bytes are not a well-formed Part 10 object
     * @throws UnsupportedTransferSyntaxException when its transfer syntax is not one medfuse decodes
     * @throws ImageTooLargeException when a deflated dataset inflates beyond the limit
     */
    public static DicomObject parse(byte[] bytes, ImageLimits limits) {
        if (!isPart10(bytes)) {
            throw new ImageDecodeException("not a DICOM Part 10 file: there is no 'DICM' after a 128-byte preamble; "
                    + "send the whole file as written by the modality or PACS");
        }
        DicomParser meta = new DicomParser(bytes, PREAMBLE + 4, true);
        DicomDataset metaGroup = new DicomDataset(bytes);
        while (meta.pos + 4 <= bytes.length && meta.peekGroup() == 0x0002) {
            metaGroup.put(meta.readElement(metaGroup, bytes.length, 0));
        }
        if (!metaGroup.contains(DicomTags.TRANSFER_SYNTAX_UID)) {
            throw new ImageDecodeException("the DICOM file meta group has no TransferSyntaxUID (0002,0010)");
        }
        TransferSyntax ts = TransferSyntax.ofUid(metaGroup.string(DicomTags.TRANSFER_SYNTAX_UID).orElse(""));
        byte[] data = bytes;
        int start = meta.pos;
        if (ts.deflated()) {
            data = inflate(bytes, start, inflatedLimit(limits));
            start = 0;
        }
        DicomParser body = new DicomParser(data, start, ts.explicitVr());
        DicomDataset dataset = new DicomDataset(data);
        body.readDataset(dataset, data.length, 0, false);
        return new DicomObject(ts, dataset);
    }

    /** Room for the largest frame set the pixel limit allows (3 samples of 16 bits), plus 1 MiB of other tags. */
    static long inflatedLimit(ImageLimits limits) {
        return Math.min(Integer.MAX_VALUE - 16L, limits.maxPixels() * 6 + (1 << 20));
    }

    private static byte[] inflate(byte[] bytes, int start, long limit) {
        Inflater inflater = new Inflater(true);
        try {
            inflater.setInput(bytes, start, bytes.length - start);
            ByteArrayOutputStream out = new ByteArrayOutputStream(Math.min(bytes.length * 4, 1 << 20));
            byte[] chunk = new byte[64 * 1024];
            while (!inflater.finished()) {
                int n = inflater.inflate(chunk);
                if (n == 0) {
                    if (inflater.needsInput() || inflater.needsDictionary()) {
                        throw new ImageDecodeException("the deflated DICOM dataset is truncated");
                    }
                    continue;
                }
                if (out.size() + (long) n > limit) {
                    throw new ImageTooLargeException("the deflated DICOM dataset inflates to more than " + limit
                            + " bytes, more than image.max.pixels allows; send a smaller image or raise "
                            + "image.max.pixels");
                }
                out.write(chunk, 0, n);
            }
            return out.toByteArray();
        } catch (DataFormatException e) {
            throw new ImageDecodeException("the deflated DICOM dataset is corrupt (" + e.getMessage() + ")", e);
        } finally {
            inflater.end();
        }
    }

    private int peekGroup() {
        return u16(pos);
    }

    /**
     * Reads elements into {@code into} until {@code end}, or, inside an item of undefined length, until its
     * delimiter.
     */
    private void readDataset(DicomDataset into, int end, int depth, boolean untilDelimiter) {
        while (pos < end) {
            need(8, end, "an element header");
            int tag = tag(pos);
            if (tag == DicomTags.ITEM_DELIMITATION) {
                if (!untilDelimiter) {
                    throw corrupt("an item delimiter outside an item");
                }
                pos += 8;
                return;
            }
            if (tag == DicomTags.SEQUENCE_DELIMITATION || tag == DicomTags.ITEM) {
                throw corrupt("a sequence or item tag where a data element was expected");
            }
            into.put(readElement(into, end, depth));
        }
        if (untilDelimiter) {
            throw truncated("an item of undefined length has no delimiter");
        }
    }

    private DicomDataset.Element readElement(DicomDataset owner, int end, int depth) {
        need(8, end, "an element header");
        if (++elements > MAX_ELEMENTS) {
            throw new ImageDecodeException("the DICOM object has more than " + MAX_ELEMENTS + " elements");
        }
        int elementStart = pos;
        int tag = tag(pos);
        String vr;
        long length;
        if (explicitVr) {
            vr = new String(new char[] {(char) (buf[pos + 4] & 0xFF), (char) (buf[pos + 5] & 0xFF)});
            if (!vr.matches("[A-Z]{2}")) {
                throw corruptAt(elementStart, "element " + DicomTags.name(tag) + " has no valid VR");
            }
            if (LONG_VRS.contains(vr)) {
                need(12, end, "an element header");
                length = u32(pos + 8);
                pos += 12;
            } else {
                length = u16(pos + 6);
                pos += 8;
            }
        } else {
            length = u32(pos + 4);
            vr = length == UNDEFINED || DicomTags.implicitSequence(tag) ? "SQ" : "UN";
            pos += 8;
        }
        if (tag == DicomTags.PIXEL_DATA && length == UNDEFINED) {
            return new DicomDataset.Element(tag, vr, pos, 0, null, readFragments(end));
        }
        if ("SQ".equals(vr) || (length == UNDEFINED && "UN".equals(vr))) {
            return new DicomDataset.Element(tag, "SQ", pos, 0, readSequence(length, end, depth + 1, tag), null);
        }
        if (length == UNDEFINED) {
            throw corruptAt(elementStart, "element " + DicomTags.name(tag) + " (VR " + vr
                    + ") has an undefined length");
        }
        if (length > end - pos) {
            throw truncatedAt(elementStart, "element " + DicomTags.name(tag) + " says " + length + " bytes but "
                    + (end - pos) + " are left");
        }
        DicomDataset.Element e = new DicomDataset.Element(tag, vr, pos, (int) length, null, null);
        pos += (int) length;
        return e;
    }

    private List<DicomDataset> readSequence(long length, int end, int depth, int tag) {
        if (depth > MAX_DEPTH) {
            throw new ImageDecodeException("the DICOM object nests sequences more than " + MAX_DEPTH
                    + " deep (at " + DicomTags.name(tag) + ")");
        }
        int seqEnd;
        if (length == UNDEFINED) {
            seqEnd = end;
        } else {
            if (length > end - pos) {
                throw truncated("sequence " + DicomTags.name(tag) + " says " + length + " bytes but " + (end - pos)
                        + " are left");
            }
            seqEnd = pos + (int) length;
        }
        List<DicomDataset> items = new ArrayList<>();
        while (pos < seqEnd) {
            need(8, seqEnd, "an item header");
            int itemTag = tag(pos);
            long itemLength = u32(pos + 4);
            pos += 8;
            if (itemTag == DicomTags.SEQUENCE_DELIMITATION) {
                if (length != UNDEFINED) {
                    throw corrupt("a sequence delimiter in sequence " + DicomTags.name(tag) + " of defined length");
                }
                return items;
            }
            if (itemTag != DicomTags.ITEM) {
                throw corrupt("sequence " + DicomTags.name(tag) + " holds something other than items");
            }
            if (++elements > MAX_ELEMENTS) {
                throw new ImageDecodeException("the DICOM object has more than " + MAX_ELEMENTS + " elements");
            }
            DicomDataset item = new DicomDataset(buf);
            if (itemLength == UNDEFINED) {
                readDataset(item, seqEnd, depth, true);
            } else {
                if (itemLength > seqEnd - pos) {
                    throw truncated("an item of " + DicomTags.name(tag) + " says " + itemLength + " bytes but "
                            + (seqEnd - pos) + " are left");
                }
                readDataset(item, pos + (int) itemLength, depth, false);
            }
            items.add(item);
        }
        if (length == UNDEFINED) {
            throw truncated("sequence " + DicomTags.name(tag) + " of undefined length has no delimiter");
        }
        return items;
    }

    /** Encapsulated pixel data (PS3.5 A.4): the Basic Offset Table item, then fragments, then a delimiter. */
    private List<DicomDataset.Fragment> readFragments(int end) {
        List<DicomDataset.Fragment> fragments = new ArrayList<>();
        int first = pos;
        while (true) {
            need(8, end, "a pixel data item header");
            int itemTag = tag(pos);
            long length = u32(pos + 4);
            int itemStart = pos;
            pos += 8;
            if (itemTag == DicomTags.SEQUENCE_DELIMITATION) {
                if (fragments.isEmpty()) {
                    throw corrupt("encapsulated pixel data has no Basic Offset Table item");
                }
                return fragments;
            }
            if (itemTag != DicomTags.ITEM) {
                throw corrupt("encapsulated pixel data holds something other than items");
            }
            if (length == UNDEFINED || length > end - pos) {
                throw truncated("a pixel data fragment says " + (length == UNDEFINED ? "an undefined length"
                        : length + " bytes") + " but " + (end - pos) + " are left");
            }
            if (++elements > MAX_ELEMENTS) {
                throw new ImageDecodeException("the DICOM object has more than " + MAX_ELEMENTS + " elements");
            }
            fragments.add(new DicomDataset.Fragment(itemStart - first, pos, (int) length));
            pos += (int) length;
        }
    }

    private void need(int n, int end, String what) {
        if (end - pos < n) {
            throw truncated("the object ends inside " + what);
        }
    }

    private ImageDecodeException truncated(String what) {
        return truncatedAt(pos, what);
    }

    private static ImageDecodeException truncatedAt(int at, String what) {
        return new ImageDecodeException("the DICOM object is truncated or corrupt at byte " + at + ": " + what);
    }

    private ImageDecodeException corrupt(String what) {
        return corruptAt(pos, what);
    }

    private static ImageDecodeException corruptAt(int at, String what) {
        return new ImageDecodeException("the DICOM object is corrupt at byte " + at + ": " + what);
    }

    private int tag(int at) {
        return u16(at) << 16 | u16(at + 2);
    }

    private int u16(int at) {
        return (buf[at] & 0xFF) | (buf[at + 1] & 0xFF) << 8;
    }

    private long u32(int at) {
        return ((buf[at] & 0xFFL) | (buf[at + 1] & 0xFFL) << 8 | (buf[at + 2] & 0xFFL) << 16
                | (buf[at + 3] & 0xFFL) << 24);
    }
}
