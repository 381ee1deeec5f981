package io.medfuse.app;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import io.medfuse.trainer.synth.SyntheticDataset;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code medfuse synth}: a synthetic dataset whose label needs both the image and the age. */
@Command(name = "synth", mixinStandardHelpOptions = true,
        description = {
            "Writes a synthetic dataset: DIR/images/*.png (64x64) and DIR/metadata.csv with columns "
                    + "image,label,age,sex,localization,lesion_id.",
            "The label is 'malignant' when (the blob is dark) XOR (age > 50), else 'benign': neither the image "
                    + "nor the age alone predicts it, both together do. sex and localization are noise. The same "
                    + "seed always writes the same bytes.",
            "",
            "Then:",
            "  medfuse train --images DIR/images --metadata DIR/metadata.csv --numeric age \\",
            "      --categorical sex,localization --group lesion_id --out model.onnx",
            ""
        })
final class SynthCommand implements Callable<Integer> {

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Folder to write into (created).")
    Path out;

    @Option(names = "--count", paramLabel = "N", defaultValue = "1000",
            description = "Number of images (default: ${DEFAULT-VALUE}).")
    int count;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "42",
            description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() {
        if (count < 1) {
            throw new UserInputException("--count must be >= 1, got " + count);
        }
        Path csv;
        try {
            csv = new SyntheticDataset(seed).write(out, count);
        } catch (java.io.UncheckedIOException e) {
            throw new UserInputException(e.getMessage(), e);
        }
        System.out.println("wrote " + count + " images to " + out.resolve("images") + " and " + csv);
        return 0;
    }
}
