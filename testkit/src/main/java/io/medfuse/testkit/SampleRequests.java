package io.medfuse.testkit;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Random;

import javax.imageio.ImageIO;

import io.medfuse.events.ImagePayload;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Patient;
import io.medfuse.events.SourceRef;

/**
 * Deterministic sample requests for the demo, the tests and the benchmark: a dermatoscopy-like PNG or JPEG (a
 * skin-tone background with a darker blob) with age, sex and anatomical site. Not thread-safe (one RNG).
 */
public final class SampleRequests {

    /** Sites as HAM10000 names them. */
    public static final List<String> SITES = List.of("back", "lower extremity", "trunk", "upper extremity",
            "abdomen", "face", "chest", "foot", "scalp", "neck", "hand", "ear");

    private final Random random;
    private final int imageSize;
    private final String mediaType;
    private int sequence;

    /**
     * @param seed RNG seed: the same seed gives the same requests
     * @param imageSize width and height of the generated images, in pixels
     * @param mediaType image/png or image/jpeg
     */
    public SampleRequests(long seed, int imageSize, String mediaType) {
        this.random = new Random(seed);
        this.imageSize = imageSize;
        this.mediaType = mediaType;
    }

    /** The next request, with id {@code prefix-000001} etc. */
    public ImagingRequest next(String prefix) {
        sequence++;
        String id = String.format("%s-%06d", prefix, sequence);
        double age = 5 * (3 + random.nextInt(16));
        String sex = random.nextBoolean() ? "male" : "female";
        String site = SITES.get(random.nextInt(SITES.size()));
        return request(id, age, sex, site, image(random.nextLong()));
    }

    /** A request with the given fields and encoded image. */
    public ImagingRequest request(String id, Double age, String sex, String site, byte[] image) {
        return ImagingRequest.newBuilder()
                .setRequestId(id)
                .setRequestedAt(Instant.ofEpochMilli(System.currentTimeMillis()))
                .setSource(SourceRef.newBuilder().setSystem("medfuse-sample").build())
                .setPatient(Patient.newBuilder().setAgeYears(age).setSex(sex).build())
                .setClinical(site == null ? Map.of() : Map.of("localization", site))
                .setImage(ImagePayload.newBuilder().setMediaType(mediaType).setData(ByteBuffer.wrap(image)).build())
                .build();
    }

    /** An encoded image drawn from {@code seed}. */
    public byte[] image(long seed) {
        Random r = new Random(seed);
        BufferedImage img = new BufferedImage(imageSize, imageSize, BufferedImage.TYPE_3BYTE_BGR);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(new Color(200 + r.nextInt(40), 150 + r.nextInt(40), 120 + r.nextInt(40)));
        g.fillRect(0, 0, imageSize, imageSize);
        int d = imageSize / 4 + r.nextInt(imageSize / 2);
        int x = r.nextInt(Math.max(1, imageSize - d));
        int y = r.nextInt(Math.max(1, imageSize - d));
        g.setColor(new Color(60 + r.nextInt(80), 30 + r.nextInt(50), 20 + r.nextInt(40)));
        g.fillOval(x, y, d, d);
        g.dispose();
        return encode(img, mediaType);
    }

    /**
     * An image of realistic size for the benchmark and soak: a skin-tone background with a soft-edged darker lesion,
     * plus sensor-like noise. The noise matters: flat synthetic images compress to a few KB and decode much faster
     * than real photographs, which would flatter preprocessing and bus numbers.
     *
     * @param side width and height in pixels
     * @param mediaType image/png or image/jpeg (ImageIO's default JPEG quality, 0.75)
     * @param noise amplitude of the uniform per-pixel noise, in 8-bit levels
     */
    public static byte[] noisyImage(long seed, int side, String mediaType, int noise) {
        Random r = new Random(seed);
        BufferedImage img = new BufferedImage(side, side, BufferedImage.TYPE_3BYTE_BGR);
        WritableRaster raster = img.getRaster();
        int[] skin = {200 + r.nextInt(40), 150 + r.nextInt(40), 120 + r.nextInt(40)};
        int[] lesion = {60 + r.nextInt(80), 30 + r.nextInt(50), 20 + r.nextInt(40)};
        double cx = side * (0.3 + 0.4 * r.nextDouble());
        double cy = side * (0.3 + 0.4 * r.nextDouble());
        double radius = side * (0.15 + 0.2 * r.nextDouble());
        int[] px = new int[3];
        for (int y = 0; y < side; y++) {
            for (int x = 0; x < side; x++) {
                double d = Math.hypot(x - cx, y - cy) / radius;
                // a soft edge, so the image has gradients as a dermatoscopy photograph does
                double w = d < 0.8 ? 1 : d > 1.2 ? 0 : (1.2 - d) / 0.4;
                for (int c = 0; c < 3; c++) {
                    double v = w * lesion[c] + (1 - w) * skin[c] + (r.nextInt(2 * noise + 1) - noise);
                    px[c] = (int) Math.max(0, Math.min(255, v));
                }
                raster.setPixel(x, y, px);
            }
        }
        return encode(img, mediaType);
    }

    static byte[] encode(BufferedImage img, String mediaType) {
        String format = mediaType.contains("png") ? "png" : "jpg";
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            if (!ImageIO.write(img, format, out)) {
                throw new IllegalStateException("no ImageIO writer for " + format);
            }
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
