package io.medfuse.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.medfuse.trainer.TrainingRun;
import io.medfuse.trainer.data.DatasetException.Reason;
import io.medfuse.trainer.synth.SyntheticDataset;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

class DatasetReaderTest {

    @TempDir
    Path dir;
    Path images;
    Path csv;

    @BeforeEach
    void fourSyntheticImages() throws IOException {
        csv = new SyntheticDataset(3).write(dir, 4);
        images = dir.resolve("images");
        Files.write(images.resolve("broken.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3});
    }

    private void csv(String... rows) throws IOException {
        Files.writeString(csv, "image,label,age,sex,localization,lesion_id\n" + String.join("\n", rows) + "\n",
                StandardCharsets.UTF_8);
    }

    private Dataset read(boolean allowExclusions, List<String> labels) {
        return TrainingRun.read(images, csv, new DatasetOptions("image", "label", List.of("age"),
                List.of("sex", "localization"), "lesion_id", labels, allowExclusions), 16);
    }

    private DatasetException failure(List<String> labels) {
        return catchThrowableOfType(DatasetException.class, () -> read(false, labels));
    }

    @Test
    void readsRowsWithQuotedFieldsAndMissingValues() throws IOException {
        csv("syn_000000.png,benign,63,male,\"lower extremity, left\",L1",
                "syn_000001,malignant,,female,back,L1",
                "\"syn_000002.png\",benign,40,,\"say \"\"trunk\"\"\",L2");

        Dataset d = read(false, null);

        assertThat(d.samples()).hasSize(3);
        assertThat(d.labels()).containsExactly("benign", "malignant");
        assertThat(d.samples().get(0).features()).containsEntry("age", 63.0)
                .containsEntry("localization", "lower extremity, left");
        assertThat(d.samples().get(1).features().get("age")).isNull();
        assertThat(d.samples().get(2).features()).containsEntry("localization", "say \"trunk\"");
        assertThat(d.samples().get(2).pixels()).hasSize(3 * 16 * 16);
        assertThat(d.fingerprint()).hasSize(64);
    }

    @Test
    void missingColumnNamesTheColumnAtLineOne() throws IOException {
        Files.writeString(csv, "image,label,sex,localization,lesion_id\nsyn_000000.png,benign,male,back,L1\n");

        DatasetException e = failure(null);

        assertThat(e.reason()).isEqualTo(Reason.MISSING_COLUMN);
        assertThat(e.line()).isEqualTo(1);
        assertThat(e.column()).isEqualTo("age");
        assertThat(e.getMessage()).startsWith(csv + ":1: column 'age'").contains("--numeric");
    }

    @Test
    void unknownLabelNamesFileLineAndColumn() throws IOException {
        csv("syn_000000.png,benign,63,male,back,L1", "syn_000001.png,melanoma,50,male,back,L2");

        DatasetException e = failure(List.of("benign", "malignant"));

        assertThat(e.reason()).isEqualTo(Reason.UNKNOWN_LABEL);
        assertThat(e.getMessage()).startsWith(csv + ":3: column 'label'").contains("melanoma");
    }

    @Test
    void missingImageFileNamesFileLineAndColumn() throws IOException {
        csv("syn_000000.png,benign,63,male,back,L1", "nowhere.png,benign,50,male,back,L2");

        DatasetException e = failure(null);

        assertThat(e.reason()).isEqualTo(Reason.MISSING_IMAGE);
        assertThat(e.getMessage()).startsWith(csv + ":3: column 'image'").contains("nowhere.png");
    }

    @Test
    void unreadableImageNamesFileLineAndColumn() throws IOException {
        csv("broken.png,benign,63,male,back,L1");

        DatasetException e = failure(null);

        assertThat(e.reason()).isEqualTo(Reason.UNREADABLE_IMAGE);
        assertThat(e.getMessage()).startsWith(csv + ":2: column 'image'").contains("broken.png");
    }

    @Test
    void nonNumericAgeNamesFileLineAndColumn() throws IOException {
        csv("syn_000000.png,benign,63,male,back,L1", "syn_000001.png,benign,sixty,male,back,L2");

        DatasetException e = failure(null);

        assertThat(e.reason()).isEqualTo(Reason.NON_NUMERIC);
        assertThat(e.line()).isEqualTo(3);
        assertThat(e.getMessage()).startsWith(csv + ":3: column 'age'").contains("'sixty' is not a number");
    }

    @Test
    void unclosedQuoteIsAMalformedCsvAtTheLineItStarts() throws IOException {
        csv("syn_000000.png,benign,63,male,\"back,L1");

        DatasetException e = failure(null);

        assertThat(e.reason()).isEqualTo(Reason.MALFORMED_CSV);
        assertThat(e.line()).isEqualTo(2);
    }

    @Test
    void allowedExclusionsLeaveBadRowsOutAndCountThemByReason() throws IOException {
        csv("syn_000000.png,benign,63,male,back,L1", "nowhere.png,benign,50,male,back,L2",
                "broken.png,benign,50,male,back,L3", "syn_000001.png,benign,abc,male,back,L4",
                "syn_000002.png,malignant,150,female,back,L5", "syn_000003.png,malignant,20,female,back,L6");

        Dataset d = read(true, null);

        assertThat(d.samples()).extracting(Sample::line).containsExactly(2, 7);
        assertThat(d.excluded()).containsEntry(Reason.MISSING_IMAGE, 1).containsEntry(Reason.UNREADABLE_IMAGE, 1)
                .containsEntry(Reason.NON_NUMERIC, 1).containsEntry(Reason.OUT_OF_RANGE, 1);
        assertThat(d.excludedCount()).isEqualTo(4);
        assertThat(d.exclusionExamples()).hasSize(4);
    }

    @Test
    void withoutAllowingExclusionsTheFirstBadRowInFileOrderIsTheError() throws IOException {
        csv("syn_000000.png,benign,63,male,back,L1", "syn_000001.png,benign,abc,male,back,L4",
                "nowhere.png,benign,50,male,back,L2");

        assertThat(failure(null).line()).isEqualTo(3);
    }

    /**
     * A folder of DICOM objects made by dcmtk and gdcm, labels keyed by file name (with or without .dcm) and by SOP
     * Instance UID, no age or sex columns: the features come from the tags, as the worker reads them, and the pixels
     * are the worker's.
     */
    @Test
    void readsDicomFoldersWithFeaturesFromTheTagsAndLabelsByFileNameOrSopInstanceUid() throws IOException {
        Path independent = Path.of("..", "model", "src", "test", "resources", "dicom", "independent");
        Path dicom = Files.createDirectories(dir.resolve("dicom"));
        Files.copy(independent.resolve("rgb8-tags.dcm"), dicom.resolve("a.dcm"));
        Files.copy(independent.resolve("rgb8-tags-birthdate.dcm"), dicom.resolve("b.dcm"));
        Files.copy(independent.resolve("gray8-explicit.dcm"), dicom.resolve("IM0003"));
        String sop = io.medfuse.model.image.DicomParser.parse(Files.readAllBytes(dicom.resolve("IM0003")),
                io.medfuse.model.image.ImageLimits.defaults()).dataset()
                .string(io.medfuse.model.image.DicomTags.SOP_INSTANCE_UID).orElseThrow();
        Path labels = dir.resolve("labels.csv");
        Files.writeString(labels, "image,label\na.dcm,mel\nb,nv\n" + sop + ",nv\n", StandardCharsets.UTF_8);

        Dataset d = TrainingRun.read(dicom, labels, new DatasetOptions("image", "label", List.of("age"),
                List.of("sex"), null, null, false), 16);

        assertThat(d.samples()).hasSize(3);
        assertThat(d.samples().get(0).features()).containsEntry("age", 45.0).containsEntry("sex", "female");
        assertThat((Double) d.samples().get(1).features().get("age")).isCloseTo(68.0,
                org.assertj.core.data.Offset.offset(0.01));
        assertThat(d.samples().get(1).features()).containsEntry("sex", "male");
        assertThat(d.samples().get(2).features()).containsEntry("age", null).containsEntry("sex", null);
        io.medfuse.model.image.ImagePreprocessor worker = new io.medfuse.model.image.ImagePreprocessor(
                d.image(), io.medfuse.model.image.ImageLimits.defaults());
        assertThat(d.samples().get(0).pixels()).as("the worker's decoding of the same object")
                .containsExactly(worker.preprocess(Files.readAllBytes(dicom.resolve("a.dcm")), "application/dicom"));
    }
}
