package io.medfuse.trainer.synth;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

class SyntheticDatasetTest {

    @Test
    void sameSeedAndIndexGiveTheSameCaseBytes() {
        SyntheticDataset a = new SyntheticDataset(5);
        SyntheticDataset b = new SyntheticDataset(5);
        assertThat(a.generate(17).png()).isEqualTo(b.generate(17).png());
        assertThat(a.generate(17)).usingRecursiveComparison().isEqualTo(b.generate(17));
        assertThat(new SyntheticDataset(6).generate(17).png()).isNotEqualTo(a.generate(17).png());
    }

    @Test
    void labelIsDarkBlobXorAgeOverFiftyAndBothHalvesAreBalanced() {
        List<SyntheticDataset.Case> cases = new SyntheticDataset(1).generate(0, 2000);
        assertThat(cases).allSatisfy(c -> assertThat(c.label())
                .isEqualTo(c.dark() ^ c.age() > 50 ? "malignant" : "benign"));
        long dark = cases.stream().filter(SyntheticDataset.Case::dark).count();
        long malignant = cases.stream().filter(c -> c.label().equals("malignant")).count();
        assertThat(dark).isBetween(900L, 1100L);
        assertThat(malignant).isBetween(900L, 1100L);
    }

    @Test
    void imagesOfOneLesionShareItsPatientAndColour() {
        List<SyntheticDataset.Case> cases = new SyntheticDataset(2).generate(0, 300);
        long lesions = cases.stream().map(SyntheticDataset.Case::lesionId).distinct().count();
        assertThat(lesions).isEqualTo(200);
        cases.stream().collect(java.util.stream.Collectors.groupingBy(SyntheticDataset.Case::lesionId))
                .values().forEach(group -> assertThat(group).extracting(c -> c.age() + c.sex() + c.dark())
                        .containsOnly(group.get(0).age() + group.get(0).sex() + group.get(0).dark()));
    }

    @Test
    void writesPngsAndAMetadataCsv(@TempDir Path dir) throws IOException {
        Path csv = new SyntheticDataset(3).write(dir, 5);

        List<String> lines = Files.readAllLines(csv);
        assertThat(lines.get(0)).isEqualTo("image,label,age,sex,localization,lesion_id");
        assertThat(lines).hasSize(6);
        assertThat(Files.list(dir.resolve("images"))).hasSize(5);
        assertThat(Files.readAllBytes(dir.resolve("images/syn_000004.png")))
                .isEqualTo(new SyntheticDataset(3).generate(4).png());
    }
}
