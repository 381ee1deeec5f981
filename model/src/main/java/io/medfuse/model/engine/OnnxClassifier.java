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
     * buffer rather than written again. A batch's distinct images are written by the calling thread and, where
     * there are several and cores to spare, by helpers of the common fork-join pool; the caller always takes part,
     * so a busy pool only makes the writing serial.
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
        for (int i = 0; i < n; i++) {
            if (images[i] == null || images[i].tensorSize() != imageSize || tabular[i] == null
                    || tabular[i].length != width) {
                throw new IllegalArgumentException("model '" + contract.name() + "' takes " + imageSize
                        + " image floats (" + shapeOf(contract) + ") and " + width + " tabular floats per row; row "
                        + i + " has " + (images[i] == null ? "none" : images[i].tensorSize()) + " and "
                        + (tabular[i] == null ? "none" : tabular[i].length));
            }
        }
        return runAll(n, imageRows(images, imageSize), Rows.each(tabular, width), true);
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

        static Rows each(float[][] rows, int rowSize) {
            return (dst, start, m) -> {
                for (int i = start; i < start + m; i++) {
                    dst.put((i - start) * rowSize, rows[i], 0, rowSize);
                }
            };
        }
    }

    /**
     * Below this many floats in a batch's distinct images (under three 64×64×3 tensors), helpers cost more than they
     * save.
     */
    static final long PARALLEL_WRITE_FLOATS = 32L * 1024;

    /** Image rows: distinct images written (in parallel where it pays), repeated ones copied within the buffer. */
    private static Rows imageRows(ImageTensor[] images, int rowSize) {
        return (dst, start, m) -> {
            int[] distinct = new int[m];
            int count = 0;
            for (int i = start; i < start + m; i++) {
                if (i == start || images[i] != images[i - 1]) {
                    distinct[count++] = i;
                }
            }
            writeAll(images, distinct, count, start, dst, rowSize);
            for (int i = start + 1; i < start + m; i++) {
                if (images[i] == images[i - 1]) {
                    dst.put((i - start) * rowSize, dst, (i - 1 - start) * rowSize, rowSize);
                }
            }
        };
    }

    private static void writeAll(ImageTensor[] images, int[] rows, int count, int start, FloatBuffer dst,
                                 int rowSize) {
        int helpers = Math.min(count - 1, java.util.concurrent.ForkJoinPool.getCommonPoolParallelism());
        if (helpers < 1 || (long) count * rowSize < PARALLEL_WRITE_FLOATS
                || Runtime.getRuntime().availableProcessors() < 2) {
            for (int k = 0; k < count; k++) {
                images[rows[k]].writeTo(dst, (rows[k] - start) * rowSize);
            }
            return;
        }
        ParallelWrite job = new ParallelWrite(images, rows, count, start, dst, rowSize);
        for (int h = 0; h < helpers; h++) {
            java.util.concurrent.ForkJoinPool.commonPool().execute(job::drain);
        }
        job.drain();
        job.await();
    }

    /**
     * Rows claimed one at a time from a counter by the caller and its helpers; the caller waits until every claimed
     * row is written, so nothing writes into the buffer after the batch has moved on (a helper that starts late
     * finds no row left). The first failure is rethrown to the caller.
     */
    private static final class ParallelWrite {
        private final ImageTensor[] images;
        private final int[] rows;
        private final int count;
        private final int start;
        private final FloatBuffer dst;
        private final int rowSize;
        private final java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        private final java.util.concurrent.CountDownLatch written;
        private final java.util.concurrent.atomic.AtomicReference<Throwable> failure =
                new java.util.concurrent.atomic.AtomicReference<>();

        ParallelWrite(ImageTensor[] images, int[] rows, int count, int start, FloatBuffer dst, int rowSize) {
            this.images = images;
            this.rows = rows;
            this.count = count;
            this.start = start;
            this.dst = dst;
            this.rowSize = rowSize;
            this.written = new java.util.concurrent.CountDownLatch(count);
        }

        void drain() {
            for (int k = next.getAndIncrement(); k < count; k = next.getAndIncrement()) {
                try {
                    images[rows[k]].writeTo(dst, (rows[k] - start) * rowSize);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                } finally {
                    written.countDown();
                }
            }
        }

        void await() {
            boolean interrupted = false;
            while (true) {
                try {
                    written.await();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // keep waiting: a helper may still be writing into the buffer
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            Throwable e = failure.get();
            if (e instanceof RuntimeException re) {
                throw re;
            }
            if (e instanceof Error err) {
                throw err;
            }
        }
    }

    private void runBatch(Rows images, Rows tabular, int start, int m, float[][] out, boolean calibrated) {
        int padded = paddedSize(m);
        int imageSize = contract.image().tensorSize();
        int width = contract.tabularWidth();
        int classes = contract.labels().size();
        long[] imageShape = {padded, contract.image().channels(), contract.image().height(),
            contract.image().width()};
        long[] tabularShape = {padded, width};
        Inputs in = inputs.poll();
        if (in == null) {
            int rows = maxBatchSize();
            in = new Inputs(directFloats((long) rows * imageSize), directFloats((long) rows * Math.max(1, width)));
        }
        try (OnnxTensor image = OnnxTensor.createTensor(env, fill(in.images(), images, start, m, padded, imageSize),
                imageShape);
             OnnxTensor tab = OnnxTensor.createTensor(env, fill(in.tabular(), tabular, start, m, padded, width),
                     tabularShape);
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
        } finally {
            inputs.offer(in); // the tensors are closed: the run no longer reads it
        }
    }

    private static FloatBuffer directFloats(long n) {
        if (n * Float.BYTES > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a batch of " + n + " floats is larger than a direct buffer can be");
        }
        return java.nio.ByteBuffer.allocateDirect((int) (n * Float.BYTES)).order(java.nio.ByteOrder.nativeOrder())
                .asFloatBuffer();
    }

    /** The batch's own rows written into the direct buffer, viewed as {@code padded} rows. */
    private static FloatBuffer fill(FloatBuffer direct, Rows rows, int start, int m, int padded, int rowSize) {
        direct.clear();
        rows.write(direct, start, m);
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
