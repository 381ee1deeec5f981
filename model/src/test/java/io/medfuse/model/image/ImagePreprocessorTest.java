package io.medfuse.model.image;

import static io.medfuse.model.image.TestImages.constantRgb;
import static io.medfuse.model.image.TestImages.gray16;
import static io.medfuse.model.image.TestImages.gray8;
import static io.medfuse.model.image.TestImages.jpeg;
import static io.medfuse.model.image.TestImages.png;
import static io.medfuse.model.image.TestImages.rgb;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.medfuse.model.contract.ImageSpec;
import io.medfuse.model.contract.ImageSpec.ResizeMode;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ImagePreprocessorTest {

    private static final float EPS = 1e-6f;

    private static ImagePreprocessor preprocessor(int w, int h, int channels, ResizeMode mode) {
        List<Double> zeros = channels == 3 ? List.of(0.0, 0.0, 0.0) : List.of(0.0);
        List<Double> ones = channels == 3 ? List.of(1.0, 1.0, 1.0) : List.of(1.0);
        return new ImagePreprocessor(new ImageSpec(w, h, channels, "NCHW", mode, zeros, ones), ImageLimits.defaults());
    }

    private static float[] unit(float... values255) {
        float[] out = new float[values255.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = values255[i] / 255f;
        }
        return out;
    }

    // ---- exact values, same size ----

    @Test
    void constantColourPngBecomesExactUnitValuesInChwOrder() {
        byte[] png = png(constantRgb(3, 2, 10, 20, 30));

        float[] tensor = preprocessor(3, 2, 3, ResizeMode.STRETCH).preprocess(png, "image/png");

        float[] expected = new float[18];
        Arrays.fill(expected, 0, 6, 10 / 255f);
        Arrays.fill(expected, 6, 12, 20 / 255f);
        Arrays.fill(expected, 12, 18, 30 / 255f);
        assertThat(tensor).containsExactly(expected);
    }

    @Test
    void layoutIsChannelMajorThenRowThenColumn() {
        byte[] png = png(rgb(new int[][][] {
            {{1, 2, 3}, {4, 5, 6}},
            {{7, 8, 9}, {10, 11, 12}}}));

        float[] tensor = preprocessor(2, 2, 3, ResizeMode.STRETCH).preprocess(png, "image/png");

        assertThat(tensor).containsExactly(unit(1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12));
    }

    @Test
    void horizontalGradientOfTargetSizeIsCopiedExactly() {
        int[][][] pixels = new int[3][5][];
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 5; x++) {
                pixels[y][x] = new int[] {x * 60, 255 - x * 60, 7};
            }
        }

        float[] tensor = preprocessor(5, 3, 3, ResizeMode.STRETCH).preprocess(png(rgb(pixels)), "image/png");

        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 5; x++) {
                assertThat(tensor[y * 5 + x]).isEqualTo(x * 60 / 255f);
                assertThat(tensor[15 + y * 5 + x]).isEqualTo((255 - x * 60) / 255f);
                assertThat(tensor[30 + y * 5 + x]).isEqualTo(7 / 255f);
            }
        }
    }

    @Test
    void grayPng8BitIsReplicatedToThreeChannels() {
        byte[] png = png(gray8(new int[][] {{0, 128}, {200, 255}}));

        float[] tensor = preprocessor(2, 2, 3, ResizeMode.STRETCH).preprocess(png, "image/png");

        float[] plane = unit(0, 128, 200, 255);
        for (int c = 0; c < 3; c++) {
            assertThat(Arrays.copyOfRange(tensor, c * 4, c * 4 + 4)).containsExactly(plane);
        }
    }

    @Test
    void grayPng16BitKeepsFullPrecision() {
        byte[] png = png(gray16(new int[][] {{0, 1}, {32768, 65535}}));

        float[] tensor = preprocessor(2, 2, 1, ResizeMode.STRETCH).preprocess(png, "image/png");

        // 1/65535 would be lost by an 8-bit detour
        assertThat(tensor).containsExactly(0f, 1 / 65535f, 32768 / 65535f, 1f);
    }

    @Test
    void rgbPng16BitIsScaledBy65535() {
        byte[] png = png(TestImages.rgb16(new int[][][] {{{65535, 257, 1000}}}));

        float[] tensor = preprocessor(1, 1, 3, ResizeMode.STRETCH).preprocess(png, "image/png");

        assertThat(tensor).containsExactly(1f, 257 / 65535f, 1000 / 65535f);
    }

    @Test
    void palettePngUsesThePaletteColours() {
        IndexColorModel palette = new IndexColorModel(8, 3,
                new byte[] {(byte) 255, 0, 12}, new byte[] {0, (byte) 128, 34}, new byte[] {0, 0, 56});
        BufferedImage image = new BufferedImage(3, 1, BufferedImage.TYPE_BYTE_INDEXED, palette);
        image.getRaster().setPixels(0, 0, 3, 1, new int[] {2, 0, 1});

        float[] tensor = preprocessor(3, 1, 3, ResizeMode.STRETCH).preprocess(png(image), "image/png");

        assertThat(tensor).containsExactly(unit(12, 255, 0, 34, 0, 128, 56, 0, 0));
    }

    @Test
    void oneBitPngReadsAsBlackAndWhite() {
        BufferedImage image = new BufferedImage(4, 1, BufferedImage.TYPE_BYTE_BINARY);
        image.getRaster().setPixels(0, 0, 4, 1, new int[] {1, 0, 0, 1});

        float[] tensor = preprocessor(4, 1, 1, ResizeMode.STRETCH).preprocess(png(image), "image/png");

        assertThat(tensor).containsExactly(1f, 0f, 0f, 1f);
    }

    @Test
    void alphaIsIgnoredAndColourUsedAsStored() {
        BufferedImage image = new BufferedImage(2, 1, BufferedImage.TYPE_4BYTE_ABGR);
        image.getRaster().setPixel(0, 0, new int[] {200, 100, 50, 0});
        image.getRaster().setPixel(1, 0, new int[] {1, 2, 3, 128});

        float[] tensor = preprocessor(2, 1, 3, ResizeMode.STRETCH).preprocess(png(image), "image/png");

        assertThat(tensor).containsExactly(unit(200, 1, 100, 2, 50, 3));
    }

    @Test
    void grayWithAlphaPngUsesTheGrayValue() {
        byte[] png = png(TestImages.grayAlpha(2, 1, 90, 10));

        float[] tensor = preprocessor(2, 1, 3, ResizeMode.STRETCH).preprocess(png, "image/png");

        assertThat(tensor).containsOnly(90 / 255f);
    }

    @Test
    void jpegColourIsCloseToTheEncodedColour() {
        byte[] jpeg = jpeg(constantRgb(16, 16, 200, 100, 50));

        float[] tensor = preprocessor(16, 16, 3, ResizeMode.STRETCH).preprocess(jpeg, "image/jpeg");

        // lossy, even at quality 1.0: allow a few levels
        for (int i = 0; i < 256; i++) {
            assertThat(tensor[i]).isCloseTo(200 / 255f, within(4 / 255f));
            assertThat(tensor[256 + i]).isCloseTo(100 / 255f, within(4 / 255f));
            assertThat(tensor[512 + i]).isCloseTo(50 / 255f, within(4 / 255f));
        }
    }

    @Test
    void grayJpegIsReplicatedToThreeChannels() {
        int[][] gray = new int[8][8];
        for (int[] row : gray) {
            Arrays.fill(row, 77);
        }
        byte[] jpeg = jpeg(gray8(gray));

        float[] tensor = preprocessor(8, 8, 3, ResizeMode.STRETCH).preprocess(jpeg, "image/jpeg");

        for (int i = 0; i < 64; i++) {
            assertThat(tensor[i]).isCloseTo(77 / 255f, within(2 / 255f));
            assertThat(tensor[64 + i]).isEqualTo(tensor[i]);
            assertThat(tensor[128 + i]).isEqualTo(tensor[i]);
        }
    }

    // ---- resizing ----

    @Test
    void enlarges2x2To4x4Bilinearly() {
        byte[] png = png(gray8(new int[][] {{0, 255}, {255, 0}}));

        float[] tensor = preprocessor(4, 4, 1, ResizeMode.STRETCH).preprocess(png, "image/png");

        // source coordinate of output pixel d is (d + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 -> clamped 0, .25, .75, 1
        // value = tx + ty - 2 tx ty for the corners 0 1 / 1 0
        float[] expected = {
            0f, .25f, .75f, 1f,
            .25f, .375f, .625f, .75f,
            .75f, .625f, .375f, .25f,
            1f, .75f, .25f, 0f};
        assertThat(tensor).containsExactly(expected, within(EPS));
    }

    @Test
    void shrinks4x4To2x2ByAveragingTheTwoNearestPixels() {
        int[][] gray = new int[4][4];
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 4; x++) {
                gray[y][x] = 10 * (4 * y + x);
            }
        }

        float[] tensor = preprocessor(2, 2, 1, ResizeMode.STRETCH).preprocess(png(gray8(gray)), "image/png");

        // output pixel 0 samples coordinate 0.5 (between 0 and 1), pixel 1 samples 2.5 (between 2 and 3)
        assertThat(tensor).containsExactly(unit(25, 45, 105, 125), within(EPS));
    }

    @Test
    void stretchIgnoresAspectRatio() {
        byte[] png = png(gray8(new int[][] {{0, 255}}));

        float[] tensor = preprocessor(4, 2, 1, ResizeMode.STRETCH).preprocess(png, "image/png");

        assertThat(tensor).containsExactly(new float[] {0f, .25f, .75f, 1f, 0f, .25f, .75f, 1f}, within(EPS));
    }

    @Test
    void centerCropAtScaleOneCopiesTheMiddleExactly() {
        byte[] wide = png(gray8(new int[][] {{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}}));
        byte[] tall = png(gray8(new int[][] {{1, 2}, {3, 4}, {5, 6}, {7, 8}, {9, 10}, {11, 12}}));
        ImagePreprocessor crop = preprocessor(2, 2, 1, ResizeMode.CENTER_CROP);

        assertThat(crop.preprocess(wide, "image/png")).containsExactly(unit(3, 4, 9, 10));
        assertThat(crop.preprocess(tall, "image/png")).containsExactly(unit(5, 6, 7, 8));
    }

    @Test
    void centerCropScalesTheShortSideThenCrops() {
        int[][] gray = new int[4][8];
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 8; x++) {
                gray[y][x] = 8 * y + x;
            }
        }

        float[] tensor = preprocessor(2, 2, 1, ResizeMode.CENTER_CROP).preprocess(png(gray8(gray)), "image/png");

        // scale 1/2 -> 4x2, crop offset 1: columns sample 2.5 and 4.5, rows 0.5 and 2.5
        float[] expected = unit(
                (2 + 3 + 10 + 11) / 4f, (4 + 5 + 12 + 13) / 4f,
                (18 + 19 + 26 + 27) / 4f, (20 + 21 + 28 + 29) / 4f);
        assertThat(tensor).containsExactly(expected, within(EPS));
    }

    @Test
    void stretchOfASquareAndCenterCropAgreeWhenAspectRatiosMatch() {
        Random random = new Random(7);
        int[][] gray = new int[9][9];
        for (int[] row : gray) {
            for (int x = 0; x < row.length; x++) {
                row[x] = random.nextInt(256);
            }
        }
        byte[] png = png(gray8(gray));

        assertThat(preprocessor(4, 4, 1, ResizeMode.CENTER_CROP).preprocess(png, "image/png"))
                .containsExactly(preprocessor(4, 4, 1, ResizeMode.STRETCH).preprocess(png, "image/png"));
    }

    // ---- channels and normalisation ----

    @Test
    void oneChannelModelGetsLuminanceOfColourImages() {
        byte[] png = png(constantRgb(2, 2, 200, 100, 50));

        float[] tensor = preprocessor(2, 2, 1, ResizeMode.STRETCH).preprocess(png, "image/png");

        float expected = 0.299f * 200 / 255f + 0.587f * 100 / 255f + 0.114f * 50 / 255f;
        assertThat(tensor).hasSize(4);
        for (float v : tensor) {
            assertThat(v).isCloseTo(expected, within(EPS));
        }
    }

    @Test
    void oneChannelModelUsesGrayValuesDirectly() {
        byte[] png = png(gray8(new int[][] {{3, 250}}));

        assertThat(preprocessor(2, 1, 1, ResizeMode.STRETCH).preprocess(png, "image/png"))
                .containsExactly(unit(3, 250));
    }

    @Test
    void normalisesWithPerChannelMeanAndStd() {
        ImageSpec spec = new ImageSpec(2, 1, 3, "NCHW", ResizeMode.STRETCH,
                List.of(0.485, 0.456, 0.406), List.of(0.229, 0.224, 0.225));
        byte[] png = png(constantRgb(2, 1, 51, 102, 255));

        float[] tensor = new ImagePreprocessor(spec, ImageLimits.defaults()).preprocess(png, "image/png");

        assertThat(tensor).containsExactly(new float[] {
            (0.2f - 0.485f) / 0.229f, (0.2f - 0.485f) / 0.229f,
            (0.4f - 0.456f) / 0.224f, (0.4f - 0.456f) / 0.224f,
            (1f - 0.406f) / 0.225f, (1f - 0.406f) / 0.225f}, within(EPS));
    }

    @Test
    void eightBitImagesAtTheTensorSizeAreBitForBitTheFormulaInEveryLayout() {
        // the direct path (one table lookup per sample) must give exactly the floats of (v / 255 - mean) / std
        ImageSpec spec = new ImageSpec(7, 5, 3, "NCHW", ResizeMode.STRETCH,
                List.of(0.485, 0.456, 0.406), List.of(0.229, 0.224, 0.225));
        java.util.Random random = new java.util.Random(13);
        int[][][] rgb = new int[5][7][3];
        for (int[][] row : rgb) {
            for (int[] px : row) {
                for (int c = 0; c < 3; c++) {
                    px[c] = random.nextInt(256);
                }
            }
        }
        float[] expected = new float[3 * 35];
        float[] mean = {0.485f, 0.456f, 0.406f};
        float[] std = {0.229f, 0.224f, 0.225f};
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 5; y++) {
                for (int x = 0; x < 7; x++) {
                    expected[c * 35 + y * 7 + x] = (rgb[y][x][c] / 255f - mean[c]) / std[c];
                }
            }
        }
        ImagePreprocessor pre = new ImagePreprocessor(spec, ImageLimits.defaults());
        assertThat(pre.preprocess(png(rgb(rgb)), "image/png")).containsExactly(expected);
        // gray to one channel, directly too
        ImageSpec gray = new ImageSpec(2, 1, 1, "NCHW", ResizeMode.STRETCH, List.of(0.5), List.of(0.25));
        assertThat(new ImagePreprocessor(gray, ImageLimits.defaults()).preprocess(png(gray8(new int[][] {{3, 250}})),
                "image/png")).containsExactly((3 / 255f - 0.5f) / 0.25f, (250 / 255f - 0.5f) / 0.25f);
    }

    @Test
    void preprocessIntoWritesOnlyItsSliceAtTheOffset() {
        ImagePreprocessor preprocessor = preprocessor(2, 2, 3, ResizeMode.STRETCH);
        byte[] png = png(rgb(new int[][][] {{{1, 2, 3}, {4, 5, 6}}, {{7, 8, 9}, {10, 11, 12}}}));
        float[] batch = new float[5 + 12 + 3];
        Arrays.fill(batch, -7f);

        preprocessor.preprocessInto(png, "image/png", batch, 5);

        assertThat(Arrays.copyOfRange(batch, 0, 5)).containsOnly(-7f);
        assertThat(Arrays.copyOfRange(batch, 5, 17)).containsExactly(preprocessor.preprocess(png, "image/png"));
        assertThat(Arrays.copyOfRange(batch, 17, 20)).containsOnly(-7f);
    }

    /** Images that take each way from decoded samples to the tensor: resized, copied by table, copied row by row. */
    private static List<Object[]> decodedCases() {
        int[][][] colour = new int[30][40][3];
        int[][] gray = new int[12][12];
        Random random = new Random(21);
        for (int y = 0; y < 30; y++) {
            for (int x = 0; x < 40; x++) {
                for (int c = 0; c < 3; c++) {
                    colour[y][x][c] = random.nextInt(256);
                }
                if (y < 12 && x < 12) {
                    gray[y][x] = random.nextInt(65536);
                }
            }
        }
        ImageSpec imagenet = new ImageSpec(16, 16, 3, "NCHW", ResizeMode.CENTER_CROP,
                List.of(0.485, 0.456, 0.406), List.of(0.229, 0.224, 0.225));
        ImageSpec same = new ImageSpec(40, 30, 3, "NCHW", ResizeMode.STRETCH,
                List.of(0.485, 0.456, 0.406), List.of(0.229, 0.224, 0.225));
        ImageSpec gray12 = new ImageSpec(12, 12, 3, "NCHW", ResizeMode.STRETCH,
                List.of(0.5, 0.5, 0.5), List.of(0.25, 0.25, 0.25));
        ImageSpec luma = new ImageSpec(9, 7, 1, "NCHW", ResizeMode.STRETCH, List.of(0.5), List.of(0.2));
        return List.of(
                new Object[] {"resized JPEG", imagenet, jpeg(rgb(colour)), "image/jpeg"},
                new Object[] {"8-bit PNG at the tensor size", same, png(rgb(colour)), "image/png"},
                new Object[] {"16-bit gray PNG to 3 channels", gray12, png(gray16(gray)), "image/png"},
                new Object[] {"colour to luminance, resized", luma, png(rgb(colour)), "image/png"});
    }

    @Test
    void aDecodedImageWritesIntoABufferExactlyWhatPreprocessWritesAndOnlyThere() {
        for (Object[] c : decodedCases()) {
            ImagePreprocessor pre = new ImagePreprocessor((ImageSpec) c[1], ImageLimits.defaults());
            byte[] bytes = (byte[]) c[2];
            String mediaType = (String) c[3];
            float[] expected = pre.preprocess(bytes, mediaType);
            ImageTensor decoded = pre.decode(bytes, mediaType);
            int size = expected.length;
            java.nio.FloatBuffer direct = java.nio.ByteBuffer.allocateDirect((size + 10) * Float.BYTES)
                    .order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
            for (int i = 0; i < direct.capacity(); i++) {
                direct.put(i, -7f);
            }
            direct.position(3);

            decoded.writeTo(direct, 4);
            decoded.writeTo(direct, 4); // again, as a batch that is split and run again

            assertThat(decoded.tensorSize()).as(c[0].toString()).isEqualTo(size);
            assertThat(direct.position()).as("%s: position", c[0]).isEqualTo(3);
            float[] written = new float[size];
            direct.get(4, written);
            assertThat(written).as(c[0].toString()).containsExactly(expected);
            for (int i : new int[] {0, 1, 2, 3, size + 4, size + 9}) {
                assertThat(direct.get(i)).as("%s: float %d outside the tensor", c[0], i).isEqualTo(-7f);
            }
            float[] array = new float[size + 2];
            decoded.writeTo(array, 1);
            assertThat(Arrays.copyOfRange(array, 1, size + 1)).as(c[0].toString()).containsExactly(expected);
            assertThatThrownBy(() -> decoded.writeTo(direct, 11)).isInstanceOf(IndexOutOfBoundsException.class);
        }
    }

    @Test
    void decodingFailsForABadImageBeforeAnyTensorIsWritten() {
        byte[] png = png(constantRgb(64, 64, 1, 2, 3));
        ImagePreprocessor pre = preprocessor(8, 8, 3, ResizeMode.STRETCH);

        assertThatThrownBy(() -> pre.decode(Arrays.copyOf(png, png.length / 2), "image/png"))
                .isInstanceOf(ImageDecodeException.class).hasMessageContaining("truncated");
        assertThatThrownBy(() -> pre.decode(png, "image/gif")).isInstanceOf(UnsupportedMediaTypeException.class);
    }

    @Test
    void aReleasedImageIsNeverWrittenAgainWhileItsSamplesServeTheNextImages() {
        ImagePreprocessor pre = preprocessor(32, 32, 3, ResizeMode.STRETCH);
        List<byte[]> jpegs = IntStream.range(0, 6).mapToObj(i -> {
            Random random = new Random(40 + i);
            BufferedImage noise = new BufferedImage(32, 32, BufferedImage.TYPE_3BYTE_BGR);
            for (int y = 0; y < 32; y++) {
                for (int x = 0; x < 32; x++) {
                    noise.setRGB(x, y, random.nextInt());
                }
            }
            return jpeg(noise);
        }).toList();
        List<float[]> expected = jpegs.stream().map(b -> pre.preprocess(b, "image/jpeg")).toList();
        ImageTensor first = pre.decode(jpegs.get(0), "image/jpeg");
        first.release();
        first.release(); // a second release does nothing

        for (int i = 1; i < jpegs.size(); i++) {
            // decoded while the earlier ones are given back, as the worker's requests are
            ImageTensor next = pre.decode(jpegs.get(i), "image/jpeg");
            float[] out = new float[expected.get(i).length];
            next.writeTo(out, 0);
            next.release();
            assertThat(out).as("image %d", i).containsExactly(expected.get(i));
        }
        assertThatThrownBy(() -> first.writeTo(new float[pre.spec().tensorSize()], 0))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("released");
    }

    @Test
    void oneDecodedImageWrittenFromManyThreadsAtOnceGivesTheSameTensor() {
        // a palette PNG read by ImageIO: its rows are read through scratch of the decoded image's own, which
        // concurrent writes must not share
        byte[] colours = new byte[16];
        new Random(5).nextBytes(colours);
        IndexColorModel model = new IndexColorModel(8, 16, colours, Arrays.copyOf(colours, 16), colours.clone());
        BufferedImage image = new BufferedImage(24, 18, BufferedImage.TYPE_BYTE_INDEXED, model);
        Random random = new Random(6);
        for (int y = 0; y < 18; y++) {
            for (int x = 0; x < 24; x++) {
                image.getRaster().setSample(x, y, 0, random.nextInt(16));
            }
        }
        byte[] palette = png(image);
        ImagePreprocessor pre = new ImagePreprocessor(new ImageSpec(10, 10, 3, "NCHW", ResizeMode.CENTER_CROP,
                List.of(0.0, 0.0, 0.0), List.of(1.0, 1.0, 1.0)), ImageLimits.defaults(), 0, ImageDecoder.IMAGEIO);
        float[] expected = pre.preprocess(palette, "image/png");
        ImageTensor shared = pre.decode(palette, "image/png");

        IntStream.range(0, 400).parallel().forEach(i -> {
            float[] out = new float[expected.length];
            shared.writeTo(out, 0);
            assertThat(out).containsExactly(expected);
        });
    }

    @Test
    void preprocessIntoRejectsASliceThatDoesNotFit() {
        ImagePreprocessor preprocessor = preprocessor(2, 2, 3, ResizeMode.STRETCH);
        byte[] png = png(constantRgb(2, 2, 1, 2, 3));

        assertThatThrownBy(() -> preprocessor.preprocessInto(png, "image/png", new float[12], 1))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"image/png", "IMAGE/PNG", " image/png ; charset=binary", "Image/Png;foo=bar"})
    void acceptsPngMediaTypeVariants(String mediaType) {
        byte[] png = png(constantRgb(1, 1, 9, 9, 9));

        assertThat(preprocessor(1, 1, 1, ResizeMode.STRETCH).preprocess(png, mediaType))
                .containsExactly(9 / 255f);
    }

    @ParameterizedTest
    @ValueSource(strings = {"image/jpeg", "image/jpg", "IMAGE/JPEG", "image/jpeg; q=1"})
    void acceptsJpegMediaTypeVariants(String mediaType) {
        byte[] jpeg = jpeg(constantRgb(8, 8, 128, 128, 128));

        assertThat(preprocessor(8, 8, 1, ResizeMode.STRETCH).preprocess(jpeg, mediaType)[0])
                .isCloseTo(128 / 255f, within(2 / 255f));
    }

    @Test
    void isSafeToShareBetweenThreads() {
        ImagePreprocessor preprocessor = preprocessor(16, 16, 3, ResizeMode.CENTER_CROP);
        List<byte[]> images = IntStream.range(0, 8)
                .mapToObj(i -> png(constantRgb(20 + i, 30, i * 30, 255 - i * 30, 100)))
                .toList();
        List<float[]> sequential = images.stream().map(b -> preprocessor.preprocess(b, "image/png")).toList();

        IntStream.range(0, 400).parallel().forEach(i -> assertThat(
                preprocessor.preprocess(images.get(i % 8), "image/png")).containsExactly(sequential.get(i % 8)));
    }

    // ---- errors ----

    @Test
    void rejectsEmptyBytes() {
        assertThatThrownBy(() -> preprocessor(2, 2, 3, ResizeMode.STRETCH).preprocess(new byte[0], "image/png"))
                .isInstanceOf(ImageDecodeException.class)
                .hasMessageContaining("empty");
    }

    @Test
    void rejectsTruncatedPng() {
        byte[] png = png(constantRgb(64, 64, 1, 2, 3));
        byte[] truncated = Arrays.copyOf(png, png.length / 2);

        assertThatThrownBy(() -> preprocessor(8, 8, 3, ResizeMode.STRETCH).preprocess(truncated, "image/png"))
                .isInstanceOf(ImageDecodeException.class)
                .hasMessageContaining("PNG")
                .hasMessageContaining("truncated");
    }

    @Test
    void rejectsPngCutInsideTheHeader() {
        byte[] png = png(constantRgb(4, 4, 1, 2, 3));
        byte[] truncated = Arrays.copyOf(png, 12);

        assertThatThrownBy(() -> preprocessor(4, 4, 3, ResizeMode.STRETCH).preprocess(truncated, "image/png"))
                .isInstanceOf(ImageDecodeException.class)
                .hasMessageContaining("PNG header");
    }

    @Test
    void rejectsTruncatedJpeg() {
        Random random = new Random(1);
        BufferedImage noise = new BufferedImage(64, 64, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                noise.setRGB(x, y, random.nextInt());
            }
        }
        byte[] jpeg = jpeg(noise);
        byte[] truncated = Arrays.copyOf(jpeg, jpeg.length * 2 / 3);

        assertThatThrownBy(() -> preprocessor(8, 8, 3, ResizeMode.STRETCH).preprocess(truncated, "image/jpeg"))
                .isInstanceOf(ImageDecodeException.class)
                .hasMessageContaining("JPEG")
                .hasMessageContaining("truncated");
    }

    @Test
    void rejectsRandomBytesAsNeitherPngNorJpeg() {
        byte[] random = new byte[256];
        new Random(3).nextBytes(random);
        random[0] = 0x12;

        assertThatThrownBy(() -> preprocessor(2, 2, 3, ResizeMode.STRETCH).preprocess(random, "image/png"))
                .isInstanceOf(ImageDecodeException.class)
                .hasMessageContaining("neither PNG, JPEG nor DICOM")
                .hasMessageContaining("12 ");
    }

    @Test
    void rejectsCorruptBytesBehindAValidMagicNumber() {
        byte[] bytes = new byte[256];
        new Random(4).nextBytes(bytes);
        System.arraycopy(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, 0, bytes, 0, 4);

        assertThatThrownBy(() -> preprocessor(2, 2, 3, ResizeMode.STRETCH).preprocess(bytes, "image/png"))
                .isInstanceOf(ImageDecodeException.class);
    }

    @Test
    void rejectsJpegBytesDeclaredAsPng() {
        byte[] jpeg = jpeg(constantRgb(8, 8, 1, 2, 3));

        assertThatThrownBy(() -> preprocessor(8, 8, 3, ResizeMode.STRETCH).preprocess(jpeg, "image/png"))
                .isInstanceOf(ImageDecodeException.class)
                .hasMessageContaining("media type says image/png but the bytes are a JPEG file");
    }

    @Test
    void rejectsPngBytesDeclaredAsJpeg() {
        byte[] png = png(constantRgb(8, 8, 1, 2, 3));

        assertThatThrownBy(() -> preprocessor(8, 8, 3, ResizeMode.STRETCH).preprocess(png, "image/jpg"))
                .isInstanceOf(ImageDecodeException.class)
                .hasMessageContaining("media type says image/jpeg but the bytes are a PNG file");
    }

    @ParameterizedTest
    @ValueSource(strings = {"image/gif", "text/plain", "application/dicomx", "image/pngx"})
    void rejectsUnsupportedMediaTypes(String mediaType) {
        byte[] png = png(constantRgb(2, 2, 1, 2, 3));

        assertThatThrownBy(() -> preprocessor(2, 2, 3, ResizeMode.STRETCH).preprocess(png, mediaType))
                .isInstanceOf(UnsupportedMediaTypeException.class)
                .hasMessageContaining("'" + mediaType + "' is not supported")
                .hasMessageContaining("image/png, image/jpeg or application/dicom");
    }

    @Test
    void rejectsPngBytesDeclaredAsDicom() {
        byte[] png = png(constantRgb(8, 8, 1, 2, 3));

        assertThatThrownBy(() -> preprocessor(8, 8, 3, ResizeMode.STRETCH).preprocess(png, "application/dicom"))
                .isInstanceOf(ImageDecodeException.class)
                .hasMessageContaining("media type says application/dicom but the bytes are a PNG file");
    }

    @Test
    void rejectsMissingMediaType() {
        byte[] png = png(constantRgb(2, 2, 1, 2, 3));

        assertThatThrownBy(() -> preprocessor(2, 2, 3, ResizeMode.STRETCH).preprocess(png, null))
                .isInstanceOf(UnsupportedMediaTypeException.class)
                .hasMessageContaining("no media type");
    }

    @Test
    void rejectsImagesOverMaxBytesBeforeLookingAtThem() {
        ImageSpec spec = new ImageSpec(2, 2, 1, "NCHW", ResizeMode.STRETCH, List.of(0.0), List.of(1.0));
        ImagePreprocessor small = new ImagePreprocessor(spec, new ImageLimits(100, 1_000_000));
        byte[] notEvenAnImage = new byte[101];

        assertThatThrownBy(() -> small.preprocess(notEvenAnImage, "image/png"))
                .isInstanceOf(ImageTooLargeException.class)
                .hasMessageContaining("101 bytes, over the limit of 100 (image.max.bytes)");
    }

    @Test
    void rejectsImagesOverMaxPixelsFromTheHeader() {
        ImageSpec spec = new ImageSpec(2, 2, 1, "NCHW", ResizeMode.STRETCH, List.of(0.0), List.of(1.0));
        ImagePreprocessor limited = new ImagePreprocessor(spec, new ImageLimits(1_000_000, 99));
        byte[] png = png(constantRgb(10, 10, 1, 2, 3));

        assertThatThrownBy(() -> limited.preprocess(png, "image/png"))
                .isInstanceOf(ImageTooLargeException.class)
                .hasMessageContaining("10x10 = 100 pixels, over the limit of 99 (image.max.pixels)");
    }

    @Test
    void refusesPngHeaderBombWithoutAllocatingItsPixels() {
        byte[] bomb = TestImages.pngHeaderBomb(100_000, 100_000);
        ImagePreprocessor preprocessor = preprocessor(224, 224, 3, ResizeMode.STRETCH);

        assertThat(bomb.length).isLessThan(100);
        assertThatThrownBy(() -> org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(5),
                () -> preprocessor.preprocess(bomb, "image/png")))
                .isInstanceOf(ImageTooLargeException.class)
                .hasMessage("the image header says 100000x100000 = 10000000000 pixels, over the limit of 40000000"
                        + " (image.max.pixels); send a smaller image or raise image.max.pixels");
    }

    @Test
    void refusesJpegHeaderBombWithoutAllocatingItsPixels() {
        byte[] bomb = TestImages.jpegHeaderBomb(65_000, 65_000);
        ImagePreprocessor preprocessor = preprocessor(224, 224, 3, ResizeMode.STRETCH);

        assertThatThrownBy(() -> org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(5),
                () -> preprocessor.preprocess(bomb, "image/jpeg")))
                .isInstanceOf(ImageTooLargeException.class)
                .hasMessageContaining("65000x65000 = 4225000000 pixels, over the limit of 40000000");
    }

    @Test
    void rejectsAnUnusableSpec() {
        ImageSpec twoChannels = new ImageSpec(2, 2, 2, "NCHW", ResizeMode.STRETCH, List.of(0.0, 0.0),
                List.of(1.0, 1.0));
        ImageSpec zeroStd = new ImageSpec(2, 2, 1, "NCHW", ResizeMode.STRETCH, List.of(0.0), List.of(0.0));

        assertThatThrownBy(() -> new ImagePreprocessor(twoChannels, ImageLimits.defaults()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("channels");
        assertThatThrownBy(() -> new ImagePreprocessor(zeroStd, ImageLimits.defaults()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("std");
    }

    @Test
    void defaultLimitsAre20MibAnd40Megapixels() {
        assertThat(ImageLimits.defaults()).isEqualTo(new ImageLimits(20L * 1024 * 1024, 40_000_000L));
        assertThatThrownBy(() -> new ImageLimits(0, 1)).isInstanceOf(IllegalArgumentException.class);
    }
}
