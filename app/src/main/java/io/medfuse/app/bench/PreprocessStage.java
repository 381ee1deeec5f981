package io.medfuse.app.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.LongAdder;


import io.medfuse.model.image.ImageDecoder;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.model.image.ImagePreprocessor;
import io.medfuse.worker.config.WorkerConfig;

/** Stage: preprocessing limit: decode + resize + normalise, on one thread and on the pool. */
final class PreprocessStage extends Stage {

    PreprocessStage(Context context) {
        super(context);
    }

    Map<String, Object> preprocess(BenchModel model) throws Exception {
        WorkerConfig config = config(model, "unused", Map.of());
        ImagePreprocessor pre = new ImagePreprocessor(model.contract().image(),
                new ImageLimits(config.imageMaxBytes(), config.imageMaxPixels()));
        List<byte[]> images = model.shuffledImages(3);
        long half = durationNanos() / 2;
        LongAdder one = progress.stage(model.name() + " / preprocess, 1 thread");
        pre.preprocess(images.get(0), model.mediaType()); // warm-up
        java.lang.management.ThreadMXBean threadCpu = java.lang.management.ManagementFactory.getThreadMXBean();
        long threadStart = threadCpu.getCurrentThreadCpuTime();
        long oneCount = decodeFor(pre, images, model.mediaType(), half, one, 0);
        double oneCpuMs = CpuClock.msPer(threadStart, threadCpu.getCurrentThreadCpuTime(), oneCount);
        double oneRate = oneCount / (half / 1e9);
        // the pure-Java decoder on the same images, for the native one's gain (a quarter of the time is enough)
        Double javaCpuMs = null;
        if (pre.decoder() != ImageDecoder.IMAGEIO) {
            ImagePreprocessor java = new ImagePreprocessor(model.contract().image(), pre.limits(), 0,
                    ImageDecoder.IMAGEIO);
            java.preprocess(images.get(0), model.mediaType());
            LongAdder javaDone = progress.stage(model.name() + " / preprocess with ImageIO, 1 thread");
            long javaStart = threadCpu.getCurrentThreadCpuTime();
            long javaCount = decodeFor(java, images, model.mediaType(), half / 2, javaDone, 0);
            javaCpuMs = CpuClock.msPer(javaStart, threadCpu.getCurrentThreadCpuTime(), javaCount);
        }
        // issue 13, item 2: a batch's buffer filled as the worker did before (each image normalised into a tensor
        // array of its own, 32 of them, copied into the direct buffer when the batch runs) and as it does now (each
        // image decoded and held, its tensor written straight into the buffer when the batch runs), alternated
        LongAdder fill = progress.stage(model.name() + " / decode + fill a batch buffer, 1 thread");
        long[] fillCpu = new long[2];
        long[] fillCount = new long[2];
        for (int round = 0; round < 4; round++) {
            int way = round % 2;
            long c0 = threadCpu.getCurrentThreadCpuTime();
            fillCount[way] += fillFor(pre, images, model.mediaType(), half / 4, fill, way == 1);
            fillCpu[way] += threadCpu.getCurrentThreadCpuTime() - c0;
        }
        int threads = config.preprocessThreads();
        LongAdder pool = progress.stage(model.name() + " / preprocess, " + threads + " threads");
        ExecutorService exec = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Long>> futures = new ArrayList<>();
            long cpu0 = CpuClock.thisProcessNanos();
            long t0 = System.nanoTime();
            for (int t = 0; t < threads; t++) {
                int offset = t * 7;
                futures.add(exec.submit(() -> decodeFor(pre, images, model.mediaType(), half, pool, offset)));
            }
            long total = 0;
            for (Future<Long> f : futures) {
                total += f.get();
            }
            double poolRate = total / ((System.nanoTime() - t0) / 1e9);
            double poolCpuMs = CpuClock.msPer(cpu0, CpuClock.thisProcessNanos(), total);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("decoder", pre.decoder().describe());
            m.put("one_thread_images_per_s", round(oneRate));
            m.put("ms_per_image", round(1000 / oneRate));
            m.put("pool_threads", threads);
            m.put("pool_images_per_s", round(poolRate));
            m.put("one_thread_cpu_ms_per_image", Bench.roundOrNull(oneCpuMs));
            m.put("pool_cpu_ms_per_image", Bench.roundOrNull(poolCpuMs));
            m.put("batch_fill_via_array_cpu_ms_per_image", Bench.roundOrNull(CpuClock.msPer(0, fillCpu[0],
                    fillCount[0])));
            m.put("batch_fill_direct_cpu_ms_per_image", Bench.roundOrNull(CpuClock.msPer(0, fillCpu[1],
                    fillCount[1])));
            if (javaCpuMs != null) {
                m.put("imageio_one_thread_cpu_ms_per_image", Bench.roundOrNull(javaCpuMs));
            }
            return m;
        } finally {
            exec.shutdownNow();
        }
    }

    /** Rows of the batch buffer {@link #fillFor} fills: the worker's default batch.max.size. */
    private static final int FILL_BATCH = 32;

    /**
     * Decodes images a batch at a time and fills a direct batch buffer with their tensors: {@code direct}, each image
     * held decoded and written into the buffer (the worker now); else each normalised into an array of its own, the
     * arrays then copied into the buffer (the worker before).
     */
    private static long fillFor(ImagePreprocessor pre, List<byte[]> images, String mediaType, long nanos,
                                LongAdder done, boolean direct) {
        int size = pre.spec().tensorSize();
        java.nio.FloatBuffer buffer = java.nio.ByteBuffer.allocateDirect(FILL_BATCH * size * Float.BYTES)
                .order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
        float[][] arrays = direct ? null : new float[FILL_BATCH][size];
        io.medfuse.model.image.ImageTensor[] held = new io.medfuse.model.image.ImageTensor[FILL_BATCH];
        long end = System.nanoTime() + nanos;
        long n = 0;
        while (System.nanoTime() < end) {
            for (int row = 0; row < FILL_BATCH; row++, n++) {
                byte[] image = images.get((int) (n % images.size()));
                if (direct) {
                    held[row] = pre.decode(image, mediaType);
                } else {
                    pre.preprocessInto(image, mediaType, arrays[row], 0);
                }
            }
            for (int row = 0; row < FILL_BATCH; row++) {
                if (direct) {
                    held[row].writeTo(buffer, row * size);
                    held[row].release();
                } else {
                    buffer.put(row * size, arrays[row], 0, size);
                }
            }
            done.add(FILL_BATCH);
        }
        return n;
    }

    private static long decodeFor(ImagePreprocessor pre, List<byte[]> images, String mediaType, long nanos,
                                  LongAdder done, int offset) {
        long end = System.nanoTime() + nanos;
        long n = 0;
        float[] dst = new float[pre.spec().tensorSize()];
        while (System.nanoTime() < end) {
            pre.preprocessInto(images.get((int) ((n + offset) % images.size())), mediaType, dst, 0);
            n++;
            done.increment();
        }
        return n;
    }
}
