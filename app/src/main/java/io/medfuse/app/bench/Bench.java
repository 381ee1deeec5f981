package io.medfuse.app.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Prediction;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.engine.OnnxClassifier;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.model.image.ImagePreprocessor;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.testkit.OutcomeConsumer;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.worker.pipeline.Classifier;
import io.medfuse.worker.pipeline.InFlightLimit;
import io.medfuse.worker.pipeline.RequestPipeline;
import io.medfuse.events.serde.ConfluentAvroCodec;

/**
 * Runs the six stages for one model and returns their numbers as plain maps (the JSON report's shape). Stages run
 * one after another on this thread; nothing runs concurrently with a measurement except the code being measured and
 * the progress line.
 */
final class Bench {

    /** The stages, in the order they run. */
    static final List<String> STAGES = List.of("compute", "preprocess", "inprocess", "bus", "e2e", "latency");

    static final int[] COMPUTE_BATCHES = {1, 2, 4, 8, 16, 32, 64};
    static final double[] LOADS = {0.25, 0.50, 0.75};

    /** What the command asked for. */
    record Options(double durationSeconds, int requests, int partitions, Set<String> stages,
                   Map<String, String> workerOverrides) {
    }

    private final Options options;
    private final BenchCluster cluster;
    private final Progress progress;
    private final MemoryProbe memory;

    Bench(Options options, BenchCluster cluster, Progress progress, MemoryProbe memory) {
        this.options = options;
        this.cluster = cluster;
        this.progress = progress;
        this.memory = memory;
    }

