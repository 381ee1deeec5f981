package io.medfuse.trainer.data;

import io.medfuse.model.onnx.OnnxModelFile;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.zip.CRC32;

/**
 * A frozen backbone's features kept on disk, so a second {@code train} or {@code compare} on the same images skips
 * decoding and extraction. An entry is keyed by the sha256 of the image file's bytes, inside a folder keyed by
 * everything else that decides the features ({@code recipe}: backbone bytes, feature map, pooling, views,
 * preprocessing and decoder); a change to any of them reads from another folder. One file per image
 * ({@code <folder>/<first two hex>/<sha256>.f32}): a magic, the width, the floats (little-endian), a CRC32; written
 * to a temporary file and moved into place, so a reader never sees half an entry. An entry that is short, of another
 * width or fails its CRC counts as a miss and is written again.
 *
 * <p>The cache only ever saves time: it cannot change a model. Whatever it returns is what the same extraction
 * returned before, and the exported model is checked against the raw images anyway (the trainer's parity check runs
 * the whole graph on them). A cache folder that cannot be written is said once and then left alone. Thread-safe.
 */
public final class FeatureCache {

    private static final int MAGIC = 0x4D464631; // "MFF1"
    private static final int HEADER = 8;

    private final Path folder;
    private final String recipe;
    private final int width;
    private final Consumer<String> warnings;
    private final AtomicInteger hits = new AtomicInteger();
    private final AtomicInteger misses = new AtomicInteger();
    private final AtomicBoolean unwritable = new AtomicBoolean();

    private FeatureCache(Path folder, String recipe, int width, Consumer<String> warnings) {
        this.folder = folder;
        this.recipe = recipe;
        this.width = width;
        this.warnings = warnings;
    }

    /**
     * The cache for one feature recipe under {@code root} (created when missing).
     *
     * @param recipe every input of the extraction but the image, as text (written beside the entries, for people)
     * @param width floats per entry
     * @param warnings where a problem with the folder is said (once)
     */
    public static FeatureCache open(Path root, String recipe, int width, Consumer<String> warnings) {
        Objects.requireNonNull(root, "root");
        if (width < 1) {
            throw new IllegalArgumentException("width must be >= 1, got " + width);
        }
        String key = OnnxModelFile.sha256(recipe.getBytes(StandardCharsets.UTF_8)).substring(0, 24);
        FeatureCache cache = new FeatureCache(root.resolve(key), recipe, width, warnings);
        try {
            Files.createDirectories(cache.folder);
            Path about = cache.folder.resolve("recipe.txt");
            if (!Files.exists(about)) {
                Files.writeString(about, recipe + "\n");
            }
        } catch (IOException e) {
            cache.unwritable(e);
        }
        return cache;
    }

    /** The folder this recipe's entries are in. */
    public Path folder() {
        return folder;
    }

    public String recipe() {
        return recipe;
    }

    /** An image's key: the sha256 of its bytes (compute it once for a {@link #get} and a {@link #put}). */
    public static String key(byte[] image) {
        return OnnxModelFile.sha256(image);
    }

    /** The features cached for an image with these bytes, or null (a miss). */
    public float[] get(byte[] image) {
        return get(key(image));
    }

    /** The features cached for the image with this {@link #key}, or null (a miss). */
    public float[] get(String key) {
        Path file = entry(key);
        byte[] raw;
        try {
            if (!Files.isRegularFile(file) || Files.size(file) != HEADER + 4L * width + 8) {
                misses.incrementAndGet();
                return null;
            }
            raw = Files.readAllBytes(file);
        } catch (IOException e) {
            misses.incrementAndGet();
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        CRC32 crc = new CRC32();
        crc.update(raw, 0, raw.length - 8);
        if (raw.length != HEADER + 4 * width + 8 || b.getInt(0) != MAGIC || b.getInt(4) != width
                || b.getLong(raw.length - 8) != crc.getValue()) {
            misses.incrementAndGet();
            return null;
        }
        float[] out = new float[width];
        b.position(HEADER);
        b.asFloatBuffer().get(out);
        hits.incrementAndGet();
        return out;
    }

    /** Keeps {@code features} for an image with these bytes (silently not, once the folder proved unwritable). */
    public void put(byte[] image, float[] features) {
        put(key(image), features);
    }

    /** As above, for the image with this {@link #key}. */
    public void put(String key, float[] features) {
        if (features.length != width) {
            throw new IllegalArgumentException("expected " + width + " features, got " + features.length);
        }
        if (unwritable.get()) {
            return;
        }
        Path file = entry(key);
        ByteBuffer b = ByteBuffer.allocate(HEADER + 4 * width + 8).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).putInt(width);
        b.asFloatBuffer().put(features);
        CRC32 crc = new CRC32();
        crc.update(b.array(), 0, HEADER + 4 * width);
        b.putLong(HEADER + 4 * width, crc.getValue());
        try {
            Files.createDirectories(file.getParent());
            Path tmp = Files.createTempFile(file.getParent(), ".entry-", ".tmp");
            try {
                Files.write(tmp, b.array());
                try {
                    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            unwritable(e);
        }
    }

    /** Images answered from the cache so far. */
    public int hits() {
        return hits.get();
    }

    /** Images that had to be extracted so far. */
    public int misses() {
        return misses.get();
    }

    private Path entry(String sha) {
        return folder.resolve(sha.substring(0, 2)).resolve(sha + ".f32");
    }

    private void unwritable(IOException e) {
        if (unwritable.compareAndSet(false, true)) {
            warnings.accept("the feature cache " + folder + " cannot be written (" + e.getClass().getSimpleName()
                    + ": " + e.getMessage() + "); features are extracted without it");
        }
    }
}
