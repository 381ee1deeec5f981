package io.medfuse.model.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Scanner;
import java.util.zip.GZIPInputStream;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import io.medfuse.model.contract.ImageSpec;

/**
 * DICOM objects made by other implementations (gdcm's gdcmimg and dcmtk's dcmconv, dcmcrle, dcmcjpeg, dcmdjpeg,
 * dcmodify; tools/dicom-corpus/make-corpus.sh), decoded by medfuse and compared with dcmtk's own rendering of the
 * same object (dcmj2pnm, 16-bit PNM, with the object's first window where it has one).
 */
class DicomIndependentFilesTest {

    private static final String DIR = "/dicom/independent/";
    private static final String PUBLIC = "/dicom/public/";

    /** Largest difference, in [0,1] units, from dcmtk's rendering (lossless objects differ by rounding only). */
    private static final double LOSSLESS = 1.0 / 255 / 2;
    /** dcmtk converts YBR_FULL to RGB with integer arithmetic; medfuse with PS3.3's equations in floating point. */
    private static final double YBR_MAX = 2.0 / 255;
    /** JPEG decoders may differ in IDCT and chroma upsampling. */
    private static final double LOSSY_MAX = 6.0 / 255;
    private static final double LOSSY_MEAN = 1.0 / 255;

    /**
     * @param kind LOSSLESS: only rounding may differ; YBR: dcmtk converts YBR_FULL to RGB in integers; JPEG: two
     *             JPEG decoders
     * @param shiftedBits 0 when dcmtk scales to 0..65535; else the bits stored, which dcmtk shifts into 16 bits
     *                    (v &lt;&lt; (16 - bits)) when it applies no window, so its 0..65535 stands for
     *                    0..(2^bits - 1) / 2^bits
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "rgb8-explicit, 0, LOSSLESS, 0",
            "rgb8-implicit, 0, LOSSLESS, 0",
            "rgb8-deflated, 0, LOSSLESS, 0",
            "rgb8-planar1, 0, LOSSLESS, 0",
            "rgb8-rle, 0, LOSSLESS, 0",
            "rgb8-jpeg-baseline, 0, JPEG, 0",
            "ybr-full-native, 0, YBR, 0",
            "ybr-full-422-native, 0, YBR, 0",
            "gray8-explicit, 0, LOSSLESS, 8",
            "gray8-implicit, 0, LOSSLESS, 8",
            "gray8-jpeg-baseline, 0, JPEG, 8",
            "gray8-jpeg-extended, 0, JPEG, 8",
            "gray12-explicit, 0, LOSSLESS, 12",
            "gray12-rle, 0, LOSSLESS, 12",
            "gray12-window, 0, LOSSLESS, 0",
            "gray12-monochrome1, 0, LOSSLESS, 12",
            "signed16-rescale-window, 0, LOSSLESS, 0",
            "gray8-3frames, 1, LOSSLESS, 8",
            "gray8-3frames-rle, 1, LOSSLESS, 8",
    })
    void decodesAsDcmtkRendersIt(String name, int frame, String kind, int shiftedBits) {
        compareWithDcmtk(DIR + name, ".pnm", frame, kind, shiftedBits);
    }

    /**
     * Public sample objects: pydicom's test files as Debian's python3-pydicom ships them (Expat licence), copied by
     * tools/dicom-corpus/copy-public.sh with dcmtk's rendering of each. They come from real systems and other
     * toolkits (NEMA WG04 CT and MR downsized, David Clunie's deflated sample, gdcm's and dcmtk's colour objects),
     * so they hold encodings the objects made here do not: signed CT with a rescale intercept and no window, pixel
     * data padded past its length, 16-bit RGB in RLE, a 3 × 3 image with odd lengths.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "CT_small, 0, LOSSLESS, 0",
            "MR_small, 0, LOSSLESS, 0",
            "MR_small_padded, 0, LOSSLESS, 0",
            "image_dfl, 0, LOSSLESS, 8",
            "SC_rgb_small_odd, 0, LOSSLESS, 0",
            "SC_rgb_rle, 0, LOSSLESS, 0",
            "SC_rgb_rle_16bit_2frame, 0, LOSSLESS, 0",
            "SC_ybr_full_422_uncompressed, 0, YBR, 0",
            "SC_rgb_jpeg_dcmtk, 0, JPEG, 0",
    })
    void decodesPublicSamplesAsDcmtkRendersThem(String name, int frame, String kind, int shiftedBits) {
        compareWithDcmtk(PUBLIC + name, ".pnm.gz", frame, kind, shiftedBits);
    }

    private static void compareWithDcmtk(String base, String pnmSuffix, int frame, String kind, int shiftedBits) {
        String name = base.substring(base.lastIndexOf('/') + 1);
        Pnm reference = Pnm.read(resource(base + pnmSuffix));
        byte[] dicom = resource(base + ".dcm");
        List<Double> zeros = reference.channels == 1 ? List.of(0.0) : List.of(0.0, 0.0, 0.0);
        List<Double> ones = reference.channels == 1 ? List.of(1.0) : List.of(1.0, 1.0, 1.0);
        ImagePreprocessor p = new ImagePreprocessor(new ImageSpec(reference.width, reference.height,
                reference.channels, "NCHW", ImageSpec.ResizeMode.STRETCH, zeros, ones), ImageLimits.defaults(),
                frame);
        float[] tensor = p.preprocess(dicom, "application/dicom");
        double scale = shiftedBits == 0 ? 1.0 / reference.maxValue
                : (1 << shiftedBits) / ((reference.maxValue + 1.0) * ((1 << shiftedBits) - 1));
        int plane = reference.width * reference.height;
        double max = 0;
        double sum = 0;
        for (int c = 0; c < reference.channels; c++) {
            for (int i = 0; i < plane; i++) {
                double expected = reference.samples[i * reference.channels + c] * scale;
                double diff = Math.abs(tensor[c * plane + i] - expected);
                max = Math.max(max, diff);
                sum += diff;
            }
        }
        double mean = sum / (plane * reference.channels);
        System.out.printf("%s: max %.5f mean %.6f (in 8-bit levels: %.2f / %.3f)%n", name, max, mean, max * 255,
                mean * 255);
        switch (kind) {
            case "LOSSLESS" -> assertThat(max).as("largest difference from dcmtk's rendering")
                    .isLessThanOrEqualTo(LOSSLESS);
            case "YBR" -> assertThat(max).as("largest difference from dcmtk's rendering")
                    .isLessThanOrEqualTo(YBR_MAX);
            default -> {
                assertThat(max).as("largest difference from dcmtk's rendering").isLessThanOrEqualTo(LOSSY_MAX);
                assertThat(mean).as("mean difference from dcmtk's rendering").isLessThanOrEqualTo(LOSSY_MEAN);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "unsupported-big-endian, Explicit VR Big Endian, 1.2.840.10008.1.2.2",
            "unsupported-jpeg-lossless, JPEG Lossless, 1.2.840.10008.1.2.4.57",
            "unsupported-jpeg2000, JPEG 2000, 1.2.840.10008.1.2.4.90",
            "unsupported-jpegls, JPEG-LS Lossless, 1.2.840.10008.1.2.4.80",
    })
    void refusesOtherSyntaxesByNameAndUid(String name, String label, String uid) {
        assertThat(refusal(DIR + name)).isInstanceOf(UnsupportedTransferSyntaxException.class)
                .hasMessageContaining(label).hasMessageContaining("(" + uid + ")");
    }

    /** What decoding the object into a small gray tensor throws (fails the test when it decodes). */
    private static Throwable refusal(String base) {
        byte[] dicom = resource(base + ".dcm");
        ImagePreprocessor p = new ImagePreprocessor(new ImageSpec(8, 8, 1, "NCHW", ImageSpec.ResizeMode.STRETCH,
                List.of(0.0), List.of(1.0)), ImageLimits.defaults());
        Throwable t = catchThrowable(() -> p.preprocess(dicom, "application/dicom"));
        assertThat(t).as("%s is refused", base).isNotNull();
        return t;
    }

