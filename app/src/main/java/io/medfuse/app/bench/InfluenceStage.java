package io.medfuse.app.bench;

import java.util.LinkedHashMap;
import java.util.Map;

import io.medfuse.worker.config.WorkerConfig;

/**
 * Stage: what measuring the clinical data's influence costs. The in-process pipeline three times, on the same
 * requests: influence off, on (each request's image also runs with its clinical data masked, in the same batch run),
 * and per feature (one more masked row per feature). The image is decoded once in every case, so the difference is
 * model compute only; the cost is the extra CPU time per image.
 */
final class InfluenceStage extends Stage {

    InfluenceStage(Context context) {
        super(context);
    }

    Map<String, Object> influence(BenchModel model) throws Exception {
        InProcessStage pipeline = new InProcessStage(context);
        Map<String, Object> off = pipeline.inProcess(model, Map.of(WorkerConfig.INFLUENCE_ENABLED, "false"),
                "influence off");
        Map<String, Object> on = pipeline.inProcess(model, Map.of(WorkerConfig.INFLUENCE_ENABLED, "true"),
                "influence on");
        Map<String, Object> perFeature = pipeline.inProcess(model, Map.of(WorkerConfig.INFLUENCE_ENABLED, "true",
                WorkerConfig.INFLUENCE_PER_FEATURE, "true"), "influence per feature");
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("off", off);
        m.put("on", on);
        m.put("per_feature", perFeature);
        m.put("features", model.contract().tabular().size());
        m.put("cpu_cost_pct", cost(off, on));
        m.put("per_feature_cpu_cost_pct", cost(off, perFeature));
        m.put("throughput_cost_pct", throughputCost(off, on));
        return m;
    }

    /** Extra CPU time per image, in % of the time without; NaN where CPU time is not known. */
    private static double cost(Map<String, Object> off, Map<String, Object> with) {
        double a = ((Number) off.get("cpu_ms_per_image")).doubleValue();
        double b = ((Number) with.get("cpu_ms_per_image")).doubleValue();
        return a > 0 && b > 0 ? round(100 * (b / a - 1)) : Double.NaN;
    }

    /** Lost images per second, in % of those without. */
    private static double throughputCost(Map<String, Object> off, Map<String, Object> with) {
        double a = ((Number) off.get("images_per_s")).doubleValue();
        double b = ((Number) with.get("images_per_s")).doubleValue();
        return a > 0 ? round(100 * (1 - b / a)) : Double.NaN;
    }
}
