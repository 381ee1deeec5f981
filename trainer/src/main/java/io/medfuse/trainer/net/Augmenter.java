package io.medfuse.trainer.net;

import java.util.Random;

/**
 * Training-time augmentation for networks trained from scratch, applied to images already preprocessed by the
 * serving preprocessing (CHW floats), so augmentation can never change how a served image is read: random
 * horizontal and vertical flips, a random shift of up to {@code maxShift} pixels each way and a random rotation of
 * up to {@code maxRotationDegrees} about the centre (bilinear, edges replicated: a lesion's position and orientation
 * carry no meaning in dermatoscopy), then colour jitter: each channel is scaled by a factor in
 * [1 − jitter, 1 + jitter] and shifted by up to ±jitter, in normalised units (contrast and brightness per colour).
 * With rotation and jitter at 0 the result is an exact permutation of the source pixels.
 */
public final class Augmenter {

    private final int channels;
    private final int height;
    private final int width;
    private final int maxShift;
    private final double maxRotationRadians;
    private final float jitter;

    /** Flips and shifts only. */
    public Augmenter(int channels, int height, int width, int maxShift) {
        this(channels, height, width, maxShift, 0, 0);
    }

    /**
     * @param maxRotationDegrees largest rotation either way, degrees, ≥ 0
     * @param jitter colour jitter strength (see class doc), ≥ 0
     */
    public Augmenter(int channels, int height, int width, int maxShift, double maxRotationDegrees, float jitter) {
        if (maxShift < 0 || maxRotationDegrees < 0 || jitter < 0) {
            throw new IllegalArgumentException("augmentation strengths must be >= 0");
        }
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.maxShift = maxShift;
        this.maxRotationRadians = Math.toRadians(maxRotationDegrees);
        this.jitter = jitter;
    }

    /** Writes an augmented copy of {@code src[srcOffset..]} into {@code dst[dstOffset..]}. */
    public void apply(float[] src, int srcOffset, float[] dst, int dstOffset, Random rng) {
        boolean flipX = rng.nextBoolean();
        boolean flipY = rng.nextBoolean();
        int dx = maxShift == 0 ? 0 : rng.nextInt(2 * maxShift + 1) - maxShift;
        int dy = maxShift == 0 ? 0 : rng.nextInt(2 * maxShift + 1) - maxShift;
        double angle = maxRotationRadians == 0 ? 0 : (rng.nextDouble() * 2 - 1) * maxRotationRadians;
        int plane = height * width;
        if (angle == 0) {
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
        } else {
            rotate(src, srcOffset, dst, dstOffset, flipX, flipY, dx, dy, angle);
        }
        if (jitter > 0) {
            for (int c = 0; c < channels; c++) {
                float scale = 1 + (rng.nextFloat() * 2 - 1) * jitter;
                float shift = (rng.nextFloat() * 2 - 1) * jitter;
                int d = dstOffset + c * plane;
                for (int i = 0; i < plane; i++) {
                    dst[d + i] = dst[d + i] * scale + shift;
                }
            }
        }
    }

    /** Inverse mapping: each output pixel is rotated back about the centre, unshifted, unflipped and sampled. */
    private void rotate(float[] src, int srcOffset, float[] dst, int dstOffset, boolean flipX, boolean flipY,
                        int dx, int dy, double angle) {
        int plane = height * width;
        double cos = Math.cos(angle);
        double sin = Math.sin(angle);
        double cx = (width - 1) / 2.0;
        double cy = (height - 1) / 2.0;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                double rx = x - cx;
                double ry = y - cy;
                double ux = cos * rx + sin * ry + cx - dx;
                double uy = -sin * rx + cos * ry + cy - dy;
                if (flipX) {
                    ux = width - 1 - ux;
                }
                if (flipY) {
                    uy = height - 1 - uy;
                }
                double fx = Math.max(0, Math.min(width - 1, ux));
                double fy = Math.max(0, Math.min(height - 1, uy));
                int x0 = (int) Math.floor(fx);
                int y0 = (int) Math.floor(fy);
                int x1 = Math.min(x0 + 1, width - 1);
                int y1 = Math.min(y0 + 1, height - 1);
                float wx = (float) (fx - x0);
                float wy = (float) (fy - y0);
                for (int c = 0; c < channels; c++) {
                    int s = srcOffset + c * plane;
                    float top = src[s + y0 * width + x0] * (1 - wx) + src[s + y0 * width + x1] * wx;
                    float bottom = src[s + y1 * width + x0] * (1 - wx) + src[s + y1 * width + x1] * wx;
                    dst[dstOffset + c * plane + y * width + x] = top * (1 - wy) + bottom * wy;
                }
            }
        }
    }

    private static int clamp(int v, int size) {
        return v < 0 ? 0 : (v >= size ? size - 1 : v);
    }
}
