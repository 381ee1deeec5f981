package io.medfuse.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;

import io.medfuse.model.engine.EngineOptions;
import io.medfuse.trainer.HyperParameters;
import io.medfuse.trainer.InputMode;
import io.medfuse.trainer.StopSignal;
import io.medfuse.trainer.TrainingReport;
import io.medfuse.trainer.TrainingRun;
import io.medfuse.trainer.data.Dataset;
import io.medfuse.trainer.data.DatasetOptions;
import io.medfuse.trainer.synth.SyntheticDataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** evaluate: a trained file scored through the serving path, written as metrics.json + report.html + charts. */
class EvaluationTest {

    @Test
    void scoresAModelAndWritesTheReport(@TempDir Path dir) throws Exception {
        Path csv = new SyntheticDataset(3).write(dir, 60);
        Dataset data = TrainingRun.read(dir.resolve("images"), csv, new DatasetOptions("image", "label",
                List.of("age"), List.of("sex"), "lesion_id", null, false), 16);
        HyperParameters hp = new HyperParameters("small", InputMode.FUSED, 2, 32, 3e-3, 1, 0.3, 2, false, 16);
        TrainingRun.Outcome out = TrainingRun.train(data, hp, "evaluated", "1", s -> { }, new StopSignal());
        Path model = dir.resolve("m.onnx");
        Files.write(model, out.onnx());
        Path training = TrainingReport.write(dir.resolve("train-report"), data, out, model);

        Evaluation.Result r = Evaluation.run(model, new Evaluation.Options(dir.resolve("images"), csv, "label",
                "image", "sex", "age", false), EngineOptions.defaults().withDevice("cpu"));
        Path html = EvaluationReport.write(dir.resolve("eval"), r, training);

        assertThat(r.overall().n()).isEqualTo(60);
        ClassificationMetrics again = ClassificationMetrics.of(r.probabilities(), r.truth(), r.labels().size());
        assertThat(r.overall().balancedAccuracy()).isEqualTo(again.balancedAccuracy());
        assertThat(r.bySex().values().stream().mapToInt(ClassificationMetrics::n).sum()).isEqualTo(60);
        assertThat(r.byAgeBand().values().stream().mapToInt(ClassificationMetrics::n).sum()).isEqualTo(60);
        assertThat(r.json()).containsKeys("overall", "bySex", "byAgeBand");
        for (String f : List.of("metrics.json", "report.html", "confusion.png", "roc.png", "reliability.png",
                "training.png")) {
            assertThat(dir.resolve("eval").resolve(f)).isNotEmptyFile();
        }
        assertThat(Files.readString(html)).contains("balanced accuracy").contains("roc.png");
    }

    /** Trains a small model of {@code mode} on 60 synthetic rows; returns the model file. */
    private static Path trained(Path dir, Path csv, InputMode mode) throws Exception {
        Dataset data = TrainingRun.read(dir.resolve("images"), csv, new DatasetOptions("image", "label",
                List.of("age"), List.of("sex"), "lesion_id", null, false), 16);
        HyperParameters hp = new HyperParameters("small", mode, 2, 32, 3e-3, 1, 0.3, 2, false, 16);
        TrainingRun.Outcome out = TrainingRun.train(data, hp, "evaluated-" + mode.cli(), "1", s -> { },
                new StopSignal());
        Path model = dir.resolve(mode.cli() + ".onnx");
        Files.write(model, out.onnx());
        return model;
    }

