package io.medfuse.app;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import ch.qos.logback.classic.Level;
import io.medfuse.events.FailedRequest;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Patient;
import io.medfuse.events.Prediction;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.testkit.OutcomeConsumer;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.worker.models.ModelAnnouncement;
import io.medfuse.model.contract.Calibration;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import io.medfuse.events.registry.SchemaRegistryClient;
import io.medfuse.trainer.synth.SyntheticDataset;
import io.medfuse.testkit.SampleRequests;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code medfuse demo}: everything in one JVM — broker, registry, worker, sample requests, printed predictions. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {
            "Starts a real single-node Kafka broker (KRaft) inside this JVM, the in-process schema registry (for "
                    + "the demo only) and a worker with the bundled model; publishes sample requests (images + patient "
                    + "data) and prints each prediction as it arrives, then one summary line. With --registry URL it "
                    + "uses that schema registry instead of starting the in-process one. Nothing is downloaded; all "
                    + "data is deleted on exit."
        })
final class DemoCommand implements java.util.concurrent.Callable<Integer> {

    /** The version the demo's second model (--swap) announces. */
    static final String SWAP_VERSION = "1.0.1-demo";
    static final String CONTROL_TOPIC = "medfuse.models";
    static final String STATUS_TOPIC = "medfuse.model-status";

    @Option(names = "--count", paramLabel = "N", defaultValue = "40",
            description = "Sample requests to publish (default: ${DEFAULT-VALUE}).")
    int count;

    @Option(names = "--rate", paramLabel = "R", defaultValue = "20",
            description = "Requests per second; 0 = as fast as possible (default: ${DEFAULT-VALUE}).")
    double rate;

    @Option(names = "--malformed", paramLabel = "N", defaultValue = "2",
            description = "Of those, deliberately malformed ones that must become dead letters "
                    + "(default: ${DEFAULT-VALUE}).")
    int malformed;

    @Option(names = "--partitions", paramLabel = "N", defaultValue = "6",
            description = "Partitions of the requests topic (default: ${DEFAULT-VALUE}).")
    int partitions;

