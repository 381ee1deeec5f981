package io.medfuse.worker.topology;

import java.nio.ByteBuffer;

/**
 * A consumed request that has no answer yet, as kept in the changelogged {@code pending-requests} store (keyed by
 * its offset in the task's partition). Since issue 13 an entry holds only the record's timestamp (8 bytes): the
 * record itself is read again from the requests topic when a restarted task takes its pending requests
 * ({@link PendingSource}), so each image reaches the broker once instead of twice. Entries written before (timestamp,
 * key length (4 bytes, -1 for null), key, value; always 12 bytes or more) are still read, with their value.
 *
 * @param value the record's value when the entry holds it (older entries), else null
 */
record PendingRequest(long timestamp, byte[] key, byte[] value) {

    /** Length of an entry that holds coordinates only. */
    static final int COORDINATES_BYTES = 8;

    /** The entry for a record at a known offset: its timestamp, no bytes of the request. */
    static byte[] coordinates(long timestamp) {
        return ByteBuffer.allocate(COORDINATES_BYTES).putLong(timestamp).array();
    }

    /** The whole record, as entries were written before issue 13 (kept for tests of reading them). */
    byte[] toBytes() {
        int keyLen = key == null ? -1 : key.length;
        ByteBuffer b = ByteBuffer.allocate(12 + Math.max(0, keyLen) + value.length);
        b.putLong(timestamp).putInt(keyLen);
        if (key != null) {
            b.put(key);
        }
        b.put(value);
        return b.array();
    }

    static PendingRequest fromBytes(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        long ts = b.getLong();
        if (bytes.length == COORDINATES_BYTES) {
            return new PendingRequest(ts, null, null);
        }
        int keyLen = b.getInt();
        byte[] key = null;
        if (keyLen >= 0) {
            key = new byte[keyLen];
            b.get(key);
        }
        byte[] value = new byte[b.remaining()];
        b.get(value);
        return new PendingRequest(ts, key, value);
    }
}
