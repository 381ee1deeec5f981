package io.medfuse.app.bench;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Prints the run's numbers as one table: a row per measurement, a column per model. */
final class BenchReport {

    private BenchReport() {
    }

    @SuppressWarnings("unchecked")
    static void print(PrintStream out, Map<String, Object> report) {
        Map<String, Object> models = (Map<String, Object>) report.get("models");
        List<String> names = List.copyOf(models.keySet());
        Map<String, Map<String, String>> rows = new LinkedHashMap<>();
        for (String name : names) {
            Map<String, Object> m = (Map<String, Object>) models.get(name);
            Map<String, Object> model = (Map<String, Object>) m.get("model");
            Map<String, Object> img = (Map<String, Object>) m.get("request_images");
            put(rows, "model input", name, model.get("image_input") + " + " + model.get("tabular_width"));
            put(rows, "request images", name, img.get("kind") + ", mean " + Math.round(
                    ((Number) img.get("mean_bytes")).doubleValue() / 1024) + " KB");
            List<Map<String, Object>> compute = (List<Map<String, Object>>) m.get("compute");
            if (compute != null) {
                for (Map<String, Object> row : compute) {
                    put(rows, "1 compute batch " + row.get("batch") + ": img/s (ms/batch, CPU ms/img)", name,
                            fmt(row.get("images_per_s")) + " (" + fmt(row.get("ms_per_batch")) + ", "
                                    + fmt(row.get("cpu_ms_per_image")) + ")");
                }
            }
            Map<String, Object> pre = (Map<String, Object>) m.get("preprocess");
            if (pre != null) {
                put(rows, "2 preprocess 1 thread: img/s (CPU ms/img)", name, fmt(pre.get("one_thread_images_per_s"))
                        + " (" + fmt(pre.get("one_thread_cpu_ms_per_image")) + ")");
                put(rows, "2 preprocess pool (" + pre.get("pool_threads") + " threads): img/s (CPU ms/img)", name,
                        fmt(pre.get("pool_images_per_s")) + " (" + fmt(pre.get("pool_cpu_ms_per_image")) + ")");
                if (pre.get("batch_fill_direct_cpu_ms_per_image") != null) {
                    put(rows, "2 decode + fill a batch buffer: CPU ms/img via array / direct", name,
                            fmt(pre.get("batch_fill_via_array_cpu_ms_per_image")) + " / "
                                    + fmt(pre.get("batch_fill_direct_cpu_ms_per_image")));
                }
                if (pre.get("imageio_one_thread_cpu_ms_per_image") != null) {
                    put(rows, "2 preprocess with ImageIO instead, 1 thread: CPU ms/img", name,
                            fmt(pre.get("imageio_one_thread_cpu_ms_per_image")));
                }
            }
            Map<String, Object> ip = (Map<String, Object>) m.get("inprocess");
            if (ip != null) {
                put(rows, "3 in-process pipeline: img/s (mean batch)", name,
                        fmt(ip.get("images_per_s")) + " (" + fmt(ip.get("mean_batch")) + ")");
            }
            Map<String, Object> inf = (Map<String, Object>) m.get("influence");
            if (inf != null) {
                Map<String, Object> off = (Map<String, Object>) inf.get("off");
                Map<String, Object> on = (Map<String, Object>) inf.get("on");
                Map<String, Object> pf = (Map<String, Object>) inf.get("per_feature");
                put(rows, "3b influence off/on/per feature: CPU ms per image", name,
                        fmt(off.get("cpu_ms_per_image")) + "/" + fmt(on.get("cpu_ms_per_image")) + "/"
                                + fmt(pf.get("cpu_ms_per_image")));
                put(rows, "3b influence on: CPU cost (img/s lost)", name, fmt(inf.get("cpu_cost_pct")) + " % ("
                        + fmt(inf.get("throughput_cost_pct")) + " %)");
            }
            Map<String, Object> bus = (Map<String, Object>) m.get("bus");
            if (bus != null) {
                put(rows, "4 bus pass-through EOS: records/s", name, fmt(bus.get("records_per_s")));
                put(rows, "4 bus + pending store: records/s (cost)", name,
                        fmt(bus.get("with_pending_store_records_per_s")) + " (" + fmt(bus.get("pending_store_cost_pct"))
                                + " %)");
            }
            Map<String, Object> e2e = (Map<String, Object>) m.get("e2e");
            if (e2e != null) {
                Map<String, Object> b = (Map<String, Object>) e2e.get("batched");
                Map<String, Object> u = (Map<String, Object>) e2e.get("unbatched");
                put(rows, "5 worker e2e batched: img/s (mean batch; learned cap)", name,
                        fmt(b.get("images_per_s")) + " (" + fmt(b.get("mean_batch")) + "; "
                                + b.get("learned_batch_cap") + ")");
                put(rows, "5 worker e2e batch.max.size=1: img/s", name, fmt(u.get("images_per_s")));
                List<Map<String, Object>> warm = (List<Map<String, Object>>) e2e.get("warm_up");
                if (warm != null && !warm.isEmpty()) {
                    put(rows, "5 warm-up runs; worker JIT ms/request first / last", name, warm.size() + "; "
                            + fmt(warm.get(0).get("worker_jit_ms_per_request")) + " / "
                            + fmt(warm.get(warm.size() - 1).get("worker_jit_ms_per_request")));
                    if (warm.get(0).get("broker_jit_ms_per_request") != null) {
                        put(rows, "5 warm-up: broker JIT ms/request first / last", name,
                                fmt(warm.get(0).get("broker_jit_ms_per_request")) + " / "
                                        + fmt(warm.get(warm.size() - 1).get("broker_jit_ms_per_request")));
                    }
                }
            }
            List<Map<String, Object>> lat = (List<Map<String, Object>>) m.get("latency");
            if (lat != null) {
                for (Map<String, Object> row : lat) {
                    Map<String, Object> c = (Map<String, Object>) row.get("read_committed");
                    put(rows, "6 latency " + row.get("load_pct") + " % load: p50/p95/p99/max ms", name,
                            fmt(c.get("p50_ms")) + "/" + fmt(c.get("p95_ms")) + "/" + fmt(c.get("p99_ms")) + "/"
                                    + fmt(c.get("max_ms")) + " @" + fmt(row.get("rate_per_s")) + "/s");
                    Map<String, Object> w = (Map<String, Object>) row.get("in_worker");
                    put(rows, "6 in-worker " + row.get("load_pct") + " %: p50/p99 ms (mean batch)", name,
                            fmt(w.get("p50_ms")) + "/" + fmt(w.get("p99_ms")) + " (" + fmt(row.get("mean_batch"))
                                    + ")");
                }
            }
            Map<String, Object> e2eCpu = (Map<String, Object>) m.get("e2e");
            if (e2eCpu != null) {
                Map<String, Object> b = (Map<String, Object>) e2eCpu.get("batched");
                Map<String, Object> u = (Map<String, Object>) e2eCpu.get("unbatched");
                put(rows, "8 CPU ms/request e2e batched: worker / broker (JIT)", name, cpuAndJit(b));
                put(rows, "8 CPU ms/request e2e unbatched: worker / broker (JIT)", name, cpuAndJit(u));
            }
            Map<String, Object> floor = (Map<String, Object>) m.get("floor");
            if (floor != null) {
                put(rows, "8 floor CPU ms/request: decode + compute (batch)", name,
                        fmt(floor.get("decode_cpu_ms_per_image")) + " + " + fmt(floor.get("compute_cpu_ms_per_image"))
                                + " (" + floor.get("compute_best_batch") + ") = " + fmt(floor.get("cpu_ms_per_request")));
                put(rows, "8 worker / floor", name, fmt(floor.get("worker_over_floor")));
            }
            Map<String, Object> swap = (Map<String, Object>) m.get("swap");
            if (swap != null) {
                put(rows, "7 swap: announcement -> first new prediction ms", name,
                        fmt(swap.get("announcement_to_first_new_prediction_ms")) + " @" + fmt(swap.get("rate_per_s"))
                                + "/s");
                put(rows, "7 swap: sent/answered/twice/lost", name, swap.get("sent") + "/" + swap.get("answered")
                        + "/" + swap.get("answered_twice") + "/" + swap.get("lost"));
                Map<String, Object> b = (Map<String, Object>) swap.get("latency_before_swap");
                Map<String, Object> a = (Map<String, Object>) swap.get("latency_sent_within_2s_of_swap");
                put(rows, "7 swap: p99 ms before / within 2 s of it", name, fmt(b.get("p99_ms")) + " / "
                        + fmt(a.get("p99_ms")));
            }
            Map<String, Object> targets = (Map<String, Object>) m.get("targets");
            if (targets != null) {
                for (Map.Entry<String, Object> e : targets.entrySet()) {
                    Map<String, Object> t = (Map<String, Object>) e.getValue();
                    String value = t.containsKey("at_most") ? fmt(t.get("value")) + " (need <= " + fmt(t.get("at_most"))
                            + ")" : t.containsKey("value") ? fmt(t.get("value")) + " (need >= " + fmt(t.get("needed"))
                            + ")" : fmt(t.get("p99_ms")) + " ms (bound " + fmt(t.get("bound_ms")) + ")";
                    put(rows, "target " + e.getKey(), name,
                            (Boolean.TRUE.equals(t.get("met")) ? "MET " : "MISSED ") + value);
                }
            }
        }
        int first = Math.max(10, rows.keySet().stream().mapToInt(String::length).max().orElse(10));
        int col = 14;
        for (Map<String, String> r : rows.values()) {
            for (String v : r.values()) {
                col = Math.max(col, v.length());
            }
        }
        StringBuilder header = new StringBuilder(String.format("%-" + first + "s", "measurement"));
        for (String name : names) {
            header.append("  ").append(String.format("%-" + col + "s", name));
        }
        out.println(header.toString().stripTrailing());
        out.println("-".repeat(first + names.size() * (col + 2)));
        for (Map.Entry<String, Map<String, String>> r : rows.entrySet()) {
            StringBuilder line = new StringBuilder(String.format("%-" + first + "s", r.getKey()));
            for (String name : names) {
                line.append("  ").append(String.format("%-" + col + "s", r.getValue().getOrDefault(name, "-")));
            }
            out.println(line.toString().stripTrailing());
        }
        Map<String, Object> memory = (Map<String, Object>) report.get("memory");
        out.println();
        out.printf("memory: max RSS %s MiB, heap after GC per stage (MiB): %s%n", fmt(memory.get("max_rss_mib")),
                memory.get("heap_after_gc_mib"));
    }

    private static void put(Map<String, Map<String, String>> rows, String row, String model, String value) {
        rows.computeIfAbsent(row, k -> new LinkedHashMap<>()).put(model, value);
    }

    /** "worker / broker (worker's JIT / broker's JIT)", CPU ms per request; the JIT is part of each. */
    private static String cpuAndJit(Map<String, Object> run) {
        return fmt(run.get("worker_cpu_ms_per_request")) + " / " + fmt(run.get("broker_cpu_ms_per_request")) + " ("
                + fmt(run.get("worker_jit_ms_per_request")) + " / " + fmt(run.get("broker_jit_ms_per_request")) + ")";
    }

    private static String fmt(Object v) {
        if (v == null) {
            return "-";
        }
        if (v instanceof Double d) {
            if (Math.abs(d) >= 100) {
                return String.format("%.0f", d);
            }
            return Math.abs(d) >= 10 ? String.format("%.1f", d) : String.format("%.2f", d);
        }
        return String.valueOf(v);
    }
}
