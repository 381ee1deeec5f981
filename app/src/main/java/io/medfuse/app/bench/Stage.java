package io.medfuse.app.bench;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

import io.medfuse.worker.config.WorkerConfig;

/**
 * What every bench stage shares: the run's options, its cluster (null for the stages without Kafka), the progress
 * line, and the worker settings a stage starts from. One subclass per stage, in the order {@link Bench#STAGES}
 * runs them.
 */
abstract class Stage {

    /** One run's shared state. */
    record Context(Bench.Options options, BenchCluster cluster, Progress progress) {

        long durationNanos() {
            return (long) (options.durationSeconds() * 1e9);
        }

        /** Worker settings for this model on this run's cluster (pipeline stages use them without Kafka too). */
        WorkerConfig config(BenchModel model, String applicationId, Map<String, Object> overrides) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put(WorkerConfig.BOOTSTRAP_SERVERS, cluster == null ? "localhost:1" : cluster.bootstrap());
            s.put(WorkerConfig.REGISTRY_URL, cluster == null ? "http://127.0.0.1:1"
                    : cluster.registryUrl().toString());
            s.put(WorkerConfig.APPLICATION_ID, applicationId);
            s.put(WorkerConfig.MODEL_PATH, model.modelPath());
            if (cluster != null) {
                cluster.clientOverrides().forEach((k, v) -> s.put(WorkerConfig.KAFKA_PREFIX + k, v));
                s.put(WorkerConfig.STATE_DIR, cluster.stateRoot().toString());
            }
            s.putAll(options.workerOverrides());
            s.putAll(overrides);
            return WorkerConfig.load(null, Map.of(), s);
        }

        /** Loads {@code n} requests into {@code topic}; how many the broker acknowledged. */
        int load(BenchModel model, String topic, int n, String what) {
            LongAdder loaded = progress.stage(model.name() + " / loading " + n + " requests for " + what);
            int acked = cluster.load(topic, model, n, model.name() + "-" + what, loaded);
            if (acked < n) {
                progress.note("only " + acked + " of " + n + " requests were acknowledged by the broker");
            }
            return acked;
        }
    }

    protected final Bench.Options options;
    protected final BenchCluster cluster;
    protected final Progress progress;
    protected final Context context;

    Stage(Context context) {
        this.context = context;
        this.options = context.options();
        this.cluster = context.cluster();
        this.progress = context.progress();
    }

    protected long durationNanos() {
        return context.durationNanos();
    }

    protected WorkerConfig config(BenchModel model, String applicationId, Map<String, Object> overrides) {
        return context.config(model, applicationId, overrides);
    }

    protected static double round(double v) {
        return Bench.round(v);
    }
}
