package io.medfuse.app.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.LongAdder;


import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.engine.OnnxClassifier;
import io.medfuse.worker.config.WorkerConfig;

/** Stage: compute limit: ONNX Runtime alone on ready tensors, batch by batch size. */
final class ComputeStage extends Stage {

    ComputeStage(Context context) {
        super(context);
    }

    List<Map<String, Object>> compute(BenchModel model) {
        WorkerConfig config = config(model, "unused", Map.of());
        List<Integer> sizes = new ArrayList<>();
        for (int b : Bench.COMPUTE_BATCHES) {
            sizes.add(b);
        }
        // the worker's engine settings, with every measured batch size as a padded size so none is chunked
        EngineOptions engine = new EngineOptions(config.modelDevice(), config.modelIntraOpThreads(), 1,
                config.modelOptimizationLevel(), sizes);
        List<Map<String, Object>> rows = new ArrayList<>();
        int imageSize = model.contract().image().tensorSize();
        int width = model.contract().tabularWidth();
        Random random = new Random(1);
        try (OnnxClassifier classifier = OnnxClassifier.load(model.onnx(), model.name(), engine)) {
            long perBatchSize = durationNanos() / Bench.COMPUTE_BATCHES.length;
            for (int b : Bench.COMPUTE_BATCHES) {
                float[] images = new float[b * imageSize];
                float[] tabular = new float[b * width];
                for (int i = 0; i < images.length; i++) {
                    images[i] = (float) random.nextGaussian();
                }
                for (int i = 0; i < tabular.length; i++) {
                    tabular[i] = (float) random.nextGaussian();
                }
                LongAdder done = progress.stage(model.name() + " / compute batch " + b);
                classifier.predict(images, tabular, b); // warm-up: ONNX Runtime plans memory for this shape
                int iterations = 0;
                long cpuStart = CpuClock.thisProcessNanos();
                long start = System.nanoTime();
                long elapsed;
                do {
                    classifier.predict(images, tabular, b);
                    iterations++;
                    done.add(b);
                    elapsed = System.nanoTime() - start;
                } while (elapsed < perBatchSize || iterations < 3);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("batch", b);
                row.put("images_per_s", round(b * iterations / (elapsed / 1e9)));
                row.put("ms_per_batch", round(elapsed / 1e6 / iterations));
                row.put("iterations", iterations);
                row.put("cpu_ms_per_image", Bench.roundOrNull(CpuClock.msPer(cpuStart, CpuClock.thisProcessNanos(),
                        (long) b * iterations)));
                rows.add(row);
            }
        }
        return rows;
    }
}
