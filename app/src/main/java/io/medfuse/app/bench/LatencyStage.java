package io.medfuse.app.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Prediction;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.testkit.OutcomeConsumer;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.events.serde.ConfluentAvroCodec;

/** Stage: latency under open-loop load at fractions of the end-to-end saturation. */
final class LatencyStage extends Stage {

    LatencyStage(Context context) {
        super(context);
    }

    @SuppressWarnings("try") // the consumer runs on its own thread; the try only closes it
    List<Map<String, Object>> latency(BenchModel model, double saturation) throws Exception {
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
        for (double load : Bench.LOADS) {
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
            int warmSent = openLoop(producer, codec, requests, model, "warm", Bench.LOADS[0] * saturation,
                    Math.max(1_000_000_000L, durationNanos() / 3));
            awaitCount(committed, "warm", warmSent);
            for (double load : Bench.LOADS) {
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
    int openLoop(KafkaProducer<String, byte[]> producer, ConfluentAvroCodec<ImagingRequest> codec,
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

    boolean awaitCount(Map<String, Latencies> committed, String prefix, int expected)
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
}