    static double round(double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return v;
        }
        double scale = Math.abs(v) >= 100 ? 10 : Math.abs(v) >= 1 ? 100 : 10000;
        return Math.round(v * scale) / scale;
    }

    private long durationNanos() {
        return (long) (options.durationSeconds() * 1e9);
    }

    /** Worker settings for this model on this run's cluster (pipeline stages use them without Kafka too). */
    private WorkerConfig config(BenchModel model, String applicationId, Map<String, Object> overrides) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put(WorkerConfig.BOOTSTRAP_SERVERS, cluster == null ? "localhost:1" : cluster.bootstrap());
        s.put(WorkerConfig.REGISTRY_URL, cluster == null ? "http://127.0.0.1:1" : cluster.registryUrl().toString());
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
            r.put("compute", compute(model));
            memory.afterStage(model.name() + "/compute");
        }
        if (stages.contains("preprocess")) {
            r.put("preprocess", preprocess(model));
            memory.afterStage(model.name() + "/preprocess");
        }
        double inProcess = 0;
        if (stages.contains("inprocess")) {
            Map<String, Object> ip = inProcess(model);
            inProcess = (double) ip.get("images_per_s");
            r.put("inprocess", ip);
            memory.afterStage(model.name() + "/inprocess");
        }
        int n = options.requests() > 0 ? options.requests()
                : inProcess > 0 ? (int) Math.max(200, Math.min(20_000, inProcess * options.durationSeconds()))
                : 300;
        if (stages.contains("bus")) {
            // the bus is faster than the model: give it enough records for a steady state of its own
            int busN = options.requests() > 0 ? n : Math.max(n, (int) (150 * options.durationSeconds()));
            String busTopic = cluster.topic(model.name() + "-bus-requests", options.partitions());
            busN = load(model, busTopic, busN, "bus");
            Map<String, Object> bus = new LinkedHashMap<>();
            bus.put("records", busN);
            double plain = bus(model, busTopic, busN, false);
            double withStore = bus(model, busTopic, busN, true);
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
            n = load(model, requestsTopic, n, "e2e");
            Map<String, Object> e2e = new LinkedHashMap<>();
            e2e.put("requests", n);
            Map<String, Object> batched = e2e(model, requestsTopic, n, "e2e-batched", Map.of());
            Map<String, Object> unbatched = e2e(model, requestsTopic, n, "e2e-unbatched",
                    Map.of(WorkerConfig.BATCH_MAX_SIZE, "1"));
            saturation = (double) batched.get("images_per_s");
            e2e.put("batched", batched);
            e2e.put("unbatched", unbatched);
            r.put("e2e", e2e);
            memory.afterStage(model.name() + "/e2e");
        }
        if (stages.contains("latency") && saturation > 0) {
            r.put("latency", latency(model, saturation));
            memory.afterStage(model.name() + "/latency");
        }
        r.put("targets", targets(model, r));
        return r;
    }

    private int load(BenchModel model, String topic, int n, String what) {
        LongAdder loaded = progress.stage(model.name() + " / loading " + n + " requests for " + what);
        int acked = cluster.load(topic, model, n, model.name() + "-" + what, loaded);
        if (acked < n) {
            progress.note("only " + acked + " of " + n + " requests were acknowledged by the broker");
        }
        return acked;
    }

    // ---- 1. compute limit ---------------------------------------------------------------------------------------

    private List<Map<String, Object>> compute(BenchModel model) {
        WorkerConfig config = config(model, "unused", Map.of());
        List<Integer> sizes = new ArrayList<>();
        for (int b : COMPUTE_BATCHES) {
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
            long perBatchSize = durationNanos() / COMPUTE_BATCHES.length;
            for (int b : COMPUTE_BATCHES) {
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
                rows.add(row);
            }
        }
        return rows;
    }

    // ---- 2. preprocessing limit ---------------------------------------------------------------------------------

    private Map<String, Object> preprocess(BenchModel model) throws Exception {
        WorkerConfig config = config(model, "unused", Map.of());
        ImagePreprocessor pre = new ImagePreprocessor(model.contract().image(),
                new ImageLimits(config.imageMaxBytes(), config.imageMaxPixels()));
        List<byte[]> images = model.shuffledImages(3);
        long half = durationNanos() / 2;
        LongAdder one = progress.stage(model.name() + " / preprocess, 1 thread");
        pre.preprocess(images.get(0), model.mediaType()); // warm-up
        long oneCount = decodeFor(pre, images, model.mediaType(), half, one, 0);
        double oneRate = oneCount / (half / 1e9);
        int threads = config.preprocessThreads();
        LongAdder pool = progress.stage(model.name() + " / preprocess, " + threads + " threads");
        ExecutorService exec = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Long>> futures = new ArrayList<>();
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
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("one_thread_images_per_s", round(oneRate));
            m.put("ms_per_image", round(1000 / oneRate));
            m.put("pool_threads", threads);
            m.put("pool_images_per_s", round(poolRate));
            return m;
        } finally {
            exec.shutdownNow();
        }
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

    // ---- 3. in-process pipeline ---------------------------------------------------------------------------------

    private Map<String, Object> inProcess(BenchModel model) throws Exception {
        WorkerConfig config = config(model, "unused", Map.of());
        LongAdder answered = progress.stage(model.name() + " / in-process pipeline (loading the model)");
        AtomicLong batchSum = new AtomicLong();
        LongAdder failed = new LongAdder();
        long warmup = Math.max(1_000_000_000L, durationNanos() / 5);
        try (Classifier classifier = MedfuseWorker.loadModel(config);
             RequestPipeline pipeline = new RequestPipeline(classifier, MedfuseWorker.pipelineSettings(config))) {
            InFlightLimit limit = new InFlightLimit(config.maxInFlight());
            progress.stage(model.name() + " / in-process pipeline", answered::sum);
            long start = System.nanoTime();
            long measureFrom = start + warmup;
            long end = measureFrom + durationNanos();
            long countAtMeasure = -1;
            long measuredStart = 0;
            int i = 0;
            while (true) {
                long now = System.nanoTime();
                if (countAtMeasure < 0 && now >= measureFrom) {
                    countAtMeasure = answered.sum();
                    measuredStart = now;
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
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("images_per_s", round(measured / seconds));
            m.put("mean_batch", round(measured == 0 ? 0 : (double) batchSum.get() / measured));
            m.put("failed", failed.sum());
            m.put("settings", "batch.max.size=" + config.batchMaxSize() + ", batch.max.queue.delay.ms="
                    + config.batchMaxQueueDelayMs() + ", preprocess.threads=" + config.preprocessThreads()
                    + ", max.in.flight=" + config.maxInFlight());
            return m;
        }
    }

    // ---- 4. bus limit -------------------------------------------------------------------------------------------

    private double bus(BenchModel model, String requestsTopic, int n, boolean pendingStore) throws Exception {
        String variant = pendingStore ? "bus-store" : "bus-plain";
        String out = cluster.topic(model.name() + "-" + variant + "-out", 3);
        WorkerConfig config = config(model, cluster.applicationId(model.name() + "-" + variant), Map.of());
        Properties props = MedfuseWorker.imageRecordStreamsDefaults(config);
        props.putAll(config.streamsProperties());
        Path stateDir = Files.createTempDirectory("medfuse-bench-streams-");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        Arrivals arrivals = new Arrivals();
        progress.stage(model.name() + " / bus " + (pendingStore ? "with pending store" : "pass-through")
                + " (" + config.streamsProperties().get("processing.guarantee") + ")", arrivals::count);
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrap());
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, cluster.applicationId(model.name() + "-" + variant + "-reader"));
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        cp.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 8 * 1024 * 1024);
        cp.putAll(cluster.clientOverrides());
        KafkaStreams streams = new KafkaStreams(PassThroughTopology.build(requestsTopic, out, pendingStore), props);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(out));
            streams.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120) + 20 * durationNanos();
            while (arrivals.count() < n && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> ignored : consumer.poll(Duration.ofMillis(50))) {
                    arrivals.add(System.nanoTime());
                }
            }
        } finally {
            streams.close(Duration.ofSeconds(30));
            streams.cleanUp();
            deleteQuietly(stateDir);
        }
        if (arrivals.count() < n) {
            progress.note(variant + ": only " + arrivals.count() + " of " + n + " records came through in time");
        }
        return arrivals.steadyRate(n);
    }

    // ---- 5. worker end to end at saturation ---------------------------------------------------------------------

    @SuppressWarnings("try") // the consumer and the worker run on their own threads; the try only closes them
    private Map<String, Object> e2e(BenchModel model, String requestsTopic, int n, String variant,
                                   Map<String, Object> overrides) throws Exception {
        String predictions = cluster.topic(model.name() + "-" + variant + "-predictions", 3);
        String dead = cluster.topic(model.name() + "-" + variant + "-dead-letters", 3);
        Map<String, Object> settings = new LinkedHashMap<>(overrides);
        settings.put(WorkerConfig.TOPIC_REQUESTS, requestsTopic);
        settings.put(WorkerConfig.TOPIC_PREDICTIONS, predictions);
        settings.put(WorkerConfig.TOPIC_DEAD_LETTERS, dead);
        WorkerConfig config = config(model, cluster.applicationId(model.name() + "-" + variant), settings);
        Arrivals arrivals = new Arrivals();
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
            m.put("batch.max.size", config.batchMaxSize());
            return m;
        }
    }

    // ---- 6. latency under load ----------------------------------------------------------------------------------

    @SuppressWarnings("try") // the consumer runs on its own thread; the try only closes it
    private List<Map<String, Object>> latency(BenchModel model, double saturation) throws Exception {
        String requests = cluster.topic(model.name() + "-latency-requests", options.partitions());
        String predictions = cluster.topic(model.name() + "-latency-predictions", 3);
        String dead = cluster.topic(model.name() + "-latency-dead-letters", 3);
        WorkerConfig config = config(model, cluster.applicationId(model.name() + "-latency"),
                Map.of(WorkerConfig.TOPIC_REQUESTS, requests, WorkerConfig.TOPIC_PREDICTIONS, predictions,
                        WorkerConfig.TOPIC_DEAD_LETTERS, dead));
        Map<String, Latencies> committed = new LinkedHashMap<>();
        Map<String, Latencies> processed = new LinkedHashMap<>();
        Map<String, Latencies> inWorker = new LinkedHashMap<>();
        Map<String, double[]> batchStats = new LinkedHashMap<>();
        List<String> prefixes = new ArrayList<>(List.of("warm"));
        for (double load : LOADS) {
            prefixes.add("load" + Math.round(load * 100));
        }
        for (String p : prefixes) {
            committed.put(p, new Latencies());
            processed.put(p, new Latencies());
            inWorker.put(p, new Latencies());
            batchStats.put(p, new double[3]);
        }
        OutcomeConsumer.Listener listener = new OutcomeConsumer.Listener() {
            @Override
            public void prediction(Prediction p, long receivedAtMillis) {
                String prefix = p.getRequestId().substring(0, p.getRequestId().indexOf('-'));
                long requestedAt = p.getRequestedAt().toEpochMilli();
                synchronized (committed) {
                    committed.get(prefix).add(receivedAtMillis - requestedAt);
                    processed.get(prefix).add(p.getPredictedAt().toEpochMilli() - requestedAt);
                    // from the stream thread taking the request to the end of its batch's inference
                    inWorker.get(prefix).add(p.getTimings().getQueueWaitMs() + p.getTimings().getInferenceMs());
                    double[] b = batchStats.get(prefix);
                    b[0] += p.getTimings().getBatchSize();
                    b[1] += p.getTimings().getInferenceMs();
                    b[2]++;
                }
            }

            @Override
            public void deadLetter(FailedRequest f, long receivedAtMillis) {
                // counted as missing answers below
            }
        };
        List<Map<String, Object>> rows = new ArrayList<>();
        try (OutcomeConsumer consumer = new OutcomeConsumer(cluster.bootstrap(), cluster.registry(), predictions,
                dead, cluster.clientOverrides(), listener);
             MedfuseWorker worker = MedfuseWorker.start(config);
             KafkaProducer<String, byte[]> producer = cluster.producer()) {
            ConfluentAvroCodec<ImagingRequest> codec = new ConfluentAvroCodec<>(cluster.registry(),
                    ImagingRequest.class, true);
            progress.stage(model.name() + " / latency: waiting for the worker", () -> 0);
            worker.awaitRunning(Duration.ofSeconds(120));
            // warm-up: first transactions, JIT, ONNX Runtime's memory plans; not reported
            int warmSent = openLoop(producer, codec, requests, model, "warm", LOADS[0] * saturation,
                    Math.max(1_000_000_000L, durationNanos() / 3));
            awaitCount(committed, "warm", warmSent);
            for (double load : LOADS) {
                String prefix = "load" + Math.round(load * 100);
                double rate = load * saturation;
                int sent = openLoop(producer, codec, requests, model, prefix, rate, durationNanos());
                boolean all = awaitCount(committed, prefix, sent);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("load_pct", Math.round(load * 100));
                row.put("rate_per_s", round(rate));
                row.put("sent", sent);
                synchronized (committed) {
                    row.put("answered", committed.get(prefix).count());
                    row.put("read_committed", committed.get(prefix).summary());
                    row.put("to_predicted_at", processed.get(prefix).summary());
                    row.put("in_worker", inWorker.get(prefix).summary());
                    double[] b = batchStats.get(prefix);
                    row.put("mean_batch", round(b[2] == 0 ? 0 : b[0] / b[2]));
                    row.put("mean_inference_ms_per_batch", round(b[2] == 0 ? 0 : b[1] / b[2]));
                }
                if (!all) {
                    progress.note("latency at " + row.get("load_pct") + " %: not every request was answered in time");
                }
                rows.add(row);
            }
        }
        return rows;
    }

    /**
     * Sends at a fixed rate for {@code nanos}, whatever the worker does (open loop). Each request's
     * {@code requestedAt} is its scheduled send time, so a producer that falls behind does not hide the delay.
     */
    private int openLoop(KafkaProducer<String, byte[]> producer, ConfluentAvroCodec<ImagingRequest> codec,
                         String topic, BenchModel model, String prefix, double rate, long nanos) {
        LongAdder sent = progress.stage(model.name() + " / latency, " + prefix + " at " + round(rate) + "/s");
        long start = System.nanoTime();
        long epochStart = System.currentTimeMillis();
        int i = 0;
        while (true) {
            long due = start + (long) (i * 1e9 / rate);
            if (due - start >= nanos) {
                break;
            }
            while (due - System.nanoTime() > 0) {
                LockSupport.parkNanos(due - System.nanoTime());
            }
            String id = prefix + "-" + i;
            long requestedAt = epochStart + (due - start) / 1_000_000;
            producer.send(new ProducerRecord<>(topic, id, codec.encode(topic, model.request(id, i, requestedAt))));
            sent.increment();
            i++;
        }
        producer.flush();
        return i;
    }

    private boolean awaitCount(Map<String, Latencies> committed, String prefix, int expected)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60) + 3 * durationNanos();
        while (System.nanoTime() < deadline) {
            synchronized (committed) {
                if (committed.get(prefix).count() >= expected) {
                    return true;
                }
            }
            Thread.sleep(20);
        }
        return false;
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
        List<Map<String, Object>> lat = (List<Map<String, Object>>) r.get("latency");
        if (lat != null) {
            for (Map<String, Object> row : lat) {
                if (((Number) row.get("load_pct")).intValue() == 50) {
                    double p99 = (double) ((Map<String, Object>) row.get("read_committed")).get("p99_ms");
                    double inference = (double) row.get("mean_inference_ms_per_batch");
                    WorkerConfig config = config(model, "unused", Map.of());
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
