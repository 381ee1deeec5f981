package io.medfuse.events.serde;

import java.util.IdentityHashMap;
import java.util.Map;
import org.apache.avro.Schema;

/**
 * Walks Avro binary data against its writer schema without materialising anything, and fails on any length,
 * count or index that the remaining bytes cannot hold.
 *
 * <p>Why: Avro's decoders allocate a string, byte array or list of the size a length prefix announces
 * <em>before</em> reading it, and by default allow up to ~2 GiB ({@code org.apache.avro.limits.*} system
 * properties are JVM-global and read once). A 20-byte hostile or corrupt record could otherwise make a worker
 * allocate gigabytes. Running this first bounds every allocation of the real read by the record's size. It also
 * rejects trailing bytes after the record, which usually mean the wrong schema id.
 *
 * <p>Immutable and thread-safe; one per writer schema.
 */
final class AvroBoundsCheck {

    /** Items that take no bytes (null, empty records) still cost memory; cap their count per array or map. */
    static final long MAX_ZERO_SIZE_ITEMS = 1 << 20;
    /** Nesting limit, so recursive schemas cannot overflow the stack. */
    static final int MAX_DEPTH = 256;

    private static final Schema MAP_KEY = Schema.create(Schema.Type.STRING);

    private final Schema writer;
    private final Map<Schema, Integer> minSize = new IdentityHashMap<>();

    AvroBoundsCheck(Schema writer) {
        this.writer = writer;
        minEncodedSize(writer);
    }

    /** Thrown for data that does not fit the writer schema; the message names the byte offset. */
    static final class MalformedAvroException extends Exception {
        MalformedAvroException(String message) {
            super(message);
        }
    }

    /** Checks {@code bytes[start..]} holds exactly one datum of the writer schema. */
    void check(byte[] bytes, int start) throws MalformedAvroException {
        Cursor cursor = new Cursor(bytes, start);
        cursor.value(writer, 0);
        if (cursor.pos != bytes.length) {
            throw new MalformedAvroException((bytes.length - cursor.pos) + " trailing bytes after the record ends at byte "
                    + cursor.pos + " of " + bytes.length + " (wrong schema id in the header?)");
        }
    }

    /** Smallest number of bytes a datum of this schema encodes to; computed once per schema in the constructor. */
    private int minEncodedSize(Schema s) {
        Integer known = minSize.get(s);
        if (known != null) {
            return known;
        }
        minSize.put(s, 0); // breaks cycles in recursive schemas; corrected below
        int size = switch (s.getType()) {
            case NULL -> 0;
            case BOOLEAN, INT, LONG, ENUM, STRING, BYTES -> 1;
            case FLOAT -> 4;
            case DOUBLE -> 8;
            case FIXED -> s.getFixedSize();
            case ARRAY -> {
                minEncodedSize(s.getElementType());
                yield 1;
            }
            case MAP -> {
                minEncodedSize(s.getValueType());
                yield 1;
            }
            case UNION -> {
                s.getTypes().forEach(this::minEncodedSize);
                yield 1;
            }
            case RECORD -> {
                int sum = 0;
                for (Schema.Field f : s.getFields()) {
                    sum += minEncodedSize(f.schema());
                }
                yield sum;
            }
        };
        minSize.put(s, size);
        return size;
    }

    private final class Cursor {
        private final byte[] b;
        private int pos;

        Cursor(byte[] b, int start) {
            this.b = b;
            this.pos = start;
        }

        void value(Schema s, int depth) throws MalformedAvroException {
            if (depth > MAX_DEPTH) {
                throw fail("nesting deeper than " + MAX_DEPTH);
            }
            switch (s.getType()) {
                case NULL -> { }
                case BOOLEAN -> need(1, "boolean");
                case INT -> varint(5, "int");
                case LONG -> varint(10, "long");
                case FLOAT -> need(4, "float");
                case DOUBLE -> need(8, "double");
                case FIXED -> need(s.getFixedSize(), "fixed " + s.getFullName());
                case STRING, BYTES -> {
                    long length = varint(10, s.getType().getName() + " length");
                    if (length < 0 || length > remaining()) {
                        throw fail(s.getType().getName() + " length " + length + " but only " + remaining()
                                + " bytes left");
                    }
                    pos += (int) length;
                }
                case ENUM -> index(s.getEnumSymbols().size(), "enum " + s.getFullName() + " symbol");
                case UNION -> value(s.getTypes().get(index(s.getTypes().size(), "union branch")), depth + 1);
                case RECORD -> {
                    for (Schema.Field f : s.getFields()) {
                        value(f.schema(), depth + 1);
                    }
                }
                case ARRAY -> blocks(s.getElementType(), false, depth);
                case MAP -> blocks(s.getValueType(), true, depth);
            }
        }

        private void blocks(Schema item, boolean map, int depth) throws MalformedAvroException {
            int itemMin = minSize.get(item) + (map ? 1 : 0);
            long total = 0;
            while (true) {
                long count = varint(10, "block count");
                if (count == 0) {
                    return;
                }
                if (count < 0) {
                    if (count == Long.MIN_VALUE) {
                        throw fail("block count out of range");
                    }
                    count = -count;
                    long blockBytes = varint(10, "block size");
                    if (blockBytes < 0 || blockBytes > remaining()) {
                        throw fail("block size " + blockBytes + " but only " + remaining() + " bytes left");
                    }
                }
                total += count;
                boolean fits = itemMin > 0 ? count <= remaining() / itemMin : total <= MAX_ZERO_SIZE_ITEMS;
                if (!fits) {
                    throw fail((map ? "map" : "array") + " block of " + count + " items cannot fit in the "
                            + remaining() + " bytes left");
                }
                for (long i = 0; i < count; i++) {
                    if (map) {
                        value(MAP_KEY, depth + 1);
                    }
                    value(item, depth + 1);
                }
            }
        }

        private int index(int size, String what) throws MalformedAvroException {
            long i = varint(5, what);
            if (i < 0 || i >= size) {
                throw fail(what + " index " + i + " out of range 0.." + (size - 1));
            }
            return (int) i;
        }

        /** Reads a zig-zag varint of at most {@code maxBytes} bytes. */
        private long varint(int maxBytes, String what) throws MalformedAvroException {
            long raw = 0;
            for (int i = 0; i < maxBytes; i++) {
                if (pos >= b.length) {
                    throw fail("data ends inside a " + what);
                }
                int octet = b[pos++] & 0xff;
                raw |= (long) (octet & 0x7f) << (7 * i);
                if ((octet & 0x80) == 0) {
                    return (raw >>> 1) ^ -(raw & 1);
                }
            }
            throw fail("invalid variable-length " + what + " (more than " + maxBytes + " bytes)");
        }

        private void need(int n, String what) throws MalformedAvroException {
            if (n > remaining()) {
                throw fail("data ends inside a " + what + " (" + n + " bytes needed, " + remaining() + " left)");
            }
            pos += n;
        }

        private long remaining() {
            return b.length - pos;
        }

        private MalformedAvroException fail(String what) {
            return new MalformedAvroException("at byte " + pos + " of " + b.length + ": " + what);
        }
    }
}
