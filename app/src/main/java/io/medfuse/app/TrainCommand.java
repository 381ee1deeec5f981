package io.medfuse.app;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import io.medfuse.model.contract.Calibration;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.trainer.HyperParameters;
import io.medfuse.trainer.StopSignal;
import io.medfuse.trainer.TrainerException;
import io.medfuse.trainer.TrainingReport;
import io.medfuse.trainer.TrainingRun;
import io.medfuse.trainer.data.Dataset;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code medfuse train}: a fused image + clinical-data model from a folder of images and a CSV. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Trains a fused image + tabular classifier and writes one ONNX file, with its model contract, that "
                    + "'medfuse serve' and 'medfuse demo' serve as is.",
            "Rows are split into training and validation by --group (no group on both sides), stratified by "
                    + "label. Progress per epoch goes to stderr. Ctrl-C stops training and still writes the best "
                    + "model so far.",
            "",
            "Example:",
            "  medfuse train --images imgs --metadata meta.csv --label dx --numeric age \\",
            "      --categorical sex,localization --group lesion_id --out model.onnx",
            ""
        })
final class TrainCommand implements Callable<Integer> {

    @Mixin
    TrainingOptions training;

    @Option(names = "--out", required = true, paramLabel = "model.onnx", description = "ONNX file to write.")
    Path out;

    @Option(names = "--inputs", defaultValue = "fused", paramLabel = "MODE",
            description = "fused (image + tabular; default), image or tabular: the ablations. The file always has "
                    + "both inputs.")
    String inputs;

    @Option(names = "--report", paramLabel = "DIR", description = "Folder for training.json (history, metrics, "
            + "exclusions).")
    Path report;

    @Option(names = "--name", paramLabel = "NAME", description = "Model name in the contract (default: the output "
            + "file name without .onnx).")
    String name;

    @Option(names = "--model-version", defaultValue = "1", paramLabel = "VERSION",
            description = "Model version in the contract (default: ${DEFAULT-VALUE}).")
    String modelVersion;

    @Option(names = "--referral-threshold", paramLabel = "P",
            description = "Write this referral threshold into the contract: the worker marks a prediction whose "
                    + "calibrated top probability is below P with referral=true ('refer to a clinician'). In (0,1]; "
                    + "'evaluate' lists the share referred and the balanced accuracy of the rest for a range of "
                    + "thresholds, to choose it. Default: none (the worker's referral.threshold may set one).")
    Double referralThreshold;

    @Override
    public Integer call() throws Exception {
        if (referralThreshold != null && !(referralThreshold > 0 && referralThreshold <= 1)) {
            throw new UserInputException("--referral-threshold must be in (0, 1], got " + referralThreshold);
        }
        HyperParameters hp = training.hyperParameters(inputs);
        String modelName = name != null ? name
                : out.getFileName().toString().replaceFirst("(?i)\\.onnx$", "");
        Dataset dataset = training.read(hp, "train");

        StopSignal stop = new StopSignal();
        stopOnSignals(stop);
        TrainingRun.Outcome outcome = TrainingRun.train(dataset, hp, modelName, modelVersion,
                s -> System.err.println(s.line()), stop);
        byte[] onnx = outcome.onnx();
        Calibration calibration = outcome.contract().calibration();
        if (referralThreshold != null) {
            calibration = calibration == null
                    ? new Calibration(Calibration.TEMPERATURE, 1.0, referralThreshold,
                            java.util.Map.of("note", "too few validation rows to fit a temperature"))
                    : new Calibration(calibration.method(), calibration.temperature(), referralThreshold,
                            calibration.fit());
            onnx = OnnxModelFile.attachContract(onnx, outcome.contract().withCalibration(calibration).validate());
        }
        write(onnx);
        if (calibration != null) {
            System.err.printf(Locale.ROOT, "medfuse train: calibration: temperature %.3f fitted on the "
                    + outcome.validation().getOrDefault("calibratedOn", "validation rows")
                    + " (NLL %s -> %s, ECE %s -> %s)%s%n", calibration.temperature(),
                    calibration.fit().get("nllBefore"), calibration.fit().get("nllAfter"),
                    calibration.fit().get("eceBefore"), calibration.fit().get("eceAfter"),
                    calibration.referralThreshold() == null ? "" : "; referral below "
                            + calibration.referralThreshold());
        }
        if (report != null) {
            System.err.println("medfuse train: report " + TrainingReport.write(report, dataset, outcome, out));
        }
        System.out.printf(Locale.ROOT, "wrote %s (%s %s, inputs %s, validation accuracy %.3f, balanced "
                        + "accuracy %.3f, best epoch %d of %d, %s%s, sha256 %s)%n", out, hp.architecture(),
                modelName, hp.inputs().cli(), outcome.validation().get("validationAccuracy"),
                outcome.validation().get("validationBalancedAccuracy"), outcome.validation().get("bestEpoch"),
                outcome.validation().get("epochsRun"), outcome.validation().get("stoppedBy"),
                Boolean.TRUE.equals(outcome.validation().get("refit")) ? ", then trained again on every training row"
                        + " for that many epochs" : "",
                OnnxModelFile.sha256(onnx));
        return 0;
    }

    /**
     * Ctrl-C (and SIGTERM) ask training to stop after the current batch; the best model so far is then exported,
     * checked and written as usual, and the command exits normally. A second signal quits at once. Why not a
     * shutdown hook: once the JVM shuts down, ONNX Runtime's own hook closes its environment, so the exported file
     * could no longer be checked against ONNX Runtime.
     */
    static void stopOnSignals(StopSignal stop) {
        Runnable onSignal = () -> {
            if (stop.isStopped()) {
                System.err.println("medfuse train: stopped without writing a model");
                Runtime.getRuntime().halt(130);
            }
            System.err.println("medfuse train: stopping after this batch; writing the best model so far "
                    + "(press Ctrl-C again to quit at once)");
            stop.stop();
        };
        for (String name : List.of("INT", "TERM")) {
            handleSignal(name, onSignal);
        }
    }

    /**
     * {@code sun.misc.Signal.handle(new Signal(name), handler)} through reflection: the JDK exports it (jdk.unsupported)
     * but javac warns about it as an internal API, and the build treats warnings as errors. Where the API is missing
     * or the signal cannot be handled (e.g. SIGINT ignored in a background job), the default behaviour stays.
     */
    private static void handleSignal(String name, Runnable action) {
        try {
            Class<?> signalClass = Class.forName("sun.misc.Signal");
            Class<?> handlerClass = Class.forName("sun.misc.SignalHandler");
            Object signal = signalClass.getConstructor(String.class).newInstance(name);
            Object handler = java.lang.reflect.Proxy.newProxyInstance(TrainCommand.class.getClassLoader(),
                    new Class<?>[] {handlerClass}, (proxy, method, args) -> {
                        if ("handle".equals(method.getName())) {
                            action.run();
                            return null;
                        }
                        return method.invoke(action, args);
                    });
            signalClass.getMethod("handle", signalClass, handlerClass).invoke(null, signal, handler);
        } catch (ReflectiveOperationException | IllegalArgumentException | SecurityException e) {
            // no signal handling: Ctrl-C ends the JVM as usual
        }
    }

    private void write(byte[] onnx) {
        try {
            Path parent = out.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
            Files.write(tmp, onnx);
            Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (java.io.IOException e) {
            throw new TrainerException("cannot write " + out + ": " + e.getMessage(), e);
        }
    }
}
