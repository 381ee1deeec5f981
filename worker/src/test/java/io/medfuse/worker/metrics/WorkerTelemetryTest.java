package io.medfuse.worker.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ServerSocket;
import java.net.Socket;

import org.junit.jupiter.api.Test;

import io.medfuse.events.ModelIdentity;

/** metrics.port -1 turns the HTTP server off but keeps the metrics; closing frees the port. */
class WorkerTelemetryTest {

    private static final ModelIdentity MODEL = ModelIdentity.newBuilder().setName("m").setVersion("1")
            .setSha256("ab").setExecutionProvider("CPU").build();

    @Test
    void offMeansNoServerButMetricsAndHealthStillWork() {
        try (WorkerTelemetry t = WorkerTelemetry.start(WorkerTelemetry.OFF)) {
            assertThat(t.port()).isEqualTo(WorkerTelemetry.OFF);
            t.modelLoaded(MODEL);
            t.metrics().requestReceived();
            assertThat(t.metrics().scrape()).contains("medfuse_requests_total 1.0", "medfuse_model_info{");
            assertThat(t.health().ready().reason()).contains("Kafka Streams is not created yet");
        }
    }

    @Test
    void closingReleasesThePort() throws Exception {
        int port;
        try (WorkerTelemetry t = WorkerTelemetry.start(0)) {
            port = t.port();
            assertThat(port).isPositive();
            try (Socket s = new Socket("127.0.0.1", port)) {
                assertThat(s.isConnected()).isTrue();
            }
        }
        try (ServerSocket again = new ServerSocket(port)) {
            assertThat(again.getLocalPort()).isEqualTo(port);
        } catch (java.net.BindException e) {
            throw new AssertionError("port " + port + " still bound after close", e);
        }
    }
}
