package io.medfuse.app;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerConfig;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.Prediction;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.testkit.OutcomeConsumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code medfuse watch}: a live view of the predictions and dead letters the workers publish. */
@Command(name = "watch", mixinStandardHelpOptions = true,
        description = {
            "Tails the predictions and dead-letter topics (its own consumer group, read_committed: only answers "
                    + "of committed transactions) and shows, every --interval seconds: rates, end-to-end latency "
                    + "percentiles (requestedAt -> predictedAt), the predicted-label mix against the mix the model was "
                    + "trained on (from --model's contract), dead letters by reason and the models seen; warns when the mix "
                    + "drifts beyond --drift-threshold (total variation distance). --json prints one JSON object per "
                    + "interval instead."
        })
final class WatchCommand implements Callable<Integer> {

    @Mixin
    ClusterOptions cluster;

    @Option(names = "--predictions-topic", defaultValue = "medfuse.predictions",
            description = "Predictions topic (default: ${DEFAULT-VALUE}).")
    String predictionsTopic;

    @Option(names = "--dead-letters-topic", defaultValue = "medfuse.dead-letters",
            description = "Dead-letter topic (default: ${DEFAULT-VALUE}).")
    String deadLettersTopic;

    @Option(names = "--shadow-topic", paramLabel = "TOPIC",
            description = "Also read the shadow model's predictions (the workers' model.shadow.topic) and show how "
                    + "often its label agrees with the answered one, and the confusion between them.")
    String shadowTopic;

    @Option(names = "--model", paramLabel = "FILE.onnx",
            description = "The served model file: its contract gives the training label mix to compare with.")
    Path model;

    @Option(names = "--json", description = "Print one JSON object per interval (for scripts) instead of the view.")
    boolean json;

    @Option(names = "--interval", paramLabel = "SECONDS", defaultValue = "2",
            description = "Seconds between views (default: ${DEFAULT-VALUE}).")
    double intervalSeconds;

    @Option(names = "--drift-threshold", paramLabel = "X", defaultValue = "0.2",
            description = "Warn when the total variation distance between predicted and training label mix "
                    + "exceeds X, in [0,1] (default: ${DEFAULT-VALUE}).")
    double driftThreshold;

    @Option(names = "--min-samples", defaultValue = "50",
            description = "No drift verdict on fewer predictions (default: ${DEFAULT-VALUE}).")
    int minSamples;

    @Option(names = "--window", defaultValue = "1000",
            description = "The label mix and latency cover the last N predictions (default: ${DEFAULT-VALUE}).")
    int window;

    @Option(names = "--from-beginning", description = "Read the topics from the start, not only new answers.")
    boolean fromBeginning;

    @Option(names = "--duration", paramLabel = "SECONDS", defaultValue = "0",
            description = "Stop after this long; 0 = until Ctrl-C (default: ${DEFAULT-VALUE}).")
    double durationSeconds;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss")
            .withZone(ZoneId.systemDefault());

    @Override
    @SuppressWarnings("try") // the consumer works on its own thread; the try only closes it
    public Integer call() throws Exception {
        if (!(intervalSeconds > 0) || durationSeconds < 0 || driftThreshold < 0 || driftThreshold > 1
                || minSamples < 1 || window < 1) {
            throw new UserInputException("--interval must be > 0, --duration >= 0, --drift-threshold in [0,1], "
                    + "--min-samples and --window >= 1");
        }
        ModelContract contract = null;
        if (model != null) {
            if (!Files.isRegularFile(model)) {
                throw new UserInputException("--model " + model + ": no such file");
            }
            contract = OnnxModelFile.readContract(model);
        }
        var registry = cluster.registry();
        Map<String, Object> overrides = cluster.clientOverrides();
        overrides.putIfAbsent(ConsumerConfig.GROUP_ID_CONFIG, "medfuse-watch-" + UUID.randomUUID());
        overrides.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, fromBeginning ? "earliest" : "latest");

