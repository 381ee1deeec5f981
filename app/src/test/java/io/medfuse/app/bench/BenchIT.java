package io.medfuse.app.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.medfuse.app.Medfuse;

/**
 * 'medfuse bench' end to end on a tiny setting (small model, about a second per measurement): every stage runs and
 * reports positive numbers. No assertion on how fast anything is: timings on shared CI cores mean nothing.
 */
@org.junit.jupiter.api.Tag("slow") // -Pslow only: a benchmark smoke run of about 60 s
class BenchIT {

    @Test
    void benchRunsEveryStageAndWritesPositiveNumbers(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("bench.json");

        int exit = Medfuse.run("bench", "--model", "bundled", "--duration", "1", "--requests", "120",
                "--partitions", "2", "--no-progress", "--out", out.toString());

        assertThat(exit).isZero();
        JsonNode report = new ObjectMapper().readTree(out.toFile());
        JsonNode m = report.path("models").path("bundled");
        assertThat(m.isObject()).as("models.bundled in %s", report).isTrue();

        JsonNode compute = m.path("compute");
        assertThat(compute).hasSize(Bench.COMPUTE_BATCHES.length);
        for (JsonNode row : compute) {
            assertPositive(row, "images_per_s", "ms_per_batch", "cpu_ms_per_image");
        }
        assertPositive(m.path("preprocess"), "one_thread_images_per_s", "pool_images_per_s",
                "one_thread_cpu_ms_per_image", "pool_cpu_ms_per_image");
        assertPositive(m.path("inprocess"), "images_per_s", "mean_batch", "cpu_ms_per_image");
        for (String run : List.of("off", "on", "per_feature")) {
            assertPositive(m.path("influence").path(run), "images_per_s", "cpu_ms_per_image");
        }
        assertThat(m.path("influence").path("cpu_cost_pct").isNumber()).isTrue();
        assertPositive(m.path("bus"), "records_per_s", "with_pending_store_records_per_s");
        // the broker runs in its own process: the worker's CPU per request and the broker's, apart
        assertPositive(m.path("e2e").path("batched"), "images_per_s", "mean_batch", "worker_cpu_ms_per_request");
        // read in clock ticks of 10 ms: on a span this short it may round to 0, but it is read
        assertThat(m.path("e2e").path("batched").path("broker_cpu_ms_per_request").isNumber()).isTrue();
        assertPositive(m.path("floor"), "decode_cpu_ms_per_image", "compute_cpu_ms_per_image", "cpu_ms_per_request",
                "worker_over_floor");
        assertPositive(m.path("e2e").path("unbatched"), "images_per_s");
        // unmeasured runs first, until the JIT is quiet or the rounds run out (at least two)
        JsonNode warmUp = m.path("e2e").path("warm_up");
        assertThat(warmUp.size()).as("warm-up rounds in %s", warmUp).isBetween(2, Bench.MAX_WARM_UP_ROUNDS);
        for (JsonNode round : warmUp) {
            assertPositive(round, "requests", "images_per_s", "worker_cpu_ms_per_request");
        }
        // the rounds alternate the two measured configurations
        assertThat(warmUp.get(0).path("batch.max.size").asInt()).isGreaterThan(1);
        assertThat(warmUp.get(1).path("batch.max.size").asInt()).isEqualTo(1);
        assertThat(m.path("e2e").path("batched").path("worker_jit_ms_per_request").isNumber()).isTrue();
        // the broker's compiler threads, read from /proc like its CPU
        assertThat(m.path("e2e").path("batched").path("broker_jit_ms_per_request").isNumber()).isTrue();
        assertThat(m.path("e2e").path("unbatched").path("mean_batch").asDouble()).isEqualTo(1.0);

        JsonNode latency = m.path("latency");
        assertThat(latency).hasSize(Bench.LOADS.length);
        for (JsonNode row : latency) {
            assertPositive(row, "rate_per_s", "sent", "answered");
            assertPositive(row.path("read_committed"), "p50_ms", "p95_ms", "p99_ms", "max_ms");
            assertPositive(row.path("in_worker"), "p50_ms", "p99_ms");
        }
        JsonNode swap = m.path("swap");
        assertPositive(swap, "rate_per_s", "sent", "announcement_to_first_new_prediction_ms");
        assertThat(swap.path("answered").asInt()).isEqualTo(swap.path("sent").asInt());
        assertThat(swap.path("answered_twice").asInt()).isZero();
        assertThat(swap.path("lost").asInt()).isZero();
        assertThat(swap.path("answers_by_version")).as("both versions answered").hasSize(2);
        assertThat(swap.path("serving_after").asText()).endsWith(SwapStage.NEW_VERSION_SUFFIX);
        for (String target : List.of("e2e_over_inprocess", "batched_over_unbatched", "p99_at_50pct",
                "worker_over_floor")) {
            assertThat(m.path("targets").path(target).path("met").isBoolean()).as(target).isTrue();
        }
        assertPositive(report.path("memory"), "max_rss_mib");
        assertThat(report.path("memory").path("heap_after_gc_mib")).hasSize(Bench.STAGES.size());
    }

    private static void assertPositive(JsonNode node, String... fields) {
        for (String f : fields) {
            assertThat(node.path(f).isNumber()).as("%s is a number in %s", f, node).isTrue();
            assertThat(node.path(f).asDouble()).as("%s in %s", f, node).isPositive();
        }
    }
}
