package io.medfuse.app.bench;

import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import ch.qos.logback.classic.Level;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.testkit.KafkaBrokerProcess;
import io.medfuse.testkit.InProcessSchemaRegistry;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code medfuse bench}: the worker against its compute, preprocessing and bus limits, side by side in one run, for
 * the bundled model and the seed-size model. Prints a table on stdout, a progress line on stderr, and writes the
 * numbers as JSON.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {
            "Measures, in one run: (1) compute limit: ONNX Runtime alone, batch 1..64; (2) preprocessing limit: "
                    + "decode + resize + normalise, one thread and the pool; (3) the in-process pipeline (no Kafka); (4) "
                    + "the bus limit: a pass-through Kafka Streams app with the worker's guarantee, with and without the "
                    + "pending store; (5) the worker end to end at saturation, after unmeasured warm-up runs (until the "
                    + "JIT is quiet), batched and with batch.max.size=1; (6) "
                    + "latency under open-loop load at 25/50/75 %% of (5). For the bundled model and the seed-size model "
                    + "(512x512x3 + 2 values, random weights, written at run time).",
            "Embedded broker and registry unless --bootstrap/--registry are given; its topics and temporary data "
                    + "are deleted at the end."
        })
public final class BenchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--duration", paramLabel = "SECONDS", defaultValue = "10",
            description = "Length of each timed measurement (compute, preprocessing, in-process, each load "
                    + "level) (default: ${DEFAULT-VALUE}).")
    double duration;

    @Option(names = "--requests", paramLabel = "N", defaultValue = "0",
            description = "Requests through the bus and the worker at saturation; 0: in-process rate x duration, "
                    + "200..20000 (default: ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--model", paramLabel = "MODEL", defaultValue = "all",
            description = "bundled, seed or all (default: ${DEFAULT-VALUE}); also bundled-jpeg, the bundled model on "
                    + "224 px JPEGs instead of PNGs (not part of all).")
    String model;

    @Option(names = "--only", paramLabel = "STAGE", split = ",",
            description = "Run only these stages: compute, preprocess, inprocess, influence, bus, e2e, latency, swap (latency "
                    + "needs e2e's saturation, so it runs e2e too). Default: all.")
    List<String> only;

    @Option(names = "--embedded-broker",
            description = "Run the Kafka broker inside the bench's JVM (as before 2026-12-03) instead of in its own "
                    + "process; the worker's CPU per request then includes the broker's, and the broker's is not "
                    + "reported.")
    boolean embeddedBroker;

    @Option(names = "--bootstrap", paramLabel = "HOST:PORT",
            description = "An external Kafka cluster instead of the embedded broker (needs --registry).")
    String bootstrap;

    @Option(names = "--registry", paramLabel = "URL",
            description = "The schema registry of the external cluster (Confluent REST API).")
    URI registry;

    @Option(names = "--partitions", paramLabel = "N", defaultValue = "6",
            description = "Partitions of the requests topics (default: ${DEFAULT-VALUE}).")
    int partitions;

    @Option(names = "--out", paramLabel = "FILE", defaultValue = "bench.json",
            description = "Where the JSON report goes (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
            description = "A worker setting for every stage that runs worker code (as 'serve --set'), e.g. "
                    + "--set batch.max.queue.delay.ms=5 or --set kafka.producer.linger.ms=0. Repeatable.")
    Map<String, String> set = new LinkedHashMap<>();

    @Option(names = "--no-progress", description = "No progress line on stderr.")
    boolean noProgress;

    @Option(names = "--verbose", description = "Show the worker's and Kafka's logs.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        Set<String> stages = stages();
        List<String> models = switch (model) {
            case "all" -> List.of("bundled", "seed");
            case "bundled", "seed", "bundled-jpeg" -> List.of(model);
            default -> throw new ParameterException(spec.commandLine(),
                    "--model must be bundled, seed, all or bundled-jpeg, got '" + model + "'");
        };
        if (duration <= 0 || requests < 0 || partitions < 1) {
            throw new ParameterException(spec.commandLine(),
                    "--duration must be > 0, --requests >= 0 and --partitions >= 1");
        }
        if ((bootstrap == null) != (registry == null)) {
            throw new ParameterException(spec.commandLine(), "--bootstrap and --registry go together");
        }
        if (!verbose) {
            quietLogs();
        }
        PrintStream stdout = System.out;
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("started_at", Instant.now().toString());
        report.put("machine", machine());
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("duration_s", duration);
        settings.put("requests", requests);
        settings.put("partitions", partitions);
        settings.put("stages", List.copyOf(stages));
        settings.put("worker_overrides", set);
        settings.put("cluster", bootstrap != null ? bootstrap : embeddedBroker ? "embedded (one KRaft broker in this JVM)"
                : "one KRaft broker in its own process on this machine");
        report.put("settings", settings);
        MemoryProbe memory = new MemoryProbe();
        Map<String, Object> results = new LinkedHashMap<>();
        boolean needsKafka = stages.contains("bus") || stages.contains("e2e") || stages.contains("latency")
                || stages.contains("swap");
        Resources res = new Resources(Files.createTempDirectory("medfuse-bench-"));
        // Ctrl-C: still delete the broker's data and the temporary model (finally blocks do not run on SIGINT)
        Thread hook = new Thread(res::close, "medfuse-bench-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        try (Progress progress = new Progress(System.err, !noProgress)) {
            if (needsKafka) {
                String bootstrapServers = bootstrap;
                URI registryUrl = registry;
                if (bootstrapServers == null && embeddedBroker) {
                    progress.note("starting an embedded Kafka broker and the in-process schema registry");
                    res.kafka = EmbeddedKafka.start();
                    res.registry = InProcessSchemaRegistry.start(0);
                    bootstrapServers = res.kafka.bootstrapServers();
                    registryUrl = res.registry.url();
                } else if (bootstrapServers == null) {
                    // its own process, so that the worker's CPU per request is the worker's and the broker's is
                    // measured apart
                    progress.note("starting a Kafka broker process (KRaft) and the in-process schema registry");
                    res.brokerProcess = KafkaBrokerProcess.start(false, Map.of());
                    res.registry = InProcessSchemaRegistry.start(0);
                    bootstrapServers = res.brokerProcess.bootstrapServers();
                    registryUrl = res.registry.url();
                }
                res.cluster = new BenchCluster(bootstrapServers, registryUrl, Map.of(),
                        "medfuse-bench-" + UUID.randomUUID().toString().substring(0, 8));
                if (res.brokerProcess != null) {
                    res.cluster.brokerCpu(CpuClock.ofProcess(res.brokerProcess.pid()));
                    res.cluster.brokerJit(CpuClock.ofCompilerThreads(res.brokerProcess.pid()));
                }
                if (bootstrap != null) {
                    res.cluster.external();
                }
            }
            Bench bench = new Bench(new Bench.Options(duration, requests, partitions, stages, Map.copyOf(set)),
                    res.cluster, progress, memory);
            for (String name : models) {
                progress.note("model " + name + ": preparing the model and request images");
                BenchModel m = switch (name) {
                    case "seed" -> BenchModel.seed(res.tmp);
                    case "bundled-jpeg" -> BenchModel.bundledJpeg();
                    default -> BenchModel.bundled();
                };
                results.put(name, bench.run(m));
            }
        } finally {
            res.close();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // already shutting down: the hook runs res.close() again, which does nothing the second time
            }
        }
        report.put("models", results);
        Map<String, Object> mem = new LinkedHashMap<>();
        mem.put("max_rss_mib", Bench.round(MemoryProbe.maxRssMiB()));
        mem.put("max_heap_mib", Bench.round(MemoryProbe.maxHeapMiB()));
        mem.put("heap_after_gc_mib", rounded(memory.heapAfterGcMiB()));
        report.put("memory", mem);
        report.put("load_average_after", loadAverage());
        report.put("finished_at", Instant.now().toString());
        BenchReport.print(stdout, report);
        if (out.toAbsolutePath().getParent() != null) {
            Files.createDirectories(out.toAbsolutePath().getParent());
        }
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.toFile(), report);
        stdout.println("wrote " + out);
        return 0;
    }

    /** What a run opened; closed once, by the run or by the shutdown hook, whichever comes first. */
    private static final class Resources {
        private final Path tmp;
        private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
        volatile EmbeddedKafka kafka;
        volatile KafkaBrokerProcess brokerProcess;
        volatile InProcessSchemaRegistry registry;
        volatile BenchCluster cluster;

        Resources(Path tmp) {
            this.tmp = tmp;
        }

        void close() {
            if (!closed.compareAndSet(false, true)) {
                return;
            }
            try {
                if (cluster != null) {
                    cluster.close();
                }
            } finally {
                if (registry != null) {
                    registry.close();
                }
                if (kafka != null) {
                    kafka.close();
                }
                if (brokerProcess != null) {
                    brokerProcess.close();
                }
                Bench.deleteQuietly(tmp);
            }
        }
    }

    private Set<String> stages() {
        if (only == null || only.isEmpty()) {
            return new LinkedHashSet<>(Bench.STAGES);
        }
        Set<String> wanted = new LinkedHashSet<>();
        for (String s : only) {
            String stage = s.trim();
            if (!Bench.STAGES.contains(stage)) {
                throw new ParameterException(spec.commandLine(), "--only: unknown stage '" + stage
                        + "'; stages are " + Bench.STAGES);
            }
            wanted.add(stage);
        }
        if (wanted.contains("latency")) {
            wanted.add("e2e");
        }
        Set<String> ordered = new LinkedHashSet<>();
        for (String s : Bench.STAGES) {
            if (wanted.contains(s)) {
                ordered.add(s);
            }
        }
        return ordered;
    }

    private static Map<String, Object> machine() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
                + System.getProperty("os.arch"));
        m.put("cpu", cpuModel());
        m.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        m.put("jvm_args", ManagementFactory.getRuntimeMXBean().getInputArguments());
        m.put("max_heap_mib", Bench.round(MemoryProbe.maxHeapMiB()));
        m.put("load_average_before", loadAverage());
        return m;
    }

    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return "unknown";
        }
        return "unknown";
    }

    /** 1, 5 and 15 minute load averages: more than the core count means others shared the machine. */
    private static String loadAverage() {
        try {
            String[] parts = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return parts[0] + " " + parts[1] + " " + parts[2];
        } catch (java.io.IOException | RuntimeException e) {
            return String.valueOf(ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        }
    }

    private static Map<String, Double> rounded(Map<String, Double> in) {
        Map<String, Double> m = new LinkedHashMap<>();
        in.forEach((k, v) -> m.put(k, Bench.round(v)));
        return m;
    }

    /** The table is the output: only errors from the broker, the clients and the worker. */
    private static void quietLogs() {
        if (LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext context) {
            for (ch.qos.logback.classic.Logger logger : context.getLoggerList()) {
                if (logger.getLevel() != null) {
                    logger.setLevel(Level.ERROR);
                }
            }
            // a transactional producer's first append of each transaction is refused and retried (transactions
            // v2); the broker logs that as an error although the client recovers: not news for the bench's reader
            context.getLogger("kafka.server.ReplicaManager").setLevel(Level.OFF);
            // deleting the run's consumer groups at the end also asks for share groups of those names
            context.getLogger("org.apache.kafka.coordinator.group.GroupCoordinatorService").setLevel(Level.OFF);
        }
    }

}