    @Test
    void writesEveryImagesPredictionWithTheModelsIdentityAndMarksSubgroupsTooSmallToJudge(@TempDir Path dir)
            throws Exception {
        Path csv = new SyntheticDataset(4).write(dir, 60);
        Path model = trained(dir, csv, InputMode.FUSED);
        Evaluation.Result r = Evaluation.run(model, new Evaluation.Options(dir.resolve("images"), csv, "label",
                "image", "sex", "age", false, java.util.Map.of(), 25), EngineOptions.defaults().withDevice("cpu"));
        EvaluationReport.write(dir.resolve("eval"), r, null);

        List<String> rows = Files.readAllLines(dir.resolve("eval/predictions.csv"));
        assertThat(rows.get(0)).startsWith("image,line,label,predicted,p_").endsWith(",model,version,sha256");
        assertThat(rows).hasSize(61);
        String sha = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(Files.readAllBytes(model)));
        List<String> csvImages = io.medfuse.trainer.data.CsvTable.read(csv).rows().stream()
                .map(row -> row.get(io.medfuse.trainer.data.CsvTable.read(csv).header().indexOf("image"))).toList();
        int classes = r.labels().size();
        for (int i = 1; i < rows.size(); i++) {
            String[] f = rows.get(i).split(",");
            assertThat(csvImages).contains(f[0]);
            double sum = 0;
            int best = 0;
            for (int c = 0; c < classes; c++) {
                double p = Double.parseDouble(f[4 + c]);
                sum += p;
                if (p > Double.parseDouble(f[4 + best])) {
                    best = c;
                }
            }
            assertThat(sum).isCloseTo(1.0, org.assertj.core.api.Assertions.within(1e-4));
            assertThat(f[3]).as("predicted is the most probable class").isEqualTo(r.labels().get(best));
            assertThat(f[2]).isEqualTo(r.labels().get(r.truth()[i - 1]));
            assertThat(f[f.length - 3]).isEqualTo("evaluated-fused");
            assertThat(f[f.length - 1]).isEqualTo(sha);
        }
        // subgroups: under 25 rows, n only; from 25, scored
        @SuppressWarnings("unchecked")
        java.util.Map<String, java.util.Map<String, Object>> byAge =
                (java.util.Map<String, java.util.Map<String, Object>>) r.json().get("byAgeBand");
        assertThat(byAge).isNotEmpty();
        byAge.forEach((band, g) -> {
            int n = ((Number) g.get("n")).intValue();
            if (n < 25) {
                assertThat(g).containsEntry("tooSmallToJudge", true).doesNotContainKey("balancedAccuracy");
            } else {
                assertThat(g).containsKey("balancedAccuracy").doesNotContainKey("tooSmallToJudge");
            }
        });
        assertThat(byAge.values()).anyMatch(g -> ((Number) g.get("n")).intValue() < 25);
        assertThat(Files.readString(dir.resolve("eval/report.html"))).contains("too small to judge");
    }

    @Test
    void anImageOnlyModelIsScoredWithoutTheClinicalColumnsAndAFusedOneNamesAnOptionThatExists(@TempDir Path dir)
            throws Exception {
        Path csv = new SyntheticDataset(5).write(dir, 60);
        Path imageOnly = trained(dir, csv, InputMode.IMAGE);
        Path fused = trained(dir, csv, InputMode.FUSED);
        // the same rows with the clinical columns removed
        io.medfuse.trainer.data.CsvTable table = io.medfuse.trainer.data.CsvTable.read(csv);
        List<String> keep = List.of("image", "label");
        StringBuilder stripped = new StringBuilder(String.join(",", keep)).append('\n');
        for (List<String> row : table.rows()) {
            stripped.append(row.get(table.header().indexOf("image"))).append(',')
                    .append(row.get(table.header().indexOf("label"))).append('\n');
        }
        Path bare = dir.resolve("bare.csv");
        Files.writeString(bare, stripped);
        EngineOptions cpu = EngineOptions.defaults().withDevice("cpu");
        Evaluation.Options options = new Evaluation.Options(dir.resolve("images"), bare, "label", "image", "sex",
                "age", false);

        Evaluation.Result r = Evaluation.run(imageOnly, options, cpu);
        assertThat(r.overall().n()).isEqualTo(60);
        assertThat(String.valueOf(r.json().get("inputs"))).startsWith("image");
        // the same model on the full CSV gives the same probabilities: the clinical columns never mattered to it
        Evaluation.Result full = Evaluation.run(imageOnly, new Evaluation.Options(dir.resolve("images"), csv,
                "label", "image", "sex", "age", false), cpu);
        for (int i = 0; i < 60; i++) {
            assertThat(r.probabilities()[i]).containsExactly(full.probabilities()[i],
                    org.assertj.core.data.Offset.offset(1e-6f));
        }

        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Evaluation.run(fused, options, cpu))
                .isInstanceOf(io.medfuse.trainer.data.DatasetException.class)
                .hasMessageContaining("--source COLUMN=")
                .hasMessageNotContaining("--numeric").hasMessageNotContaining("--categorical");
    }

    @Test
    void ageBands() {
        assertThat(List.of("", "x", "39", "40", "59.9", "60", "80", "85.0")).extracting(Evaluation::ageBand)
                .containsExactly("unknown", "unknown", "<40", "40-59", "40-59", "60-79", "80+", "80+");
    }
}
