package io.medfuse.app.bench;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;


import io.medfuse.events.ImagingRequest;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.worker.pipeline.Classifier;
import io.medfuse.worker.pipeline.InFlightLimit;
import io.medfuse.worker.pipeline.RequestPipeline;

/** Stage: the in-process pipeline: the worker's pipeline and batcher without Kafka. */
final class InProcessStage extends Stage {

    InProcessStage(Context context) {
        super(context);
    }

    Map<String, Object> inProcess(BenchModel model) throws Exception {
        return inProcess(model, Map.of(), "in-process pipeline");
    }

    /**
     * The pipeline with these worker settings over the stage's duration, after a warm-up.
     *
     * @return images_per_s, cpu_ms_per_image (this process's CPU time over the measured span, every thread: the
     *     stream-less pipeline, the batcher and ONNX Runtime), mean_batch, failed, settings
     */
    Map<String, Object> inProcess(BenchModel model, Map<String, Object> overrides, String what) throws Exception {
        WorkerConfig config = config(model, "unused", overrides);
        LongAdder answered = progress.stage(model.name() + " / " + what + " (loading the model)");
        AtomicLong batchSum = new AtomicLong();
        LongAdder failed = new LongAdder();
        long warmup = Math.max(1_000_000_000L, durationNanos() / 5);
        try (Classifier classifier = MedfuseWorker.loadModel(config);
             RequestPipeline pipeline = new RequestPipeline(classifier, MedfuseWorker.pipelineSettings(config))) {
            InFlightLimit limit = new InFlightLimit(config.maxInFlight());
            progress.stage(model.name() + " / " + what, answered::sum);
            long start = System.nanoTime();
            long measureFrom = start + warmup;
            long end = measureFrom + durationNanos();
            long countAtMeasure = -1;
            long measuredStart = 0;
            long cpuAtMeasure = 0;
            int i = 0;
            while (true) {
                long now = System.nanoTime();
                if (countAtMeasure < 0 && now >= measureFrom) {
                    countAtMeasure = answered.sum();
                    measuredStart = now;
                    cpuAtMeasure = processCpuNanos();
                    batchSum.set(0);
                }
                if (now >= end) {
                    break;
                }
                // exactly what the stream thread does for each request: validate, take a permit, submit, give the
                // permit back when the request's future completes
                ImagingRequest request = model.request("inproc-" + i, i, System.currentTimeMillis());
                i++;
                RequestPipeline.Validated validated = pipeline.validate(request);
                boolean acquired = false;
                while (!acquired && System.nanoTime() < end) {
                    acquired = limit.tryAcquire(20);
                }
                if (!acquired) {
                    break;
                }
                pipeline.submit(request, validated, System.nanoTime()).whenComplete((p, error) -> {
                    limit.release();
                    if (p != null) {
                        batchSum.addAndGet(p.stats().batchSize());
                        answered.increment();
                    } else {
                        failed.increment();
                    }
                });
            }
            long measured = answered.sum() - countAtMeasure;
            double seconds = (System.nanoTime() - measuredStart) / 1e9;
            long cpu = processCpuNanos() - cpuAtMeasure;
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("images_per_s", round(measured / seconds));
            m.put("cpu_ms_per_image", measured == 0 || cpuAtMeasure < 0 ? -1.0 : round(cpu / 1e6 / measured));
            m.put("mean_batch", round(measured == 0 ? 0 : (double) batchSum.get() / measured));
            m.put("failed", failed.sum());
            m.put("settings", "batch.max.size=" + config.batchMaxSize() + ", batch.max.queue.delay.ms="
                    + config.batchMaxQueueDelayMs() + ", preprocess.threads=" + config.preprocessThreads()
                    + ", max.in.flight=" + config.maxInFlight() + (config.influenceEnabled()
                    ? ", influence.enabled=true" + (config.influencePerFeature() ? ", influence.per.feature=true"
                    : "") : ""));
            return m;
        }
    }

    /** CPU time of this process so far (all threads), or -1 where the JVM does not say. */
    static long processCpuNanos() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime();
        }
        return -1;
    }
}
