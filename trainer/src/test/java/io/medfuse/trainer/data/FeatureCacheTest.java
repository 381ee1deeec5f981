package io.medfuse.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FeatureCacheTest {

    @TempDir
    Path root;

    private static byte[] image(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void anEntryIsFoundByTheImagesBytesWithinItsRecipe() {
        FeatureCache cache = FeatureCache.open(root, "recipe A", 3, w -> { });
        assertThat(cache.get(image("one"))).isNull();
        cache.put(image("one"), new float[] {1f, 2.5f, -3f});
        assertThat(cache.get(image("one"))).containsExactly(1f, 2.5f, -3f);
        assertThat(cache.get(image("two"))).isNull();
        assertThat(cache.hits()).isEqualTo(1);
        assertThat(cache.misses()).isEqualTo(2);
        assertThat(cache.folder().resolve("recipe.txt")).content().contains("recipe A");

        // another recipe is another folder: nothing of A's is returned
        FeatureCache other = FeatureCache.open(root, "recipe B", 3, w -> { });
        assertThat(other.folder()).isNotEqualTo(cache.folder());
        assertThat(other.get(image("one"))).isNull();
        // and the same recipe opened again finds A's entry
        assertThat(FeatureCache.open(root, "recipe A", 3, w -> { }).get(image("one"))).containsExactly(1f, 2.5f,
                -3f);
    }

    @Test
    void aDamagedEntryIsAMissAndIsWrittenAgain() throws Exception {
        FeatureCache cache = FeatureCache.open(root, "r", 2, w -> { });
        cache.put(image("x"), new float[] {4f, 5f});
        Path entry;
        try (var files = Files.walk(cache.folder())) {
            entry = files.filter(p -> p.toString().endsWith(".f32")).findFirst().orElseThrow();
        }
        byte[] raw = Files.readAllBytes(entry);
        raw[9] ^= 0x40; // one bit of the first float
        Files.write(entry, raw);
        assertThat(cache.get(image("x"))).as("the CRC catches the flipped bit").isNull();
        Files.write(entry, java.util.Arrays.copyOf(raw, raw.length - 3));
        assertThat(cache.get(image("x"))).as("a short file").isNull();
        cache.put(image("x"), new float[] {4f, 5f});
        assertThat(cache.get(image("x"))).containsExactly(4f, 5f);
        // an entry of another width (the same recipe text cannot give one, but a file can be anything)
        FeatureCache wider = FeatureCache.open(root, "r", 3, w -> { });
        assertThat(wider.get(image("x"))).isNull();
    }

    @Test
    void aFolderThatCannotBeWrittenIsSaidOnceAndOnlyCostsTheCache() throws Exception {
        Path file = Files.writeString(root.resolve("not-a-folder"), "x");
        List<String> warnings = new ArrayList<>();
        FeatureCache cache = FeatureCache.open(file, "r", 2, warnings::add);
        cache.put(image("a"), new float[] {1f, 2f});
        cache.put(image("b"), new float[] {1f, 2f});
        assertThat(cache.get(image("a"))).isNull();
        assertThat(warnings).hasSize(1);
        assertThat(warnings.get(0)).contains("cannot be written", "extracted without it");
    }
}
