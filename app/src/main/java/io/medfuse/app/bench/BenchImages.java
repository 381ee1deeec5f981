package io.medfuse.app.bench;

import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Random;

import javax.imageio.ImageIO;

/**
 * Request images of realistic size for the benchmark: a skin-tone background with a darker lesion, plus sensor-like
 * noise. The noise matters: flat synthetic images compress to a few KB and decode much faster than real photographs,
 * which would flatter the preprocessing and bus numbers.
 */
final class BenchImages {

    private BenchImages() {
    }

    /**
     * @param side width and height in pixels
     * @param mediaType image/png or image/jpeg (ImageIO's default JPEG quality, 0.75)
     * @param noise amplitude of the uniform per-pixel noise, in 8-bit levels
     */
    static byte[] image(long seed, int side, String mediaType, int noise) {
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
