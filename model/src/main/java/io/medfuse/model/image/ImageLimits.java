package io.medfuse.model.image;

/**
 * Size limits checked before an image is decoded, so that a small hostile file cannot make the worker allocate
 * gigabytes.
 *
 * @param maxBytes largest accepted encoded size in bytes, &gt; 0 (config key {@code image.max.bytes})
 * @param maxPixels largest accepted width × height declared by the image header, &gt; 0 (config key
 *                  {@code image.max.pixels})
 */
public record ImageLimits(long maxBytes, long maxPixels) {

    /** 20 MiB. */
    public static final long DEFAULT_MAX_BYTES = 20L * 1024 * 1024;
    /** 40 megapixels: a 3-channel decode of that size already takes 120 MB of heap. */
    public static final long DEFAULT_MAX_PIXELS = 40_000_000L;

    /**
     * @throws IllegalArgumentException when a limit is not positive
     */
    public ImageLimits {
        if (maxBytes <= 0) {
            throw new IllegalArgumentException("image.max.bytes must be > 0, got " + maxBytes);
        }
        if (maxPixels <= 0) {
            throw new IllegalArgumentException("image.max.pixels must be > 0, got " + maxPixels);
        }
    }

    /** 20 MiB and 40,000,000 pixels. */
    public static ImageLimits defaults() {
        return new ImageLimits(DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS);
    }
}
