package io.medfuse.worker.batch;

import io.medfuse.model.image.ImageTensor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
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
 * <p>Each request gets a future. The batcher completes it and nothing else: whatever a caller attached to it runs
 * inside the future's own machinery, so one caller's failure can never affect another request of the batch. A
 * future that is already done when its batch forms (cancelled, or failed at its deadline) is left out of the
 * batch. The batcher reports every model run to its {@link Listener} itself, once per run.
 *
 * <p>The queue is unbounded: callers bound the number of requests in flight (the worker's {@code max.in.flight}).
 * One thread runs the model; it owns nothing native. {@link #close()} returns only when the batch running at that
 * moment has finished, however long that takes, so the model's owner can close the session afterwards without
 * freeing it under a running batch.
 */
public final class MicroBatcher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(MicroBatcher.class);

    /**
     * One request's answer: its class probabilities and how its batch went.
     *
     * @param variants the probabilities of each variant row submitted with the request (same image, other tabular
     *                 values), in the order given; empty when none
     */
    public record Result(float[] probabilities, float[][] variants, BatchStats stats) {

        public Result(float[] probabilities, BatchStats stats) {
            this(probabilities, new float[0][], stats);
        }
    }

    /** Told about every model run, on the batcher thread; must not block or throw. */
    public interface Listener {
        /** Does nothing. */
        Listener NONE = new Listener() {
        };

        /** A run succeeded for {@code stats.batchSize()} requests. */
        default void batchCompleted(BatchStats stats) {
        }

        /** A run failed (and is split, or its single request fails). */
        default void batchFailed(BatchStats stats, RuntimeException error) {
        }
    }

    /** @param variants 0 or more further tabular rows, contiguous, run with the same image */
    private record Pending(ImageTensor image, float[] tabular, float[] variants, long enqueuedNanos,
                           CompletableFuture<Result> future) {

        int rows(int tabularWidth) {
            return 1 + (tabularWidth == 0 ? 0 : variants.length / tabularWidth);
        }
    }

    private final BatchModel model;
    private final int maxBatchSize;
    private final long maxQueueDelayNanos;
    private final Listener listener;
    private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean running = true;
    /** {@link System#nanoTime()} when the current model run began; 0 while no run is in progress. */
    private volatile long runStartedNanos;
    private final AtomicLong batches = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    /** Learns the batch sizes that pay; null: batches fill to {@code maxBatchSize}. */
    private final BatchSizer sizer;
    /** A request taken from the queue that did not fit the batch being formed; the next batch starts with it. */
    private Pending carried;

    public MicroBatcher(BatchModel model, int maxBatchSize, long maxQueueDelayMillis) {
        this(model, maxBatchSize, maxQueueDelayMillis, Listener.NONE);
    }

    public MicroBatcher(BatchModel model, int maxBatchSize, long maxQueueDelayMillis, Listener listener) {
        this(model, maxBatchSize, maxQueueDelayMillis, listener, false);
    }

    /**
     * Starts the batching thread.
     *
     * @param maxBatchSize largest batch, &gt;= 1
     * @param maxQueueDelayMillis longest wait of the oldest request for its batch to fill, &gt;= 0
     * @param listener told about every run
     * @param adaptive learn which batch sizes pay ({@link BatchSizer}: a sweep here, on the caller's thread, before
     *                 the batcher starts, then every run) and cap batches there, in rows; {@code maxBatchSize} stays
     *                 the bound
     */
    public MicroBatcher(BatchModel model, int maxBatchSize, long maxQueueDelayMillis, Listener listener,
                        boolean adaptive) {
        this(model, maxBatchSize, maxQueueDelayMillis, listener, adaptive, adaptive);
    }

    /**
     * As {@link #MicroBatcher(BatchModel, int, long, Listener, boolean)}; with {@code sweep} false an adaptive
     * batcher learns from its runs alone, starting at {@code maxBatchSize} (a model swapped in while requests flow).
     */
    public MicroBatcher(BatchModel model, int maxBatchSize, long maxQueueDelayMillis, Listener listener,
                        boolean adaptive, boolean sweep) {
        if (maxBatchSize < 1) {
            throw new IllegalArgumentException("maxBatchSize must be >= 1, got " + maxBatchSize);
        }
        this.model = model;
        this.maxBatchSize = maxBatchSize;
        this.maxQueueDelayNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(0, maxQueueDelayMillis));
        this.listener = listener;
        this.sizer = adaptive ? new BatchSizer(maxBatchSize, model::paddedSize) : null;
        if (sizer != null && sweep) {
            // on the caller's thread, before this batcher takes a request: a model being swapped in is swept while
            // the one it replaces still answers, so no request waits for the sweep
            try {
                sizer.sweep(model);
            } catch (RuntimeException e) {
                LOG.warn("the batch-size sweep failed ({}); batches fill to batch.max.size {}", e.toString(),
                        maxBatchSize);
            }
        }
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
     * @return completes with the probabilities; fails with {@link ModelRunException} when the model failed on this
     *     request alone, or {@link BatcherClosedException} when the batcher closed before it ran
     */
    public CompletableFuture<Result> submit(float[] image, float[] tabular) {
        return submit(ImageTensor.of(image), tabular, new float[0]);
    }

    /** As {@link #submit(ImageTensor, float[], float[])} with an image tensor computed already. */
    public CompletableFuture<Result> submit(float[] image, float[] tabular, float[] variants) {
        return submit(ImageTensor.of(image), tabular, variants);
    }

    /** As {@link #submit(float[], float[])} with an image whose tensor is written when its batch runs. */
    public CompletableFuture<Result> submit(ImageTensor image, float[] tabular) {
        return submit(image, tabular, new float[0]);
    }

    /**
     * Queues one request with variant rows: the model also runs its image with each of them, in the same run as
     * the request itself (the clinical-data influence: the same image with features masked). The batch holds at
     * most {@code maxBatchSize} requests, whatever their variants; the model runs all their rows together (in
     * chunks where they exceed its largest padded size). The image's tensor is written when the batch runs
     * (into the model's input buffer, once per request however many variants it has).
     *
     * @param variants k further tabular rows, contiguous ({@code k · tabularWidth} floats; k may be 0)
     */
    public CompletableFuture<Result> submit(ImageTensor image, float[] tabular, float[] variants) {
        if (image.tensorSize() != model.imageSize() || tabular.length != model.tabularWidth()) {
            throw new IllegalArgumentException("input sizes " + image.tensorSize() + "/" + tabular.length
                    + " do not match the model's " + model.imageSize() + "/" + model.tabularWidth());
        }
        int width = model.tabularWidth();
        if (variants.length > 0 && (width == 0 || variants.length % width != 0)) {
            throw new IllegalArgumentException(variants.length + " variant floats are not whole rows of "
                    + width);
        }
        CompletableFuture<Result> future = new CompletableFuture<>();
        if (!running) {
            future.completeExceptionally(new BatcherClosedException());
            return future;
        }
        queue.add(new Pending(image, tabular, variants, System.nanoTime(), future));
        if (!running) {
            // closed while we queued: the closing thread may already have drained the queue
            failRemaining();
        }
        return future;
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

    /** The most rows a batch takes now: the learned cap when adaptive, else {@code maxBatchSize}. */
    public int batchCap() {
        return sizer == null ? maxBatchSize : sizer.cap();
    }

    /** How long the model run in progress has taken so far, in ns; 0 when none runs. */
    public long runningForNanos() {
        long started = runStartedNanos;
        return started == 0 ? 0 : System.nanoTime() - started;
    }

    private void loop() {
        List<Pending> batch = new ArrayList<>(maxBatchSize);
        int tabularWidth = model.tabularWidth();
        while (running) {
            try {
                Pending first = carried != null ? carried : queue.poll(100, TimeUnit.MILLISECONDS);
                carried = null;
                if (first == null || first.future.isDone()) {
                    continue;
                }
                batch.add(first);
                int rowLimit = sizer == null ? Integer.MAX_VALUE : sizer.nextLimit();
                int rows = first.rows(tabularWidth);
                long deadline = first.enqueuedNanos + maxQueueDelayNanos;
                while (batch.size() < maxBatchSize && rows < rowLimit) {
                    long remaining = deadline - System.nanoTime();
                    Pending next = remaining <= 0 ? queue.poll() : queue.poll(remaining, TimeUnit.NANOSECONDS);
                    if (next == null) {
                        break;
                    }
                    if (next.future.isDone()) {
                        continue;
                    }
                    int more = next.rows(tabularWidth);
                    if (rows + more > rowLimit) {
                        carried = next; // it starts the next batch, which runs right after this one
                        break;
                    }
                    batch.add(next);
                    rows += more;
                }
                // a request may have been cancelled (its deadline passed) while the batch filled
                batch.removeIf(p -> p.future.isDone());
                if (!batch.isEmpty()) {
                    run(batch);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (RuntimeException | Error e) {
                // a bug here must not kill the only inference thread; the batch's futures fail, no one is stranded
                LOG.error("batch handling failed: {}", e.toString(), e);
                for (Pending p : batch) {
                    p.future.completeExceptionally(new ModelRunException("the batcher failed: " + e, e));
                }
            } finally {
                batch.clear();
            }
        }
        if (carried != null) {
            carried.future.completeExceptionally(new BatcherClosedException());
            carried = null;
        }
        failRemaining();
    }

    private void run(List<Pending> batch) {
        int n = batch.size();
        int tabularWidth = model.tabularWidth();
        // each request's own row first, then its variant rows, all with its image
        int rows = 0;
        for (Pending p : batch) {
            rows += p.rows(tabularWidth);
        }
        // rows by reference: the model writes them into its input buffers (a request's image stands for its variant
        // rows too, the same object on consecutive rows), with no batch-sized array in between
        ImageTensor[] images = new ImageTensor[rows];
        float[][] tabular = new float[rows][];
        int row = 0;
        for (Pending p : batch) {
            int own = p.rows(tabularWidth);
            for (int v = 0; v < own; v++) {
                images[row + v] = p.image;
                tabular[row + v] = v == 0 ? p.tabular
                        : java.util.Arrays.copyOfRange(p.variants, (v - 1) * tabularWidth, v * tabularWidth);
            }
            row += own;
        }
        long start = System.nanoTime();
        float[][] out;
        runStartedNanos = start;
        try {
            out = model.predictRows(images, tabular);
            if (out == null || out.length < rows) {
                throw new IllegalStateException("the model returned " + (out == null ? "nothing" : out.length
                        + " rows") + " for a batch of " + rows);
            }
        } catch (RuntimeException e) {
            runStartedNanos = 0;
            BatchStats stats = new BatchStats(n, model.paddedSize(rows), start, System.nanoTime() - start);
            batches.incrementAndGet();
            listener.batchFailed(stats, e);
            if (n == 1) {
                requests.incrementAndGet();
                batch.get(0).future.completeExceptionally(new ModelRunException(e));
                return;
            }
            LOG.warn("a batch of {} failed ({}); splitting it to isolate the failing request", n, e.toString());
            run(new ArrayList<>(batch.subList(0, n / 2)));
            run(new ArrayList<>(batch.subList(n / 2, n)));
            return;
        } finally {
            runStartedNanos = 0;
        }
        BatchStats stats = new BatchStats(n, model.paddedSize(rows), start, System.nanoTime() - start);
        if (sizer != null) {
            sizer.observe(rows, stats.inferenceNanos());
        }
        batches.incrementAndGet();
        requests.addAndGet(n);
        listener.batchCompleted(stats);
        row = 0;
        for (Pending p : batch) {
            int own = p.rows(tabularWidth);
            float[][] variants = new float[own - 1][];
            for (int v = 1; v < own; v++) {
                variants[v - 1] = out[row + v];
            }
            // complete() runs what callers attached inside the future: an exception there stays there
            p.future.complete(new Result(out[row], variants, stats));
            row += own;
        }
    }

    private void failRemaining() {
        List<Pending> left = new ArrayList<>();
        queue.drainTo(left);
        for (Pending p : left) {
            p.future.completeExceptionally(new BatcherClosedException());
        }
    }

    /**
     * Stops taking batches and fails the queued requests with {@link BatcherClosedException}; returns when the batch
     * running now has finished, however long it takes (logging while it waits), so the model can be closed safely.
     */
    @Override
    public void close() {
        running = false;
        long waitingSince = System.nanoTime();
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join(TimeUnit.SECONDS.toMillis(10));
            } catch (InterruptedException e) {
                interrupted = true; // keep waiting: the model must not be freed under a running batch
            }
            if (thread.isAlive()) {
                LOG.warn("waiting for the running batch to finish before the model is closed ({} s so far)",
                        TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - waitingSince));
            }
        }
        failRemaining();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
