package io.medfuse.model.engine;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.ValueInfo;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.contract.ModelContractException;
import io.medfuse.model.image.ImageTensor;
import io.medfuse.model.onnx.OnnxModelFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * A fused image + tabular classifier running in ONNX Runtime. Owns one {@link OrtSession}; whoever calls
 * {@code load} closes the classifier (once, after every {@link #predict} call has returned).
 *
 * <p>At load the model's contract is read from the session's metadata and the session's real inputs and output
 * are checked against it (names, float32, rank, static sizes); a mismatch fails the load with a
 * {@link ModelContractException} naming both sides, and nothing is left open.
 *
 * <p>{@link #predict} is thread-safe (ONNX Runtime sessions run concurrently) and returns plain arrays: no
 * ONNX Runtime object leaves this class.
 */
public final class OnnxClassifier implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(OnnxClassifier.class);

    private final OrtEnvironment env;
    private final OrtSession session;
    private final ModelContract contract;
    private final String sourceName;
    private final String sha256;
    private final String executionProvider;
    private final int[] paddedSizes;
    private final Set<String> requestedOutputs;
    private volatile boolean closed;
    /**
     * Direct input buffers, each for the largest padded batch, taken by a run and given back after it (one per
     * concurrent run): ONNX Runtime reads a direct buffer in place, where a heap buffer is copied into a new direct
     * one on every run, and a batch smaller than its padded size needs no padded copy of its own. The rows past a
     * batch's own are left as an earlier batch wrote them: padding rows need only hold finite numbers (inputs are
     * never NaN), their outputs are dropped.
     */
    private final java.util.concurrent.ConcurrentLinkedQueue<Inputs> inputs =
            new java.util.concurrent.ConcurrentLinkedQueue<>();

    private record Inputs(FloatBuffer images, FloatBuffer tabular) {
    }

    /** Runs hold it shared; {@link #close} takes it exclusively, so the session is never freed under a run. */
    private final java.util.concurrent.locks.ReentrantReadWriteLock runs =
            new java.util.concurrent.locks.ReentrantReadWriteLock();

    private OnnxClassifier(OrtEnvironment env, OrtSession session, ModelContract contract, String sourceName,
                           String sha256, String executionProvider, int[] paddedSizes) {
        this.env = env;
        this.session = session;
        this.contract = contract;
        this.sourceName = sourceName;
        this.sha256 = sha256;
        this.executionProvider = executionProvider;
        this.paddedSizes = paddedSizes;
        this.requestedOutputs = Set.of(contract.output());
    }

    /**
     * Loads an ONNX file.
     *
     * @throws io.medfuse.model.onnx.OnnxFormatException when the file cannot be read
     * @throws ModelContractException when the contract is missing, invalid or does not match the graph
     * @throws ModelInferenceException when ONNX Runtime rejects the model or the requested device is unusable
     */
    public static OnnxClassifier load(Path onnxFile, EngineOptions options) {
        return load(OnnxModelFile.read(onnxFile), onnxFile.toString(), options);
    }

    /**
     * Loads ONNX bytes.
     *
     * @param sourceName where the bytes came from (file, resource), used in messages and logs
     * @throws ModelContractException when the contract is missing, invalid or does not match the graph
     * @throws ModelInferenceException when ONNX Runtime rejects the model or the requested device is unusable
     */
    public static OnnxClassifier load(byte[] onnxBytes, String sourceName, EngineOptions options) {
        Objects.requireNonNull(onnxBytes, "onnxBytes");
        Objects.requireNonNull(options, "options");
        return onLargeStack(() -> loadHere(onnxBytes, sourceName, options), "medfuse-model-load");
    }

    /**
     * Native stack for loading: ONNX Runtime's start-up recurses deeply over long strings (seen: a JVM whose
     * command line carried a ~7,000-character class path died with SIGSEGV, a native stack overflow, on the
     * default 1 MiB Java thread stack; 16 MiB was enough). Loading on a thread of our own makes the caller's stack
     * size irrelevant.
     */
    static final long LOAD_STACK_BYTES = 64L * 1024 * 1024;

    private static <T> T onLargeStack(java.util.function.Supplier<T> work, String threadName) {
        java.util.concurrent.atomic.AtomicReference<T> result = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.atomic.AtomicReference<Throwable> failure =
                new java.util.concurrent.atomic.AtomicReference<>();
        Thread t = new Thread(null, () -> {
            try {
                result.set(work.get());
            } catch (Throwable e) {
                failure.set(e);
            }
        }, threadName, LOAD_STACK_BYTES);
        t.start();
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ModelInferenceException("interrupted while loading the model", e);
        }
        Throwable e = failure.get();
        if (e instanceof RuntimeException re) {
            throw re;
        }
        if (e instanceof Error err) {
            throw err;
        }
        if (e != null) {
            throw new ModelInferenceException("loading the model failed: " + e, e);
        }
        return result.get();
    }

    private static OnnxClassifier loadHere(byte[] onnxBytes, String sourceName, EngineOptions options) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Placed placed = createSession(env, onnxBytes, sourceName, options);
        OrtSession session = placed.session();
        try {
            ModelContract contract = OnnxModelFile.parseContract(
                    session.getMetadata().getCustomMetadata().get(ModelContract.METADATA_KEY), sourceName);
            long fixedBatch = checkGraph(contract, session, sourceName);
            int[] padded = fixedBatch > 0
                    ? new int[] {(int) fixedBatch}
                    : options.paddedBatchSizes().stream().mapToInt(Integer::intValue).toArray();
            String sha = OnnxModelFile.sha256(onnxBytes);
            LOG.info("loaded model '{}' {} from {} on {} (sha256 {}, batch sizes {}, intra-op threads {}, "
                            + "optimisation {})", contract.name(), contract.version(), sourceName, placed.provider(),
                    sha, Arrays.toString(padded), options.intraOpThreads(), options.optimizationLevel());
            if (!contract.trained()) {
                LOG.warn("model '{}' {} says it is untrained (random weights): its predictions mean nothing",
                        contract.name(), contract.version());
            }
            return new OnnxClassifier(env, session, contract, sourceName, sha, placed.provider(), padded);
        } catch (OrtException e) {
            closeQuietly(session, e);
            throw new ModelInferenceException("ONNX Runtime cannot describe model " + sourceName + ": "
                    + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(session, e);
            throw e;
        }
    }

    /** The validated contract the model carries. */
    public ModelContract contract() {
        return contract;
    }

    /** SHA-256 of the ONNX bytes, 64 lower-case hex digits. */
    public String sha256() {
        return sha256;
    }

    /** "CPU" or "CUDA:N". */
    public String executionProvider() {
        return executionProvider;
    }

    /** The largest batch ONNX Runtime sees; larger predict calls run in chunks of this size. */
    public int maxBatchSize() {
        return paddedSizes[paddedSizes.length - 1];
    }

    /**
     * Bytes of direct memory one pair of input buffers takes (image and tabular rows for {@link #maxBatchSize()}
     * rows): a staged batch holds one pair per {@link #maxBatchSize()} rows, a run of {@link #predict} one.
     */
    public long inputBufferBytes() {
        return (long) maxBatchSize() * (contract.image().tensorSize() + Math.max(1, contract.tabularWidth()))
                * Float.BYTES;
    }

    /**
     * The batch size a batch of {@code n} is padded to: the smallest padded size ≥ n, or {@link #maxBatchSize()}
     * when n is larger (it then runs in chunks).
     *
     * @throws IllegalArgumentException when n &lt; 1
     */
    public int paddedSize(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + n);
        }
        for (int size : paddedSizes) {
            if (size >= n) {
                return size;
            }
        }
        return maxBatchSize();
    }

    /**
     * Classifies {@code n} requests.
     *
     * @param images n·C·H·W floats: each image CHW, preprocessed as the contract says, images one after another
     * @param tabular n·{@link ModelContract#tabularWidth()} floats, encoded as the contract says
     * @param n number of requests, ≥ 0
     * @return n rows of class probabilities in label order (softmax applied here when the model outputs logits,
     *     then the contract's calibration, when it has one)
     * @throws IllegalArgumentException when the array lengths do not match n and the contract
     * @throws ModelInferenceException when ONNX Runtime fails; the message names the model and batch shape
     * @throws IllegalStateException after {@link #close()}
     */
    public float[][] predict(float[] images, float[] tabular, int n) {
        return predict(images, tabular, n, true);
    }

    /**
     * As {@link #predict(float[], float[], int)}, without the contract's calibration: what the network itself says
     * ({@code evaluate} reports both).
     */
    public float[][] predictUncalibrated(float[] images, float[] tabular, int n) {
        return predict(images, tabular, n, false);
    }

    private float[][] predict(float[] images, float[] tabular, int n, boolean calibrated) {
        Objects.requireNonNull(images, "images");
        Objects.requireNonNull(tabular, "tabular");
        if (closed) {
            throw new IllegalStateException("model '" + contract.name() + "' from " + sourceName + " is closed");
        }
        int imageSize = contract.image().tensorSize();
        int width = contract.tabularWidth();
        if (n < 0) {
            throw new IllegalArgumentException("n must be >= 0, got " + n);
        }
        if (images.length != (long) n * imageSize || tabular.length != (long) n * width) {
            throw new IllegalArgumentException("model '" + contract.name() + "' takes " + imageSize
                    + " image floats (" + shapeOf(contract) + ") and " + width + " tabular floats per request; for n="
                    + n + " got " + images.length + " image and " + tabular.length + " tabular floats");
        }
        return runAll(n, Rows.flat(images, imageSize), Rows.flat(tabular, width), calibrated);
    }

    /** Runs n rows in batches of at most {@link #maxBatchSize()}, never after (or during) {@link #close}. */
    private float[][] runAll(int n, Rows imageRows, Rows tabularRows, boolean calibrated) {
        float[][] out = new float[n][];
        int chunk = maxBatchSize();
        runs.readLock().lock();
        try {
            if (closed) {
                throw new IllegalStateException("model '" + contract.name() + "' from " + sourceName + " is closed");
            }
            for (int start = 0; start < n; start += chunk) {
                runBatch(imageRows, tabularRows, start, Math.min(chunk, n - start), out, calibrated);
            }
        } finally {
            runs.readLock().unlock();
        }
        return out;
    }

    /**
     * As {@link #predict}, with each row's image and tabular values in arrays of their own (one array may stand for
     * several rows, as a request's image does for its influence rows): they are written straight into the direct
     * input buffers, with no batch array in between (calibrated as {@link #predict}).
     */
    public float[][] predictRows(float[][] images, float[][] tabular) {
        Objects.requireNonNull(images, "images");
        ImageTensor[] tensors = new ImageTensor[images.length];
        for (int i = 0; i < images.length; i++) {
            if (images[i] != null) {
                // one wrapper per distinct array, so rows sharing an image still share it
                tensors[i] = i > 0 && images[i] == images[i - 1] ? tensors[i - 1] : ImageTensor.of(images[i]);
            }
        }
        return predictRows(tensors, tabular);
    }

    /**
     * As {@link #predictRows(float[][], float[][])} with images whose tensors are written here, at batch time, into
     * the direct input buffer ({@link ImageTensor}: decoded images normalise there, in one pass, with no array at the
     * model's size per image). Rows that repeat the previous row's image (the same object) are copied within the
     * buffers rather than written again, across a chunk boundary too. A batch's distinct images are written by the
     * calling thread and, where there are several and cores to spare, by helpers of the common fork-join pool; the
     * caller always takes part, so a busy pool only makes the writing serial. This is a {@link Staged} batch
     * written and run at once; a write that fails fails the call.
     */
    public float[][] predictRows(ImageTensor[] images, float[][] tabular) {
        Objects.requireNonNull(images, "images");
        Objects.requireNonNull(tabular, "tabular");
        if (closed) {
            throw new IllegalStateException("model '" + contract.name() + "' from " + sourceName + " is closed");
        }
        int n = images.length;
        int imageSize = contract.image().tensorSize();
        int width = contract.tabularWidth();
        if (tabular.length != n) {
            throw new IllegalArgumentException(n + " image rows but " + tabular.length + " tabular rows");
        }
        for (int r = 0; r < n; r++) {
            if (images[r] == null || images[r].tensorSize() != imageSize || tabular[r] == null
                    || tabular[r].length != width) {
                throw new IllegalArgumentException("model '" + contract.name() + "' takes " + imageSize
                        + " image floats (" + shapeOf(contract) + ") and " + width + " tabular floats per row; row "
                        + r + " has " + (images[r] == null ? "none" : images[r].tensorSize()) + " and "
                        + (tabular[r] == null ? "none" : tabular[r].length));
            }
        }
        // consecutive rows with one image are one request's rows: its image is written once
        List<ImageTensor> requestImages = new ArrayList<>();
        List<float[][]> requestRows = new ArrayList<>();
        int i = 0;
        while (i < n) {
            int j = i + 1;
            while (j < n && images[j] == images[i]) {
                j++;
            }
            requestImages.add(images[i]);
            requestRows.add(Arrays.copyOfRange(tabular, i, j));
            i = j;
        }
        try (Staged batch = stage()) {
            RuntimeException[] failures = batch.add(requestImages.toArray(ImageTensor[]::new),
                    requestRows.toArray(float[][][]::new));
            for (RuntimeException e : failures) {
                if (e != null) {
                    throw e;
                }
            }
            return batch.run();
        }
    }

    /**
     * Starts a batch whose rows are written into ONNX Runtime's input buffers as its requests arrive and run later
     * ({@link Staged}): a batcher fills the next batch while the current one runs, so the writing (resize and
     * normalisation of decoded images) is off the run's critical path.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    public Staged stage() {
        if (closed) {
            throw new IllegalStateException("model '" + contract.name() + "' from " + sourceName + " is closed");
        }
        return new Staged();
    }

    /**
     * A batch being written: requests' rows are added in order, each request's image written once (its further rows
     * copy it within the buffer), then the batch runs once, in chunks of {@link #maxBatchSize()} rows (calibrated as
     * {@link #predict(float[], float[], int)}). It holds input buffers from the classifier's pool until it has run or is closed. One thread
     * at a time uses it.
     */
    public final class Staged implements AutoCloseable {
        private final int cap = maxBatchSize();
        private final int imageSize = contract.image().tensorSize();
        private final int width = contract.tabularWidth();
        private final List<Inputs> chunks = new ArrayList<>();
        private int rows;
        /** The image of row {@code rows - 1}; null when there is none. */
        private ImageTensor last;
        private boolean finished;

        private Staged() {
        }

        /** Rows added so far. */
        public int rows() {
            return rows;
        }

        /**
         * Adds requests' rows: request k's image for each of its tabular rows. The distinct images are written by
         * the calling thread and, where they are large and there are cores to spare, by common-pool helpers (as in
         * {@link OnnxClassifier#predictRows(ImageTensor[], float[][])}). A request whose image fails to be written is left out,
         * the others keep their order.
         *
         * @param images one per request
         * @param tabular per request, its rows (at least one), each {@link ModelContract#tabularWidth()} floats
         * @return per request, null when its rows were added, else why they were not
         * @throws IllegalArgumentException when a size does not match the contract (nothing is added)
         * @throws IllegalStateException after {@link #run()} or {@link #close()}
         */
        public RuntimeException[] add(ImageTensor[] images, float[][][] tabular) {
            if (finished) {
                throw new IllegalStateException("this batch has run or was closed");
            }
            if (images.length != tabular.length) {
                throw new IllegalArgumentException(images.length + " images but " + tabular.length
                        + " requests' tabular rows");
            }
            for (int k = 0; k < images.length; k++) {
                if (images[k] == null || images[k].tensorSize() != imageSize || tabular[k] == null
                        || tabular[k].length == 0) {
                    throw new IllegalArgumentException("model '" + contract.name() + "' takes " + imageSize
                            + " image floats (" + shapeOf(contract) + ") and one or more rows of " + width
                            + " tabular floats per request; request " + k + " has "
                            + (images[k] == null ? "none" : images[k].tensorSize()) + " and "
                            + (tabular[k] == null ? "no" : tabular[k].length) + " rows");
                }
                for (float[] row : tabular[k]) {
                    if (row == null || row.length != width) {
                        throw new IllegalArgumentException("model '" + contract.name() + "' takes " + width
                                + " tabular floats per row; request " + k + " has a row of "
                                + (row == null ? "none" : row.length));
                    }
                }
            }
            RuntimeException[] failures = new RuntimeException[images.length];
            // a failed write leaves nothing added: lay the others out again without it (writing is repeatable);
            // every pass that fails drops at least one request, so this ends
            while (true) {
                int[] keep = new int[images.length];
                int kept = 0;
                for (int k = 0; k < images.length; k++) {
                    if (failures[k] == null) {
                        keep[kept++] = k;
                    }
                }
                ImageTensor[] someImages = new ImageTensor[kept];
                float[][][] someTabular = new float[kept][][];
                for (int j = 0; j < kept; j++) {
                    someImages[j] = images[keep[j]];
                    someTabular[j] = tabular[keep[j]];
                }
                RuntimeException[] pass = new RuntimeException[kept];
                if (place(someImages, someTabular, pass)) {
                    break;
                }
                for (int j = 0; j < kept; j++) {
                    if (pass[j] != null) {
                        failures[keep[j]] = pass[j];
                    }
                }
            }
            return failures;
        }

        /**
         * Writes the requests' rows from row {@link #rows} on and advances it; on a failure records it and leaves
         * {@code rows} and {@code last} as they were (the rows written are then garbage past the batch's end).
         */
        private boolean place(ImageTensor[] images, float[][][] tabular, RuntimeException[] failures) {
            int total = 0;
            for (float[][] t : tabular) {
                total += t.length;
            }
            ensureCapacity(rows + total);
            int[] first = new int[images.length];
            int[] writes = new int[images.length];
            int count = 0;
            int row = rows;
            ImageTensor previous = last;
            for (int k = 0; k < images.length; k++) {
                first[k] = row;
                if (images[k] != previous) {
                    writes[count++] = k;
                }
                previous = images[k];
                row += tabular[k].length;
            }
            if (!writeImages(images, first, writes, count, failures)) {
                return false;
            }
            // rows after a request's first (and a first row repeating the previous row's image) copy the row before
            row = rows;
            previous = last;
            for (int k = 0; k < images.length; k++) {
                for (int v = 0; v < tabular[k].length; v++, row++) {
                    if (v > 0 || images[k] == previous) {
                        copyImageRow(row - 1, row);
                    }
                    Inputs in = chunks.get(row / cap);
                    in.tabular().put((row % cap) * width, tabular[k][v], 0, width);
                }
                previous = images[k];
            }
            rows = row;
            last = images.length > 0 ? images[images.length - 1] : last;
            return true;
        }

        private boolean writeImages(ImageTensor[] images, int[] first, int[] writes, int count,
                                    RuntimeException[] failures) {
            boolean parallel = count > 1 && (long) count * imageSize >= PARALLEL_WRITE_FLOATS
                    && java.util.concurrent.ForkJoinPool.getCommonPoolParallelism() > 1
                    && Runtime.getRuntime().availableProcessors() > 1;
            if (!parallel) {
                boolean ok = true;
                for (int j = 0; j < count; j++) {
                    ok &= writeImage(images[writes[j]], first[writes[j]], failures, writes[j]);
                }
                return ok;
            }
            java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
            java.util.concurrent.atomic.AtomicBoolean ok = new java.util.concurrent.atomic.AtomicBoolean(true);
            java.util.concurrent.CountDownLatch written = new java.util.concurrent.CountDownLatch(count);
            Runnable drain = () -> {
                for (int j = next.getAndIncrement(); j < count; j = next.getAndIncrement()) {
                    try {
                        if (!writeImage(images[writes[j]], first[writes[j]], failures, writes[j])) {
                            ok.set(false);
                        }
                    } finally {
                        written.countDown();
                    }
                }
            };
            int helpers = Math.min(count - 1, java.util.concurrent.ForkJoinPool.getCommonPoolParallelism());
            try {
                try {
                    for (int h = 0; h < helpers; h++) {
                        java.util.concurrent.ForkJoinPool.commonPool().execute(drain);
                    }
                } catch (java.util.concurrent.RejectedExecutionException e) {
                    // a helper that could not be started only makes the writing serial
                }
            } finally {
                // whatever happened above: no helper writes into the buffers after this returns
                drain.run();
                awaitUninterruptibly(written);
            }
            return ok.get();
        }

        /** @return false when the write failed (recorded in {@code failures[k]}) */
        private boolean writeImage(ImageTensor image, int row, RuntimeException[] failures, int k) {
            try {
                image.writeTo(chunks.get(row / cap).images(), (row % cap) * imageSize);
                return true;
            } catch (RuntimeException e) {
                failures[k] = e;
                return false;
            } catch (Error e) {
                failures[k] = new ModelInferenceException("writing an image's tensor failed: " + e, e);
                return false;
            }
        }

        private void copyImageRow(int from, int to) {
            FloatBuffer src = chunks.get(from / cap).images();
            FloatBuffer dst = chunks.get(to / cap).images();
            dst.put((to % cap) * imageSize, src, (from % cap) * imageSize, imageSize);
        }

        private void ensureCapacity(int total) {
            while ((long) chunks.size() * cap < total) {
                chunks.add(takeInputs());
            }
        }

        /**
         * Runs every row added, in chunks of at most {@link OnnxClassifier#maxBatchSize()}, and gives the buffers back.
         *
         * @return one row of class probabilities per row added, in order
         * @throws ModelInferenceException when ONNX Runtime fails
         * @throws IllegalStateException when run twice, after {@link #close()}, or after the classifier closed
         */
        public float[][] run() {
            if (finished) {
                throw new IllegalStateException("this batch has run or was closed");
            }
            finished = true;
            float[][] out = new float[rows][];
            runs.readLock().lock();
            try {
                if (closed) {
                    throw new IllegalStateException("model '" + contract.name() + "' from " + sourceName
                            + " is closed");
                }
                for (int c = 0; c * cap < rows; c++) {
                    runFilled(chunks.get(c), c * cap, Math.min(cap, rows - c * cap), out, true);
                }
            } finally {
                runs.readLock().unlock();
                giveBack();
            }
            return out;
        }

        /** Gives the buffers back without running; does nothing after {@link #run()} or a first close. */
        @Override
        public void close() {
            if (!finished) {
                finished = true;
                giveBack();
            }
        }

        private void giveBack() {
            for (Inputs in : chunks) {
                inputs.offer(in);
            }
            chunks.clear();
        }
    }

    private static void awaitUninterruptibly(java.util.concurrent.CountDownLatch latch) {
        boolean interrupted = false;
        while (true) {
            try {
                latch.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Closes the ONNX Runtime session once every run in progress has returned, however long that takes (freeing it
     * under a running batch would crash the JVM in native code); later calls do nothing, later runs fail.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        runs.writeLock().lock();
        try {
            closed = true;
            session.close();
        } catch (OrtException e) {
            throw new ModelInferenceException("closing the session of model '" + contract.name() + "' failed: "
                    + e.getMessage(), e);
        } finally {
            runs.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return "OnnxClassifier[" + contract.name() + " " + contract.version() + ", " + executionProvider + ", "
                + sourceName + "]";
    }

    /** Writes rows [start, start + m) of one input into a buffer, from its index 0 on (absolute writes). */
    @FunctionalInterface
    private interface Rows {
        void write(FloatBuffer dst, int start, int m);

        static Rows flat(float[] data, int rowSize) {
            return (dst, start, m) -> dst.put(0, data, start * rowSize, m * rowSize);
        }
    }

    /**
     * Below this many floats in a batch's distinct images (under three 64×64×3 tensors), helpers cost more than they
     * save.
     */
    static final long PARALLEL_WRITE_FLOATS = 32L * 1024;

    private void runBatch(Rows images, Rows tabular, int start, int m, float[][] out, boolean calibrated) {
        int imageSize = contract.image().tensorSize();
        int width = contract.tabularWidth();
        Inputs in = takeInputs();
        try {
            in.images().clear();
            images.write(in.images(), start, m);
            in.tabular().clear();
            tabular.write(in.tabular(), start, m);
            runFilled(in, start, m, out, calibrated);
        } finally {
            inputs.offer(in); // the tensors are closed: the run no longer reads it
        }
    }

    /** A pair of input buffers for the largest padded batch: one given back by an earlier run, or a new one. */
    private Inputs takeInputs() {
        Inputs in = inputs.poll();
        if (in != null) {
            return in;
        }
        int rows = maxBatchSize();
        return new Inputs(directFloats((long) rows * contract.image().tensorSize()),
                directFloats((long) rows * Math.max(1, contract.tabularWidth())));
    }

    /**
     * Runs the first {@code m} rows written in {@code in} (padded with whatever rows follow them) and puts their
     * answers at {@code out[start ..]}. The caller holds the run lock and owns {@code in}.
     */
    private void runFilled(Inputs in, int start, int m, float[][] out, boolean calibrated) {
        int padded = paddedSize(m);
        int imageSize = contract.image().tensorSize();
        int width = contract.tabularWidth();
        int classes = contract.labels().size();
        long[] imageShape = {padded, contract.image().channels(), contract.image().height(),
            contract.image().width()};
        long[] tabularShape = {padded, width};
        try (OnnxTensor image = OnnxTensor.createTensor(env, view(in.images(), padded, imageSize), imageShape);
             OnnxTensor tab = OnnxTensor.createTensor(env, view(in.tabular(), padded, width), tabularShape);
             OrtSession.Result result = session.run(
                     Map.of(contract.imageInput(), image, contract.tabularInput(), tab), requestedOutputs)) {
            OnnxValue value = result.get(contract.output()).orElseThrow(() -> new ModelInferenceException(
                    "model '" + contract.name() + "' returned no output '" + contract.output() + "'"));
            if (!(value instanceof OnnxTensor tensor) || tensor.getInfo().type != OnnxJavaType.FLOAT
                    || !Arrays.equals(tensor.getInfo().getShape(), new long[] {padded, classes})) {
                throw new ModelInferenceException("model '" + contract.name() + "' output '" + contract.output()
                        + "' should be float [" + padded + "," + classes + "], got " + value.getInfo());
            }
            FloatBuffer probabilities = tensor.getFloatBuffer();
            for (int i = 0; i < m; i++) {
                float[] row = new float[classes];
                probabilities.get(i * classes, row);
                if (contract.outputKind() == ModelContract.OutputKind.LOGITS) {
                    softmaxInPlace(row);
                }
                if (calibrated && contract.calibration() != null) {
                    contract.calibration().applyInPlace(row);
                }
                out[start + i] = row;
            }
        } catch (OrtException e) {
            throw new ModelInferenceException("model '" + contract.name() + "' (" + sourceName
                    + ") failed on a batch of " + m + " padded to image " + Arrays.toString(imageShape)
                    + " + tabular " + Arrays.toString(tabularShape) + ": " + e.getMessage(), e);
        }
    }

    private static FloatBuffer directFloats(long n) {
        if (n * Float.BYTES > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a batch of " + n + " floats is larger than a direct buffer can be");
        }
        return java.nio.ByteBuffer.allocateDirect((int) (n * Float.BYTES)).order(java.nio.ByteOrder.nativeOrder())
                .asFloatBuffer();
    }

    /** The direct buffer's first {@code padded} rows. */
    private static FloatBuffer view(FloatBuffer direct, int padded, int rowSize) {
        FloatBuffer view = direct.duplicate();
        view.position(0).limit(padded * rowSize);
        return view.slice();
    }

    /** Numerically stable softmax, computed in double. */
    static void softmaxInPlace(float[] row) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : row) {
            max = Math.max(max, v);
        }
        double sum = 0;
        double[] e = new double[row.length];
        for (int i = 0; i < row.length; i++) {
            e[i] = Math.exp(row[i] - max);
            sum += e[i];
        }
        for (int i = 0; i < row.length; i++) {
            row[i] = (float) (e[i] / sum);
        }
    }

    // ---- loading -------------------------------------------------------------------------------------------

    private record Placed(OrtSession session, String provider) {
    }

    private static Placed createSession(OrtEnvironment env, byte[] bytes, String sourceName, EngineOptions options) {
        int cuda = options.cudaDeviceId();
        if (cuda >= 0) {
            String whyNot;
            if (!OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)) {
                whyNot = "this ONNX Runtime build has no CUDA execution provider (available: "
                        + OrtEnvironment.getAvailableProviders() + "); build with the Maven profile -Pgpu "
                        + "(onnxruntime_gpu) and run on a host with an NVIDIA driver, CUDA 12 and cuDNN 9";
            } else {
                try (OrtSession.SessionOptions so = sessionOptions(options)) {
                    so.addCUDA(cuda);
                    return new Placed(env.createSession(bytes, so), "CUDA:" + cuda);
                } catch (OrtException e) {
                    whyNot = "the CUDA execution provider failed to start on device " + cuda + " (it needs an NVIDIA "
                            + "driver, CUDA 12 and cuDNN 9 libraries on the library path): " + e.getMessage();
                }
            }
            if (!"auto".equals(options.device())) {
                throw new ModelInferenceException("device '" + options.device() + "' was requested for " + sourceName
                        + " but " + whyNot);
            }
            LOG.info("device auto: running {} on CPU because {}", sourceName, whyNot);
        }
        try (OrtSession.SessionOptions so = sessionOptions(options)) {
            return new Placed(env.createSession(bytes, so), "CPU");
        } catch (OrtException e) {
            throw new ModelInferenceException("ONNX Runtime cannot load " + sourceName + ": " + e.getMessage(), e);
        }
    }

    private static OrtSession.SessionOptions sessionOptions(EngineOptions options) throws OrtException {
        OrtSession.SessionOptions so = new OrtSession.SessionOptions();
        try {
            if (options.intraOpThreads() > 0) {
                so.setIntraOpNumThreads(options.intraOpThreads());
            }
            if (options.interOpThreads() > 0) {
                so.setInterOpNumThreads(options.interOpThreads());
            }
            so.setOptimizationLevel(switch (options.optimizationLevel()) {
                case "none" -> OrtSession.SessionOptions.OptLevel.NO_OPT;
                case "basic" -> OrtSession.SessionOptions.OptLevel.BASIC_OPT;
                case "extended" -> OrtSession.SessionOptions.OptLevel.EXTENDED_OPT;
                default -> OrtSession.SessionOptions.OptLevel.ALL_OPT;
            });
            // the arena keeps tensor memory between runs; with a few padded batch shapes it stops growing early
            so.setCPUArenaAllocator(true);
            so.setMemoryPatternOptimization(true);
            // No spin-waiting between operators: the worker shares its cores with the decode pool, the stream
            // thread and the Kafka clients, and spinning intra-op threads burn the CPU those need. Measured with
            // 'medfuse bench --only compute' on 2 shared cores: seed-size model batch 1 went from 31-52 ms to 11 ms
            // (docs/benchmarks.md); the same trap as libtorch's OpenMP spinning in FACTS.md.
            so.addConfigEntry("session.intra_op.allow_spinning", "0");
            return so;
        } catch (OrtException | RuntimeException e) {
            so.close();
            throw e;
        }
    }

    /**
     * Checks the session's inputs and output against the contract, reporting every mismatch at once.
     *
     * @return the graph's static batch size, or -1 when the batch dimension is dynamic
     */
    private static long checkGraph(ModelContract contract, OrtSession session, String sourceName)
            throws OrtException {
        Map<String, NodeInfo> inputs = session.getInputInfo();
        Map<String, NodeInfo> outputs = session.getOutputInfo();
        List<String> problems = new ArrayList<>();
        long[] imageShape = {-1, contract.image().channels(), contract.image().height(), contract.image().width()};
        long[] tabularShape = {-1, contract.tabularWidth()};
        long[] outputShape = {-1, contract.labels().size()};
        long b1 = checkTensor("image input", contract.imageInput(), imageShape, inputs, problems);
        long b2 = checkTensor("tabular input", contract.tabularInput(), tabularShape, inputs, problems);
        checkTensor("output", contract.output(), outputShape, outputs, problems);
        Set<String> extra = new TreeSet<>(inputs.keySet());
        extra.remove(contract.imageInput());
        extra.remove(contract.tabularInput());
        if (!extra.isEmpty()) {
            problems.add("the ONNX graph also needs inputs " + extra + " that the contract does not feed (it feeds "
                    + "only '" + contract.imageInput() + "' and '" + contract.tabularInput() + "')");
        }
        if (b1 > 0 && b2 > 0 && b1 != b2) {
            problems.add("the ONNX graph's inputs have different fixed batch sizes " + b1 + " and " + b2);
        }
        if (!problems.isEmpty()) {
            throw new ModelContractException(sourceName + " does not match its contract (model '" + contract.name()
                    + "' " + contract.version() + "): " + String.join("; ", problems));
        }
        return Math.max(b1, b2);
    }

    /** @return the graph's fixed batch size for this tensor, or -1 (dynamic or absent) */
    private static long checkTensor(String role, String name, long[] expected, Map<String, NodeInfo> graph,
                                    List<String> problems) {
        NodeInfo node = graph.get(name);
        String side = role.endsWith("output") ? "outputs" : "inputs";
        if (node == null) {
            problems.add("contract says " + role + " is '" + name + "' but the ONNX graph's " + side + " are "
                    + new TreeSet<>(graph.keySet()));
            return -1;
        }
        ValueInfo info = node.getInfo();
        if (!(info instanceof TensorInfo tensor)) {
            problems.add("contract says " + role + " '" + name + "' is a float tensor " + describe(expected, null)
                    + " but the ONNX graph declares " + info);
            return -1;
        }
        long[] shape = tensor.getShape();
        boolean ok = tensor.type == OnnxJavaType.FLOAT && shape.length == expected.length;
        for (int i = 1; ok && i < shape.length; i++) {
            // a dynamic dimension (-1) in the graph accepts the contract's size
            ok = shape[i] < 0 || shape[i] == expected[i];
        }
        if (!ok) {
            problems.add("contract says " + role + " '" + name + "' is float " + describe(expected, null)
                    + " but the ONNX graph declares " + tensor.type.toString().toLowerCase(java.util.Locale.ROOT)
                    + " " + describe(shape, tensor.getDimensionNames()));
            return -1;
        }
        return shape[0];
    }

    private static String describe(long[] shape, String[] names) {
        StringBuilder s = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) {
                s.append(',');
            }
            if (shape[i] >= 0) {
                s.append(shape[i]);
            } else if (names != null && i < names.length && names[i] != null && !names[i].isEmpty()) {
                s.append(names[i]);
            } else {
                s.append(i == 0 ? "N" : "?");
            }
        }
        return s.append(']').toString();
    }

    private static String shapeOf(ModelContract c) {
        return "[N," + c.image().channels() + "," + c.image().height() + "," + c.image().width() + "]";
    }

    private static void closeQuietly(OrtSession session, Exception primary) {
        try {
            session.close();
        } catch (OrtException e) {
            primary.addSuppressed(e);
        }
    }
}
