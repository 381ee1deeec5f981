package io.medfuse.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import io.medfuse.trainer.data.Dataset;
import io.medfuse.trainer.data.DatasetOptions;
import io.medfuse.trainer.synth.SyntheticDataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** compare: three networks per repeat on the same rows, summarised with spread and paired differences. */
class ComparisonTest {

    @Test
    void trainsAllThreeOnTheSameSplitsAndSummarises(@TempDir Path dir) {
        Path csv = new SyntheticDataset(8).write(dir, 90);
        Dataset data = TrainingRun.read(dir.resolve("images"), csv, new DatasetOptions("image", "label",
                List.of("age"), List.of("sex"), "lesion_id", null, false), 16);
        HyperParameters hp = new HyperParameters("small", InputMode.FUSED, 2, 32, 3e-3, 4, 0.3, 2, false, 16);
        List<String> lines = new ArrayList<>();

        Comparison.Result r = Comparison.run(data, hp, 2, 0, lines::add, s -> { }, new StopSignal());

        assertThat(r.runs()).hasSize(6);
        assertThat(lines).hasSize(6);
        for (int rep = 0; rep < 2; rep++) {
            int repeat = rep;
            List<Comparison.Run> same = r.runs().stream().filter(x -> x.repeat() == repeat).toList();
            assertThat(same).extracting(Comparison.Run::mode).containsExactly(InputMode.FUSED, InputMode.IMAGE,
                    InputMode.TABULAR);
            assertThat(same).extracting(Comparison.Run::validationRows).containsOnly(same.get(0).validationRows());
            assertThat(same).allSatisfy(x -> assertThat(x.parityMaxDelta())
                    .isLessThanOrEqualTo(TrainingRun.PARITY_TOLERANCE));
        }
        assertThat(r.json()).containsKeys("summary", "differences", "runs");
        @SuppressWarnings("unchecked")
        Map<String, Object> diffs = (Map<String, Object>) r.json().get("differences");
        assertThat(diffs).containsKeys("fused-image", "fused-tabular");
        assertThat(r.table()).contains("fused-image").contains("±");
    }

    @Test
    void meanAndSampleStandardDeviation() {
        double[] ms = Comparison.meanSd(new double[] {1, 2, 3, 4});
        assertThat(ms[0]).isEqualTo(2.5);
        assertThat(ms[1]).isCloseTo(Math.sqrt(5 / 3.0), org.assertj.core.data.Offset.offset(1e-12));
    }
}
