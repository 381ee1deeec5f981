package io.medfuse.worker.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import io.medfuse.events.FailureReason;
import io.medfuse.events.ModelIdentity;
import io.medfuse.worker.batch.BatchStats;

/** What the worker reports shows up in the Prometheus scrape under the documented names. */
class MicrometerWorkerMetricsTest {

    private final MicrometerWorkerMetrics metrics = new MicrometerWorkerMetrics();

    @AfterEach
    void close() {
        metrics.close();
    }

    @Test
    void countsRequestsPredictionsAndDeadLettersByReason() {
        metrics.requestReceived();
        metrics.requestReceived();
        metrics.requestReceived();
        metrics.predicted(2_000_000, 3_000_000, 4_000_000);
        metrics.deadLetter(FailureReason.IMAGE_UNDECODABLE);

        String scrape = metrics.scrape();

        assertThat(scrape).contains("medfuse_requests_total 3.0", "medfuse_predictions_total 1.0",
                "medfuse_dead_letters_total{reason=\"IMAGE_UNDECODABLE\"} 1.0",
                "medfuse_dead_letters_total{reason=\"MODEL_ERROR\"} 0.0",
                "medfuse_queue_wait_seconds_count 1", "medfuse_preprocess_seconds_bucket",
                "medfuse_inference_seconds_sum 0.004", "jvm_memory_used_bytes");
    }

    @Test
    void countsReferralsAndTheInfluenceShift() {
        metrics.predictionNotes(true, 0.4);
        metrics.predictionNotes(false, -0.2);
        metrics.predictionNotes(null, Double.NaN);

        String scrape = metrics.scrape();

        assertThat(scrape).contains("medfuse_referral_assessed_total 2.0", "medfuse_referral_referred_total 1.0",
                "medfuse_clinical_influence_shift_count 2", "medfuse_clinical_influence_shift_sum 0.6");
    }

    @Test
    void countsEveryModelRunInTheBatchSizeHistogramAndFailedRunsApart() {
        metrics.batchCompleted(new BatchStats(8, 8, 0, 1));
        metrics.batchCompleted(new BatchStats(3, 4, 5, 1));
        metrics.batchFailed(new BatchStats(2, 2, 6, 1));

        String scrape = metrics.scrape();

        assertThat(scrape).contains("medfuse_batch_size_count 2", "medfuse_batch_size_sum 11.0",
                "medfuse_batch_size_bucket{le=\"4.0\"} 1", "medfuse_batch_size_bucket{le=\"8.0\"} 2",
                "medfuse_batch_failures_total 1.0");
    }

    @Test
    void publishesTheModelIdentityAndInFlightRequests() {
        metrics.bindModel(ModelIdentity.newBuilder().setName("derm").setVersion("2.1").setSha256("abc123")
                .setExecutionProvider("CUDA").build());
        metrics.bindInFlight(() -> 7);

        String scrape = metrics.scrape();

        assertThat(scrape).contains(
                "medfuse_model_info{name=\"derm\",provider=\"CUDA\",role=\"primary\",sha256=\"abc123\","
                        + "version=\"2.1\"} 1",
                "medfuse_in_flight_requests 7.0");
    }

    @Test
    void countsPerModelVersionAndEveryRefusalReasonFromTheStart() {
        ModelIdentity v1 = ModelIdentity.newBuilder().setName("derm").setVersion("1").setSha256("a")
                .setExecutionProvider("CPU").build();
        ModelIdentity v2 = ModelIdentity.newBuilder().setName("derm").setVersion("2").setSha256("b")
                .setExecutionProvider("CPU").build();
        metrics.modelsServing(Map.of("primary", v1, "canary", v2));
        metrics.modelAnswered(v1, 3_000_000, true);
        metrics.modelAnswered(v1, 1_000_000, false);
        metrics.modelAnswered(v2, 2_000_000, null);
        metrics.modelRunFailed(v2);
        metrics.modelRefused("primary", "sha256-mismatch");
        metrics.modelInstalled("canary");
        metrics.shadowSkipped();

        String scrape = metrics.scrape();

        assertThat(scrape).contains(
                "medfuse_model_info{name=\"derm\",provider=\"CPU\",role=\"canary\",sha256=\"b\",version=\"2\"} 1",
                "medfuse_model_predictions_total{model=\"derm\",version=\"1\"} 2.0",
                "medfuse_model_predictions_total{model=\"derm\",version=\"2\"} 1.0",
                "medfuse_model_inference_seconds_count{model=\"derm\",version=\"1\"} 2",
                "medfuse_model_errors_total{model=\"derm\",version=\"2\"} 1.0",
                "medfuse_model_referral_assessed_total{model=\"derm\",version=\"1\"} 2.0",
                "medfuse_model_referral_referred_total{model=\"derm\",version=\"1\"} 1.0",
                "medfuse_model_refused_total{reason=\"sha256-mismatch\",role=\"primary\"} 1.0",
                "medfuse_model_refused_total{reason=\"warm-up-failed\",role=\"canary\"} 0.0",
                "medfuse_model_installed_total{role=\"canary\"} 1.0",
                "medfuse_shadow_skipped_total 1.0");
        metrics.modelsServing(Map.of("primary", v2));
        assertThat(metrics.scrape()).doesNotContain("role=\"canary\",sha256");
    }

    @Test
    void readsTheMainConsumersRecordsLagPerPartitionOnceAndSkipsTheRestoreConsumer() {
        Map<MetricName, Metric> kafka = new LinkedHashMap<>();
        put(kafka, "records-lag", "app-StreamThread-1-consumer", "medfuse.requests", "0", 5.0);
        // the consumer's second copy of the same partition's lag, topic dots as underscores
        put(kafka, "records-lag", "app-StreamThread-1-consumer", "medfuse_requests", "0", 5.0);
        put(kafka, "records-lag", "app-StreamThread-1-consumer", "medfuse.requests", "1", Double.NaN);
        put(kafka, "records-lag", "app-StreamThread-1-restore-consumer", "app-pending-changelog", "0", 99.0);
        put(kafka, "records-lag-max", "app-StreamThread-1-consumer", "medfuse.requests", "0", 50.0);
        put(kafka, "records-lag", "app-StreamThread-2-consumer", "medfuse.requests", "2", 12.0);

        Map<List<String>, Double> lag = MicrometerWorkerMetrics.consumerLag(kafka, "medfuse.requests");

        assertThat(lag).containsExactly(Map.entry(List.of("medfuse.requests", "0"), 5.0),
                Map.entry(List.of("medfuse.requests", "2"), 12.0));
        assertThat(lag.values().stream().mapToDouble(Double::doubleValue).sum()).as("summed lag, as KEDA reads it")
                .isEqualTo(17.0);
    }

    private static void put(Map<MetricName, Metric> metrics, String name, String clientId, String topic,
                            String partition, double value) {
        MetricName n = new MetricName(name, "consumer-fetch-manager-metrics", "",
                Map.of("client-id", clientId, "topic", topic, "partition", partition));
        metrics.put(n, new Metric() {
            @Override
            public MetricName metricName() {
                return n;
            }

            @Override
            public Object metricValue() {
                return value;
            }
        });
    }
}
