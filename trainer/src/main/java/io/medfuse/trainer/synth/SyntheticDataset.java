package io.medfuse.trainer.synth;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A deterministic synthetic dermatoscopy-like dataset whose label needs <em>both</em> inputs: each 64×64 PNG shows
 * a skin-coloured background with one lesion blob that is either <b>dark</b> (brown) or <b>light</b> (pink), of
 * random size, position, aspect and noise; each case has an age (20..85 years), a sex and an anatomical site.
 *
 * <p>Label = {@code malignant} when (dark XOR age &gt; 50), else {@code benign}. The blob colour, the age and
 * everything else are drawn independently, so the image alone or the age alone says nothing about the label (a
 * model using one input stays near chance, ~0.5), while both together determine it. Sex and localization are
 * noise. Cases come in lesions of one or two images (same patient, same blob colour), like HAM10000, so a grouped
 * split matters.
 *
 * <p>Case {@code i} depends only on the seed and {@code i}: any count gives a prefix of the same sequence, and the
 * demo can publish the same cases the model was trained on. Thread-safe.
 */
public final class SyntheticDataset {

    /** Output classes, in model output order. */
    public static final List<String> LABELS = List.of("benign", "malignant");
    /** Image side in pixels. */
    public static final int SIZE = 64;
    /** Anatomical sites drawn uniformly (noise). */
    public static final List<String> SITES = List.of("back", "trunk", "lower extremity", "upper extremity", "face",
            "abdomen");
    /** The CSV header written by {@link #write}. */
    public static final List<String> COLUMNS = List.of("image", "label", "age", "sex", "localization", "lesion_id");

    private final long seed;

    /** @param seed any value; the same seed gives the same cases and the same bytes */
    public SyntheticDataset(long seed) {
        this.seed = seed;
    }

    public long seed() {
        return seed;
    }

    /**
     * One case.
     *
     * @param image file name ({@code syn_000042.png})
     * @param png the PNG bytes
     * @param label {@code benign} or {@code malignant}
     * @param age years
     * @param sex {@code male} or {@code female}
     * @param localization anatomical site
     * @param lesionId group id shared by the images of one lesion
     * @param dark whether the blob is dark (the image half of the rule)
     */
    public record Case(String image, byte[] png, String label, int age, String sex, String localization,
                       String lesionId, boolean dark) {

        /** Media type of {@link #png()}. */
        public String mediaType() {
            return "image/png";
        }

        /** The tabular fields by feature name: age (Integer), sex, localization. */
        public Map<String, Object> fields() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("age", age);
            m.put("sex", sex);
            m.put("localization", localization);
            return m;
        }
    }

    /** Case number {@code index} (≥ 0). */
    public Case generate(int index) {
        if (index < 0) {
            throw new IllegalArgumentException("index must be >= 0, got " + index);
        }
        // lesions of one or two images: lesion k covers cases [start(k), start(k+1)); decided by a per-lesion draw
        int lesion = lesionOf(index);
        SplittableRandom l = new SplittableRandom(mix(seed, 0x4c45L, lesion));
        boolean dark = l.nextBoolean();
        int age = 20 + l.nextInt(66);
        String sex = l.nextBoolean() ? "male" : "female";
        String site = SITES.get(l.nextInt(SITES.size()));
        String label = dark ^ age > 50 ? "malignant" : "benign";
        SplittableRandom r = new SplittableRandom(mix(seed, 0x494dL, index));
        byte[] png = png(draw(r, dark));
        return new Case(String.format("syn_%06d.png", index), png, label, age, sex, site,
                String.format("LES_%06d", lesion), dark);
    }

    /** Cases 0..count-1. */
    public List<Case> generate(int from, int count) {
        List<Case> out = new ArrayList<>(count);
        for (int i = from; i < from + count; i++) {
            out.add(generate(i));
        }
        return out;
    }

    /**
     * Writes cases 0..count-1 as {@code dir/images/*.png} and {@code dir/metadata.csv} (columns {@link #COLUMNS}).
     *
     * @return the CSV path
     * @throws UncheckedIOException when the files cannot be written
     */
    public Path write(Path dir, int count) {
        if (count < 1) {
            throw new IllegalArgumentException("count must be >= 1, got " + count);
        }
        try {
            Path images = Files.createDirectories(dir.resolve("images"));
            Path csv = dir.resolve("metadata.csv");
            try (Writer w = Files.newBufferedWriter(csv, StandardCharsets.UTF_8)) {
                w.write(String.join(",", COLUMNS) + "\n");
                for (int i = 0; i < count; i++) {
                    Case c = generate(i);
                    Files.write(images.resolve(c.image()), c.png());
                    w.write(c.image() + "," + c.label() + "," + c.age() + "," + c.sex() + ",\"" + c.localization()
                            + "\"," + c.lesionId() + "\n");
                }
            }
            return csv;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the synthetic dataset to " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Lesion k holds case 3k/2 ... : pairs and singles alternate by a seeded draw, computed by walking. */
    private int lesionOf(int index) {
        // every lesion has one or two images; walk in blocks of three cases = one pair + one single, order drawn
        int block = index / 3;
        int within = index % 3;
        boolean pairFirst = new SplittableRandom(mix(seed, 0x424cL, block)).nextBoolean();
        int offset = pairFirst ? (within < 2 ? 0 : 1) : (within < 1 ? 0 : 1);
        return block * 2 + offset;
    }

    private static long mix(long seed, long salt, long i) {
        long z = seed * 0x9E3779B97F4A7C15L + salt * 0xBF58476D1CE4E5B9L + i * 0x94D049BB133111EBL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static BufferedImage draw(SplittableRandom r, boolean dark) {
        BufferedImage img = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_INT_RGB);
        double[] skin = {0.80 + 0.12 * r.nextDouble(), 0.58 + 0.12 * r.nextDouble(), 0.48 + 0.12 * r.nextDouble()};
        double[] blob = dark
                ? new double[] {0.30 + 0.10 * r.nextDouble(), 0.17 + 0.08 * r.nextDouble(), 0.10 + 0.06 * r.nextDouble()}
                : new double[] {0.78 + 0.10 * r.nextDouble(), 0.38 + 0.10 * r.nextDouble(), 0.42 + 0.10 * r.nextDouble()};
        double cx = 20 + 24 * r.nextDouble();
        double cy = 20 + 24 * r.nextDouble();
        double rx = 8 + 10 * r.nextDouble();
        double ry = rx * (0.7 + 0.6 * r.nextDouble());
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) {
                double dx = (x - cx) / rx;
                double dy = (y - cy) / ry;
                double d = Math.sqrt(dx * dx + dy * dy);
                // soft edge over ~2 px
                double a = Math.max(0, Math.min(1, (1 - d) * rx / 2 + 0.5));
                int rgb = 0;
                for (int c = 0; c < 3; c++) {
                    double v = skin[c] * (1 - a) + blob[c] * a + 0.04 * r.nextGaussian();
                    rgb = (rgb << 8) | (int) Math.round(255 * Math.max(0, Math.min(1, v)));
                }
                img.setRGB(x, y, rgb);
            }
        }
        return img;
    }

    private static byte[] png(BufferedImage img) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(img, "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }
}
