package io.medfuse.app.bench;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;


import io.medfuse.events.FailedRequest;
import io.medfuse.events.Prediction;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.testkit.OutcomeConsumer;
import io.medfuse.worker.config.WorkerConfig;

/** Stage: the worker end to end at saturation, batched and with batch.max.size=1. */
final class EndToEndStage extends Stage {

    EndToEndStage(Context context) {
        super(context);
    }

    @SuppressWarnings("try") // the consumer and the worker run on their own threads; the try only closes them
    Map<String, Object> e2e(BenchModel model, String requestsTopic, int n, String variant,
                                   Map<String, Object> overrides) throws Exception {
        String predictions = cluster.topic(model.name() + "-" + variant + "-predictions", 3);
        String dead = cluster.topic(model.name() + "-" + variant + "-dead-letters", 3);
        Map<String, Object> settings = new LinkedHashMap<>(overrides);
        settings.put(WorkerConfig.TOPIC_REQUESTS, requestsTopic);
        settings.put(WorkerConfig.TOPIC_PREDICTIONS, predictions);
        settings.put(WorkerConfig.TOPIC_DEAD_LETTERS, dead);
        WorkerConfig config = config(model, cluster.applicationId(model.name() + "-" + variant), settings);
        // CPU of this JVM (the worker, plus the bench's reader) and of the broker, over the steady span
        Arrivals arrivals = new Arrivals(n, CpuClock::thisProcessNanos, cluster.brokerCpu(), CpuClock::thisJitNanos,
                cluster.brokerJit());
        AtomicLong batchSum = new AtomicLong();
        LongAdder deadLetters = new LongAdder();
        double[] inferenceMs = new double[1];
        progress.stage(model.name() + " / worker end to end, " + variant.substring(4), arrivals::count);
        OutcomeConsumer.Listener listener = new OutcomeConsumer.Listener() {
            @Override
            public void prediction(Prediction p, long receivedAtMillis) {
                arrivals.add(System.nanoTime());
                batchSum.addAndGet(p.getTimings().getBatchSize());
                synchronized (inferenceMs) {
                    inferenceMs[0] += p.getTimings().getInferenceMs();
                }
            }

            @Override
            public void deadLetter(FailedRequest f, long receivedAtMillis) {
                deadLetters.increment();
                arrivals.add(System.nanoTime());
            }
        };
        try (OutcomeConsumer consumer = new OutcomeConsumer(cluster.bootstrap(), cluster.registry(), predictions,
                dead, cluster.clientOverrides(), listener);
             MedfuseWorker worker = MedfuseWorker.start(config)) {
            if (!arrivals.await(n, TimeUnit.SECONDS.toMillis(180) + 30 * durationNanos() / 1_000_000)) {
                progress.note(variant + ": only " + arrivals.count() + " of " + n + " answers came in time");
            }
            Map<String, Object> m = new LinkedHashMap<>();
            int answered = arrivals.count();
            m.put("images_per_s", round(arrivals.steadyRate(n)));
            m.put("answered", answered);
            m.put("dead_letters", deadLetters.sum());
            m.put("mean_batch", round(answered == 0 ? 0 : (double) batchSum.get() / answered));
            synchronized (inferenceMs) {
                m.put("mean_inference_ms_per_batch", round(answered == 0 ? 0
                        : inferenceMs[0] / answered));
            }
            m.put("worker_cpu_ms_per_request", Bench.roundOrNull(arrivals.cpuMsPerAnswer(0)));
            m.put("broker_cpu_ms_per_request", Bench.roundOrNull(arrivals.cpuMsPerAnswer(1)));
            // included in the worker's figure: JIT compilation in the same span (a worker not yet warm)
            m.put("worker_jit_ms_per_request", Bench.roundOrNull(arrivals.cpuMsPerAnswer(2)));
            // included in the broker's figure: its JIT compilers in the same span (a broker not yet warm)
            m.put("broker_jit_ms_per_request", Bench.roundOrNull(arrivals.cpuMsPerAnswer(3)));
            m.put("batch.max.size", config.batchMaxSize());
            m.put("batch.adaptive", config.batchAdaptive());
            m.put("learned_batch_cap", worker.pipeline().batchCap());
            return m;
        }
    }
}
