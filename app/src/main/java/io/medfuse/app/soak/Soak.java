package io.medfuse.app.soak;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

import io.medfuse.events.ImagingRequest;
import io.medfuse.testkit.ChildJvm;
import io.medfuse.testkit.KafkaBrokerProcess;
import io.medfuse.worker.WorkerMain;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import io.medfuse.events.registry.SchemaRegistryClient;
import io.medfuse.testkit.NewerRequestSchema;
import io.medfuse.testkit.OutcomeConsumer;
import io.medfuse.testkit.SampleRequests;
import io.medfuse.events.serde.ConfluentAvroCodec;

/**
 * The fault soak: a standalone broker process, worker instances as separate JVMs ({@link WorkerMain}) with the
 * worker's default settings, a producer of requests at a steady rate and, while they stream in, faults: SIGKILL a
 * worker and restart it ({@code kills} times), scale 1 → 3, SIGKILL one of the three without a restart (the others
 * take its partitions over), scale back to 1 (SIGTERM), restart the broker, stop the schema registry for a while
 * (the producer has meanwhile moved to a newer schema version, so the workers need the registry to read it).
 * Afterwards, under read_committed, every request id must have exactly one prediction or exactly one dead letter.
 *
 * <p>Recovery time of a fault: from the fault (for the registry: from its return) until a probe request sent to
 * every partition after the system settled (restarted instances RUNNING, broker back) has been answered, i.e.
 * until every partition answers again. Faults with a bound fail the soak when they take longer: a kill with a
 * restart {@value #RESTART_BOUND_SECONDS} s, a kill the others take over {@value #TAKEOVER_BOUND_SECONDS} s, the
 * registry's return {@value #REGISTRY_BOUND_SECONDS} s (ADR 0006).
 */
public final class Soak {

    /** Bound on a SIGKILL followed by a restart, in seconds. */
    public static final int RESTART_BOUND_SECONDS = 10;
    /** Bound on a SIGKILL whose partitions the other instances take over, in seconds. */
    public static final int TAKEOVER_BOUND_SECONDS = 15;
    /** Bound from the schema registry's return to every partition answering again, in seconds. */
    public static final int REGISTRY_BOUND_SECONDS = 10;

    /**
     * What to run. {@code badEvery}: every n-th request carries an undecodable image (a dead letter);
     * {@code registryOutage}: how long the registry is stopped (zero: not at all); {@code brokerSettings}: extra
     * server.properties entries for the broker process (empty: Kafka's defaults).
     */
    public record Settings(int requests, double rate, int partitions, int kills, boolean scale, boolean brokerRestart,
                           Duration registryOutage, int badEvery, Duration answerTimeout, Path workDir,
                           PrintStream out, Map<String, String> brokerSettings) {
        public Settings {
            brokerSettings = Map.copyOf(brokerSettings);
        }
    }

    /**
     * One fault and how long the system took to answer on every partition again.
     *
     * @param boundSeconds the longest that is acceptable, or null when the fault has no bound
     * @param note what the workers' logs say about the recovery path (re-submitted requests, pauses)
     */
    public record FaultResult(String fault, double recoverySeconds, boolean recovered, Integer boundSeconds,
                              String note) {
        public boolean withinBound() {
            return recovered && (boundSeconds == null || recoverySeconds <= boundSeconds);
        }
    }

    /** The outcome; {@link #ok()} when nothing was lost, duplicated or unexpected and every bound held. */
    public record Report(int requests, int predictions, int deadLetters, List<String> lost, List<String> duplicated,
                         int unexpected, int sendFailures, List<FaultResult> faults, double seconds) {
        public boolean ok() {
            return lost.isEmpty() && duplicated.isEmpty() && unexpected == 0 && sendFailures == 0
                    && faults.stream().allMatch(FaultResult::withinBound);
        }
    }

