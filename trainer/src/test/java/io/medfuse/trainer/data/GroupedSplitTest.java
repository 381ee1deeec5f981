package io.medfuse.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;

import io.medfuse.model.contract.FeatureSpec;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

class GroupedSplitTest {

    /** 500 rows in groups of 1-4, 30 % of groups "malignant". */
    static Dataset dataset(long seed) {
        Random rng = new Random(seed);
        List<Sample> samples = new ArrayList<>();
        int g = 0;
        while (samples.size() < 500) {
            int size = 1 + rng.nextInt(4);
            String label = rng.nextDouble() < 0.3 ? "malignant" : "benign";
            for (int i = 0; i < size; i++) {
                samples.add(new Sample(samples.size() + 2, "x" + samples.size(), label, "G" + g,
                        Map.of("age", 20.0 + rng.nextInt(60), "sex", rng.nextBoolean() ? "male" : "Female"),
                        new float[0]));
            }
            g++;
        }
        DatasetOptions options = new DatasetOptions("image", "label", List.of("age"), List.of("sex"), "lesion_id",
                null, false);
        return new Dataset(Path.of("m.csv"), Path.of("img"), options, List.of("benign", "malignant"), samples,
                Map.of(), List.of(), "f", null);
    }

    @Test
    void neverPutsAGroupOnBothSides() {
        for (long seed = 0; seed < 20; seed++) {
            Dataset d = dataset(seed);
            GroupedSplit split = GroupedSplit.of(d, 0.2, seed);

            Set<String> trainGroups = new HashSet<>();
            split.train().forEach(i -> trainGroups.add(d.samples().get(i).group()));
            split.validation().forEach(i -> assertThat(trainGroups).doesNotContain(d.samples().get(i).group()));
            assertThat(split.train().size() + split.validation().size()).isEqualTo(d.samples().size());
        }
    }

    @Test
    void isStratifiedByLabelAndSizedAsAsked() {
        Dataset d = dataset(1);
        GroupedSplit split = GroupedSplit.of(d, 0.2, 5);

        double all = d.samples().stream().filter(s -> s.label().equals("malignant")).count()
                / (double) d.samples().size();
        double val = GroupedSplit.pick(d, split.validation()).stream().filter(s -> s.label().equals("malignant"))
                .count() / (double) split.validation().size();
        assertThat(val).isCloseTo(all, org.assertj.core.data.Offset.offset(0.05));
        assertThat(split.validation().size() / (double) d.samples().size())
                .isCloseTo(0.2, org.assertj.core.data.Offset.offset(0.03));
        assertThat(split.seed()).isEqualTo(5);
    }

    @Test
    void sameSeedSameSplitOtherSeedOtherSplit() {
        Dataset d = dataset(2);
        assertThat(GroupedSplit.of(d, 0.2, 9)).isEqualTo(GroupedSplit.of(d, 0.2, 9));
        assertThat(GroupedSplit.of(d, 0.2, 9).validation()).isNotEqualTo(GroupedSplit.of(d, 0.2, 10).validation());
    }

    @Test
    void featuresComeFromTheTrainingRowsOnly() {
        Dataset d = dataset(3);
        List<Sample> train = GroupedSplit.pick(d, GroupedSplit.of(d, 0.2, 1).train());

        List<FeatureSpec> specs = FeatureFitter.fit(d, train);

        double mean = train.stream().mapToDouble(s -> (Double) s.features().get("age")).average().orElseThrow();
        FeatureSpec.Numeric age = (FeatureSpec.Numeric) specs.get(0);
        assertThat(age.center()).isCloseTo(mean, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(age.impute()).isEqualTo(age.center());
        assertThat(age.min()).isEqualTo(0.0);
        assertThat(age.max()).isEqualTo(120.0);
        assertThat(age.missingIndicator()).isFalse();
        assertThat(age.sources()).containsExactly(io.medfuse.model.contract.FeatureSource.PATIENT_AGE,
                io.medfuse.model.contract.FeatureSource.DICOM_PATIENT_AGE);
        assertThat(((FeatureSpec.Categorical) specs.get(1)).vocabulary()).containsExactly("Female", "male");
    }

    @Test
    void foldsValidateEveryRowOnceAndNeverSplitAGroup() {
        Dataset d = dataset(3);
        List<GroupedSplit> folds = GroupedSplit.folds(d, 5, 9);
        assertThat(folds).hasSize(5);
        List<Integer> all = new ArrayList<>();
        for (GroupedSplit f : folds) {
            all.addAll(f.validation());
            assertThat(f.train().size() + f.validation().size()).isEqualTo(500);
            Set<String> valGroups = new HashSet<>();
            f.validation().forEach(i -> valGroups.add(d.samples().get(i).group()));
            f.train().forEach(i -> assertThat(valGroups).doesNotContain(d.samples().get(i).group()));
            // about a fifth of the rows, and of the malignant ones
            assertThat(f.validation().size()).isBetween(85, 115);
            long malignant = f.validation().stream().filter(i -> d.samples().get(i).label().equals("malignant"))
                    .count();
            long total = d.samples().stream().filter(s -> s.label().equals("malignant")).count();
            assertThat((double) malignant).isCloseTo(total / 5.0, org.assertj.core.data.Offset.offset(total / 10.0));
        }
        assertThat(all).hasSize(500).doesNotHaveDuplicates();
        assertThat(GroupedSplit.folds(d, 5, 9)).isEqualTo(folds);
    }
}