        PrintStream out = System.out;
        boolean live = !json && System.console() != null;
        WatchStats stats = new WatchStats(contract, driftThreshold, minSamples, window, System.currentTimeMillis());
        CountDownLatch stop = new CountDownLatch(1);
        Thread hook = new Thread(stop::countDown, "medfuse-watch-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        long intervalNanos = (long) (intervalSeconds * 1e9);
        long deadline = durationSeconds > 0 ? System.nanoTime() + (long) (durationSeconds * 1e9) : Long.MAX_VALUE;
        try (OutcomeConsumer consumer = new OutcomeConsumer(cluster.bootstrap, registry, predictionsTopic,
                deadLettersTopic, overrides, new OutcomeConsumer.Listener() {
                    @Override
                    public void prediction(Prediction prediction, long receivedAtMillis) {
                        stats.add(prediction);
                    }

                    @Override
                    public void deadLetter(FailedRequest failed, long receivedAtMillis) {
                        stats.add(failed);
                    }
                });
             OutcomeConsumer shadows = shadowTopic == null ? null : new OutcomeConsumer(cluster.bootstrap, registry,
                     shadowTopic, deadLettersTopic, shadowOverrides(overrides), new OutcomeConsumer.Listener() {
                         @Override
                         public void prediction(Prediction prediction, long receivedAtMillis) {
                             stats.addShadow(prediction);
                         }

                         @Override
                         public void deadLetter(FailedRequest failed, long receivedAtMillis) {
                             // counted by the main reader
                         }
                     })) {
            if (!json) {
                out.printf("medfuse watch: %s + %s on %s (consumer group %s, from %s); %s%n", predictionsTopic,
                        deadLettersTopic, cluster.bootstrap, overrides.get(ConsumerConfig.GROUP_ID_CONFIG),
                        fromBeginning ? "the beginning" : "now on",
                        durationSeconds > 0 ? "stopping after " + durationSeconds + " s" : "Ctrl-C to stop");
            }
            boolean stopped = false;
            while (!stopped) {
                long wait = Math.min(intervalNanos, deadline - System.nanoTime());
                stopped = wait <= 0 || stop.await(wait, TimeUnit.NANOSECONDS) || System.nanoTime() >= deadline;
                WatchStats.Snapshot s = stats.snapshot(System.currentTimeMillis());
                if (json) {
                    out.println(json(s));
                } else {
                    if (live) {
                        out.print("\033[H\033[2J");
                    }
                    out.print(text(s, predictionsTopic));
                }
                out.flush();
            }
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // already shutting down (Ctrl-C): the hook has run
            }
        }
        return 0;
    }

    /** The shadow reader's own consumer group, so it reads every partition the main reader reads. */
    private static Map<String, Object> shadowOverrides(Map<String, Object> overrides) {
        Map<String, Object> m = new LinkedHashMap<>(overrides);
        m.put(ConsumerConfig.GROUP_ID_CONFIG, overrides.get(ConsumerConfig.GROUP_ID_CONFIG) + "-shadow");
        return m;
    }

    /** One JSON object (no line breaks) with every field of the view. */
    static String json(WatchStats.Snapshot s) throws JsonProcessingException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("time", Instant.ofEpochMilli(s.atMillis()).toString());
        m.put("seconds", round(s.seconds(), 3));
        m.put("predictions", s.predictions());
        m.put("deadLetters", s.deadLetters());
        m.put("predictionsPerSecond", round(s.predictionsPerSecond(), 3));
        m.put("deadLettersPerSecond", round(s.deadLettersPerSecond(), 3));
        Map<String, Object> latency = new LinkedHashMap<>();
        latency.put("samples", s.latency().samples());
        latency.put("p50", nullIfNaN(s.latency().p50()));
        latency.put("p95", nullIfNaN(s.latency().p95()));
        latency.put("p99", nullIfNaN(s.latency().p99()));
        latency.put("excludedImplausibleRequestedAt", s.latency().excluded());
        m.put("latencyMs", latency);
        m.put("labels", s.labels());
        m.put("predictedMix", rounded(s.predictedMix()));
        m.put("trainingMix", s.trainingMix() == null ? null : rounded(s.trainingMix()));
        m.put("drift", s.drift() == null ? null : round(s.drift(), 4));
        m.put("driftThreshold", s.driftThreshold());
        m.put("driftWarning", s.driftWarning());
        m.put("deadLettersByReason", s.deadLettersByReason());
        m.put("models", s.models());
        m.put("contractModel", s.contractModel());
        WatchStats.Influence inf = s.influence();
        if (inf != null) {
            Map<String, Object> influence = new LinkedHashMap<>();
            influence.put("samples", inf.samples());
            influence.put("shiftP5", round(inf.p5(), 4));
            influence.put("shiftP50", round(inf.p50(), 4));
            influence.put("shiftP95", round(inf.p95(), 4));
            influence.put("meanAbsoluteShift", round(inf.meanAbsolute(), 4));
            influence.put("labelChangedShare", round(inf.labelChanged(), 4));
            m.put("clinicalInfluence", influence);
        } else {
            m.put("clinicalInfluence", null);
        }
        WatchStats.Shadow sh = s.shadow();
        if (sh != null) {
            Map<String, Object> shadow = new LinkedHashMap<>();
            shadow.put("pairs", sh.pairs());
            shadow.put("agreement", round(sh.agreement(), 4));
            shadow.put("confusion", sh.confusion());
            shadow.put("models", sh.shadowModels());
            m.put("shadow", shadow);
        } else {
            m.put("shadow", null);
        }
        return JSON.writeValueAsString(m);
    }

    /** The human view: a block of lines, redrawn every interval on a terminal. */
    static String text(WatchStats.Snapshot s, String topic) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%n== %s  (%.0f s)  %s%n", TIME.format(Instant.ofEpochMilli(s.atMillis())),
                s.seconds(), topic));
        b.append(String.format(Locale.ROOT, "predictions  %8d total  %8.1f/s     dead letters %6d total  %6.1f/s%n",
                s.predictions(), s.predictionsPerSecond(), s.deadLetters(), s.deadLettersPerSecond()));
        WatchStats.Latency l = s.latency();
        if (l.samples() > 0) {
            b.append(String.format(Locale.ROOT, "latency requested->predicted (last %d): p50 %.0f ms  p95 %.0f ms  "
                    + "p99 %.0f ms%n", l.samples(), l.p50(), l.p95(), l.p99()));
        } else {
            b.append("latency requested->predicted: no predictions yet\n");
        }
        if (l.excluded() > 0) {
            b.append(String.format(Locale.ROOT, "  (%d prediction(s) left out: requestedAt implausible, see the "
                    + "producer's clock)%n", l.excluded()));
        }
        if (!s.models().isEmpty()) {
            b.append("models seen: ");
            b.append(String.join(", ", s.models().entrySet().stream()
                    .map(e -> e.getKey() + "… (" + e.getValue() + ")").toList()));
            b.append('\n');
        }
        if (s.contractModel() != null && !s.models().isEmpty()
                && s.models().keySet().stream().noneMatch(k -> k.startsWith(s.contractModel() + " "))) {
            b.append("NOTE: the training mix is from ").append(s.contractModel())
                    .append(", which is not the model on these predictions\n");
        }
        if (!s.predictedMix().isEmpty() || s.trainingMix() != null) {
            b.append(String.format(Locale.ROOT, "%-28s %10s %10s%n", "label", "predicted",
                    s.trainingMix() == null ? "" : "training"));
            TreeSet<String> labels = new TreeSet<>(s.predictedMix().keySet());
            if (s.trainingMix() != null) {
                labels.addAll(s.trainingMix().keySet());
            }
            for (String label : labels) {
                double p = s.predictedMix().getOrDefault(label, 0.0);
                String t = s.trainingMix() == null ? "" : String.format(Locale.ROOT, "%9.1f%%",
                        100 * s.trainingMix().getOrDefault(label, 0.0));
                b.append(String.format(Locale.ROOT, "  %-26s %9.1f%% %10s%n", label, 100 * p, t));
            }
            if (s.trainingMix() == null) {
                b.append("  (no training mix: pass --model FILE.onnx to compare)\n");
            } else if (s.drift() == null) {
                b.append("  drift: waiting for more predictions\n");
            } else {
                b.append(String.format(Locale.ROOT, "  drift (total variation distance) %.3f, threshold %.3f%n",
                        s.drift(), s.driftThreshold()));
            }
            if (s.driftWarning()) {
                b.append(String.format(Locale.ROOT, "WARNING: the predicted label mix drifted from the training "
                        + "mix (%.3f > %.3f): check the input (devices, sites, population) and the model%n",
                        s.drift(), s.driftThreshold()));
            }
        }
        WatchStats.Influence inf = s.influence();
        if (inf != null) {
            b.append(String.format(Locale.ROOT, "clinical data's influence (last %d): shift of the predicted class's "
                    + "probability p5 %+.3f  p50 %+.3f  p95 %+.3f, mean |shift| %.3f; label changed by it in %.1f%%%n",
                    inf.samples(), inf.p5(), inf.p50(), inf.p95(), inf.meanAbsolute(), 100 * inf.labelChanged()));
        }
        WatchStats.Shadow sh = s.shadow();
        if (sh != null) {
            b.append(String.format(Locale.ROOT, "shadow %s: agrees with the answered label on %.1f%% of the last %d "
                    + "requests both answered%n", String.join(", ", sh.shadowModels().keySet()), 100 * sh.agreement(),
                    sh.pairs()));
            b.append(String.format(Locale.ROOT, "  %-24s %s%n", "answered \\ shadow", String.join("  ",
                    sh.confusion().values().stream().flatMap(m -> m.keySet().stream()).distinct().sorted()
                            .toList())));
            java.util.List<String> columns = sh.confusion().values().stream().flatMap(m -> m.keySet().stream())
                    .distinct().sorted().toList();
            sh.confusion().forEach((answered, row) -> {
                b.append(String.format(Locale.ROOT, "  %-24s", answered));
                for (String c : columns) {
                    b.append(String.format(Locale.ROOT, " %" + Math.max(6, c.length()) + "d", row.getOrDefault(c, 0L)));
                }
                b.append('\n');
            });
        }
        if (!s.deadLettersByReason().isEmpty()) {
            b.append("dead letters by reason:\n");
            s.deadLettersByReason().forEach((reason, n) -> b.append(String.format(Locale.ROOT, "  %-26s %8d%n",
                    reason, n)));
        }
        return b.toString();
    }

    private static Object nullIfNaN(double v) {
        return Double.isNaN(v) ? null : round(v, 3);
    }

    private static double round(double v, int places) {
        double f = Math.pow(10, places);
        return Math.round(v * f) / f;
    }

    private static Map<String, Double> rounded(Map<String, Double> mix) {
        Map<String, Double> m = new LinkedHashMap<>();
        mix.forEach((k, v) -> m.put(k, round(v, 4)));
        return m;
    }
}
