package io.medfuse.trainer.net;

import java.util.Random;

/**
 * Training-time augmentation for networks trained from scratch, applied to images already preprocessed by the
 * serving preprocessing (CHW floats), so augmentation can never change how a served image is read: random
 * horizontal and vertical flips and a random shift of up to {@code maxShift} pixels each way with edge replication
 * (a lesion's position and orientation carry no meaning in dermatoscopy).
 */
public final class Augmenter {

    private final int channels;
    private final int height;
    private final int width;
    private final int maxShift;

    public Augmenter(int channels, int height, int width, int maxShift) {
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.maxShift = maxShift;
    }

    /** Writes an augmented copy of {@code src[srcOffset..]} into {@code dst[dstOffset..]}. */
    public void apply(float[] src, int srcOffset, float[] dst, int dstOffset, Random rng) {
        boolean flipX = rng.nextBoolean();
        boolean flipY = rng.nextBoolean();
        int dx = maxShift == 0 ? 0 : rng.nextInt(2 * maxShift + 1) - maxShift;
        int dy = maxShift == 0 ? 0 : rng.nextInt(2 * maxShift + 1) - maxShift;
        int plane = height * width;
        for (int c = 0; c < channels; c++) {
            int s = srcOffset + c * plane;
            int d = dstOffset + c * plane;
            for (int y = 0; y < height; y++) {
                int sy = clamp((flipY ? height - 1 - y : y) - dy, height);
                for (int x = 0; x < width; x++) {
                    int sx = clamp((flipX ? width - 1 - x : x) - dx, width);
                    dst[d + y * width + x] = src[s + sy * width + sx];
                }
            }
        }
    }

    private static int clamp(int v, int size) {
        return v < 0 ? 0 : (v >= size ? size - 1 : v);
    }
}
