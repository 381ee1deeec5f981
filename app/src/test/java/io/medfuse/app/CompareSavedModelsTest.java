package io.medfuse.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.medfuse.trainer.HyperParameters;
import io.medfuse.trainer.InputMode;
import io.medfuse.trainer.StopSignal;
import io.medfuse.trainer.TrainingRun;
import io.medfuse.trainer.data.Dataset;
import io.medfuse.trainer.data.DatasetOptions;
import io.medfuse.trainer.synth.SyntheticDataset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** 'medfuse compare --models': saved models scored on an external test set and compared paired. */
class CompareSavedModelsTest {

    private static Path train(Path dir, Path csv, InputMode mode) throws Exception {
        Dataset data = TrainingRun.read(dir.resolve("images"), csv, new DatasetOptions("image", "label",
                List.of("age"), List.of("sex"), "lesion_id", null, false), 16);
        HyperParameters hp = new HyperParameters("small", mode, 2, 32, 3e-3, 1, 0.3, 2, false, 16);
        Path model = dir.resolve(mode.cli() + ".onnx");
        Files.write(model, TrainingRun.train(data, hp, "cmp-" + mode.cli(), "1", s -> { }, new StopSignal()).onnx());
        return model;
    }

    @Test
    void scoresEachSavedModelOnTheTestSetAndPairsTheSecondWithTheFirst(@TempDir Path dir) throws Exception {
        Path train = dir.resolve("train");
        Path csv = new SyntheticDataset(8).write(train, 80);
        Path fused = train(train, csv, InputMode.FUSED);
        Path image = train(train, csv, InputMode.IMAGE);
        Path test = dir.resolve("test");
        Path testCsv = new SyntheticDataset(9).write(test, 60);
        Path out = dir.resolve("cmp");

        CliRun r = CliRun.of("compare", "--models", image + "," + fused, "--images", test.resolve("images").toString(),
                "--metadata", testCsv.toString(), "--label", "label", "--resamples", "200", "--out", out.toString());

        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("fused - image on the same 60 images: balanced accuracy")
                .contains("McNemar p =");
        JsonNode json = new ObjectMapper().readTree(out.resolve("compare.json").toFile());
        JsonNode pair = json.get("paired").get(0);
        assertThat(pair.get("n").asInt()).isEqualTo(60);
        assertThat(pair.get("balancedAccuracyDiffCi95")).hasSize(2);
        double low = pair.get("balancedAccuracyDiffCi95").get(0).asDouble();
        double high = pair.get("balancedAccuracyDiffCi95").get(1).asDouble();
        assertThat(pair.get("balancedAccuracyDiff").asDouble()).isBetween(low, high);
        assertThat(pair.get("balancedAccuracyDiff").asDouble()).isCloseTo(pair.get("balancedAccuracyB").asDouble()
                - pair.get("balancedAccuracyA").asDouble(), org.assertj.core.api.Assertions.within(1e-9));
        for (String m : List.of("image", "fused")) {
            assertThat(out.resolve(m).resolve("predictions.csv")).isNotEmptyFile();
            assertThat(Files.readAllLines(out.resolve(m).resolve("predictions.csv"))).hasSize(61);
        }
    }

    @Test
    void refusesOneModelAndTrainingOptionsWithModels(@TempDir Path dir) throws Exception {
        Path csv = new SyntheticDataset(8).write(dir, 20);
        Path any = dir.resolve("m.onnx");
        Files.write(any, new byte[] {1});
        CliRun one = CliRun.of("compare", "--models", any.toString(), "--images", dir.resolve("images").toString(),
                "--metadata", csv.toString(), "--out", dir.resolve("o").toString());
        assertThat(one.exit()).isEqualTo(2);
        assertThat(one.err()).contains("--models needs at least two models");
        CliRun numeric = CliRun.of("compare", "--models", any + "," + any, "--numeric", "age", "--images",
                dir.resolve("images").toString(), "--metadata", csv.toString(), "--out", dir.resolve("o").toString());
        assertThat(numeric.exit()).isEqualTo(2);
        assertThat(numeric.err()).contains("contract names its features");
    }
}
