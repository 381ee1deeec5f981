package io.medfuse.worker.batch;

import io.medfuse.model.image.ImageTensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A dynamic batcher shared by every stream task of an instance (like Triton's): requests from all partitions
 * queue here; a batch runs as soon as it holds {@code maxBatchSize} requests or its oldest request has waited
 * {@code maxQueueDelay}. While a batch runs, the next one forms, and its images are written into the model's inputs
 * as its requests arrive ({@link BatchModel.Staged}), so writing a batch (resizing and normalising decoded images)
 * overlaps the run before it instead of delaying the next; the forming batch keeps taking requests for as long as
 * the model is busy, so it is as large as it would be if it formed after the run. A failing batch is split in
 * halves until the failing request is isolated, so the others still get predictions.
 *
 * <p>Each request gets a future. The batcher completes it and nothing else: whatever a caller attached to it runs
 * inside the future's own machinery, so one caller's failure can never affect another request of the batch. A
 * future that is already done when its batch forms (cancelled, or failed at its deadline) is left out of the
 * batch. The batcher reports every model run to its {@link Listener} itself, once per run.
 *
 * <p>The queue is unbounded: callers bound the number of requests in flight (the worker's {@code max.in.flight}).
 * One thread forms and writes batches; {@code runs} threads run them (they own nothing native), each taking a
 * batch when it has answered its previous one, so at most {@code runs} batches run at once (one unless more are
 * asked for; the worker asks for {@code batch.concurrent.runs}, 2: a model run on one intra-op thread leaves a core
 * idle on a small machine unless two runs overlap, ADR 0018).
 * {@link #close()} returns only when the batches running at that moment have finished, however long that takes, so
 * the model's owner can close the session afterwards without freeing it under a running batch.
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

    /**
     * Told about every model run, on the runner thread that ran it (several runners may call it at once); must be
     * thread-safe and must not block or throw.
     */
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

        /** Its own tabular row, then its variant rows. */
        float[][] tabularRows(int tabularWidth) {
            float[][] rows = new float[rows(tabularWidth)][];
            rows[0] = tabular;
            for (int v = 1; v < rows.length; v++) {
                rows[v] = java.util.Arrays.copyOfRange(variants, (v - 1) * tabularWidth, v * tabularWidth);
            }
            return rows;
        }
    }

    /** A batch written and handed to the runner. */
    private record Formed(List<Pending> batch, BatchModel.Staged staged) {
    }

    private final BatchModel model;
    private final int maxBatchSize;
    private final long maxQueueDelayNanos;
    private final Listener listener;
    private final ReentrantLock lock = new ReentrantLock();
    /** The forming thread waits on it: a request was queued, the runner became free, or the batcher closed. */
    private final Condition forming = lock.newCondition();
    /** The runners wait on it: a batch was handed over, or the batcher closed. */
    private final Condition handedOver = lock.newCondition();
    /** Requests waiting for a batch; guarded by {@code lock}. */
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();
    /**
     * Batches handed over and not yet taken by a runner (at most as many as runners are free: a batch is handed over
     * only when one is); guarded by {@code lock}.
     */
    private final ArrayDeque<Formed> handed = new ArrayDeque<>();
    /** Runners with a batch, from its hand-over until its requests are answered; guarded by {@code lock}. */
    private int busyRunners;
    private final Thread former;
    private final List<Thread> runners = new ArrayList<>();
    private volatile boolean running = true;
    /** Per runner, {@link System#nanoTime()} when its current model run began; 0 while it runs none. */
    private final java.util.concurrent.atomic.AtomicLongArray runStartedNanos;
    private final AtomicLong batches = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    /** Learns the batch sizes that pay; null: batches fill to {@code maxBatchSize}. */
    private final BatchSizer sizer;
    /** A request taken from the queue that did not fit the batch being formed; the next batch starts with it. */
    private Pending carried;

    public MicroBatcher(BatchModel model, int maxBatchSize, long maxQueueDelayMillis) {
        this(model, maxBatchSize, maxQueueDelayMillis, Listener.NONE);
    }

    /**
     * The most direct memory a batcher's batches hold in {@code model}'s input buffers at once: the batch being formed
     * and one per runner, each taking one buffer per {@link BatchModel#inputBufferRows()} of its rows. A batch holds
     * at most {@code maxBatchSize} requests; adaptive, at most the learned cap in rows (itself at most
     * {@code maxBatchSize}), or a single request's rows where they are more.
     *
     * @param rowsPerRequest 1, plus a request's variant (influence) rows
     */
    public static long inputBufferBound(BatchModel model, int maxBatchSize, int rowsPerRequest, boolean adaptive,
                                        int runs) {
        long rows = adaptive ? Math.max(maxBatchSize, rowsPerRequest) : (long) maxBatchSize * rowsPerRequest;
        int perBuffer = Math.max(1, model.inputBufferRows());
        long buffers = (rows + perBuffer - 1) / perBuffer;
        return (1L + runs) * buffers * model.inputBufferBytes();
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
        this(model, maxBatchSize, maxQueueDelayMillis, listener, adaptive, sweep, 1);
    }

    /**
     * As {@link #MicroBatcher(BatchModel, int, long, Listener, boolean, boolean)}, with {@code runs} batches running
     * at once at most (each on a runner thread of its own, in the same model session).
     */
    public MicroBatcher(BatchModel model, int maxBatchSize, long maxQueueDelayMillis, Listener listener,
                        boolean adaptive, boolean sweep, int runs) {
        if (maxBatchSize < 1) {
            throw new IllegalArgumentException("maxBatchSize must be >= 1, got " + maxBatchSize);
        }
        if (runs < 1) {
            throw new IllegalArgumentException("runs must be >= 1, got " + runs);
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
        this.former = new Thread(this::formLoop, "medfuse-batcher");
        this.former.setDaemon(true);
        // a large native stack: ONNX Runtime recurses deeply in places (see OnnxClassifier.LOAD_STACK_BYTES)
        this.runStartedNanos = new java.util.concurrent.atomic.AtomicLongArray(runs);
        for (int r = 0; r < runs; r++) {
            int slot = r;
            Thread t = new Thread(null, () -> runLoop(slot), "medfuse-batch-run" + (runs == 1 ? "" : "-" + (r + 1)),
                    64L * 1024 * 1024);
            t.setDaemon(true);
            runners.add(t);
            t.start();
        }
        this.former.start();
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
        lock.lock();
        try {
            if (running) {
                // under the lock that close() takes to stop: a request queued here is drained by close()
                queue.add(new Pending(image, tabular, variants, System.nanoTime(), future));
                forming.signal();
                return future;
            }
        } finally {
            lock.unlock();
        }
        future.completeExceptionally(new BatcherClosedException());
        return future;
    }

    /** Requests waiting for a batch. */
    public int queued() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
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
        long now = System.nanoTime();
        long longest = 0;
        for (int r = 0; r < runStartedNanos.length(); r++) {
            long started = runStartedNanos.get(r);
            if (started != 0) {
                longest = Math.max(longest, now - started);
            }
        }
        return longest;
    }

    /** The forming thread: takes requests, writes them into a staged batch, hands it to the runner. */
    private void formLoop() {
        int tabularWidth = model.tabularWidth();
        List<Pending> batch = new ArrayList<>(maxBatchSize);
        // every request taken for the batch being formed until it is handed over: whatever fails on the way, each
        // of them is answered
        List<Pending> taken = new ArrayList<>(maxBatchSize);
        BatchModel.Staged staged = null;
        while (running) {
            try {
                Pending first = carried != null ? carried : take(TimeUnit.MILLISECONDS.toNanos(100));
                carried = null;
                if (first == null || first.future.isDone()) {
                    continue;
                }
                taken.add(first);
                if (!running) {
                    break; // closed: it fails below
                }
                staged = model.stage();
                int rowLimit = sizer == null ? Integer.MAX_VALUE : sizer.nextLimit();
                long deadline = first.enqueuedNanos + maxQueueDelayNanos;
                List<Pending> group = new ArrayList<>();
                group.add(first);
                int rows = first.rows(tabularWidth);
                while (true) {
                    // what is queued now and fits joins the batch and is written at once, as a group (in
                    // parallel where the model can); then wait for more
                    boolean full = false;
                    lock.lock();
                    try {
                        while (true) {
                            if (batch.size() + group.size() >= maxBatchSize || rows >= rowLimit) {
                                full = true;
                                break;
                            }
                            Pending p = queue.poll();
                            if (p == null) {
                                break;
                            }
                            if (p.future.isDone()) {
                                continue;
                            }
                            int more = p.rows(tabularWidth);
                            if (rows + more > rowLimit) {
                                carried = p; // it starts the next batch
                                full = true;
                                break;
                            }
                            group.add(p);
                            taken.add(p);
                            rows += more;
                        }
                    } finally {
                        lock.unlock();
                    }
                    rows -= write(staged, group, batch, tabularWidth);
                    group.clear();
                    if (full || !awaitMore(deadline)) {
                        break;
                    }
                }
                if (!awaitRunnerFree()) {
                    break; // closed: the batch fails below
                }
                // a request may have been cancelled (its deadline passed) while the batch filled or waited for the
                // runner: run without it
                if (batch.removeIf(p -> p.future.isDone()) && !batch.isEmpty()) {
                    staged.close();
                    staged = model.stage();
                    List<Pending> live = new ArrayList<>(batch);
                    batch.clear();
                    write(staged, live, batch, tabularWidth);
                }
                // nothing that can fail between the hand-over and forgetting what was handed over
                List<Pending> formed = batch;
                BatchModel.Staged written = staged;
                batch = new ArrayList<>(maxBatchSize);
                taken = new ArrayList<>(maxBatchSize);
                staged = null;
                if (formed.isEmpty()) {
                    written.close();
                } else {
                    handOver(formed, written);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (RuntimeException | Error e) {
                // a bug here (or no memory for a buffer) must not stop the batching; every request taken for this
                // batch fails, no one is stranded
                LOG.error("forming a batch failed: {}", e.toString(), e);
                for (Pending p : taken) {
                    p.future.completeExceptionally(new ModelRunException("the batcher failed: " + e, e));
                }
                batch.clear();
                taken.clear();
                closeQuietly(staged);
                staged = null;
            }
        }
        for (Pending p : taken) {
            p.future.completeExceptionally(new BatcherClosedException());
        }
        closeQuietly(staged);
        if (carried != null) {
            carried.future.completeExceptionally(new BatcherClosedException());
            carried = null;
        }
        failRemaining();
    }

    /** The oldest queued request, waiting at most {@code nanos}; null when none came or the batcher closed. */
    private Pending take(long nanos) throws InterruptedException {
        lock.lock();
        try {
            long left = nanos;
            while (queue.isEmpty() && running && left > 0) {
                left = forming.awaitNanos(left);
            }
            return queue.poll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits until a request is queued (true: the batch takes it) or the batch should go (false): its oldest request
     * has waited {@code maxQueueDelay} and a runner is free to take it, or the batcher closed. While every runner is
     * busy the batch waits for requests whatever its age: it could not run sooner.
     */
    private boolean awaitMore(long deadline) throws InterruptedException {
        lock.lock();
        try {
            while (queue.isEmpty()) {
                if (!running) {
                    return false;
                }
                if (busyRunners == runners.size()) {
                    forming.await();
                } else {
                    long remaining = deadline - System.nanoTime();
                    if (remaining <= 0) {
                        return false;
                    }
                    forming.awaitNanos(remaining);
                }
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Writes a group of requests into the staged batch; those written join {@code batch}, a request whose image
     * cannot be written fails alone.
     *
     * @return the rows of the requests that failed
     */
    private int write(BatchModel.Staged staged, List<Pending> group, List<Pending> batch, int tabularWidth) {
        if (group.isEmpty()) {
            return 0;
        }
        ImageTensor[] images = new ImageTensor[group.size()];
        float[][][] rows = new float[group.size()][][];
        for (int k = 0; k < images.length; k++) {
            images[k] = group.get(k).image;
            rows[k] = group.get(k).tabularRows(tabularWidth);
        }
        RuntimeException[] failures = staged.add(images, rows);
        int lost = 0;
        for (int k = 0; k < images.length; k++) {
            Pending p = group.get(k);
            if (failures[k] == null) {
                batch.add(p);
            } else {
                lost += rows[k].length;
                requests.incrementAndGet();
                LOG.warn("a request's image could not be written into its batch ({}); it fails alone",
                        failures[k].toString());
                p.future.completeExceptionally(new ModelRunException("the request's image could not be written "
                        + "into its batch: " + failures[k].getMessage(), failures[k]));
            }
        }
        return lost;
    }

    /** Waits until a runner is free to take a batch: true, or false when the batcher closed first. */
    private boolean awaitRunnerFree() throws InterruptedException {
        lock.lock();
        try {
            while (busyRunners == runners.size() && running) {
                forming.await();
            }
            return running;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Gives a written batch to a free runner (there is one: only this thread hands batches over); fails the batch when
     * the batcher closed meanwhile.
     */
    private void handOver(List<Pending> batch, BatchModel.Staged staged) {
        lock.lock();
        try {
            if (running) {
                handed.add(new Formed(batch, staged));
                busyRunners++;
                handedOver.signal();
                return;
            }
        } finally {
            lock.unlock();
        }
        for (Pending p : batch) {
            p.future.completeExceptionally(new BatcherClosedException());
        }
        staged.close();
    }

    /** A runner: runs each batch it takes and answers its requests. */
    private void runLoop(int slot) {
        while (true) {
            Formed formed;
            lock.lock();
            try {
                while (handed.isEmpty() && running) {
                    handedOver.awaitUninterruptibly();
                }
                formed = handed.poll();
            } finally {
                lock.unlock();
            }
            if (formed == null) {
                break; // closed
            }
            if (!running) {
                // handed over but not started when the batcher closed: its requests are queued ones
                for (Pending p : formed.batch()) {
                    p.future.completeExceptionally(new BatcherClosedException());
                }
                closeQuietly(formed.staged());
                runnerFree();
                break;
            }
            try {
                BatchModel.Staged staged = formed.staged();
                execute(formed.batch(), staged.rows(), staged::run, slot);
            } catch (RuntimeException | Error e) {
                // a bug here must not kill an inference thread; the batch's futures fail, no one is stranded
                LOG.error("batch handling failed: {}", e.toString(), e);
                for (Pending p : formed.batch()) {
                    p.future.completeExceptionally(new ModelRunException("the batcher failed: " + e, e));
                }
            } finally {
                closeQuietly(formed.staged());
                runnerFree();
            }
        }
    }

    private void runnerFree() {
        lock.lock();
        try {
            busyRunners--;
            forming.signal();
        } finally {
            lock.unlock();
        }
    }

    private static void closeQuietly(BatchModel.Staged staged) {
        if (staged == null) {
            return;
        }
        try {
            staged.close();
        } catch (RuntimeException e) {
            LOG.warn("freeing a batch's buffers failed: {}", e.toString());
        }
    }

    /** Runs requests whose rows are written now: the halves of a batch that failed. */
    private void run(List<Pending> batch, int slot) {
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
            float[][] own = p.tabularRows(tabularWidth);
            for (int v = 0; v < own.length; v++) {
                images[row + v] = p.image;
                tabular[row + v] = own[v];
            }
            row += own.length;
        }
        execute(batch, rows, () -> model.predictRows(images, tabular), slot);
    }

    /** One model run over a batch's rows; answers its requests, or splits the batch when the run fails. */
    private void execute(List<Pending> batch, int rows, Supplier<float[][]> modelRun, int slot) {
        int n = batch.size();
        int tabularWidth = model.tabularWidth();
        long start = System.nanoTime();
        float[][] out;
        runStartedNanos.set(slot, start);
        try {
            out = modelRun.get();
            if (out == null || out.length < rows) {
                throw new IllegalStateException("the model returned " + (out == null ? "nothing" : out.length
                        + " rows") + " for a batch of " + rows);
            }
        } catch (RuntimeException e) {
            runStartedNanos.set(slot, 0);
            BatchStats stats = new BatchStats(n, model.paddedSize(rows), start, System.nanoTime() - start);
            batches.incrementAndGet();
            listener.batchFailed(stats, e);
            if (n == 1) {
                requests.incrementAndGet();
                batch.get(0).future.completeExceptionally(new ModelRunException(e));
                return;
            }
            LOG.warn("a batch of {} failed ({}); splitting it to isolate the failing request", n, e.toString());
            run(new ArrayList<>(batch.subList(0, n / 2)), slot);
            run(new ArrayList<>(batch.subList(n / 2, n)), slot);
            return;
        } finally {
            runStartedNanos.set(slot, 0);
        }
        BatchStats stats = new BatchStats(n, model.paddedSize(rows), start, System.nanoTime() - start);
        if (sizer != null) {
            sizer.observe(rows, stats.inferenceNanos());
        }
        batches.incrementAndGet();
        requests.addAndGet(n);
        listener.batchCompleted(stats);
        int row = 0;
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
        List<Pending> left;
        lock.lock();
        try {
            left = new ArrayList<>(queue);
            queue.clear();
        } finally {
            lock.unlock();
        }
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
        lock.lock();
        try {
            running = false;
            forming.signalAll();
            handedOver.signalAll();
        } finally {
            lock.unlock();
        }
        long waitingSince = System.nanoTime();
        boolean interrupted = false;
        while (former.isAlive() || runners.stream().anyMatch(Thread::isAlive)) {
            try {
                former.join(TimeUnit.SECONDS.toMillis(10));
                for (Thread t : runners) {
                    t.join(TimeUnit.SECONDS.toMillis(10));
                }
            } catch (InterruptedException e) {
                interrupted = true; // keep waiting: the model must not be freed under a running batch
            }
            if (runners.stream().anyMatch(Thread::isAlive)) {
                LOG.warn("waiting for the running batch to finish before the model is closed ({} s so far)",
                        TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - waitingSince));
            }
        }
        failRemaining();
        List<Formed> left;
        lock.lock();
        try {
            left = new ArrayList<>(handed); // none when every runner saw the close; nothing is left to chance
            handed.clear();
        } finally {
            lock.unlock();
        }
        for (Formed f : left) {
            for (Pending p : f.batch()) {
                p.future.completeExceptionally(new BatcherClosedException());
            }
            closeQuietly(f.staged());
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
