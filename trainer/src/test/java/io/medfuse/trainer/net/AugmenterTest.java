package io.medfuse.trainer.net;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

class AugmenterTest {

    private static float[] gradient(int c, int h, int w) {
        float[] img = new float[c * h * w];
        for (int i = 0; i < img.length; i++) {
            img[i] = (i % w) / (float) w + (i / (h * w));
        }
        return img;
    }

    @Test
    void flipsAndShiftsOnlyPermuteSourceValues() {
        float[] src = gradient(3, 8, 8);
        float[] dst = new float[src.length];
        new Augmenter(3, 8, 8, 2).apply(src, 0, dst, 0, new Random(1));
        for (float v : dst) {
            boolean found = false;
            for (float s : src) {
                found |= s == v;
            }
            assertThat(found).isTrue();
        }
    }

    @Test
    void rotationKeepsAConstantImageConstantAndStaysWithinTheSourceRange() {
        float[] constant = new float[3 * 16 * 16];
        Arrays.fill(constant, 0.7f);
        float[] dst = new float[constant.length];
        Augmenter rotateOnly = new Augmenter(3, 16, 16, 0, 10, 0);
        rotateOnly.apply(constant, 0, dst, 0, new Random(3));
        for (float v : dst) {
            assertThat(v).isCloseTo(0.7f, org.assertj.core.data.Offset.offset(1e-6f));
        }
        float[] src = gradient(3, 16, 16);
        rotateOnly.apply(src, 0, dst, 0, new Random(4));
        float min = Float.MAX_VALUE;
        float max = -Float.MAX_VALUE;
        for (float v : src) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        for (float v : dst) {
            assertThat(v).isBetween(min - 1e-5f, max + 1e-5f);
        }
        assertThat(dst).isNotEqualTo(src);
    }

    @Test
    void colourJitterScalesAndShiftsEachChannelWithinItsBounds() {
        float[] ones = new float[3 * 4 * 4];
        Arrays.fill(ones, 1f);
        float[] dst = new float[ones.length];
        new Augmenter(3, 4, 4, 0, 0, 0.1f).apply(ones, 0, dst, 0, new Random(5));
        for (int c = 0; c < 3; c++) {
            float v = dst[c * 16];
            for (int i = 0; i < 16; i++) {
                assertThat(dst[c * 16 + i]).as("one factor per channel").isEqualTo(v);
            }
            // 1 * [0.9, 1.1] + [-0.1, 0.1]
            assertThat(v).isBetween(0.8f, 1.2f);
        }
    }
}
