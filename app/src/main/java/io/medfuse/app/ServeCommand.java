package io.medfuse.app;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;

import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.WorkerMain;
import io.medfuse.worker.config.WorkerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code medfuse serve}: the worker against any Kafka cluster and schema registry. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {
            "Runs a worker: reads ImagingRequest events, writes Prediction and FailedRequest events. Settings "
                    + "come from the file, then environment variables MEDFUSE_<KEY> (dots as underscores, e.g. "
                    + "MEDFUSE_BATCH_MAX_SIZE=16), then --set. Keys under kafka.* go to the Kafka clients. Every key is "
                    + "listed in docs/configuration.md. Stops cleanly on Ctrl-C / SIGTERM."
        })
final class ServeCommand implements Callable<Integer> {

    @Option(names = "--config", paramLabel = "FILE", description = "Properties file with worker settings.")
    Path configFile;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override one setting (repeatable).")
    Map<String, String> overrides = new LinkedHashMap<>();

    @Option(names = "--print-config-keys", description = "Print every configuration key as Markdown and exit.")
    boolean printKeys;

    @Override
    public Integer call() throws Exception {
        if (printKeys) {
            System.out.print(WorkerConfig.markdownTable());
            return 0;
        }
        WorkerConfig config = WorkerConfig.load(readProperties(configFile), System.getenv(), overrides);
        return WorkerMain.runUntilStopped(MedfuseWorker.start(config));
    }

    static Properties readProperties(Path file) {
        Properties p = new Properties();
        if (file == null) {
            return p;
        }
        if (!Files.isRegularFile(file)) {
            throw new UserInputException("--config " + file + ": no such file");
        }
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
        } catch (IOException | IllegalArgumentException e) {
            throw new UserInputException("--config " + file + ": cannot read it as a properties file: "
                    + e.getMessage(), e);
        }
        return p;
    }
}
