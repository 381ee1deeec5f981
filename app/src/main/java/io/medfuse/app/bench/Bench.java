package io.medfuse.app.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;


import io.medfuse.worker.config.WorkerConfig;

/**
 * Runs the six stages for one model and returns their numbers as plain maps (the JSON report's shape): one class
 * per stage ({@link ComputeStage}, {@link PreprocessStage}, {@link InProcessStage}, {@link BusStage},
 * {@link EndToEndStage}, {@link LatencyStage}); this class orders them and sets the targets. Stages run one after
 * another on this thread; nothing runs concurrently with a measurement except the code being measured and
 * the progress line.
 */
final class Bench {

    /** The stages, in the order they run. */
    static final List<String> STAGES = List.of("compute", "preprocess", "inprocess", "influence", "bus", "e2e",
            "latency", "swap");

    static final int[] COMPUTE_BATCHES = {1, 2, 4, 8, 16, 32, 64};
    static final double[] LOADS = {0.25, 0.50, 0.75};
    /** At most this many records, and this many bytes of images, in the bus stage's topic. */
    static final int MAX_BUS_RECORDS = 30_000;
    static final double MAX_BUS_BYTES = 1.5e9;

    /** What the command asked for. */
    record Options(double durationSeconds, int requests, int partitions, Set<String> stages,
                   Map<String, String> workerOverrides) {
    }

    private final Options options;
    private final BenchCluster cluster;
    private final MemoryProbe memory;
    private final Stage.Context context;

    Bench(Options options, BenchCluster cluster, Progress progress, MemoryProbe memory) {
        this.options = options;
        this.cluster = cluster;
        this.memory = memory;
        this.context = new Stage.Context(options, cluster, progress);
    }

    /** {@link #round}, or null for a figure that is not known (NaN), so the JSON says null. */
    static Double roundOrNull(double v) {
        return Double.isNaN(v) ? null : round(v);
    }

