package io.medfuse.trainer.eval;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.medfuse.trainer.TrainerException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Writes an {@link Evaluation} as {@code metrics.json} and {@code report.html} with PNG charts next to it. */
public final class EvaluationReport {

    private EvaluationReport() {
    }

    /**
     * @param trainingJson a {@code training.json} from {@code medfuse train --report} for the training curves, or null
     * @return the report.html written
     * @throws TrainerException when something cannot be read or written
     */
    public static Path write(Path dir, Evaluation.Result r, Path trainingJson) {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        try {
            Files.createDirectories(dir);
            json.writeValue(dir.resolve("metrics.json").toFile(), r.json());
            Files.writeString(dir.resolve("predictions.csv"), predictionsCsv(r), StandardCharsets.UTF_8);
            Files.write(dir.resolve("confusion.png"), Charts.confusion(r.overall().confusion(), r.labels()));
            Files.write(dir.resolve("roc.png"), Charts.roc(r.probabilities(), r.truth(), r.labels()));
            Files.write(dir.resolve("reliability.png"), Charts.reliability(r.overall()));
            boolean curves = false;
            if (trainingJson != null) {
                Map<String, Object> training = json.readValue(trainingJson.toFile(), new TypeReference<>() { });
                if (training.get("history") instanceof List<?> h && !h.isEmpty()) {
                    @SuppressWarnings("unchecked")
                    List<Map<String, Object>> history = (List<Map<String, Object>>) h;
                    Files.write(dir.resolve("training.png"), Charts.trainingCurves(history));
                    curves = true;
                }
            }
            Path html = dir.resolve("report.html");
            Files.writeString(html, html(r, curves), StandardCharsets.UTF_8);
            return html;
        } catch (IOException e) {
            throw new TrainerException("cannot write the evaluation report into " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * One row per image: its id (the CSV's image column) and line, the true and the predicted label, every class's
     * probability (calibrated as the worker publishes them), and the model's identity, so two models can be compared
     * paired on the same images.
     */
    static String predictionsCsv(Evaluation.Result r) {
        StringBuilder s = new StringBuilder("image,line,label,predicted");
        for (String l : r.labels()) {
            s.append(",p_").append(csv(l));
        }
        s.append(",model,version,sha256\n");
        String model = csv(r.contract().name()) + "," + csv(r.contract().version()) + "," + r.sha256();
        for (int i = 0; i < r.truth().length; i++) {
            float[] p = r.probabilities()[i];
            int best = ClassificationMetrics.argmax(p);
            s.append(csv(r.images().get(i))).append(',').append(r.lines().get(i)).append(',')
                    .append(csv(r.labels().get(r.truth()[i]))).append(',').append(csv(r.labels().get(best)));
            for (float v : p) {
                s.append(',').append(String.format(Locale.ROOT, "%.6f", v));
            }
            s.append(',').append(model).append('\n');
        }
        return s.toString();
    }

    /** RFC 4180 quoting where needed. */
    private static String csv(String v) {
        if (v.indexOf(',') < 0 && v.indexOf('"') < 0 && v.indexOf('\n') < 0 && v.indexOf('\r') < 0) {
            return v;
        }
        return '"' + v.replace("\"", "\"\"") + '"';
    }

    private static String html(Evaluation.Result r, boolean curves) {
        StringBuilder s = new StringBuilder();
        s.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>medfuse evaluation: ")
                .append(esc(r.contract().name())).append("</title>\n<style>body{font-family:sans-serif;margin:2em}"
                        + "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
                        + "text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}</style></head><body>\n");
        s.append("<h1>").append(esc(r.contract().name())).append(' ').append(esc(r.contract().version()))
                .append("</h1>\n<p>").append(esc(String.valueOf(r.json().get("model")))).append(" on ")
                .append(esc(String.valueOf(r.json().get("metadata")))).append(": ").append(r.overall().n())
                .append(" rows, through ONNX Runtime and the serving preprocessing.</p>\n");
        s.append("<table><tr><th>group</th><th>n</th><th>accuracy</th><th>balanced accuracy</th><th>macro AUC</th>"
                + "<th>ECE</th></tr>\n");
        row(s, "all", r.overall(), false);
        r.bySex().forEach((k, m) -> row(s, "sex " + k, m, r.tooSmall(m.n())));
        r.byAgeBand().forEach((k, m) -> row(s, "age " + k, m, r.tooSmall(m.n())));
        s.append("</table>\n<h2>Per class</h2>\n<table><tr><th>class</th><th>support</th><th>precision</th>"
                + "<th>recall</th><th>F1</th><th>AUC</th></tr>\n");
        for (int c = 0; c < r.labels().size(); c++) {
            ClassificationMetrics.PerClass p = r.overall().perClass().get(c);
            s.append("<tr><td>").append(esc(r.labels().get(c))).append("</td><td>").append(p.support())
                    .append("</td><td>").append(f(p.precision())).append("</td><td>").append(f(p.recall()))
                    .append("</td><td>").append(f(p.f1())).append("</td><td>").append(f(p.auc())).append("</td></tr>\n");
        }
        s.append("</table>\n");
        if (curves) {
            s.append("<h2>Training</h2><img src=\"training.png\" alt=\"training curves\">\n");
        }
        s.append("<h2>Confusion matrix</h2><img src=\"confusion.png\" alt=\"confusion matrix\">\n")
                .append("<h2>ROC curves</h2><img src=\"roc.png\" alt=\"ROC curves\">\n")
                .append("<h2>Calibration</h2><img src=\"reliability.png\" alt=\"reliability diagram\">\n")
                .append("<p>ECE: ").append(ClassificationMetrics.ECE_BINS).append(" equal-width confidence bins. "
                        + "Subgroups of fewer than " + r.minSubgroup() + " rows are not scored (too small to judge); "
                        + "larger ones still have wide uncertainty; AUC is blank where a class is absent. "
                        + "predictions.csv holds every image's probabilities.</p>\n")
                .append("</body></html>\n");
        return s.toString();
    }

    private static void row(StringBuilder s, String name, ClassificationMetrics m, boolean tooSmall) {
        if (tooSmall) {
            s.append("<tr><td>").append(esc(name)).append("</td><td>").append(m.n())
                    .append("</td><td colspan=\"4\">too small to judge</td></tr>\n");
            return;
        }
        s.append("<tr><td>").append(esc(name)).append("</td><td>").append(m.n()).append("</td><td>")
                .append(f(m.accuracy())).append("</td><td>").append(f(m.balancedAccuracy())).append("</td><td>")
                .append(f(m.macroAuc())).append("</td><td>").append(f(m.ece())).append("</td></tr>\n");
    }

    private static String f(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.3f", v);
    }

    private static String esc(String t) {
        return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
