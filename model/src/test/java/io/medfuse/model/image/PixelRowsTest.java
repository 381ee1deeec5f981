package io.medfuse.model.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.awt.image.BufferedImage;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The fast raster readers must give the same colours as the colour model's own getRGB. */
class PixelRowsTest {

    private static final int W = 13;
    private static final int H = 5;

    private static BufferedImage randomOpaque(int type) {
        BufferedImage image = new BufferedImage(W, H, type);
        Random random = new Random(type);
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                image.setRGB(x, y, 0xFF000000 | random.nextInt(0x1000000));
            }
        }
        return image;
    }

    @ParameterizedTest
    @ValueSource(ints = {BufferedImage.TYPE_INT_RGB, BufferedImage.TYPE_INT_ARGB, BufferedImage.TYPE_INT_ARGB_PRE,
        BufferedImage.TYPE_INT_BGR, BufferedImage.TYPE_3BYTE_BGR, BufferedImage.TYPE_4BYTE_ABGR,
        BufferedImage.TYPE_4BYTE_ABGR_PRE, BufferedImage.TYPE_USHORT_565_RGB, BufferedImage.TYPE_USHORT_555_RGB,
        BufferedImage.TYPE_BYTE_INDEXED, BufferedImage.TYPE_BYTE_BINARY})
    void colourLayoutsReadAsTheirSrgbValues(int type) {
        BufferedImage image = randomOpaque(type);

        PixelRows rgb = PixelRows.of(image, 3);
        PixelRows luma = PixelRows.of(image, 1);

        float[][] row = new float[3][W];
        float[][] gray = new float[1][W];
        assertThat(rgb.channels).isEqualTo(3);
        for (int y = H - 1; y >= 0; y--) {
            rgb.readRow(y, row);
            luma.readRow(y, gray);
            for (int x = 0; x < W; x++) {
                int p = image.getRGB(x, y);
                float r = ((p >> 16) & 0xFF) / 255f;
                float g = ((p >> 8) & 0xFF) / 255f;
                float b = (p & 0xFF) / 255f;
                assertThat(new float[] {row[0][x], row[1][x], row[2][x]}).as("type %d at %d,%d", type, x, y)
                        .containsExactly(r, g, b);
                assertThat(gray[0][x]).isCloseTo(0.299f * r + 0.587f * g + 0.114f * b, within(1e-6f));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {BufferedImage.TYPE_BYTE_GRAY, BufferedImage.TYPE_USHORT_GRAY})
    void grayLayoutsReadTheStoredValuesWithoutGamma(int type) {
        BufferedImage image = new BufferedImage(W, H, type);
        int max = type == BufferedImage.TYPE_BYTE_GRAY ? 255 : 65535;
        Random random = new Random(11);
        int[][] stored = new int[H][W];
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                stored[y][x] = random.nextInt(max + 1);
                image.getRaster().setSample(x, y, 0, stored[y][x]);
            }
        }

        PixelRows rows = PixelRows.of(image, 3);

        assertThat(rows.channels).as("gray stays one working channel").isEqualTo(1);
        float[][] row = new float[1][W];
        for (int y = 0; y < H; y++) {
            rows.readRow(y, row);
            for (int x = 0; x < W; x++) {
                assertThat(row[0][x]).isEqualTo(stored[y][x] / (float) max);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 3})
    void subImagesReadTheirOwnPixels(int offset) {
        BufferedImage parent = randomOpaque(BufferedImage.TYPE_3BYTE_BGR);
        BufferedImage sub = parent.getSubimage(offset, 1, 4, 3);

        PixelRows rows = PixelRows.of(sub, 3);

        float[][] row = new float[3][4];
        rows.readRow(2, row);
        for (int x = 0; x < 4; x++) {
            int p = parent.getRGB(offset + x, 3);
            assertThat(row[0][x]).isEqualTo(((p >> 16) & 0xFF) / 255f);
            assertThat(row[2][x]).isEqualTo((p & 0xFF) / 255f);
        }
    }
}
