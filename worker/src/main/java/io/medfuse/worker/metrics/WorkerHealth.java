package io.medfuse.worker.metrics;

import java.util.function.Supplier;

import org.apache.kafka.streams.KafkaStreams;

import io.medfuse.events.ModelIdentity;

/**
 * The worker's health: live while the JVM answers and Kafka Streams is not in ERROR (a stream thread that fails is
 * replaced, so ERROR means every thread gave up and only a restart helps); ready only when the model is loaded and
 * Kafka Streams is RUNNING (not while it starts, rebalances or restores the pending store). Thread-safe: the worker
 * sets the model and the stream as they come up; the HTTP thread reads them.
 */
public final class WorkerHealth implements HealthCheck {

    private volatile ModelIdentity model;
    private volatile Supplier<KafkaStreams.State> streams;

    /** The model is loaded and checked against its contract. */
    public void modelLoaded(ModelIdentity identity) {
        this.model = identity;
    }

    /** Kafka Streams exists; its state is read on every check. */
    public void streams(Supplier<KafkaStreams.State> state) {
        this.streams = state;
    }

    @Override
    public Health live() {
        Supplier<KafkaStreams.State> s = streams;
        KafkaStreams.State state = s == null ? null : s.get();
        if (state == KafkaStreams.State.ERROR) {
            return Health.down("Kafka Streams is in ERROR: every stream thread failed; restart the instance");
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
        return Health.up("model " + m.getName() + " " + m.getVersion() + " loaded; Kafka Streams RUNNING");
    }
}
