package io.medfuse.model.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.medfuse.model.contract.ImageSpec;
import io.medfuse.model.contract.ImageSpec.ResizeMode;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The native decoder (OpenCV imgcodecs) gives the very samples ImageIO gives, on files made by other encoders
 * (Debian's cjpeg and pnmtopng, {@code src/test/resources/decoders}) and on the shared HAM10000 JPEGs when present;
 * what it does not reproduce exactly is left to ImageIO.
 */
class DecoderParityTest {

    private static final List<String> NATIVE = List.of("j420.jpg", "j422.jpg", "j444.jpg", "jprog.jpg",
            "jrestart.jpg", "jgray.jpg", "p_rgb8.png", "p_rgb8_interlaced.png", "p_rgb16.png", "p_gray8.png",
            "p_gray16.png", "p_palette.png", "p_rgba8.png", "p_rgba16.png", "p_grayalpha8.png", "p_rgb8_trns.png",
            "p_gray8_trns.png");

    private static ImagePreprocessor preprocessor(int w, int h, int channels, ResizeMode mode, ImageDecoder d) {
        List<Double> mean = channels == 3 ? List.of(0.485, 0.456, 0.406) : List.of(0.5);
        List<Double> std = channels == 3 ? List.of(0.229, 0.224, 0.225) : List.of(0.25);
        return new ImagePreprocessor(new ImageSpec(w, h, channels, "NCHW", mode, mean, std), ImageLimits.defaults(),
                0, d);
    }

    private static byte[] fixture(String name) {
        try (InputStream in = DecoderParityTest.class.getResourceAsStream("/decoders/" + name)) {
            assertThat(in).as(name).isNotNull();
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String mediaType(String name) {
        return name.endsWith(".png") ? "image/png" : "image/jpeg";
    }

    private static boolean x86Linux() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        return os.contains("linux") && (arch.equals("amd64") || arch.equals("x86_64"));
    }

    @Test
    void theNativeDecoderLoadsOnLinuxX8664WhereItsBinariesShip() {
        assumeTrue(x86Linux(), "the OpenCV binaries medfuse ships are for linux-x86_64 only");
        assertThat(ImageDecoder.OPENCV.isNative()).as(NativeCodecs.describe()).isTrue();
        assertThat(ImageDecoder.OPENCV.describe()).startsWith("OpenCV 4.");
        assertThat(ImageDecoder.OPENCV.contractId()).isEqualTo("opencv");
        assertThat(ImageDecoder.IMAGEIO.contractId()).isEqualTo("imageio");
    }

    @ParameterizedTest
    @ValueSource(strings = {"j420.jpg", "j422.jpg", "j444.jpg", "jprog.jpg", "jrestart.jpg", "jgray.jpg",
        "p_rgb8.png", "p_rgb8_interlaced.png", "p_rgb16.png", "p_gray8.png", "p_gray16.png", "p_palette.png",
        "p_rgba8.png", "p_rgba16.png", "p_grayalpha8.png", "p_rgb8_trns.png", "p_gray8_trns.png"})
    void nativeDecodesTheseFilesItselfAndGivesImageIosTensorBitForBit(String name) {
        assumeTrue(ImageDecoder.OPENCV.isNative(), "native decoder not loaded: " + NativeCodecs.describe());
        byte[] bytes = fixture(name);
        BufferedImage decoded = NativeCodecs.decode(bytes, name.endsWith(".png"), ImageLimits.defaults());
        assertThat(decoded).as("decoded natively, not left to ImageIO").isNotNull();
        assertThat(decoded.getWidth()).isEqualTo(61);
        assertThat(decoded.getHeight()).isEqualTo(47);
        assertSameTensors(name, bytes);
    }

    @ParameterizedTest
    @ValueSource(strings = {"jrgb.jpg", "p_gray2bit.png"})
    void filesItDoesNotReproduceAreLeftToImageIoAndStillDecode(String name) {
        byte[] bytes = fixture(name);
        EncodedStructure structure = name.endsWith(".png") ? EncodedStructure.png(bytes)
                : EncodedStructure.jpeg(bytes);
        assertThat(structure.nativeDecodes()).isFalse();
        assertThat(structure.why()).isNotBlank();
        assertThat(NativeCodecs.decode(bytes, name.endsWith(".png"), ImageLimits.defaults())).isNull();
        assertSameTensors(name, bytes);
    }

    private static void assertSameTensors(String name, byte[] bytes) {
        for (int channels : new int[] {3, 1}) {
            // at the file's size (the one-lookup path), enlarged, shrunk and centre-cropped (the bilinear path)
            int[][] sizes = {{61, 47}, {80, 80}, {24, 16}, {32, 32}};
            for (int[] size : sizes) {
                ResizeMode mode = size[0] == size[1] ? ResizeMode.CENTER_CROP : ResizeMode.STRETCH;
                float[] java = preprocessor(size[0], size[1], channels, mode, ImageDecoder.IMAGEIO)
                        .preprocess(bytes, mediaType(name));
                float[] opencv = preprocessor(size[0], size[1], channels, mode, ImageDecoder.OPENCV)
                        .preprocess(bytes, mediaType(name));
                assertThat(bits(opencv)).as("%s at %dx%d, %d channel(s)", name, size[0], size[1], channels)
                        .isEqualTo(bits(java));
            }
        }
    }

    private static int[] bits(float[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Float.floatToRawIntBits(values[i]);
        }
        return out;
    }

    @Test
    void everyFixtureNamedNativeIsOneTheStructureWalkAccepts() {
        for (String name : NATIVE) {
            byte[] bytes = fixture(name);
            EncodedStructure s = name.endsWith(".png") ? EncodedStructure.png(bytes) : EncodedStructure.jpeg(bytes);
            assertThat(s.nativeDecodes()).as(name + ": " + s.why()).isTrue();
            assertThat(s.width()).isEqualTo(61);
            assertThat(s.height()).isEqualTo(47);
            assertThat(s.grayOrigin()).as(name).isEqualTo(name.contains("gray"));
        }
    }

    @Test
    void aJpegWithAnIccProfileIsLeftToImageIoWhichAppliesIt() {
        byte[] jpeg = fixture("j444.jpg");
        byte[] profile = "ICC_PROFILE\0\1\1not-a-real-profile".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        byte[] withIcc = insertSegment(jpeg, 0xE2, profile);
        assertThat(EncodedStructure.jpeg(withIcc).why()).isEqualTo("an embedded ICC profile");
        assertThat(NativeCodecs.decode(withIcc, false, ImageLimits.defaults())).isNull();
    }

    @Test
    void anAdobeJpegWhoseComponentsAreNotYcbcrIsLeftToImageIo() {
        byte[] adobe = "Adobe\0\144\0\0\0\0\0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        byte[] rgb = insertSegment(fixture("j444.jpg"), 0xEE, adobe);
        assertThat(EncodedStructure.jpeg(rgb).nativeDecodes()).isFalse();
        adobe[11] = 1; // transform 1: YCbCr, as without the segment
        assertThat(EncodedStructure.jpeg(insertSegment(fixture("j444.jpg"), 0xEE, adobe)).nativeDecodes()).isTrue();
    }

    @Test
    void twelveBitAndFourComponentFrameHeadersAreLeftToImageIo() {
        byte[] jpeg = fixture("j444.jpg");
        int sof = indexOfMarker(jpeg, 0xC0);
        byte[] twelve = jpeg.clone();
        twelve[sof + 4] = 12;
        assertThat(EncodedStructure.jpeg(twelve).why()).isEqualTo("12-bit samples");
        byte[] arithmetic = jpeg.clone();
        arithmetic[sof + 1] = (byte) 0xC9;
        assertThat(EncodedStructure.jpeg(arithmetic).nativeDecodes()).isFalse();
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 20, 200, 400, 600})
    void aJpegCutAnywhereIsNeverDecodedNativelyAndIsRefusedAsBefore(int cut) {
        byte[] jpeg = fixture("j420.jpg");
        byte[] truncated = Arrays.copyOf(jpeg, jpeg.length - cut);
        assertThat(EncodedStructure.jpeg(truncated).nativeDecodes()).isFalse();
        assertThat(NativeCodecs.decode(truncated, false, ImageLimits.defaults())).isNull();
        assertSameOutcome(truncated, "image/jpeg", cut > 2);
    }

    /**
     * ImageIO answers a cut file as it did before the native decoder: refused when data is missing (a file short of
     * only its end marker decodes completely, and did before), with the same message.
     */
    private static void assertSameOutcome(byte[] bytes, String mediaType, boolean refused) {
        ImagePreprocessor java = preprocessor(61, 47, 3, ResizeMode.STRETCH, ImageDecoder.IMAGEIO);
        ImagePreprocessor opencv = preprocessor(61, 47, 3, ResizeMode.STRETCH, ImageDecoder.OPENCV);
        if (!refused) {
            assertThat(bits(opencv.preprocess(bytes, mediaType))).isEqualTo(bits(java.preprocess(bytes, mediaType)));
            return;
        }
        Throwable expected = org.assertj.core.api.Assertions.catchThrowable(() -> java.preprocess(bytes, mediaType));
        assertThat(expected).isInstanceOf(ImageDecodeException.class);
        assertThatThrownBy(() -> opencv.preprocess(bytes, mediaType)).isInstanceOf(ImageDecodeException.class)
                .hasMessage(expected.getMessage());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 13, 100, 1000})
    void aPngCutAnywhereIsNeverDecodedNativelyAndIsRefusedAsBefore(int cut) {
        byte[] png = fixture("p_rgb8.png");
        byte[] truncated = Arrays.copyOf(png, png.length - cut);
        assertThat(EncodedStructure.png(truncated).nativeDecodes()).isFalse();
        assertSameOutcome(truncated, "image/png", cut > 13);
    }

    @Test
    void aHeaderOverThePixelLimitIsRefusedBeforeTheNativeDecoderRuns() {
        byte[] jpeg = fixture("j420.jpg").clone();
        int sof = indexOfMarker(jpeg, 0xC0);
        jpeg[sof + 5] = (byte) 0xFF; // height 65 000-odd
        jpeg[sof + 7] = (byte) 0xFF; // width 65 000-odd
        assertThatThrownBy(() -> NativeCodecs.decode(jpeg, false, new ImageLimits(1 << 20, 4_000_000)))
                .isInstanceOf(ImageTooLargeException.class).hasMessageContaining("image.max.pixels");
    }

    @Test
    void corruptEntropyDataWithItsMarkersIntactDecodesAsImageIoDecodesIt() {
        assumeTrue(ImageDecoder.OPENCV.isNative(), "native decoder not loaded: " + NativeCodecs.describe());
        byte[] jpeg = fixture("j420.jpg").clone();
        int sos = indexOfMarker(jpeg, 0xDA);
        int data = sos + 2 + ((jpeg[sos + 2] & 0xFF) << 8 | (jpeg[sos + 3] & 0xFF));
        for (int i = data + 10; i < data + 60; i += 7) {
            if ((jpeg[i] & 0xFF) != 0xFF && (jpeg[i - 1] & 0xFF) != 0xFF && (jpeg[i] & 0xFF) != 0xA5) {
                jpeg[i] = (byte) (jpeg[i] ^ 0x5A);
            }
        }
        assertSameTensors("j420.jpg", jpeg);
    }

    @Test
    void theSharedHam10000JpegsDecodeIdenticallyWhenPresent() throws IOException {
        assumeTrue(ImageDecoder.OPENCV.isNative(), "native decoder not loaded: " + NativeCodecs.describe());
        String root = System.getProperty("medfuse.shared");
        Path images = root == null ? null : Path.of(root, "eval-data", "ham10000_224", "images");
        assumeTrue(images != null && Files.isDirectory(images),
                "../shared/eval-data/ham10000_224 is absent: the HAM10000 parity check is skipped");
        List<Path> files;
        try (Stream<Path> s = Files.list(images)) {
            files = s.filter(p -> p.toString().endsWith(".jpg")).sorted().limit(150).toList();
        }
        assertThat(files).hasSizeGreaterThan(100);
        ImagePreprocessor java = preprocessor(224, 224, 3, ResizeMode.CENTER_CROP, ImageDecoder.IMAGEIO);
        ImagePreprocessor opencv = preprocessor(224, 224, 3, ResizeMode.CENTER_CROP, ImageDecoder.OPENCV);
        int nativelyDecoded = 0;
        for (Path f : files) {
            byte[] bytes = Files.readAllBytes(f);
            if (NativeCodecs.decode(bytes, false, ImageLimits.defaults()) != null) {
                nativelyDecoded++;
            }
            assertThat(bits(opencv.preprocess(bytes, "image/jpeg"))).as(f.getFileName().toString())
                    .isEqualTo(bits(java.preprocess(bytes, "image/jpeg")));
        }
        assertThat(nativelyDecoded).isEqualTo(files.size());
    }

    private static int indexOfMarker(byte[] jpeg, int marker) {
        for (int i = 2; i + 1 < jpeg.length; i++) {
            if ((jpeg[i] & 0xFF) == 0xFF && (jpeg[i + 1] & 0xFF) == marker) {
                return i;
            }
        }
        throw new AssertionError("no marker " + Integer.toHexString(marker));
    }

    /** The JPEG with an APPn segment inserted after SOI (before JFIF's APP0: still a valid file). */
    private static byte[] insertSegment(byte[] jpeg, int marker, byte[] payload) {
        int length = payload.length + 2;
        byte[] out = new byte[jpeg.length + 2 + length];
        out[0] = jpeg[0];
        out[1] = jpeg[1];
        out[2] = (byte) 0xFF;
        out[3] = (byte) marker;
        out[4] = (byte) (length >> 8);
        out[5] = (byte) length;
        System.arraycopy(payload, 0, out, 6, payload.length);
        System.arraycopy(jpeg, 2, out, 6 + payload.length, jpeg.length - 2);
        return out;
    }
}
