package io.medfuse.trainer.data;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The usable rows of an images folder + CSV, with what was left out.
 *
 * @param csv the metadata file
 * @param images the images folder
 * @param options how the columns were read
 * @param labels class labels in output order
 * @param samples usable rows in file order
 * @param excluded rows left out, by reason (empty unless exclusions were allowed)
 * @param exclusionExamples the first few exclusion messages, for the report
 * @param fingerprint sha256 over the CSV bytes and every used image's name and size
 * @param image the image spec the samples' pixels were preprocessed with
 * @param features what {@link Sample#pixels()} holds when it is not the preprocessed image: a frozen backbone's
 *                 feature recipe; null for pixels
 */
public record Dataset(Path csv, Path images, DatasetOptions options, List<String> labels, List<Sample> samples,
                      Map<DatasetException.Reason, Integer> excluded, List<String> exclusionExamples,
                      String fingerprint, io.medfuse.model.contract.ImageSpec image, String features) {

    /** A dataset of preprocessed pixels. */
    public Dataset(Path csv, Path images, DatasetOptions options, List<String> labels, List<Sample> samples,
                   Map<DatasetException.Reason, Integer> excluded, List<String> exclusionExamples,
                   String fingerprint, io.medfuse.model.contract.ImageSpec image) {
        this(csv, images, options, labels, samples, excluded, exclusionExamples, fingerprint, image, null);
    }

    /** The same rows, saying their {@link Sample#pixels()} are features made by {@code recipe}. */
    public Dataset withFeatures(String recipe) {
        return new Dataset(csv, images, options, labels, samples, excluded, exclusionExamples, fingerprint, image,
                recipe);
    }

    public Dataset {
        labels = List.copyOf(labels);
        samples = List.copyOf(samples);
        excluded = Map.copyOf(excluded);
        exclusionExamples = List.copyOf(exclusionExamples);
    }

    /** Index of {@code label} in {@link #labels()}. */
    public int labelIndex(String label) {
        return labels.indexOf(label);
    }

    /** Number of excluded rows. */
    public int excludedCount() {
        return excluded.values().stream().mapToInt(Integer::intValue).sum();
    }
}