    /**
     * Public samples medfuse does not decode: each is refused with the exception the worker turns into its dead
     * letter, and a message that says what was found.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "ExplVR_BigEnd | UnsupportedTransferSyntaxException | (1.2.840.10008.1.2.2)",
            "JPEG2000 | UnsupportedTransferSyntaxException | (1.2.840.10008.1.2.4.91)",
            "MR_small_jpeg_ls_lossless | UnsupportedTransferSyntaxException | (1.2.840.10008.1.2.4.80)",
            "JPGExtended | UnsupportedTransferSyntaxException | 12-bit samples",
            "liver_1frame | ImageDecodeException | 1 bits allocated",
            "rtdose_rle_1frame | ImageDecodeException | 32 bits allocated",
            "rtplan | ImageDecodeException | no Rows (0028,0010)",
    })
    void refusesPublicSamplesItCannotDecode(String name, String exception, String fragment) {
        Throwable t = refusal(PUBLIC + name);
        assertThat(t.getClass().getSimpleName()).isEqualTo(exception);
        assertThat(t).hasMessageContaining(fragment);
    }

    static byte[] resource(String path) {
        try (InputStream in = DicomIndependentFilesTest.class.getResourceAsStream(path)) {
            assertThat(in).as(path).isNotNull();
            if (path.endsWith(".gz")) {
                try (InputStream unzipped = new GZIPInputStream(in)) {
                    return unzipped.readAllBytes();
                }
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An ASCII PGM (P2) or PPM (P3), as dcmj2pnm +opw writes it. */
    record Pnm(int width, int height, int channels, int maxValue, int[] samples) {
        static Pnm read(byte[] bytes) {
            Scanner s = new Scanner(new String(bytes, StandardCharsets.US_ASCII));
            String magic = s.next();
            int channels = switch (magic) {
                case "P2" -> 1;
                case "P3" -> 3;
                default -> throw new IllegalArgumentException("not an ASCII PNM: " + magic);
            };
            int w = s.nextInt();
            int h = s.nextInt();
            int max = s.nextInt();
            int[] samples = new int[w * h * channels];
            for (int i = 0; i < samples.length; i++) {
                samples[i] = s.nextInt();
            }
            return new Pnm(w, h, channels, max, samples);
        }
    }
}
