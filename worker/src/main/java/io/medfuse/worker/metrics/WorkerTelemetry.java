package io.medfuse.worker.metrics;

import java.util.function.IntSupplier;

import org.apache.kafka.streams.KafkaStreams;

import io.medfuse.events.ModelIdentity;

/**
 * One worker instance's metrics registry, health state and (unless turned off) HTTP server, created before the model
 * loads so that {@code /health/live} answers and {@code /health/ready} says "not ready" during start-up. The worker
 * tells it what came up ({@link #modelLoaded}, {@link #watch}) and closes it last.
 */
public final class WorkerTelemetry implements AutoCloseable {

    /** {@code metrics.port} value that turns the HTTP server off. */
    public static final int OFF = -1;

    private final MicrometerWorkerMetrics metrics = new MicrometerWorkerMetrics();
    private final WorkerHealth health = new WorkerHealth();
    private final MetricsServer server;

    private WorkerTelemetry(String bindAddress, int port) {
        this.server = port == OFF ? null : MetricsServer.start(bindAddress, port, metrics::scrape, health);
    }

    /**
     * Creates the registry and starts the HTTP server on all interfaces.
     *
     * @param port TCP port; 0 for any free one; {@value #OFF} for no server (metrics are still collected)
     * @throws io.medfuse.worker.WorkerStartException when the port cannot be bound
     */
    public static WorkerTelemetry start(int port) {
        return new WorkerTelemetry("0.0.0.0", port);
    }

    /**
     * Creates the registry and starts the HTTP server on {@code bindAddress} ({@code metrics.bind.address}).
     *
     * @throws io.medfuse.worker.WorkerStartException when the address or port cannot be bound
     */
    public static WorkerTelemetry start(String bindAddress, int port) {
        return new WorkerTelemetry(bindAddress, port);
    }

    /** What the pipeline and the topology report to. */
    public MicrometerWorkerMetrics metrics() {
        return metrics;
    }

    /** The health the endpoints report. */
    public WorkerHealth health() {
        return health;
    }

    /** The model is loaded: readiness may turn true, and the model's identity is published. */
    public void modelLoaded(ModelIdentity identity) {
        metrics.bindModel(identity);
        health.modelLoaded(identity);
    }

    /** Kafka Streams and the pipeline exist: state and stalls for health, lag and in-flight for metrics. */
    public void watch(KafkaStreams streams, String requestsTopic, IntSupplier inFlight, StallDetector stalls) {
        metrics.bindStreams(streams, requestsTopic);
        metrics.bindInFlight(inFlight);
        health.streams(streams::state);
        health.stallDetector(stalls);
    }

    /** The HTTP port, or {@value #OFF} when the server is off. */
    public int port() {
        return server == null ? OFF : server.port();
    }

    @Override
    public void close() {
        if (server != null) {
            server.close();
        }
        metrics.close();
    }
}
