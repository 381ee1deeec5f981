package io.medfuse.worker.topology;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.Arrays;

import org.apache.kafka.streams.state.WindowStore;
import org.apache.kafka.streams.state.WindowStoreIterator;

/**
 * The request ids one stream task has taken within the last {@code request.id.window.ms}, each with the digest of
 * its content and where it was read, in a changelogged window store (RocksDB: on disk, memory bounded; entries
 * older than the window are dropped with their segment). Written in the same transaction as the request's pending
 * entry, so after a crash it says exactly what the committed state says.
 *
 * <p>Requests are keyed by request id on the requests topic, so one id always reaches the same task; a producer
 * that keys otherwise gets the check within each partition only (docs/architecture.md).
 */
final class RequestIds {

    /** What a request id means for the request that carries it now. */
    enum Verdict {
        /** Not seen within the window. */
        NEW,
        /** The same record read again (at-least-once replay after a crash): process it as new. */
        REREAD,
        /** The same request again (a producer retry): it was answered, or will be, once. */
        SAME_AGAIN,
        /** Another request used this id: a DUPLICATE_REQUEST_ID dead letter. */
        CONFLICT
    }

    /** A verdict and, unless NEW, where the first request with the id was read. */
    record Check(Verdict verdict, int firstPartition, long firstOffset) {
    }

    private static final int VALUE_LENGTH = RequestDigest.LENGTH + 4 + 8;

    private final WindowStore<String, byte[]> store;
    private final long windowMs;

    RequestIds(WindowStore<String, byte[]> store, long windowMs) {
        this.store = store;
        this.windowMs = windowMs;
    }

    Check check(String requestId, byte[] digest, int partition, long offset, long nowMs) {
        try (WindowStoreIterator<byte[]> it = store.backwardFetch(requestId, Instant.ofEpochMilli(nowMs - windowMs),
                Instant.ofEpochMilli(nowMs))) {
            while (it.hasNext()) {
                byte[] v = it.next().value;
                if (v == null || v.length != VALUE_LENGTH) {
                    continue;
                }
                ByteBuffer b = ByteBuffer.wrap(v);
                byte[] seen = new byte[RequestDigest.LENGTH];
                b.get(seen);
                int p = b.getInt();
                long o = b.getLong();
                if (p == partition && o == offset) {
                    return new Check(Verdict.REREAD, p, o);
                }
                return new Check(Arrays.equals(seen, digest) ? Verdict.SAME_AGAIN : Verdict.CONFLICT, p, o);
            }
        }
        return new Check(Verdict.NEW, -1, -1);
    }

    void remember(String requestId, byte[] digest, int partition, long offset, long nowMs) {
        store.put(requestId, ByteBuffer.allocate(VALUE_LENGTH).put(digest).putInt(partition).putLong(offset).array(),
                nowMs);
    }
}
