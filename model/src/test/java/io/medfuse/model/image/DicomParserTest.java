package io.medfuse.model.image;

import static io.medfuse.model.image.DicomIndependentFilesTest.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import io.medfuse.model.contract.ImageSpec;

class DicomParserTest {

    private static final String PATIENT_NAME = "Doe^Jane";
    private static final ImagePreprocessor PRE = new ImagePreprocessor(new ImageSpec(16, 16, 3, "NCHW",
            ImageSpec.ResizeMode.STRETCH, List.of(0.5, 0.5, 0.5), List.of(0.25, 0.25, 0.25)), ImageLimits.defaults());

    @Test
    void readsTheTagsTheWorkerNeeds() {
        DicomObject o = DicomParser.parse(resource("/dicom/independent/rgb8-explicit.dcm"), ImageLimits.defaults());
        assertThat(o.transferSyntax()).isEqualTo(TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN);
        assertThat(o.dataset().uint16(DicomTags.ROWS)).hasValue(30);
        assertThat(o.dataset().uint16(DicomTags.COLUMNS)).hasValue(40);
        assertThat(o.dataset().string(DicomTags.PHOTOMETRIC_INTERPRETATION)).hasValue("RGB");
        assertThat(o.dataset().string(DicomTags.STUDY_INSTANCE_UID)).isPresent();
        DicomObject implicit = DicomParser.parse(resource("/dicom/independent/rgb8-implicit.dcm"),
                ImageLimits.defaults());
        assertThat(implicit.transferSyntax()).isEqualTo(TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN);
        assertThat(implicit.dataset().string(DicomTags.SOP_INSTANCE_UID))
                .isEqualTo(o.dataset().string(DicomTags.SOP_INSTANCE_UID));
    }

    @Test
    void refusesSequencesNestedTenThousandDeepWithoutRecursingThatFar() {
        DicomBytes b = part10();
        for (int i = 0; i < 10_000; i++) {
            b.tag(0x0040_A730).ascii("SQ").u16(0).u32(0xFFFF_FFFFL).tag(0xFFFE_E000).u32(0xFFFF_FFFFL);
        }
        assertThatThrownBy(() -> DicomParser.parse(b.bytes(), ImageLimits.defaults()))
                .isInstanceOf(ImageDecodeException.class)
                .hasMessageContaining("nests sequences more than " + DicomParser.MAX_DEPTH);
    }

    @Test
    void refusesMoreElementsThanItsBound() {
        DicomBytes b = part10();
        for (int i = 0; i <= DicomParser.MAX_ELEMENTS; i++) {
            b.tag(0x0009_1000).ascii("OB").u16(0).u32(0);
        }
        assertThatThrownBy(() -> DicomParser.parse(b.bytes(), ImageLimits.defaults()))
                .isInstanceOf(ImageDecodeException.class).hasMessageContaining("more than 100000 elements");
    }

    @Test
    void boundsWhatADeflatedDatasetMayInflateTo() {
        ImageLimits small = new ImageLimits(1 << 20, 1000);
        byte[] zeros = new byte[(int) DicomParser.inflatedLimit(small) + 1];
        java.util.zip.Deflater d = new java.util.zip.Deflater(9, true);
        d.setInput(zeros);
        d.finish();
        byte[] buf = new byte[1 << 16];
        int n = d.deflate(buf);
        d.end();
        DicomBytes b = part10("1.2.840.10008.1.2.1.99");
        b.raw(Arrays.copyOf(buf, n));
        assertThatThrownBy(() -> DicomParser.parse(b.bytes(), small)).isInstanceOf(ImageTooLargeException.class)
                .hasMessageContaining("inflates to more than");
    }

    /**
     * Every prefix of real objects (made by gdcm and dcmtk) in every decoded encoding: each is a tensor or an
     * {@link ImageException}, never another exception, and never a message with a patient tag's value.
     */
    @ParameterizedTest
    @ValueSource(strings = {"rgb8-explicit", "rgb8-implicit", "rgb8-deflated", "rgb8-rle", "rgb8-jpeg-baseline",
            "gray12-window", "gray8-3frames-rle"})
    void everyTruncationIsAnImageExceptionOrATensor(String name) {
        byte[] whole = withPatientName(resource("/dicom/independent/" + name + ".dcm"));
        assertThat(PRE.preprocess(whole, "application/dicom")).hasSize(3 * 16 * 16);
        List<String> problems = new ArrayList<>();
        for (int len = 0; len < whole.length; len += len < 400 ? 1 : 7) {
            check(Arrays.copyOf(whole, len), "prefix of " + len, problems);
        }
        assertThat(problems).isEmpty();
    }

