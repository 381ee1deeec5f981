package io.medfuse.worker.batch;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A dynamic batcher shared by every stream task of an instance (like Triton's): requests from all partitions
 * queue here; a batch runs as soon as it holds {@code maxBatchSize} requests or its oldest request has waited
 * {@code maxQueueDelay}. While a batch runs, new requests queue, so the next batch forms without waiting when the
 * model is the bottleneck. A failing batch is split in halves until the failing request is isolated, so the
 * others still get predictions.
 *
 * <p>The queue itself is unbounded: callers bound the number of requests in flight (see the worker's
 * {@code max.in.flight}). One daemon thread runs the model; it owns nothing native — the model's owner closes it
 * after closing this batcher.
 */
public final class MicroBatcher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(MicroBatcher.class);

    private record Pending(float[] image, float[] tabular, long enqueuedNanos, BatchCallback callback) {
    }

    private final BatchModel model;
    private final int maxBatchSize;
    private final long maxQueueDelayNanos;
    private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean running = true;
    private final AtomicLong batches = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();

    /**
     * Starts the batching thread.
     *
     * @param maxBatchSize largest batch, &gt;= 1
     * @param maxQueueDelayMillis longest wait of the oldest request for its batch to fill, &gt;= 0
     */
    public MicroBatcher(BatchModel model, int maxBatchSize, long maxQueueDelayMillis) {
        if (maxBatchSize < 1) {
            throw new IllegalArgumentException("maxBatchSize must be >= 1, got " + maxBatchSize);
        }
        this.model = model;
        this.maxBatchSize = maxBatchSize;
        this.maxQueueDelayNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(0, maxQueueDelayMillis));
        // a large native stack: ONNX Runtime recurses deeply in places (see OnnxClassifier.LOAD_STACK_BYTES)
        this.thread = new Thread(null, this::loop, "medfuse-batcher", 64L * 1024 * 1024);
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /**
     * Queues one request. Never blocks.
     *
     * @param image {@link BatchModel#imageSize()} floats
     * @param tabular {@link BatchModel#tabularWidth()} floats
     * @param callback told the outcome on the batcher thread
     * @throws IllegalStateException after {@link #close()}
     */
    public void submit(float[] image, float[] tabular, BatchCallback callback) {
        if (!running) {
            throw new BatcherClosedException();
        }
        if (image.length != model.imageSize() || tabular.length != model.tabularWidth()) {
            throw new IllegalArgumentException("input sizes " + image.length + "/" + tabular.length
                    + " do not match the model's " + model.imageSize() + "/" + model.tabularWidth());
        }
        queue.add(new Pending(image, tabular, System.nanoTime(), callback));
    }

    /** Requests waiting for a batch. */
    public int queued() {
        return queue.size();
    }

    /** Batches run so far (after splits). */
    public long batchCount() {
        return batches.get();
    }

    /** Requests answered so far. */
    public long requestCount() {
        return requests.get();
    }

    private void loop() {
        List<Pending> batch = new ArrayList<>(maxBatchSize);
        while (running) {
            try {
                Pending first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                long deadline = first.enqueuedNanos + maxQueueDelayNanos;
                while (batch.size() < maxBatchSize) {
                    long remaining = deadline - System.nanoTime();
                    if (remaining <= 0) {
                        queue.drainTo(batch, maxBatchSize - batch.size());
                        break;
                    }
                    Pending next = queue.poll(remaining, TimeUnit.NANOSECONDS);
                    if (next == null) {
                        break;
                    }
                    batch.add(next);
                }
                run(batch);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (RuntimeException | Error e) {
                // a callback threw: never let the only inference thread die
                LOG.error("batch handling failed: {}", e.toString(), e);
            } finally {
                batch.clear();
            }
        }
        failRemaining();
    }

    private void run(List<Pending> batch) {
        int n = batch.size();
        int imageSize = model.imageSize();
        int tabularWidth = model.tabularWidth();
        float[] images = new float[n * imageSize];
        float[] tabular = new float[n * tabularWidth];
        for (int i = 0; i < n; i++) {
            Pending p = batch.get(i);
            System.arraycopy(p.image, 0, images, i * imageSize, imageSize);
            System.arraycopy(p.tabular, 0, tabular, i * tabularWidth, tabularWidth);
        }
        long start = System.nanoTime();
        float[][] out;
        try {
            out = model.predict(images, tabular, n);
            if (out == null || out.length < n) {
                throw new IllegalStateException("the model returned " + (out == null ? "nothing" : out.length
                        + " rows") + " for a batch of " + n);
            }
        } catch (RuntimeException e) {
            long took = System.nanoTime() - start;
            batches.incrementAndGet();
            if (n == 1) {
                requests.incrementAndGet();
                batch.get(0).callback.failed(e, new BatchStats(1, model.paddedSize(1), start, took));
                return;
            }
            LOG.warn("a batch of {} failed ({}); splitting it to isolate the failing request", n, e.toString());
            run(new ArrayList<>(batch.subList(0, n / 2)));
            run(new ArrayList<>(batch.subList(n / 2, n)));
            return;
        }
        long took = System.nanoTime() - start;
        batches.incrementAndGet();
        requests.addAndGet(n);
        BatchStats stats = new BatchStats(n, model.paddedSize(n), start, took);
        for (int i = 0; i < n; i++) {
            batch.get(i).callback.completed(out[i], stats);
        }
    }

    private void failRemaining() {
        List<Pending> left = new ArrayList<>();
        queue.drainTo(left);
        for (Pending p : left) {
            p.callback.failed(new BatcherClosedException(),
                    new BatchStats(0, 0, System.nanoTime(), 0));
        }
    }

    /** Stops taking batches; the batch running now finishes; queued requests are failed. */
    @Override
    public void close() {
        running = false;
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
