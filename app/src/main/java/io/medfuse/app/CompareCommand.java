package io.medfuse.app;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import io.medfuse.trainer.Comparison;
import io.medfuse.trainer.HyperParameters;
import io.medfuse.trainer.StopSignal;
import io.medfuse.trainer.TrainerException;
import io.medfuse.trainer.data.Dataset;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code medfuse compare}: fused vs image-only vs tabular-only on the same splits — does the clinical data help? */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Trains the fused network and its two ablations (image only, tabular only) on the same grouped split, "
                    + "repeated over --seeds (a new split and initialisation per seed) or --folds (grouped, "
                    + "stratified K-fold), and prints balanced accuracy, macro one-vs-rest ROC AUC and expected "
                    + "calibration error side by side as mean ± sd, with the paired difference fused - image and "
                    + "fused - tabular. Writes DIR/compare.json. Images and features are read once for all runs.",
            "",
            "Example:",
            "  medfuse compare --images imgs --metadata meta.csv --label dx --numeric age \\",
            "      --categorical sex,localization --group lesion_id --seeds 3 --out cmp/",
            ""
        })
final class CompareCommand implements Callable<Integer> {

    @Mixin
    TrainingOptions training;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Folder for compare.json.")
    Path out;

    @Option(names = "--seeds", defaultValue = "3", paramLabel = "N",
            description = "Repeats with seeds --seed, --seed+1, ... (default: ${DEFAULT-VALUE}).")
    int seeds;

    @Option(names = "--folds", defaultValue = "0", paramLabel = "K",
            description = "Grouped K-fold cross-validation instead of seeds (K >= 2; every row validates once).")
    int folds;

    @Option(names = "--quiet-epochs", description = "Do not print a line per epoch.")
    boolean quietEpochs;

    @Override
    public Integer call() {
        if (folds == 1 || folds < 0 || (folds == 0 && seeds < 1)) {
            throw new UserInputException("--folds must be >= 2 (or 0 for seeds) and --seeds >= 1, got --folds "
                    + folds + " --seeds " + seeds);
        }
        HyperParameters hp = training.hyperParameters("fused");
        long t0 = System.nanoTime();
        Dataset dataset = training.read(hp, "compare");
        StopSignal stop = new StopSignal();
        TrainCommand.stopOnSignals(stop);
        Comparison.Result result = Comparison.run(dataset, hp, seeds, folds, System.err::println,
                s -> {
                    if (!quietEpochs) {
                        System.err.println("  " + s.line());
                    }
                }, stop);
        double seconds = (System.nanoTime() - t0) / 1e9;
        result.json().put("wallSeconds", Math.round(seconds));
        try {
            Files.createDirectories(out);
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValue(out.resolve("compare.json").toFile(), result.json());
        } catch (IOException e) {
            throw new TrainerException("cannot write " + out.resolve("compare.json") + ": " + e.getMessage(), e);
        }
        System.out.print(result.table());
        System.out.printf(Locale.ROOT, "wrote %s (%d networks, %.0f s)%n", out.resolve("compare.json"),
                result.runs().size(), seconds);
        return 0;
    }
}
