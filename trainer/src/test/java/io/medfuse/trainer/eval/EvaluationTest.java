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

    @Test
    void ageBands() {
        assertThat(List.of("", "x", "39", "40", "59.9", "60", "80", "85.0")).extracting(Evaluation::ageBand)
                .containsExactly("unknown", "unknown", "<40", "40-59", "40-59", "60-79", "80+", "80+");
    }
}
