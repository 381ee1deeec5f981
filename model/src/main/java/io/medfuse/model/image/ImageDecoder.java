package io.medfuse.model.image;

import java.util.Locale;

/**
 * Which implementation turns PNG and JPEG bytes into samples. A model's contract records the one it was trained with
 * ({@code image.decoder}); the two here give identical samples for every file the native one decodes (it leaves the
 * rest to ImageIO; {@code DecoderParityTest} pins the equality), so a model trained with either is served by either.
 */
public enum ImageDecoder {
    /** {@code javax.imageio}: the JDK's IJG libjpeg 6b (TwelveMonkeys' reader around it) and pure-Java PNG. */
    IMAGEIO("imageio"),
    /**
     * OpenCV imgcodecs (libjpeg-turbo with SIMD, libpng) from Maven Central binaries, ImageIO for the layouts it does
     * not reproduce exactly and wherever the native libraries cannot load.
     */
    OPENCV("opencv");

    /** System property (or environment variable {@code MEDFUSE_IMAGE_DECODER}) choosing the process's decoder. */
    public static final String PROPERTY = "medfuse.image.decoder";

    private final String id;

    ImageDecoder(String id) {
        this.id = id;
    }

    /** The name in contracts and settings: {@code imageio} or {@code opencv}. */
    public String id() {
        return id;
    }

    /**
     * @throws IllegalArgumentException naming the accepted values
     */
    public static ImageDecoder ofId(String id) {
        String v = id == null ? "" : id.trim().toLowerCase(Locale.ROOT);
        for (ImageDecoder d : values()) {
            if (d.id.equals(v)) {
                return d;
            }
        }
        throw new IllegalArgumentException("image decoder '" + (v.length() > 40 ? v.substring(0, 40) + "..." : v)
                + "' is not known; use imageio or opencv");
    }

    /**
     * The process's choice: {@value #PROPERTY}, else {@code MEDFUSE_IMAGE_DECODER}, else {@link #OPENCV}.
     *
     * @throws IllegalArgumentException when the setting names no decoder
     */
    public static ImageDecoder configured() {
        String v = System.getProperty(PROPERTY);
        if (v == null || v.isBlank()) {
            v = System.getenv("MEDFUSE_IMAGE_DECODER");
        }
        return v == null || v.isBlank() ? OPENCV : ofId(v);
    }

    /** Whether this decoder decodes natively here ({@link #OPENCV} whose libraries loaded). */
    public boolean isNative() {
        return this == OPENCV && NativeCodecs.available();
    }

    /** What decodes with this choice in this process, for logs and the bench: "OpenCV 4.13.0 imgcodecs ..." */
    public String describe() {
        if (this == IMAGEIO) {
            return "ImageIO (JDK libjpeg 6b, Java PNG)";
        }
        return NativeCodecs.available() ? NativeCodecs.describe()
                : "ImageIO (JDK libjpeg 6b, Java PNG); OpenCV " + NativeCodecs.describe();
    }

    /**
     * The id a contract records for a model trained with this choice here: what actually decoded
     * ({@code imageio} when the native libraries did not load).
     */
    public String contractId() {
        return isNative() ? id : IMAGEIO.id;
    }
}