    static double round(double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return v;
        }
        double scale = Math.abs(v) >= 100 ? 10 : Math.abs(v) >= 1 ? 100 : 10000;
        return Math.round(v * scale) / scale;
    }

    Map<String, Object> run(BenchModel model) throws Exception {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", Map.of("name", model.contract().name(), "version", model.contract().version(),
                "image_input", model.contract().image().width() + "x" + model.contract().image().height() + "x"
                        + model.contract().image().channels(),
                "tabular_width", model.contract().tabularWidth(),
                "onnx_bytes", model.onnx().length));
        r.put("request_images", Map.of("kind", model.imageDescription(), "count", model.images().size(),
                "mean_bytes", Math.round(model.meanImageBytes())));
        Set<String> stages = options.stages();
        if (stages.contains("compute")) {
            r.put("compute", new ComputeStage(context).compute(model));
            memory.afterStage(model.name() + "/compute");
        }
        if (stages.contains("preprocess")) {
            r.put("preprocess", new PreprocessStage(context).preprocess(model));
            memory.afterStage(model.name() + "/preprocess");
        }
        double inProcess = 0;
        if (stages.contains("inprocess")) {
            Map<String, Object> ip = new InProcessStage(context).inProcess(model);
            inProcess = (double) ip.get("images_per_s");
            r.put("inprocess", ip);
            memory.afterStage(model.name() + "/inprocess");
        }
        if (stages.contains("influence")) {
            r.put("influence", new InfluenceStage(context).influence(model));
            memory.afterStage(model.name() + "/influence");
        }
        int n = options.requests() > 0 ? options.requests()
                : inProcess > 0 ? (int) Math.max(200, Math.min(20_000, inProcess * options.durationSeconds()))
                : 300;
        if (stages.contains("bus")) {
            // the bus is faster than the model: give it enough records for a steady state of its own
            int busN = options.requests() > 0 ? n : Math.max(n, (int) (150 * options.durationSeconds()));
            String busTopic = cluster.topic(model.name() + "-bus-requests", options.partitions());
            busN = context.load(model, busTopic, busN, "bus");
            Map<String, Object> bus = new LinkedHashMap<>();
            BusStage busStage = new BusStage(context);
            double plain;
            double withStore;
            if (options.requests() > 0) {
                plain = busStage.bus(model, busTopic, busN, false);
                withStore = busStage.bus(model, busTopic, busN, true);
            } else {
                // The bus's rate hardly depends on the model, so a record count from the model's rate was about one
                // second of it on the seed model (±25 % between runs), and whichever pass ran first also paid for
                // the JIT compiling Kafka Streams (the pending store once measured as 34 % faster than none). A
                // first, unmeasured pass warms up and measures the rate; the topic is topped up to twice that rate
                // times the duration (bounded); then pass-through, with the store, and pass-through again, the two
                // pass-through rates averaged so that a drift between passes does not land on the store.
                double probe = busStage.bus(model, busTopic, busN, false, "bus-warm-up");
                bus.put("warm_up_records_per_s", round(probe));
                double most = Math.min(MAX_BUS_RECORDS, MAX_BUS_BYTES / Math.max(1, model.meanImageBytes()));
                int wanted = (int) Math.min(most, Math.ceil(2 * probe * options.durationSeconds()));
                if (wanted > busN) {
                    busN += context.load(model, busTopic, wanted - busN, "bus-more");
                }
                double first = busStage.bus(model, busTopic, busN, false);
                withStore = busStage.bus(model, busTopic, busN, true);
                double second = busStage.bus(model, busTopic, busN, false, "bus-plain-again");
                bus.put("pass_through_runs_records_per_s", List.of(round(first), round(second)));
                plain = (first + second) / 2;
            }
            bus.put("records", busN);
            bus.put("records_per_s", round(plain));
            bus.put("with_pending_store_records_per_s", round(withStore));
            bus.put("pending_store_cost_pct", round(100 * (1 - withStore / plain)));
            bus.put("mb_per_s", round(plain * model.meanImageBytes() / 1e6));
            r.put("bus", bus);
            memory.afterStage(model.name() + "/bus");
        }
        double saturation = 0;
        if (stages.contains("e2e")) {
            String requestsTopic = cluster.topic(model.name() + "-requests", options.partitions());
            n = context.load(model, requestsTopic, n, "e2e");
            Map<String, Object> e2e = new LinkedHashMap<>();
            e2e.put("requests", n);
            EndToEndStage e2eStage = new EndToEndStage(context);
            e2e.put("warm_up", warmUp(e2eStage, model, requestsTopic, n));
            Map<String, Object> batched = e2eStage.e2e(model, requestsTopic, n, "e2e-batched", Map.of());
            Map<String, Object> unbatched = e2eStage.e2e(model, requestsTopic, n, "e2e-unbatched",
                    Map.of(WorkerConfig.BATCH_MAX_SIZE, "1"));
            saturation = (double) batched.get("images_per_s");
            e2e.put("batched", batched);
            e2e.put("unbatched", unbatched);
            r.put("e2e", e2e);
            memory.afterStage(model.name() + "/e2e");
        }
        if (stages.contains("latency") && saturation > 0) {
            r.put("latency", new LatencyStage(context).latency(model, saturation));
            memory.afterStage(model.name() + "/latency");
        }
        if (stages.contains("swap")) {
            // half the saturation where e2e measured it, else half the in-process rate, else 20/s
            double rate = saturation > 0 ? saturation / 2 : inProcess > 0 ? Math.min(200, inProcess / 2) : 20;
            r.put("swap", new SwapStage(context).swap(model, rate));
            memory.afterStage(model.name() + "/swap");
        }
        Map<String, Object> floor = floor(r);
        if (floor != null) {
            r.put("floor", floor);
        }
        r.put("targets", targets(model, r));
        return r;
    }

    /**
     * The CPU a request cannot cost less than with the worker's decoder: decoding and preprocessing one image on one thread
     * plus the model's compute per image at its cheapest batch; and the worker's end-to-end CPU per request against it.
     */
    /**
     * Warm-up rounds before the measured end-to-end runs: at least 2, at most this many (or
     * {@link #WARM_UP_DURATIONS} x the duration).
     */
    static final int MAX_WARM_UP_ROUNDS = 6;
    /** The warm-up's time bound, in measurement durations. */
    static final int WARM_UP_DURATIONS = 6;
    /**
     * A pair of rounds whose JIT compilation was under this share of the worker's CPU, and of the broker's where its
     * compilers can be read (its own process), ends the warm-up.
     */
    static final double WARM_JIT_SHARE = 0.05;

    /**
     * Unmeasured worker runs until the JIT compilers are nearly quiet. Measured with perf on the bundled model with one
     * run before the two measured ones: C2 still took 30 % of the CPU samples in the first measured run and 10 % in the
     * second, so the batched run (first) paid for compiling Kafka Streams' and the worker's paths (two identical
     * unbatched runs: 1.04 and 0.86 worker CPU ms per request). On the seed model the broker's compilers were still
     * 46 % of its CPU after three rounds (2026-12-04). Each round is a fresh worker over the same requests (half of
     * them), so the broker's paths get warm as well; the rounds alternate the two configurations measured next
     * (batched, then batch.max.size=1), so that neither measured run pays for compiling the paths only it takes.
     */
    private static List<Map<String, Object>> warmUp(EndToEndStage stage, BenchModel model, String requestsTopic,
                                                    int n) throws Exception {
        List<Map<String, Object>> rounds = new ArrayList<>();
        int each = Math.min(n, Math.max(100, n / 2));
        long until = System.nanoTime() + WARM_UP_DURATIONS * stage.durationNanos();
        boolean lastQuiet = false;
        for (int round = 1; round <= MAX_WARM_UP_ROUNDS && (round <= 2 || System.nanoTime() < until); round++) {
            boolean unbatched = round % 2 == 0;
            Map<String, Object> m = stage.e2e(model, requestsTopic, each, "e2e-warm-up-" + round,
                    unbatched ? Map.of(WorkerConfig.BATCH_MAX_SIZE, "1") : Map.of());
            Map<String, Object> kept = new LinkedHashMap<>();
            kept.put("requests", each);
            kept.put("batch.max.size", m.get("batch.max.size"));
            kept.put("images_per_s", m.get("images_per_s"));
            kept.put("worker_cpu_ms_per_request", m.get("worker_cpu_ms_per_request"));
            kept.put("worker_jit_ms_per_request", m.get("worker_jit_ms_per_request"));
            kept.put("broker_cpu_ms_per_request", m.get("broker_cpu_ms_per_request"));
            kept.put("broker_jit_ms_per_request", m.get("broker_jit_ms_per_request"));
            rounds.add(kept);
            boolean quiet = quiet(m, "worker") && (!(m.get("broker_jit_ms_per_request") instanceof Double)
                    || quiet(m, "broker"));
            if (unbatched && quiet && lastQuiet) {
                break;
            }
            lastQuiet = quiet;
        }
        return rounds;
    }

    /** Whether {@code who}'s (worker, broker) JIT took under {@link #WARM_JIT_SHARE} of its CPU in run {@code m}. */
    private static boolean quiet(Map<String, Object> m, String who) {
        return m.get(who + "_cpu_ms_per_request") instanceof Double cpu
                && m.get(who + "_jit_ms_per_request") instanceof Double jit && jit < WARM_JIT_SHARE * cpu;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> floor(Map<String, Object> r) {
        Map<String, Object> pre = (Map<String, Object>) r.get("preprocess");
        List<Map<String, Object>> compute = (List<Map<String, Object>>) r.get("compute");
        if (pre == null || compute == null || pre.get("one_thread_cpu_ms_per_image") == null) {
            return null;
        }
        double decode = ((Number) pre.get("one_thread_cpu_ms_per_image")).doubleValue();
        Map<String, Object> best = null;
        for (Map<String, Object> row : compute) {
            if (row.get("cpu_ms_per_image") != null && (best == null || ((Number) row.get("cpu_ms_per_image"))
                    .doubleValue() < ((Number) best.get("cpu_ms_per_image")).doubleValue())) {
                best = row;
            }
        }
        if (best == null) {
            return null;
        }
        double model = ((Number) best.get("cpu_ms_per_image")).doubleValue();
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("decoder", pre.get("decoder"));
        f.put("decode_cpu_ms_per_image", round(decode));
        f.put("compute_cpu_ms_per_image", round(model));
        f.put("compute_best_batch", best.get("batch"));
        f.put("cpu_ms_per_request", round(decode + model));
        Map<String, Object> e2e = (Map<String, Object>) r.get("e2e");
        if (e2e != null && ((Map<String, Object>) e2e.get("batched")).get("worker_cpu_ms_per_request") != null) {
            double worker = ((Number) ((Map<String, Object>) e2e.get("batched")).get("worker_cpu_ms_per_request"))
                    .doubleValue();
            f.put("worker_over_floor", round(worker / (decode + model)));
        }
        return f;
    }

    // ---- targets ------------------------------------------------------------------------------------------------

    @SuppressWarnings("unchecked")
    private Map<String, Object> targets(BenchModel model, Map<String, Object> r) {
        Map<String, Object> t = new LinkedHashMap<>();
        Map<String, Object> e2e = (Map<String, Object>) r.get("e2e");
        Map<String, Object> ip = (Map<String, Object>) r.get("inprocess");
        if (e2e != null && ip != null) {
            double batched = (double) ((Map<String, Object>) e2e.get("batched")).get("images_per_s");
            double ratio = batched / (double) ip.get("images_per_s");
            t.put("e2e_over_inprocess", target(ratio, 0.8, "e2e >= 0.8 x in-process"));
        }
        if (e2e != null) {
            double batched = (double) ((Map<String, Object>) e2e.get("batched")).get("images_per_s");
            double unbatched = (double) ((Map<String, Object>) e2e.get("unbatched")).get("images_per_s");
            Map<String, Object> b = target(batched / unbatched, 1.5, "batched >= 1.5 x unbatched"
                    + (model.name().equals("seed") ? "" : " (the target is set for the seed model)"));
            t.put("batched_over_unbatched", b);
        }
        Map<String, Object> floor = (Map<String, Object>) r.get("floor");
        if (floor != null && floor.get("worker_over_floor") != null) {
            double bound = model.name().equals("seed") ? 1.3 : 2.0;
            double ratio = ((Number) floor.get("worker_over_floor")).doubleValue();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("value", round(ratio));
            m.put("at_most", bound);
            m.put("met", ratio <= bound);
            m.put("target", "worker CPU per request <= " + bound + " x its floor (issue 13)");
            t.put("worker_over_floor", m);
        }
        List<Map<String, Object>> lat = (List<Map<String, Object>>) r.get("latency");
        if (lat != null) {
            for (Map<String, Object> row : lat) {
                if (((Number) row.get("load_pct")).intValue() == 50) {
                    double p99 = (double) ((Map<String, Object>) row.get("read_committed")).get("p99_ms");
                    double inference = (double) row.get("mean_inference_ms_per_batch");
                    WorkerConfig config = context.config(model, "unused", Map.of());
                    double bound = config.batchMaxQueueDelayMs() + 3 * inference;
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("p99_ms", p99);
                    m.put("bound_ms", round(bound));
                    m.put("bound", "batch.max.queue.delay.ms (" + config.batchMaxQueueDelayMs()
                            + ") + 3 x mean batch inference at 50 % (" + round(inference) + " ms)");
                    m.put("met", p99 <= bound);
                    m.put("p99_to_predicted_at_ms", ((Map<String, Object>) row.get("to_predicted_at"))
                            .get("p99_ms"));
                    // the part the bound describes: stream thread -> preprocess -> batch queue -> inference
                    double inWorkerP99 = (double) ((Map<String, Object>) row.get("in_worker")).get("p99_ms");
                    m.put("p99_in_worker_ms", inWorkerP99);
                    m.put("in_worker_met", inWorkerP99 <= bound);
                    t.put("p99_at_50pct", m);
                }
            }
        }
        return t;
    }

    private static Map<String, Object> target(double value, double needed, String what) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("value", round(value));
        m.put("needed", needed);
        m.put("met", value >= needed);
        m.put("target", what);
        return m;
    }

    static void deleteQuietly(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException e) {
            // temporary data; the OS cleans up what is left
        }
    }
}
