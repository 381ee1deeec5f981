package io.medfuse.worker;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a stream thread's failure does to the worker. Per-record problems never get here (they become dead letters
 * through the processor and Kafka Streams' processing and production handlers); what does is the cluster or the
 * state failing. A thread is replaced (it reads again from the last commit; pending requests are re-submitted) up to
 * {@value #MAX_REPLACEMENTS} times in {@value #WINDOW_MINUTES} minutes; a failure that keeps coming back stops the
 * worker instead of looping, so that Kafka Streams reports ERROR, {@code /health/live} fails and the process exits
 * with a non-zero status for its supervisor to restart it.
 */
final class StreamThreadFailures implements StreamsUncaughtExceptionHandler {

    private static final Logger LOG = LoggerFactory.getLogger(StreamThreadFailures.class);
    static final int MAX_REPLACEMENTS = 3;
    static final int WINDOW_MINUTES = 10;

    private final Deque<Long> recent = new ArrayDeque<>();

    @Override
    public synchronized StreamThreadExceptionResponse handle(Throwable exception) {
        long now = System.nanoTime();
        while (!recent.isEmpty() && now - recent.peekFirst() > TimeUnit.MINUTES.toNanos(WINDOW_MINUTES)) {
            recent.pollFirst();
        }
        if (recent.size() < MAX_REPLACEMENTS) {
            recent.addLast(now);
            LOG.error("a stream thread failed ({}); replacing it ({} of {} allowed in {} minutes): the records since "
                    + "the last commit are read again, nothing is lost", summary(exception), recent.size(),
                    MAX_REPLACEMENTS, WINDOW_MINUTES, exception);
            return StreamThreadExceptionResponse.REPLACE_THREAD;
        }
        LOG.error("stream threads failed {} times in {} minutes, last: {}; stopping this worker so that it is "
                + "restarted (pending requests are answered by the next owner of their partitions)",
                MAX_REPLACEMENTS + 1, WINDOW_MINUTES, summary(exception), exception);
        return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    }

    private static String summary(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return t == root ? t.toString() : t.getClass().getSimpleName() + " caused by " + root;
    }
}