    private final Settings s;
    private final List<Worker> workers = new ArrayList<>();
    private final Map<String, AtomicInteger> predictions = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> deadLetters = new ConcurrentHashMap<>();
    private final AtomicInteger withoutId = new AtomicInteger();
    private final Set<String> sent = ConcurrentHashMap.newKeySet();
    private final AtomicInteger sendFailures = new AtomicInteger();
    private final AtomicReference<String> firstSendFailure = new AtomicReference<>();
    private KafkaBrokerProcess broker;
    private Path workerConfig;
    private KafkaProducer<String, byte[]> producer;
    private ConfluentAvroCodec<ImagingRequest> codec;
    private String requestsTopic;
    private int workerSeq;
    /** Schema id the producer writes with once it "upgraded" (during the registry outage); 0: the current one. */
    private volatile int newerSchemaId;

    private record Worker(String name, Process process, Path log) {
    }

    private Soak(Settings settings) {
        this.s = settings;
    }

    /** Runs the soak and returns its report; never throws for a lost or duplicated answer (the report says). */
    public static Report run(Settings settings) throws IOException, InterruptedException {
        return new Soak(settings).execute();
    }

    @SuppressWarnings("try") // the reader works on its own thread; the try only closes it
    private Report execute() throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        Files.createDirectories(s.workDir());
        List<FaultResult> faults = new ArrayList<>();
        say("soak: starting a Kafka broker process and the schema registry ..."
                + (s.brokerSettings().isEmpty() ? "" : " (broker settings " + s.brokerSettings() + ")"));
        broker = KafkaBrokerProcess.start(false, s.brokerSettings());
        try (InProcessSchemaRegistry registryServer = InProcessSchemaRegistry.start(0)) {
            String suffix = UUID.randomUUID().toString().substring(0, 8);
            requestsTopic = "soak-requests-" + suffix;
            String predictionsTopic = "soak-predictions-" + suffix;
            String deadLettersTopic = "soak-dead-letters-" + suffix;
            broker.createTopics(s.partitions(), requestsTopic);
            broker.createTopics(2, predictionsTopic, deadLettersTopic);
            SchemaRegistryClient registry = new RestSchemaRegistryClient(new RegistrySettings(registryServer.url(),
                    null, null, Duration.ofSeconds(10)));
            codec = new ConfluentAvroCodec<>(registry, ImagingRequest.class, true);
            workerConfig = writeWorkerConfig(registryServer, "medfuse-soak-" + suffix, requestsTopic,
                    predictionsTopic, deadLettersTopic);
            producer = newProducer();
            try (OutcomeConsumer reader = OutcomeConsumer.withoutGroup(broker.bootstrapServers(), registry,
                    predictionsTopic, deadLettersTopic, OutcomeConsumer.of(
                            p -> count(predictions, p.getRequestId()),
                            d -> {
                                if (d.getRequestId() == null) {
                                    withoutId.incrementAndGet();
                                } else {
                                    count(deadLetters, d.getRequestId());
                                }
                            }))) {
                startWorker();
                say("soak: worker-1 started; waiting for it to answer ...");
                faults.add(probeAfter("start-up", System.nanoTime(), () -> allRunning(), null));
                Thread producerThread = new Thread(this::produce, "soak-producer");
                producerThread.start();
                Thread.sleep(2000);
                for (int k = 1; k <= s.kills(); k++) {
                    Worker victim = workers.get(0);
                    long at = System.nanoTime();
                    victim.process().destroyForcibly(); // SIGKILL: no shutdown hook, no final commit
                    victim.process().waitFor(30, TimeUnit.SECONDS);
                    workers.remove(0);
                    startWorker();
                    faults.add(probeAfter("SIGKILL " + victim.name() + " + restart (" + k + "/" + s.kills() + ")",
                            at, this::allRunning, RESTART_BOUND_SECONDS));
                    Thread.sleep(1500);
                }
                if (s.scale()) {
                    long at = System.nanoTime();
                    startWorker();
                    startWorker();
                    faults.add(probeAfter("scale 1 -> 3", at, this::allRunning, null));
                    Thread.sleep(1500);
                    // a member dies for good: the other two take its partitions over
                    Worker gone = workers.remove(workers.size() - 1);
                    at = System.nanoTime();
                    gone.process().destroyForcibly();
                    gone.process().waitFor(30, TimeUnit.SECONDS);
                    faults.add(probeAfter("SIGKILL " + gone.name() + ", no restart", at, () -> true,
                            TAKEOVER_BOUND_SECONDS));
                    Thread.sleep(1500);
                    at = System.nanoTime();
                    List<Worker> leaving = new ArrayList<>(workers.subList(1, workers.size()));
                    for (Worker w : leaving) {
                        w.process().destroy(); // SIGTERM: a clean shutdown
                    }
                    for (Worker w : leaving) {
                        boolean exited = w.process().waitFor(60, TimeUnit.SECONDS);
                        say(String.format("soak: %s %s %.1f s after SIGTERM", w.name(),
                                exited ? "exited" : "had NOT exited", seconds(at)));
                        if (!exited) {
                            w.process().destroyForcibly();
                        }
                        workers.remove(w);
                    }
                    faults.add(probeAfter("scale " + (leaving.size() + 1) + " -> 1 (SIGTERM)", at, () -> true,
                            null));
                    Thread.sleep(1500);
                }
                if (s.brokerRestart()) {
                    long at = System.nanoTime();
                    broker.restart();
                    faults.add(probeAfter("broker restart", at, () -> true, null));
                    Thread.sleep(1500);
                }
                if (!s.registryOutage().isZero()) {
                    // the producer moves to a newer schema version: a worker needs the registry to read it
                    newerSchemaId = registry.register(ConfluentAvroCodec.valueSubject(requestsTopic),
                            NewerRequestSchema.schema());
                    registryServer.stop();
                    say(String.format("soak: schema registry stopped for %d s (the producer now writes schema id %d)",
                            s.registryOutage().toSeconds(), newerSchemaId));
                    // one request of the newer version on every partition, whether or not the producer still runs
                    SampleRequests upgraded = new SampleRequests(7, 64, "image/png");
                    for (int p = 0; p < s.partitions(); p++) {
                        send(p, upgraded.next("outage-p" + p), true);
                    }
                    producer.flush();
                    Thread.sleep(s.registryOutage().toMillis()); // the outage itself
                    registryServer.restart();
                    long at = System.nanoTime();
                    faults.add(probeAfter("schema registry back after " + s.registryOutage().toSeconds() + " s",
                            at, () -> true, REGISTRY_BOUND_SECONDS));
                }
                producerThread.join();
                producer.flush();
                say(String.format("soak: %d requests sent; waiting for every answer ...", sent.size()));
                await(() -> answeredIds() >= sent.size(), s.answerTimeout());
                Thread.sleep(3000); // a duplicate would arrive now
            } finally {
                producer.close(Duration.ofSeconds(10));
                for (Worker w : workers) {
                    w.process().destroy();
                }
                for (Worker w : workers) {
                    if (!w.process().waitFor(60, TimeUnit.SECONDS)) {
                        w.process().destroyForcibly();
                    }
                }
            }
        } finally {
            broker.close();
        }
        List<String> lost = new ArrayList<>();
        List<String> duplicated = new ArrayList<>();
        for (String id : sent) {
            int n = get(predictions, id) + get(deadLetters, id);
            if (n == 0) {
                lost.add(id);
            } else if (n > 1) {
                duplicated.add(id);
            }
        }
        int unexpected = withoutId.get();
        for (String id : predictions.keySet()) {
            unexpected += sent.contains(id) ? 0 : 1;
        }
        for (String id : deadLetters.keySet()) {
            unexpected += sent.contains(id) ? 0 : 1;
        }
        if (firstSendFailure.get() != null) {
            say("soak: first send failure: " + firstSendFailure.get());
        }
        Report report = new Report(sent.size(), sum(predictions), sum(deadLetters), sorted(lost), sorted(duplicated),
                unexpected, sendFailures.get(), faults, seconds(t0));
        print(report);
        return report;
    }

    private void produce() {
        SampleRequests samples = new SampleRequests(42, 64, "image/png");
        long start = System.nanoTime();
        for (int i = 1; i <= s.requests(); i++) {
            ImagingRequest r = samples.next("soak");
            if (s.badEvery() > 0 && i % s.badEvery() == 0) {
                r = samples.request(r.getRequestId() + "-bad", 50.0, "female", "back",
                        "not an image".getBytes(StandardCharsets.UTF_8));
            }
            send(null, r);
            if (s.rate() > 0) {
                long due = start + (long) (i * 1e9 / s.rate());
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    try {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
        }
    }

    private void send(Integer partition, ImagingRequest r) {
        // the steady producer follows the upgrade; probes stay on the schema every worker knows
        send(partition, r, partition == null);
    }

    private void send(Integer partition, ImagingRequest r, boolean followUpgrade) {
        String id = r.getRequestId();
        sent.add(id);
        int newer = newerSchemaId;
        byte[] value = newer != 0 && followUpgrade ? NewerRequestSchema.encode(codec, requestsTopic, newer, r)
                : codec.encode(requestsTopic, r);
        producer.send(new ProducerRecord<>(requestsTopic, partition, id, value),
                (meta, e) -> {
                    if (e != null) {
                        sent.remove(id);
                        sendFailures.incrementAndGet();
                        firstSendFailure.compareAndSet(null, id + ": " + e);
                    }
                });
    }

    /** Waits until {@code settled}, then sends one probe per partition and waits for all their answers. */
    private FaultResult probeAfter(String fault, long faultNanos, BooleanSupplier settled, Integer bound)
            throws InterruptedException {
        boolean ok = await(settled, s.answerTimeout());
        SampleRequests samples = new SampleRequests(faultNanos, 64, "image/png");
        List<String> probes = new ArrayList<>();
        String tag = fault.replaceAll("[^A-Za-z0-9]+", "-");
        for (int p = 0; p < s.partitions(); p++) {
            ImagingRequest r = samples.request("probe-" + tag + "-p" + p + "-" + faultNanos % 100000, 40.0, "male",
                    "back", samples.image(p));
            probes.add(r.getRequestId());
            send(p, r);
        }
        producer.flush();
        ok &= await(() -> probes.stream().allMatch(id -> get(predictions, id) + get(deadLetters, id) > 0),
                s.answerTimeout());
        FaultResult result = new FaultResult(fault, seconds(faultNanos), ok, bound, recoveryNote());
        say(String.format("soak: %-40s %s in %6.1f s%s (%d answered so far; %s)", fault,
                ok ? "recovered" : "NOT recovered", result.recoverySeconds(),
                bound == null ? "" : result.withinBound() ? " (bound " + bound + " s)" : " OVER its bound of "
                        + bound + " s", answeredIds(), result.note()));
        return result;
    }

    /**
     * What the workers' logs say so far about the recovery paths: pending requests taken again after a crash and
     * pauses for the registry (a recovery test must see its path run, not only its outcome).
     */
    private String recoveryNote() {
        int resubmitted = 0;
        int pauses = 0;
        java.util.regex.Pattern taking = java.util.regex.Pattern.compile("taking (\\d+) request\\(s\\) again");
        try (var logs = Files.list(s.workDir())) {
            for (Path log : logs.filter(p -> p.getFileName().toString().endsWith(".log")).toList()) {
                for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
                    var m = taking.matcher(line);
                    if (m.find()) {
                        resubmitted += Integer.parseInt(m.group(1));
                    }
                    if (line.contains("pausing consumption until it answers")) {
                        pauses++;
                    }
                }
            }
        } catch (IOException | java.io.UncheckedIOException e) {
            return "logs unreadable: " + e;
        }
        return resubmitted + " pending request(s) re-submitted, " + pauses + " registry pause(s) so far";
    }

    private boolean allRunning() {
        for (Worker w : workers) {
            if (!w.process().isAlive()) {
                throw new IllegalStateException(w.name() + " exited with " + w.process().exitValue() + "; see "
                        + w.log());
            }
            try {
                if (!Files.readString(w.log(), StandardCharsets.UTF_8).contains("-> RUNNING")) {
                    return false;
                }
            } catch (IOException e) {
                return false;
            }
        }
        return true;
    }

    private void startWorker() {
        String name = "worker-" + (++workerSeq);
        Path log = s.workDir().resolve(name + ".log");
        Process p = ChildJvm.start(WorkerMain.class.getName(), List.of(workerConfig.toString()),
                List.of("-Xmx384m"), Map.of(), log);
        workers.add(new Worker(name, p, log));
    }

    private Path writeWorkerConfig(InProcessSchemaRegistry registry, String applicationId, String requests,
                                   String predictionsTopic, String deadLettersTopic) throws IOException {
        Properties p = new Properties();
        p.setProperty(WorkerConfig.BOOTSTRAP_SERVERS, broker.bootstrapServers());
        p.setProperty(WorkerConfig.REGISTRY_URL, registry.url().toString());
        p.setProperty(WorkerConfig.APPLICATION_ID, applicationId);
        p.setProperty(WorkerConfig.TOPIC_REQUESTS, requests);
        p.setProperty(WorkerConfig.TOPIC_PREDICTIONS, predictionsTopic);
        p.setProperty(WorkerConfig.TOPIC_DEAD_LETTERS, deadLettersTopic);
        p.setProperty(WorkerConfig.PREPROCESS_THREADS, "1");
        p.setProperty(WorkerConfig.MODEL_INTRA_OP_THREADS, "1");
        p.setProperty(WorkerConfig.MODEL_DEVICE, "cpu");
        // several worker JVMs on one host: each takes a free port for its metrics endpoint and a state slot of its
        // own under one root; everything that decides recovery time is left at the worker's defaults
        p.setProperty(WorkerConfig.METRICS_PORT, "0");
        p.setProperty(WorkerConfig.METRICS_BIND_ADDRESS, "127.0.0.1");
        p.setProperty(WorkerConfig.STATE_DIR, s.workDir().resolve("state").toString());
        Path file = s.workDir().resolve("worker.properties");
        try (Writer w = Files.newBufferedWriter(file)) {
            p.store(w, "medfuse soak worker");
        }
        return file;
    }

    private KafkaProducer<String, byte[]> newProducer() {
        Properties p = broker.clientProperties();
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true); // a retry across the broker restart is no duplicate
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 300_000);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 16 * 1024 * 1024);
        return new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    }

    private int answeredIds() {
        int n = 0;
        for (String id : sent) {
            if (get(predictions, id) + get(deadLetters, id) > 0) {
                n++;
            }
        }
        return n;
    }

    private void print(Report r) {
        say("");
        say("soak report");
        say(String.format("  requests sent            %8d (send failures: %d)", r.requests(), r.sendFailures()));
        say(String.format("  predictions              %8d", r.predictions()));
        say(String.format("  dead letters             %8d", r.deadLetters()));
        say(String.format("  lost (no answer)         %8d %s", r.lost().size(), head(r.lost())));
        say(String.format("  duplicated (>1 answer)   %8d %s", r.duplicated().size(), head(r.duplicated())));
        say(String.format("  unexpected answers       %8d", r.unexpected()));
        say("  fault                                    recovery   bound");
        for (FaultResult f : r.faults()) {
            say(String.format("  %-40s %6.1f s  %6s%s", f.fault(), f.recoverySeconds(),
                    f.boundSeconds() == null ? "-" : f.boundSeconds() + " s",
                    !f.recovered() ? "  NOT RECOVERED" : f.withinBound() ? "" : "  OVER THE BOUND"));
        }
        say(String.format("soak: %s in %.0f s", r.ok() ? "PASSED: every request has exactly one answer"
                : "FAILED", r.seconds()));
    }

    private void say(String line) {
        s.out().println(line);
        s.out().flush();
    }

    private static boolean await(BooleanSupplier condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            TimeUnit.MILLISECONDS.sleep(100);
        }
        return condition.getAsBoolean();
    }

    private static void count(Map<String, AtomicInteger> counts, String id) {
        counts.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
    }

    private static int get(Map<String, AtomicInteger> counts, String id) {
        AtomicInteger n = counts.get(id);
        return n == null ? 0 : n.get();
    }

    private static int sum(Map<String, AtomicInteger> counts) {
        return counts.values().stream().mapToInt(AtomicInteger::get).sum();
    }

    private static List<String> sorted(List<String> ids) {
        ids.sort(null);
        return ids;
    }

    private static String head(List<String> ids) {
        return ids.isEmpty() ? "" : ids.subList(0, Math.min(5, ids.size())) + (ids.size() > 5 ? " ..." : "");
    }

    private static double seconds(long sinceNanos) {
        return (System.nanoTime() - sinceNanos) / 1e9;
    }
}
