package io.medfuse.worker.it;

import io.medfuse.testkit.SharedBroker;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.SampleRequests;

/** A worker on a real broker: readiness turns 200 once RUNNING; /metrics counts what the output topics got. */
class MetricsIT {

    static final EmbeddedKafka kafka = SharedBroker.kafka();
    static final InProcessSchemaRegistry registry = SharedBroker.registry();
    private final HttpClient http = HttpClient.newHttpClient();


    private HttpResponse<String> get(MedfuseWorker worker, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + worker.telemetry().port() + path))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    private static double value(String scrape, String series) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(scrape);
        return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
    }

    @Test
    void scrapeCountsRequestsPredictionsAndDeadLettersAndReadinessFollowsKafkaStreams() throws Exception {
        int valid = 20;
        try (StreamFixture f = new StreamFixture(kafka, registry, 2);
             MedfuseWorker worker = MedfuseWorker.start(f.workerConfig(Map.of()))) {
            assertThat(worker.telemetry().port()).isPositive();
            assertThat(get(worker, "/health/live").statusCode()).isEqualTo(200);

            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            assertThat(StreamFixture.await(() -> {
                try {
                    return get(worker, "/health/ready").statusCode() == 200;
                } catch (Exception e) {
                    return false;
                }
            }, Duration.ofSeconds(10))).as("ready once RUNNING").isTrue();

            f.startReading();
            SampleRequests samples = new SampleRequests(5, 48, "image/png");
            for (int i = 0; i < valid; i++) {
                f.send(samples.next("metrics"));
            }
            f.send(samples.request("metrics-bad", 40.0, "male", "back",
                    "not an image".getBytes(StandardCharsets.UTF_8)));
            f.sendRaw("raw", "{\"json\":true}".getBytes(StandardCharsets.UTF_8));
            f.flush();
            assertThat(StreamFixture.await(() -> f.answers() >= valid + 2, Duration.ofSeconds(90))).isTrue();

            String scrape = get(worker, "/metrics").body();
            assertThat(value(scrape, "medfuse_requests_total")).isEqualTo(valid + 2);
            assertThat(value(scrape, "medfuse_predictions_total")).isEqualTo(f.predicted.size()).isEqualTo(valid);
            assertThat(value(scrape, "medfuse_dead_letters_total{reason=\"IMAGE_UNDECODABLE\"}")).isEqualTo(1);
            assertThat(value(scrape, "medfuse_dead_letters_total{reason=\"UNDESERIALIZABLE\"}")).isEqualTo(1);
            assertThat(value(scrape, "medfuse_queue_wait_seconds_count")).isEqualTo(valid);
            assertThat(value(scrape, "medfuse_batch_size_sum")).isEqualTo(valid);
            assertThat(value(scrape, "medfuse_in_flight_requests")).isZero();
            var id = worker.classifier().identity();
            assertThat(scrape).contains("medfuse_model_info{name=\"" + id.getName() + "\",provider=\""
                    + id.getExecutionProvider() + "\",role=\"primary\",sha256=\"" + id.getSha256() + "\"");
            assertThat(value(scrape, "medfuse_model_predictions_total{model=\"" + id.getName() + "\",version=\""
                    + id.getVersion() + "\"}")).isEqualTo(valid);
            // the consumer reports lag for each requests partition it owns (0 once caught up)
            assertThat(StreamFixture.await(() -> {
                try {
                    String s = get(worker, "/metrics").body();
                    return value(s, "medfuse_consumer_lag_records{partition=\"0\",topic=\"" + f.requests + "\"}")
                            == 0 && value(s, "medfuse_consumer_lag_records{partition=\"1\",topic=\""
                            + f.requests + "\"}") == 0;
                } catch (Exception e) {
                    return false;
                }
            }, Duration.ofSeconds(15))).as("consumer lag per partition in:%n%s", scrape).isTrue();
            // the dashboard and the alert rules an operator imports query only series this scrape has
            String lagged = get(worker, "/metrics").body();
            java.util.Set<String> exported = new java.util.TreeSet<>();
            lagged.lines().filter(l -> l.startsWith("medfuse_"))
                    .forEach(l -> exported.add(l.split("[{ ]", 2)[0]));
            java.nio.file.Path monitoring = java.nio.file.Path.of("..", "deploy", "monitoring");
            java.util.Set<String> queried = new java.util.TreeSet<>();
            for (String file : List.of("grafana-dashboard.json", "prometheus-rules.yaml")) {
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("medfuse_[a-z_]+")
                        .matcher(java.nio.file.Files.readString(monitoring.resolve(file)));
                while (m.find()) {
                    queried.add(m.group());
                }
            }
            assertThat(queried).as("series the dashboard and the rules query").hasSizeGreaterThan(10);
            assertThat(exported).as("series the worker exports").containsAll(queried);
            System.out.println("MetricsIT scrape (medfuse_ series):");
            scrape.lines().filter(l -> l.startsWith("medfuse_") && !l.contains("_bucket"))
                    .forEach(l -> System.out.println("  " + l));
        }
    }
}
