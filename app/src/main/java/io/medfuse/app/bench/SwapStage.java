package io.medfuse.app.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Prediction;
import io.medfuse.events.serde.ConfluentAvroCodec;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.testkit.OutcomeConsumer;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.worker.models.ModelAnnouncement;
import io.medfuse.worker.pipeline.RequestPipeline.Role;

/**
 * Stage: a model swap under open-loop load. The worker serves the model; a third of the way through the load the
 * same network under another version is announced on the control topic. Reports the time from the announcement to
 * the first prediction by the new model (load, checks and warm-up included), the answers per version, lost and
 * duplicated answers, and the latency of the requests sent around the swap against those before it.
 */
final class SwapStage extends Stage {

    static final String NEW_VERSION_SUFFIX = "-swapped";

    SwapStage(Context context) {
        super(context);
    }

    @SuppressWarnings("try") // the consumer runs on its own thread; the try only closes it
    Map<String, Object> swap(BenchModel model, double rate) throws Exception {
        String requests = cluster.topic(model.name() + "-swap-requests", options.partitions());
        String predictions = cluster.topic(model.name() + "-swap-predictions", 3);
        String dead = cluster.topic(model.name() + "-swap-dead-letters", 3);
        String control = cluster.topic(model.name() + "-swap-control", 1);
        Path dir = Files.createDirectories(cluster.stateRoot().resolve(model.name() + "-swap-models"));
        ModelContract c = model.contract();
        String newVersion = c.version() + NEW_VERSION_SUFFIX;
        byte[] swapped = OnnxModelFile.attachContract(model.onnx(), c.withVersion(newVersion));
        Path file = dir.resolve("swapped.onnx");
        Files.write(file, swapped);
        WorkerConfig config = config(model, cluster.applicationId(model.name() + "-swap"),
                Map.of(WorkerConfig.TOPIC_REQUESTS, requests, WorkerConfig.TOPIC_PREDICTIONS, predictions,
                        WorkerConfig.TOPIC_DEAD_LETTERS, dead, WorkerConfig.MODEL_CONTROL_TOPIC, control,
                        WorkerConfig.MODEL_CONTROL_DIR, dir.toString()));
        Map<String, Integer> answers = new ConcurrentHashMap<>();
        Map<String, Long> byVersion = new ConcurrentHashMap<>();
        AtomicLong announcedAt = new AtomicLong(Long.MAX_VALUE);
        AtomicLong firstNew = new AtomicLong(Long.MAX_VALUE);
        Latencies before = new Latencies();
        Latencies around = new Latencies();
        OutcomeConsumer.Listener listener = new OutcomeConsumer.Listener() {
            @Override
            public void prediction(Prediction p, long receivedAtMillis) {
                answers.merge(p.getRequestId(), 1, Integer::sum);
                byVersion.merge(p.getModel().getVersion(), 1L, Long::sum);
                long predictedAt = p.getPredictedAt().toEpochMilli();
                if (p.getModel().getVersion().equals(newVersion)) {
                    firstNew.accumulateAndGet(predictedAt, Math::min);
                }
                long requestedAt = p.getRequestedAt().toEpochMilli();
                long swapAt = announcedAt.get();
                synchronized (before) {
                    if (p.getRequestId().startsWith("swapwarm-")) {
                        return; // the warm-up is not reported
                    }
                    if (requestedAt < swapAt - 1000) {
                        before.add(predictedAt - requestedAt);
                    } else if (requestedAt < swapAt + 2000) {
                        around.add(predictedAt - requestedAt);
                    }
                }
            }

            @Override
            public void deadLetter(FailedRequest f, long receivedAtMillis) {
                answers.merge(String.valueOf(f.getRequestId()), 1, Integer::sum);
            }
        };
        Map<String, Object> r = new LinkedHashMap<>();
        try (OutcomeConsumer consumer = new OutcomeConsumer(cluster.bootstrap(), cluster.registry(), predictions,
                dead, cluster.clientOverrides(), listener);
             MedfuseWorker worker = MedfuseWorker.start(config);
             KafkaProducer<String, byte[]> producer = cluster.producer()) {
            ConfluentAvroCodec<ImagingRequest> codec = new ConfluentAvroCodec<>(cluster.registry(),
                    ImagingRequest.class, true);
            progress.stage(model.name() + " / swap: waiting for the worker", () -> 0);
            worker.awaitRunning(Duration.ofSeconds(120));
            LatencyStage loader = new LatencyStage(context);
            // warm-up, not reported: first transactions, JIT, memory plans
            int warm = loader.openLoop(producer, codec, requests, model, "swapwarm", rate,
                    Math.max(1_000_000_000L, durationNanos() / 3));
            long loadNanos = Math.max(6_000_000_000L, durationNanos());
            ModelAnnouncement a = new ModelAnnouncement(Role.PRIMARY, file.toUri(), OnnxModelFile.sha256(swapped),
                    null, false);
            Thread announcer = new Thread(() -> {
                try {
                    Thread.sleep(loadNanos / 3 / 1_000_000);
                    announcedAt.set(System.currentTimeMillis());
                    producer.send(new ProducerRecord<>(control, a.key(), a.toJson())).get();
                } catch (Exception e) {
                    progress.note("swap: the announcement could not be sent: " + e);
                }
            }, "bench-swap-announcer");
            announcer.start();
            int sent = loader.openLoop(producer, codec, requests, model, "swap", rate, loadNanos);
            announcer.join();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos() + 3 * loadNanos;
            while (answers.size() < sent + warm && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            long duplicates = answers.values().stream().filter(n -> n > 1).count();
            r.put("rate_per_s", Bench.round(rate));
            r.put("sent", sent + warm);
            r.put("answered", answers.size());
            r.put("answered_twice", duplicates);
            r.put("lost", Math.max(0, sent + warm - answers.size()));
            r.put("answers_by_version", new java.util.TreeMap<>(byVersion));
            r.put("announcement_to_first_new_prediction_ms", firstNew.get() == Long.MAX_VALUE ? null
                    : firstNew.get() - announcedAt.get());
            synchronized (before) {
                r.put("latency_before_swap", before.summary());
                r.put("latency_sent_within_2s_of_swap", around.summary());
            }
            r.put("serving_after", worker.pipeline().identity().getVersion());
        }
        return r;
    }
}
