package io.medfuse.worker.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.medfuse.events.ModelIdentity;
import io.medfuse.worker.WorkerStartException;

/** The HTTP endpoints: Prometheus text on /metrics, 200/503 with a JSON reason on the health endpoints. */
class MetricsServerTest {

    private final HttpClient http = HttpClient.newHttpClient();
    private final WorkerHealth health = new WorkerHealth();
    private final AtomicReference<KafkaStreams.State> state = new AtomicReference<>(KafkaStreams.State.CREATED);
    private MetricsServer server;

    @BeforeEach
    void start() {
        server = MetricsServer.start(0, () -> "# HELP medfuse_requests_total x\nmedfuse_requests_total 3.0\n",
                health);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void servesPrometheusTextOnMetrics() throws Exception {
        HttpResponse<String> r = get("/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValue(MetricsServer.PROMETHEUS_CONTENT_TYPE);
        assertThat(r.body()).contains("medfuse_requests_total 3.0");
    }

    @Test
    void isLiveButNotReadyBeforeTheModelIsLoaded() throws Exception {
        assertThat(get("/health/live").statusCode()).isEqualTo(200);
        HttpResponse<String> ready = get("/health/ready");
        assertThat(ready.statusCode()).isEqualTo(503);
        assertThat(ready.headers().firstValue("Content-Type")).hasValue("application/json");
        assertThat(ready.body()).contains("\"status\":\"DOWN\"", "model is not loaded");
    }

    @Test
    void isReadyOnlyWhenTheModelIsLoadedAndKafkaStreamsIsRunning() throws Exception {
        health.modelLoaded(ModelIdentity.newBuilder().setName("m").setVersion("1").setSha256("ab")
                .setExecutionProvider("CPU").build());
        health.streams(state::get);
        assertThat(get("/health/ready").body()).contains("DOWN", "CREATED, not RUNNING");

        state.set(KafkaStreams.State.RUNNING);
        HttpResponse<String> ready = get("/health/ready");
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(ready.body()).contains("\"status\":\"UP\"", "model m 1");

        state.set(KafkaStreams.State.REBALANCING);
        assertThat(get("/health/ready").statusCode()).isEqualTo(503);
        assertThat(get("/health/live").statusCode()).isEqualTo(200);
    }

    @Test
    void isNotLiveWhenKafkaStreamsIsInError() throws Exception {
        health.streams(state::get);
        state.set(KafkaStreams.State.ERROR);
        HttpResponse<String> live = get("/health/live");
        assertThat(live.statusCode()).isEqualTo(503);
        assertThat(live.body()).contains("\"status\":\"DOWN\"", "ERROR");
    }

    @Test
    void answersUnknownPathsWith404AndOtherMethodsWith405() throws Exception {
        assertThat(get("/nope").statusCode()).isEqualTo(404);
        HttpResponse<String> post = http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + server.port() + "/metrics"))
                .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(post.statusCode()).isEqualTo(405);
    }

    @Test
    void namesThePortWhenItIsTaken() {
        assertThatThrownBy(() -> MetricsServer.start(server.port(), () -> "", health))
                .isInstanceOf(WorkerStartException.class)
                .hasMessageContaining("metrics.port " + server.port() + " is in use");
    }

    @Test
    void escapesTheReasonInJson() {
        assertThat(Health.down("a \"quoted\"\nline").toJson())
                .isEqualTo("{\"status\":\"DOWN\",\"reason\":\"a \\\"quoted\\\"\\nline\"}");
    }
}