    /** Seeded random byte changes (one to four bytes each) of real objects: the same promise as truncations. */
    @ParameterizedTest
    @ValueSource(strings = {"rgb8-explicit", "rgb8-implicit", "rgb8-rle", "rgb8-jpeg-baseline",
            "signed16-rescale-window"})
    void randomCorruptionIsAnImageExceptionOrATensor(String name) {
        byte[] whole = withPatientName(resource("/dicom/independent/" + name + ".dcm"));
        assertThat(corruptions(whole, name.hashCode(), List.of(PATIENT_NAME))).isEmpty();
    }

    /**
     * The same for public objects from real systems (pydicom's test files): their own PatientName and PatientID,
     * de-identified but real tag values, must not appear in any message either.
     */
    @ParameterizedTest
    @ValueSource(strings = {"CT_small", "MR_small_padded", "image_dfl", "SC_rgb_rle_16bit_2frame",
            "SC_ybr_full_422_uncompressed"})
    void randomCorruptionOfPublicSamplesIsAnImageExceptionOrATensor(String name) {
        byte[] whole = resource("/dicom/public/" + name + ".dcm");
        DicomDataset tags = DicomParser.parse(whole, ImageLimits.defaults()).dataset();
        List<String> secrets = new ArrayList<>();
        tags.string(0x0010_0010).filter(v -> v.length() >= 4).ifPresent(secrets::add);
        tags.string(0x0010_0020).filter(v -> v.length() >= 4).ifPresent(secrets::add);
        assertThat(secrets).as("patient tags to look for in %s", name).isNotEmpty();
        assertThat(corruptions(whole, name.hashCode(), secrets)).isEmpty();
    }

    private static List<String> corruptions(byte[] whole, long seed, List<String> secrets) {
        Random r = new Random(seed);
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < 1500; i++) {
            byte[] bent = whole.clone();
            int changes = 1 + r.nextInt(4);
            for (int c = 0; c < changes; c++) {
                // mostly the structure (the first 1 KB), sometimes anywhere
                int at = 132 + (r.nextInt(4) == 0 ? r.nextInt(bent.length - 132) : r.nextInt(Math.min(900,
                        bent.length - 132)));
                bent[at] = (byte) r.nextInt(256);
            }
            check(bent, "corruption " + i, problems, secrets);
        }
        return problems;
    }

    private static void check(byte[] bytes, String what, List<String> problems) {
        check(bytes, what, problems, List.of(PATIENT_NAME));
    }

    private static void check(byte[] bytes, String what, List<String> problems, List<String> secrets) {
        try {
            PRE.preprocess(bytes, "application/dicom");
        } catch (ImageException e) {
            if (e.getMessage() == null || secrets.stream().anyMatch(e.getMessage()::contains)) {
                problems.add(what + ": message " + e.getMessage());
            }
        } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
            problems.add(what + ": " + e);
        }
    }

    /** The object with PatientName inserted right after the meta group (explicit and implicit VR alike). */
    private static byte[] withPatientName(byte[] object) {
        DicomObject parsed = DicomParser.parse(object, ImageLimits.defaults());
        int metaEnd = 132;
        while (metaEnd + 8 <= object.length && (object[metaEnd] & 0xFF) == 2 && object[metaEnd + 1] == 0) {
            int len = (object[metaEnd + 6] & 0xFF) | (object[metaEnd + 7] & 0xFF) << 8;
            String vr = new String(object, metaEnd + 4, 2, StandardCharsets.US_ASCII);
            if (vr.equals("OB") || vr.equals("UN")) {
                len = (int) ((object[metaEnd + 8] & 0xFFL) | (object[metaEnd + 9] & 0xFFL) << 8);
                metaEnd += 12 + len;
            } else {
                metaEnd += 8 + len;
            }
        }
        if (parsed.transferSyntax() == TransferSyntax.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN) {
            return object; // the dataset is compressed; its tags are not where a byte insertion could go
        }
        DicomBytes name = new DicomBytes();
        name.tag(DicomTags.PATIENT_NAME);
        if (parsed.transferSyntax() == TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN) {
            name.u32(PATIENT_NAME.length());
        } else {
            name.ascii("PN").u16(PATIENT_NAME.length());
        }
        name.ascii(PATIENT_NAME);
        DicomBytes out = new DicomBytes();
        out.raw(Arrays.copyOf(object, metaEnd)).raw(name.bytes())
                .raw(Arrays.copyOfRange(object, metaEnd, object.length));
        byte[] result = out.bytes();
        // the meta group's length (0002,0000) is unchanged: the insertion is after the meta group
        DicomParser.parse(result, ImageLimits.defaults());
        return result;
    }

    private static DicomBytes part10() {
        return part10("1.2.840.10008.1.2.1");
    }

    private static DicomBytes part10(String transferSyntax) {
        DicomBytes b = new DicomBytes();
        b.raw(new byte[128]).ascii("DICM");
        String uid = transferSyntax.length() % 2 == 0 ? transferSyntax : transferSyntax + "\0";
        b.tag(DicomTags.TRANSFER_SYNTAX_UID).ascii("UI").u16(uid.length()).ascii(uid);
        return b;
    }
}
