package io.medfuse.worker.topology;

import java.nio.ByteBuffer;

/**
 * A consumed request that has no answer yet, as kept in the changelogged {@code pending-requests} store: the
 * original record's timestamp, key and value. Layout: timestamp (8 bytes), key length (4 bytes, -1 for null), key,
 * value.
 */
record PendingRequest(long timestamp, byte[] key, byte[] value) {

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
