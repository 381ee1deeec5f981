package io.medfuse.worker.registry;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.medfuse.events.registry.SchemaRegistryClient;
import io.medfuse.events.registry.SchemaRegistryException;
import io.medfuse.events.registry.UnknownSchemaException;

/**
 * What the worker does while the schema registry cannot be reached: a record whose writer schema is not cached
 * cannot be read, and reading on would skip it or hold a transaction open for the whole outage. So the first such
 * record is kept (pending, not answered), consumption pauses, and a probe asks the registry for that schema with
 * a growing pause between attempts (250 ms doubling up to 5 s) until it answers; then consumption resumes and the
 * kept records are read again. Nothing is lost or skipped; while it lasts, readiness says why (liveness does not
 * fail: a restart would not help).
 *
 * <p>While consumption is paused Kafka Streams runs no punctuation either, so answers already known wait with the
 * rest until the registry is back: the outage delays them, never drops them.
 *
 * <p>The log shows one line when the outage starts, one every ten attempts and one when it ends, never a stack
 * trace. Thread-safe.
 */
public final class RegistryOutage implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RegistryOutage.class);
    private static final long FIRST_BACKOFF_MS = 250;

    private final SchemaRegistryClient registry;
    private final long maxBackoffMs;
    private volatile Runnable pause = () -> { };
    private volatile Runnable resume = () -> { };
    private final Object lock = new Object();
    /** Guarded by lock. */
    private Thread probe;
    private volatile long downSinceNanos;
    private volatile String lastError;
    private volatile int attempts;
    private volatile long outages;
    private volatile boolean closed;

    public RegistryOutage(SchemaRegistryClient registry, Duration maxBackoff) {
        this.registry = registry;
        this.maxBackoffMs = Math.max(FIRST_BACKOFF_MS, maxBackoff.toMillis());
    }

    /** How to stop and restart consumption (Kafka Streams' pause and resume); set once the streams exist. */
    public void attach(Runnable pauseConsumption, Runnable resumeConsumption) {
        this.pause = pauseConsumption;
        this.resume = resumeConsumption;
    }

    /**
     * A record's writer schema {@code schemaId} could not be fetched: pause consumption and probe until the
     * registry answers. Calls while an outage is already known only update its last error.
     */
    public void unavailable(int schemaId, String error) {
        synchronized (lock) {
            lastError = error;
            if (probe != null || closed) {
                return;
            }
            downSinceNanos = System.nanoTime();
            attempts = 0;
            outages++;
            LOG.warn("schema registry unreachable ({}); pausing consumption until it answers (records waiting for "
                    + "writer schema id {} are kept, not skipped)", error, schemaId);
            // paused before the probe starts, so a registry that answers at once cannot be resumed first
            pause.run();
            probe = new Thread(() -> probe(schemaId), "medfuse-registry-probe");
            probe.setDaemon(true);
            probe.start();
        }
    }

    private void probe(int schemaId) {
        long backoff = FIRST_BACKOFF_MS;
        while (!closed) {
            try {
                TimeUnit.MILLISECONDS.sleep(backoff);
            } catch (InterruptedException e) {
                return;
            }
            attempts++;
            try {
                registry.schemaById(schemaId);
                break;
            } catch (UnknownSchemaException e) {
                break; // it answers: the record will be a dead letter for its unknown id, which is now a fact
            } catch (SchemaRegistryException e) {
                lastError = e.getMessage();
                if (attempts % 10 == 0) {
                    LOG.warn("schema registry still unreachable after {} s ({} attempts): {}", downSeconds(),
                            attempts, e.getMessage());
                }
            } catch (RuntimeException e) {
                lastError = e.toString();
            }
            backoff = Math.min(maxBackoffMs, backoff * 2);
        }
        long seconds = downSeconds();
        synchronized (lock) {
            // under the lock, as pause is: an outage reported meanwhile finds this one still open and waits for it,
            // instead of being resumed by a probe that already finished
            probe = null;
            downSinceNanos = 0;
            if (!closed) {
                LOG.info("schema registry answers again after {} s ({} attempts); resuming consumption", seconds,
                        attempts);
                resume.run();
            }
        }
    }

    private long downSeconds() {
        long since = downSinceNanos;
        return since == 0 ? 0 : TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - since);
    }

    /** True while consumption is paused for the registry. */
    public boolean isDown() {
        return downSinceNanos != 0;
    }

    /** Outages seen so far. */
    public long outages() {
        return outages;
    }

    /** Why readiness is DOWN, while an outage lasts. */
    public Optional<String> reason() {
        if (!isDown()) {
            return Optional.empty();
        }
        return Optional.of("the schema registry has been unreachable for " + downSeconds() + " s (" + attempts
                + " attempts; last: " + lastError + "); consumption is paused until it answers");
    }

    @Override
    public void close() {
        closed = true;
        Thread t;
        synchronized (lock) {
            t = probe;
        }
        if (t != null) {
            t.interrupt();
        }
    }
}