    @Option(names = "--keep-running",
            description = "After the sample requests, print the bootstrap address and registry URL and keep the "
                    + "broker and worker up until Ctrl-C, so other clients can connect.")
    boolean keepRunning;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "120",
            description = "Give up waiting for answers after this long (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Option(names = "--dicom",
            description = "Send the sample images as DICOM objects (application/dicom) whose tags carry the "
                    + "patient's age and sex, with no patient fields in the request: the worker reads them from the "
                    + "tags (flags age:from-dicom, sex:from-dicom) and echoes the object's UIDs.")
    boolean dicom;

    @Option(names = "--no-influence", negatable = false,
            description = "Do not measure the clinical data's influence (influence.enabled, on in the demo: each "
                    + "request also runs with its age, sex and site masked; the table's 'shift' column and the "
                    + "summary show how much they moved the decision).")
    boolean noInfluence;

    @Option(names = "--swap",
            description = "Halfway through, publish a second model on the model control topic (medfuse.models): "
                    + "the bundled network as version " + SWAP_VERSION + ", with a calibration that softens its "
                    + "probabilities. The worker loads, checks and warms it up and switches between two batches, "
                    + "without a restart; the table's 'model' column shows which version answered each request.")
    boolean swap;

    @Option(names = "--verbose", description = "Show the worker's and Kafka's logs.")
    boolean verbose;

    @Option(names = "--registry", paramLabel = "URL",
            description = {"Use the schema registry at URL (its Confluent-compatible API base, e.g. "
                    + "http://host:8081 for Confluent/Karapace/Redpanda, http://host:8080/apis/ccompat/v7 for "
                    + "Apicurio) instead of starting the in-process one. The producer, the worker and the reader "
                    + "all use it; the demo registers its three schemas under the medfuse.*-value subjects there.",
                    "The demo stops at once with one line if GET URL/subjects does not answer 200."})
    URI registryUrl;

    @Override
    public Integer call() throws Exception {
        if (count < 1 || malformed < 0 || malformed > count) {
            throw new UserInputException("--count must be >= 1 and --malformed between 0 and --count");
        }
        if (!verbose) {
            quietLogs();
        }
        PrintStream out = System.out;
        long t0 = System.nanoTime();
        if (registryUrl != null) {
            // before the broker starts: a wrong URL should cost a second, not a broker start-up
            checkReachable(registryUrl);
        }
        out.println(registryUrl == null
                ? "medfuse demo: starting an embedded Kafka broker (KRaft), the in-process schema registry and a "
                        + "worker ..."
                : "medfuse demo: starting an embedded Kafka broker (KRaft) and a worker; schema registry at "
                        + RegistrySettings.redact(registryUrl) + " ...");
        Path references = Files.createDirectories(referenceFolder());
        Path stateDir = Files.createTempDirectory("medfuse-demo-state-");
        Path models = Files.createTempDirectory("medfuse-demo-models-");
        // an external registry is not ours to start or stop: the resource is then null, which try skips
        try (EmbeddedKafka kafka = EmbeddedKafka.start();
             InProcessSchemaRegistry inProcess = registryUrl == null ? InProcessSchemaRegistry.start(0) : null) {
            URI registryUri = inProcess != null ? inProcess.url() : registryUrl;
            String registryShown = RegistrySettings.redact(registryUri);
            String requests = "medfuse.requests";
            String predictions = "medfuse.predictions";
            String deadLetters = "medfuse.dead-letters";
            kafka.createTopics(partitions, requests);
            kafka.createTopics(3, predictions, deadLetters);
            kafka.createTopics(1, CONTROL_TOPIC, STATUS_TOPIC);
            Map<String, Object> settings = new LinkedHashMap<>();
            settings.put(WorkerConfig.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
            settings.put(WorkerConfig.REGISTRY_URL, registryUri.toString());
            settings.put(WorkerConfig.APPLICATION_ID, "medfuse-demo");
            // any free port: a demo must not fail because something else holds 9464
            settings.put(WorkerConfig.METRICS_PORT, "0");
            settings.put(WorkerConfig.METRICS_BIND_ADDRESS, "127.0.0.1");
            // the demo's own image folder is the one place references may point to (produce stages there too)
            settings.put(WorkerConfig.REFERENCE_FILE_ROOTS, references.toString());
            settings.put(WorkerConfig.STATE_DIR, stateDir.toString());
            settings.put(WorkerConfig.INFLUENCE_ENABLED, String.valueOf(!noInfluence));
            // models can be swapped while it runs: bin/medfuse model announce --bootstrap ... --file F
            settings.put(WorkerConfig.MODEL_CONTROL_TOPIC, CONTROL_TOPIC);
            settings.put(WorkerConfig.MODEL_STATUS_TOPIC, STATUS_TOPIC);
            settings.put(WorkerConfig.MODEL_CONTROL_DIR, models.toString());
            WorkerConfig config = WorkerConfig.load(null, Map.of(), settings);
            SchemaRegistryClient registry = new RestSchemaRegistryClient(
                    new RegistrySettings(registryUri, null, null, Duration.ofSeconds(10)));
            try (MedfuseWorker worker = MedfuseWorker.start(config)) {
                if (!worker.awaitRunning(Duration.ofSeconds(60))) {
                    throw new IllegalStateException("the worker did not reach RUNNING (state " + worker.state()
                            + "); run with --verbose to see why");
                }
                var identity = worker.classifier().identity();
                out.printf("worker ready: model %s %s (sha256 %s…) on %s; broker %s; registry %s%n",
                        identity.getName(), identity.getVersion(), identity.getSha256().substring(0, 12),
                        identity.getExecutionProvider(), kafka.bootstrapServers(), registryShown);
                out.printf("image references are allowed under %s only (image.reference.file.roots)%n",
                        references);
                if (!worker.classifier().contract().trained()) {
                    out.println("NOTE: the bundled model is UNTRAINED (random weights): its labels and "
                            + "probabilities are placeholders that only show the plumbing.");
                }
                Runnable halfway = swap ? () -> announceSecondModel(out, kafka, models) : () -> { };
                int answered = runRequests(out, kafka, registry, requests, predictions, deadLetters, references, t0,
                        halfway);
                if (keepRunning) {
                    out.println();
                    out.println("keeping the broker and the worker up; connect with:");
                    out.println("  bootstrap servers: " + kafka.bootstrapServers());
                    out.println("  schema registry:   " + registryShown);
                    out.println("  topics:            " + requests + " -> " + predictions + " / " + deadLetters);
                    out.println("  model control:     " + CONTROL_TOPIC + " (status on " + STATUS_TOPIC + "); model "
                            + "files under " + models + ", e.g. bin/medfuse model announce --bootstrap "
                            + kafka.bootstrapServers() + " --topic " + CONTROL_TOPIC + " --role canary --share 0.2 "
                            + "--file " + models.resolve("candidate.onnx"));
                    out.println("  file references:   allowed under " + references + " (bin/medfuse produce "
                            + "stages images larger than --inline-max-bytes there)");
                    out.println("  for example:       bin/medfuse produce --bootstrap " + kafka.bootstrapServers()
                            + " --registry " + registryShown + " --images DIR --metadata FILE.csv");
                    out.println("press Ctrl-C to stop.");
                    CountDownLatch stop = new CountDownLatch(1);
                    Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
                    stop.await();
                }
                return answered == count ? 0 : 1;
            }
        } finally {
            deleteQuietly(stateDir);
            deleteQuietly(models);
        }
    }

    /**
     * Writes the bundled network as {@link #SWAP_VERSION} (a temperature of 1.5 softens its probabilities: the
     * labels stay, the figures show which model answered) and announces it as the primary.
     */
    private static void announceSecondModel(PrintStream out, EmbeddedKafka kafka, Path models) {
        byte[] bundled = MedfuseWorker.bundledModel();
        ModelContract c = OnnxModelFile.readContract(bundled, "bundled");
        ModelContract v2 = c.withVersion(SWAP_VERSION).withCalibration(
                new Calibration(Calibration.TEMPERATURE, 1.5, null, Map.of()));
        byte[] bytes = OnnxModelFile.attachContract(bundled, v2);
        Path file = models.resolve("medfuse-demo-" + SWAP_VERSION + ".onnx");
        try {
            Files.write(file, bytes);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        ModelAnnouncement a = new ModelAnnouncement(io.medfuse.worker.pipeline.RequestPipeline.Role.PRIMARY,
                file.toUri(), OnnxModelFile.sha256(bytes), null, false);
        ModelCommand.publish(kafka.bootstrapServers(), Map.of(), CONTROL_TOPIC, a);
        synchronized (out) {
            out.printf("-- announced model %s %s (sha256 %s…) on %s: the worker switches to it between two "
                    + "batches%n", c.name(), SWAP_VERSION, a.sha256().substring(0, 12), CONTROL_TOPIC);
        }
    }

    /**
     * Asks {@code GET url/subjects} once, with a short timeout.
     *
     * @throws UserInputException with one line naming the URL and what came back, when the answer is not 200
     */
    static void checkReachable(URI url) {
        String shown = RegistrySettings.redact(url);
        if (!"http".equalsIgnoreCase(url.getScheme()) && !"https".equalsIgnoreCase(url.getScheme())) {
            throw new UserInputException("--registry must be an http or https URL, got " + shown);
        }
        String base = url.toString().endsWith("/") ? url.toString().substring(0, url.toString().length() - 1)
                : url.toString();
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
        HttpResponse<Void> answer;
        try {
            answer = http.send(HttpRequest.newBuilder(URI.create(base + "/subjects")).timeout(Duration.ofSeconds(5))
                    .header("Accept", "application/vnd.schemaregistry.v1+json, application/json").GET().build(),
                    HttpResponse.BodyHandlers.discarding());
        } catch (IOException e) {
            throw new UserInputException("the schema registry at " + shown + " is unreachable (" + e.getClass()
                    .getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()) + "); is it running,"
                    + " and is the URL right?");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UserInputException("interrupted while checking the schema registry at " + shown);
        }
        if (answer.statusCode() != 200) {
            throw new UserInputException("the schema registry at " + shown + " answered GET /subjects with HTTP "
                    + answer.statusCode() + ": is the URL its Confluent API base (Apicurio: .../apis/ccompat/v7)?");
        }
    }

    /**
     * The folder the demo's worker reads image references from, and where {@code produce} stages images too large
     * to send inline: the same by default, so what produce writes the demo accepts.
     */
    static Path referenceFolder() {
        return Path.of(System.getProperty("java.io.tmpdir"), "medfuse-demo", "references");
    }

    private static void deleteQuietly(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException e) {
            // a leftover temporary folder is harmless
        }
    }

    /** The demo's table is the output: only errors from the broker, Kafka clients and the worker. */
    private static void quietLogs() {
        if (LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext context) {
            for (ch.qos.logback.classic.Logger logger : context.getLoggerList()) {
                if (logger.getLevel() != null) {
                    logger.setLevel(Level.ERROR);
                }
            }
        }
    }

    /**
     * The request as a DICOM export would carry it: the image as a Secondary Capture object whose PatientAge and
     * PatientSex tags hold the patient's age and sex, no patient fields, the anatomical site still as a clinical
     * value (the bundled model's contract reads it from there).
     */
    private static ImagingRequest asDicom(ImagingRequest r, SyntheticDataset.Case c) throws java.io.IOException {
        java.awt.image.BufferedImage img = javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(c.png()));
        String id = r.getRequestId();
        byte[] object = io.medfuse.testkit.DicomBuilder.secondaryCapture(img,
                String.format(java.util.Locale.ROOT, "%03dY", c.age()),
                "female".equals(c.sex()) ? "F" : "male".equals(c.sex()) ? "M" : "O", null,
                io.medfuse.testkit.DicomBuilder.uidFor("study/" + id), io.medfuse.testkit.DicomBuilder.uidFor(
                        "series/" + id), io.medfuse.testkit.DicomBuilder.uidFor("instance/" + id));
        return ImagingRequest.newBuilder(r).setPatient(null)
                .setImage(io.medfuse.events.ImagePayload.newBuilder().setMediaType("application/dicom")
                        .setData(java.nio.ByteBuffer.wrap(object)).build())
                .build();
    }

    @SuppressWarnings("try") // the reader works on its own thread; the try only closes it
    private int runRequests(PrintStream out, EmbeddedKafka kafka, SchemaRegistryClient registry, String requests,
                            String predictionsTopic, String deadLettersTopic, Path references, long t0,
                            Runnable halfway) throws Exception {
        Map<String, AtomicInteger> byModel = new java.util.concurrent.ConcurrentSkipListMap<>();
        Map<String, Patient> patients = new ConcurrentHashMap<>();
        Map<String, String> truth = new ConcurrentHashMap<>();
        AtomicInteger correct = new AtomicInteger();
        AtomicInteger predictions = new AtomicInteger();
        AtomicInteger fromTags = new AtomicInteger();
        AtomicInteger deadLetters = new AtomicInteger();
        AtomicInteger measured = new AtomicInteger();
        AtomicInteger correctWithout = new AtomicInteger();
        java.util.concurrent.atomic.DoubleAdder absoluteShift = new java.util.concurrent.atomic.DoubleAdder();
        CountDownLatch all = new CountDownLatch(count);
        out.printf("%n%-20s %5s %-7s %-12s %-12s %6s %6s %5s %10s%s%n", "request", "age", "sex", "expected",
                "predicted", "prob", "shift", "batch", "latency ms", swap ? "  model" : "");
        OutcomeConsumer.Listener listener = new OutcomeConsumer.Listener() {
            @Override
            public void prediction(Prediction p, long receivedAt) {
                Patient patient = patients.get(p.getRequestId());
                String expected = truth.getOrDefault(p.getRequestId(), "-");
                if (expected.equals(p.getLabel())) {
                    correct.incrementAndGet();
                }
                var influence = p.getClinicalInfluence();
                if (influence != null) {
                    measured.incrementAndGet();
                    absoluteShift.add(Math.abs(influence.getShift()));
                    if (expected.equals(influence.getLabelWithout())) {
                        correctWithout.incrementAndGet();
                    }
                }
                synchronized (out) {
                    out.printf("%-20s %5s %-7s %-12s %-12s %6.3f %6s %5d %10d%s%n", p.getRequestId(),
                            patient == null || patient.getAgeYears() == null ? "-"
                                    : String.format("%.0f", patient.getAgeYears()),
                            patient == null || patient.getSex() == null ? "-" : patient.getSex(),
                            expected, p.getLabel() + (expected.equals(p.getLabel()) ? "" : " ✗"),
                            p.getProbability(), influence == null ? "-"
                                    : String.format(java.util.Locale.ROOT, "%+.2f", influence.getShift()),
                            p.getTimings().getBatchSize(), receivedAt - p.getRequestedAt().toEpochMilli(),
                            swap ? "  " + p.getModel().getVersion() : "");
                }
                byModel.computeIfAbsent(p.getModel().getVersion(), k -> new AtomicInteger()).incrementAndGet();
                if (p.getFlags().contains("age:from-dicom") && p.getFlags().contains("sex:from-dicom")) {
                    fromTags.incrementAndGet();
                }
                predictions.incrementAndGet();
                all.countDown();
            }

            @Override
            public void deadLetter(FailedRequest f, long receivedAt) {
                synchronized (out) {
                    out.printf("%-20s dead letter %s: %s%n", f.getRequestId() == null ? "(unknown id)"
                            : f.getRequestId(), f.getReason(), f.getDetail());
                }
                deadLetters.incrementAndGet();
                all.countDown();
            }
        };
        try (OutcomeConsumer consumer = new OutcomeConsumer(kafka.bootstrapServers(), registry, predictionsTopic,
                deadLettersTopic, Map.of(), listener);
             RequestPublisher publisher = new RequestPublisher(kafka.bootstrapServers(), registry, requests, rate,
                     Map.of())) {
            // the bundled model was trained on this generator (tools/train-bundled-model.sh, seed 42); the demo
            // draws other cases of another seed, so the predictions can be checked against the known rule
            SyntheticDataset synthetic = new SyntheticDataset(20261126L);
            SampleRequests samples = new SampleRequests(7, SyntheticDataset.SIZE, "image/png");
            int malformedEvery = malformed == 0 ? Integer.MAX_VALUE : Math.max(1, count / (malformed + 1));
            int malformedSent = 0;
            for (int i = 1; i <= count; i++) {
                if (i == count / 2 + 1) {
                    halfway.run();
                }
                if (malformedSent < malformed && i % malformedEvery == 0) {
                    malformedSent++;
                    if (malformedSent % 2 == 1) {
                        // an image whose bytes are not an image
                        ImagingRequest bad = samples.request(String.format("demo-bad-%03d", malformedSent), 50.0,
                                "female", "back", "definitely not a PNG".getBytes(StandardCharsets.UTF_8));
                        publisher.publish(bad);
                    } else {
                        // bytes that are not Avro at all
                        publisher.publishRaw("demo-bad-" + malformedSent,
                                "{\"requestId\": \"json-is-not-avro\"}".getBytes(StandardCharsets.UTF_8));
                    }
                    continue;
                }
                SyntheticDataset.Case c = synthetic.generate(i);
                ImagingRequest r = samples.request(String.format("demo-%06d", i), (double) c.age(), c.sex(),
                        c.localization(), c.png());
                Patient shown = r.getPatient();
                if (dicom) {
                    r = asDicom(r, c);
                }
                if (i % 5 == 0) {
                    // every fifth image goes by reference, as an imaging system sends what is too large to inline
                    byte[] bytes = new byte[r.getImage().getData().remaining()];
                    r.getImage().getData().duplicate().get(bytes);
                    r = ImagingRequest.newBuilder(r).setImage(ProduceCommand.stage(bytes,
                            r.getImage().getMediaType(), references)).build();
                }
                patients.put(r.getRequestId(), shown);
                truth.put(r.getRequestId(), c.label());
                publisher.publish(r);
            }
            publisher.flush();
            boolean complete = all.await(timeoutSeconds, TimeUnit.SECONDS);
            double seconds = (System.nanoTime() - t0) / 1e9;
            out.println();
            if (!complete) {
                out.printf("demo: timed out after %d s waiting for answers%n", timeoutSeconds);
            }
            if (predictions.get() > 0) {
                out.printf("demo: %d of %d predictions match the synthetic ground truth (label = dark lesion XOR "
                        + "age > 50: neither the image nor the clinical data alone decides it)%n", correct.get(),
                        predictions.get());
            }
            if (measured.get() > 0) {
                out.printf("demo: the clinical data moved the predicted class's probability by %.2f on average "
                        + "(|shift|); with it masked, %d of %d predictions would match the ground truth instead of "
                        + "%d%n", absoluteShift.sum() / measured.get(), correctWithout.get(), measured.get(),
                        correct.get());
            }
            if (dicom) {
                out.printf("demo: %d of %d predictions read age and sex from the DICOM tags (flags age:from-dicom, "
                        + "sex:from-dicom); the requests carried no patient fields%n", fromTags.get(),
                        predictions.get());
            }
            if (swap) {
                out.printf("demo: answers by model version: %s; the model changed without a restart, each request "
                        + "answered once%n", byModel);
            }
            out.printf("demo: %d requests, %d predictions, %d dead letters in %.1f s%n", count, predictions.get(),
                    deadLetters.get(), seconds);
            return predictions.get() + deadLetters.get();
        }
    }
}
