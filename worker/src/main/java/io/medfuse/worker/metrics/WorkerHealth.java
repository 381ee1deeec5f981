package io.medfuse.worker.metrics;

import java.util.function.Supplier;

import org.apache.kafka.streams.KafkaStreams;

import io.medfuse.events.ModelIdentity;

/**
 * The worker's health: live while the JVM answers, Kafka Streams is not in ERROR (only a restart helps then) and the
 * pipeline is not stalled past {@code health.stall.live.ms} ({@link StallDetector}); ready only when the model is
 * loaded, Kafka Streams is RUNNING (not while it starts, rebalances or restores the pending store), consumption is
 * not paused for a registry outage and the pipeline is not stalled past {@code health.stall.ready.ms}.
 * Thread-safe: the worker sets the model, the streams and the detector as they come up; the HTTP thread reads them.
 */
public final class WorkerHealth implements HealthCheck {

    private volatile ModelIdentity model;
    private volatile Supplier<KafkaStreams.State> streams;
    private volatile StallDetector stalls;

    /** The model is loaded and checked against its contract. */
    public void modelLoaded(ModelIdentity identity) {
        this.model = identity;
    }

    /** Kafka Streams exists; its state is read on every check. */
    public void streams(Supplier<KafkaStreams.State> state) {
        this.streams = state;
    }

    /** The pipeline exists: stalls and registry pauses are read on every check. */
    public void stallDetector(StallDetector detector) {
        this.stalls = detector;
    }

    @Override
    public Health live() {
        Supplier<KafkaStreams.State> s = streams;
        KafkaStreams.State state = s == null ? null : s.get();
        if (state == KafkaStreams.State.ERROR) {
            return Health.down("Kafka Streams is in ERROR: the stream threads stopped; restart the instance");
        }
        StallDetector d = stalls;
        if (d != null) {
            var why = d.notLive();
            if (why.isPresent()) {
                return Health.down(why.get());
            }
        }
        return Health.up(state == null ? "starting" : "Kafka Streams " + state);
    }

    @Override
    public Health ready() {
        ModelIdentity m = model;
        if (m == null) {
            return Health.down("the model is not loaded yet");
        }
        Supplier<KafkaStreams.State> s = streams;
        if (s == null) {
            return Health.down("Kafka Streams is not created yet");
        }
        KafkaStreams.State state = s.get();
        if (state != KafkaStreams.State.RUNNING) {
            return Health.down("Kafka Streams is " + state + ", not RUNNING");
        }
        StallDetector d = stalls;
        if (d != null) {
            var why = d.notReady();
            if (why.isPresent()) {
                return Health.down(why.get());
            }
        }
        return Health.up("model " + m.getName() + " " + m.getVersion() + " loaded; Kafka Streams RUNNING");
    }
}
