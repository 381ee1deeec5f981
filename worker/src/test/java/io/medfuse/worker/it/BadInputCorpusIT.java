package io.medfuse.worker.it;

import io.medfuse.testkit.SharedBroker;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Reader;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.junit.jupiter.api.Test;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.ImagePayload;
import io.medfuse.events.ImageReference;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Patient;
import io.medfuse.events.Prediction;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.SampleRequests;

/**
 * Every case of the bad-input corpus ({@code src/test/resources/bad-inputs/}, one folder per case with a
 * {@code case.properties} descriptor) goes through a real worker on a real broker, three rounds, with a valid request
 * after each case: each case gets exactly the outcome its descriptor names (a prediction with exactly its flags, or a
 * dead letter with its reason), every valid request is answered (the stream keeps going), and the heap does not grow
 * from round to round. Writes {@code docs/bad-inputs.md} with a table of every case and its outcome.
 */
class BadInputCorpusIT {

    private static final int ROUNDS = 3;

    static final EmbeddedKafka kafka = SharedBroker.kafka();
    static final InProcessSchemaRegistry registry = SharedBroker.registry();

    record Case(String name, Path dir, Properties d) {
        String expect() {
            return d.getProperty("expect");
        }

        String repeat() {
            return d.getProperty("repeat");
        }

        /** Answers one round of this case produces. */
        int answers() {
            return "other".equals(repeat()) ? 2 : 1;
        }

        String expectedOutcome() {
            if ("same".equals(repeat())) {
                return "prediction; repeated: not answered again";
            }
            if ("other".equals(repeat())) {
                return "prediction; repeated with other content: dead letter DUPLICATE_REQUEST_ID";
            }
            if (expect().equals("prediction")) {
                String flags = d.getProperty("flags", "");
                return flags.isEmpty() ? "prediction"
                        : "prediction, flagged " + String.join(",", new TreeSet<>(List.of(flags.split(","))));
            }
            return "dead letter " + d.getProperty("reason");
        }
    }

    /** Where a case's record landed, and its repeat's (for the duplicate-id cases). */
    record Sent(Case c, String requestId, int partition, long offset, int repeatPartition, long repeatOffset) {
    }

    /** Where the IT's own fixtures are: the runtime folder, the hostile server, the ports. */
    record Places(Path runtime, int hostilePort, int closedPort, int metricsPort, String requestsTopic) {
    }

    @Test
    void answersEveryCorpusCaseAsItsDescriptorSaysAndKeepsGoing() throws Exception {
        List<Case> cases = loadCases();
        assertThat(cases).hasSizeGreaterThanOrEqualTo(60);
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        Path runtime = runtimeFixtures();
        Path corpusRoot = Path.of(BadInputCorpusIT.class.getResource("/bad-inputs").toURI());
        try (HostileServer hostile = new HostileServer(corpusRoot.resolve("reference-http-ok/image.bin"));
             StreamFixture f = new StreamFixture(kafka, registry, 2);
             MedfuseWorker worker = MedfuseWorker.start(f.workerConfig(Map.of(
                     WorkerConfig.IMAGE_MAX_BYTES, "100000",
                     WorkerConfig.REFERENCE_TIMEOUT_MS, "3000",
                     WorkerConfig.REFERENCE_FILE_ROOTS, corpusRoot + "," + runtime,
                     WorkerConfig.REFERENCE_HTTP_ALLOW, "http://127.0.0.1:" + hostile.port() + "/,"
                             + "http://127.0.0.1:" + closedPort + "/")))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            hostile.redirectInternalTo(worker.telemetry().port());
            Places places = new Places(runtime, hostile.port(), closedPort, worker.telemetry().port(), f.requests);
            f.startReading();
            SampleRequests samples = new SampleRequests(5, 64, "image/png");
            List<List<Sent>> rounds = new ArrayList<>();
            Set<String> fillers = new HashSet<>();
            long heapBefore = 0;
            int perRound = cases.stream().mapToInt(Case::answers).sum();
            for (int round = 1; round <= ROUNDS; round++) {
                List<Sent> sent = new ArrayList<>();
                for (Case c : cases) {
                    String id = c.d().getProperty("requestId", c.name() + "-r" + round);
                    RecordMetadata meta = f.sendAndWait(id, value(c, id, f, places, false));
                    RecordMetadata repeat = c.repeat() == null ? null
                            : f.sendAndWait(id, value(c, id, f, places, true));
                    sent.add(new Sent(c, id, meta.partition(), meta.offset(),
                            repeat == null ? -1 : repeat.partition(), repeat == null ? -1 : repeat.offset()));
                    ImagingRequest filler = samples.next("filler-r" + round);
                    fillers.add(filler.getRequestId());
                    f.send(filler);
                }
                f.flush();
                int expected = (round * perRound) + fillers.size();
                assertThat(StreamFixture.await(() -> f.answers() >= expected, Duration.ofSeconds(120)))
                        .as("round %d: %d answers of %d", round, f.answers(), expected).isTrue();
                rounds.add(sent);
                if (round == 1) {
                    heapBefore = usedHeapAfterGc();
                }
            }
            long heapAfter = usedHeapAfterGc();
            System.out.printf("BadInputCorpusIT: heap after round 1 %d MiB, after round %d %d MiB; in flight %d%n",
                    heapBefore >> 20, ROUNDS, heapAfter >> 20, worker.inFlight());
            assertThat(heapAfter - heapBefore).as("heap growth over %d more rounds", ROUNDS - 1)
                    .isLessThan(64L << 20);
            assertThat(worker.inFlight()).isZero();
            assertThat(worker.state().isRunningOrRebalancing()).isTrue();
            assertThat(f.answers()).as("no answer beyond the expected ones").isEqualTo(ROUNDS * perRound
                    + fillers.size());
            assertThat(f.failed).as("by default dead letters carry no original record (it is patient data)")
                    .allMatch(dead -> dead.getOriginalBytes() == null);

            Set<String> predictedIds = f.predicted.stream().map(Prediction::getRequestId).collect(Collectors.toSet());
            assertThat(predictedIds).containsAll(fillers);
            List<String> problems = new ArrayList<>();
            List<String> table = new ArrayList<>();
            for (int round = 0; round < ROUNDS; round++) {
                for (Sent s : rounds.get(round)) {
                    List<Prediction> p = f.predicted.stream()
                            .filter(x -> !s.requestId().isEmpty() && x.getRequestId().equals(s.requestId())).toList();
                    List<FailedRequest> d = at(f, s.partition(), s.offset());
                    List<FailedRequest> r = s.c().repeat() == null ? List.of()
                            : at(f, s.repeatPartition(), s.repeatOffset());
                    String observed = observed(s.c(), p, d, r);
                    if (!observed.equals(s.c().expectedOutcome())) {
                        problems.add(s.c().name() + " (round " + (round + 1) + "): expected "
                                + s.c().expectedOutcome() + ", got " + observed);
                    }
                    for (FailedRequest dead : concat(d, r)) {
                        leak(s.c(), dead.getDetail()).ifPresent(what -> problems.add(s.c().name()
                                + ": the dead-letter detail echoes " + what + ": " + dead.getDetail()));
                    }
                    if (round == 0) {
                        table.add(row(table.size() + 1, s.c(), observed, p, concat(d, r), places));
                    }
                }
            }
            writeDoc(table);
            assertThat(problems).as("cases whose outcome differs from their descriptor").isEmpty();
        }
    }

    private static List<FailedRequest> at(StreamFixture f, int partition, long offset) {
        return f.failed.stream().filter(x -> x.getSourcePartition() == partition && x.getSourceOffset() == offset)
                .toList();
    }

    private static List<FailedRequest> concat(List<FailedRequest> a, List<FailedRequest> b) {
        List<FailedRequest> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    /**
     * What a detail must never carry: a secret from the reference, the first bytes or the hash of what was read
     * on the producer's behalf.
     */
    private static java.util.Optional<String> leak(Case c, String detail) throws Exception {
        if (detail.contains("SECRET")) {
            return java.util.Optional.of("a secret from the reference");
        }
        for (String value : BadInputCorpusWriter.SEEDED_PATIENT_VALUES) {
            if (detail.contains(value)) {
                return java.util.Optional.of("a patient tag's value from the DICOM object");
            }
        }
        if (c.d().getProperty("reference") != null) {
            if (detail.contains("start with")) {
                return java.util.Optional.of("the first bytes of the fetched content");
            }
            Path image = c.dir().resolve("image.bin");
            if (Files.exists(image) && detail.toLowerCase(java.util.Locale.ROOT).contains(
                    java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                            .digest(Files.readAllBytes(image))))) {
                return java.util.Optional.of("the sha256 of the fetched content");
            }
        }
        return java.util.Optional.empty();
    }

    /** A FIFO and symbolic links to a device and to /proc, inside a folder the worker is allowed to read. */
    private static Path runtimeFixtures() throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("medfuse-hostile-refs");
        Process mkfifo = new ProcessBuilder("mkfifo", dir.resolve("pipe.png").toString()).inheritIO().start();
        assertThat(mkfifo.waitFor()).as("mkfifo").isZero();
        Files.createSymbolicLink(dir.resolve("zero.png"), Path.of("/dev/zero"));
        Files.createSymbolicLink(dir.resolve("environ.png"), Path.of("/proc/self/environ"));
        return dir;
    }

    /**
     * An allowed server that misbehaves: {@code /stall} sends 200 and headers, then nothing; {@code /drip} one
     * byte every 100 ms; {@code /endless} an endless chunked body; {@code /redirect-internal} and
     * {@code /redirect-file} redirect to the worker's metrics port and to file:///etc/passwd; {@code /ok.png} a
     * real image; anything else 404.
     */
    static final class HostileServer implements AutoCloseable {
        private final com.sun.net.httpserver.HttpServer server;
        private final java.util.concurrent.CountDownLatch stop = new java.util.concurrent.CountDownLatch(1);
        private volatile int internalPort = 1;

        HostileServer(Path okImage) throws IOException {
            byte[] ok = Files.readAllBytes(okImage);
            server = com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress(
                    java.net.InetAddress.getLoopbackAddress(), 0), 0);
            server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool(r -> {
                Thread t = new Thread(r, "hostile-http");
                t.setDaemon(true);
                return t;
            }));
            server.createContext("/", exchange -> {
                try (exchange) {
                    String path = exchange.getRequestURI().getPath();
                    switch (path) {
                        case "/ok.png" -> {
                            exchange.sendResponseHeaders(200, ok.length);
                            exchange.getResponseBody().write(ok);
                        }
                        case "/stall" -> {
                            exchange.sendResponseHeaders(200, 100_000);
                            exchange.getResponseBody().write(new byte[16]);
                            exchange.getResponseBody().flush();
                            stop.await(); // never finishes on its own
                        }
                        case "/drip" -> {
                            exchange.sendResponseHeaders(200, 50_000);
                            for (int i = 0; i < 50_000 && stop.getCount() > 0; i++) {
                                exchange.getResponseBody().write(0x42);
                                exchange.getResponseBody().flush();
                                if (stop.await(100, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                                    break;
                                }
                            }
                        }
                        case "/endless" -> {
                            exchange.sendResponseHeaders(200, 0);
                            byte[] chunk = new byte[8192];
                            while (stop.getCount() > 0) {
                                exchange.getResponseBody().write(chunk);
                            }
                        }
                        case "/redirect-internal" -> redirect(exchange, "http://127.0.0.1:" + internalPort
                                + "/metrics");
                        case "/redirect-file" -> redirect(exchange, "file:///etc/passwd");
                        default -> exchange.sendResponseHeaders(404, -1);
                    }
                } catch (IOException e) {
                    // the worker hung up: what a deadline or a size limit is for
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            server.start();
        }

        private static void redirect(com.sun.net.httpserver.HttpExchange exchange, String location)
                throws IOException {
            exchange.getResponseHeaders().set("Location", location);
            exchange.sendResponseHeaders(302, -1);
        }

        void redirectInternalTo(int port) {
            internalPort = port;
        }

        int port() {
            return server.getAddress().getPort();
        }

        @Override
        public void close() {
            stop.countDown();
            server.stop(0);
        }
    }

    private static String observed(Case c, List<Prediction> p, List<FailedRequest> d, List<FailedRequest> r) {
        if (c.repeat() != null) {
            if (p.size() != 1 || !d.isEmpty()) {
                return p.size() + " predictions and " + d.size() + " dead letters for the first request";
            }
            if ("same".equals(c.repeat())) {
                return r.isEmpty() ? "prediction; repeated: not answered again"
                        : "prediction; repeated: answered again with " + r.get(0).getReason();
            }
            return r.size() == 1 ? "prediction; repeated with other content: dead letter " + r.get(0).getReason()
                    : "prediction; repeated with other content: " + r.size() + " dead letters";
        }
        if (p.size() + d.size() != 1) {
            return p.size() + " predictions and " + d.size() + " dead letters";
        }
        if (!p.isEmpty()) {
            List<String> flags = new ArrayList<>(new TreeSet<>(p.get(0).getFlags()));
            return flags.isEmpty() ? "prediction" : "prediction, flagged " + String.join(",", flags);
        }
        return "dead letter " + d.get(0).getReason();
    }

    private static String row(int n, Case c, String observed, List<Prediction> p, List<FailedRequest> d,
                              Places places) {
        String detail = "";
        if (!d.isEmpty()) {
            detail = d.get(d.size() - 1).getDetail()
                    .replace(c.dir().toAbsolutePath().toString(), "bad-inputs/" + c.name())
                    .replace(places.runtime().toString(), "<runtime folder>")
                    .replace(":" + places.hostilePort() + "/", ":<hostile server>/")
                    .replace(":" + places.metricsPort() + "/", ":<worker metrics>/")
                    .replace(places.requestsTopic(), "<requests topic>")
                    .replace(String.valueOf(places.closedPort()), "<closed port>")
                    .replaceAll("http://127\\.0\\.0\\.1:[0-9]+/schemas", "http://127.0.0.1:<registry port>/schemas")
                    // registry ids depend on what other tests registered first: keep the generated doc stable
                    .replaceAll("schema id [0-9]+", "schema id <id>")
                    .replaceAll("(r[0-9])@[0-9]+", "$1@<offset>")
                    .replaceAll("-[0-9]+@[0-9]+\\)", "-<partition>@<offset>)");
        } else if (p.size() == 1) {
            detail = "label " + p.get(0).getLabel();
        }
        return String.format("| %d | `%s` | %s | %s | %s | %s |", n, c.name(), md(c.d().getProperty("description")),
                c.expectedOutcome(), observed, md(detail.length() > 220 ? detail.substring(0, 220) + "…" : detail));
    }

    private static String md(String s) {
        return s.replace("|", "\\|").replace("\n", " ");
    }

    private static void writeDoc(List<String> rows) throws IOException {
        Path docs = Path.of("..", "docs");
        if (!Files.isDirectory(docs)) {
            return;
        }
        StringBuilder b = new StringBuilder();
        b.append("# Bad-input corpus: every case and its outcome\n\n")
                .append("Generated by `BadInputCorpusIT` (worker module) from the cases under\n")
                .append("`worker/src/test/resources/bad-inputs/` (one folder per case: `case.properties` says what is sent\n")
                .append("and what must come back; the image or record bytes lie next to it). Each case is sent three times\n")
                .append("through a real worker on a real broker, with a valid request after each one; every valid request\n")
                .append("is answered, the heap does not grow from round to round, and each case gets exactly the outcome\n")
                .append("below. In this test `image.max.bytes` is 100000, `image.reference.timeout.ms` 3000, file references\n")
                .append("are allowed under the corpus folder and a runtime folder holding a FIFO and symbolic links to\n")
                .append("/dev/zero and /proc/self/environ, and http references to a deliberately misbehaving server on\n")
                .append("127.0.0.1 (and one closed port). Do not edit by hand: run the test.\n\n")
                .append("| # | case | input | expected | observed | dead-letter detail / label |\n")
                .append("|---|---|---|---|---|---|\n");
        rows.forEach(r -> b.append(r).append('\n'));
        b.append("\nA prediction's flags name each value that was imputed (`:imputed`) or not in the model's vocabulary\n")
                .append("(`:unknown`). Dead-letter details never contain patient values, and for a reference never what\n")
                .append("was read behind it (its first bytes or its hash), its query string or its user info: the test\n")
                .append("fails if one does. A pending request that a restarted worker refuses (a tighter reference\n")
                .append("policy, a narrower model) is answered with a dead letter too: `PendingRequestRejectedIT`.\n");
        Files.writeString(docs.resolve("bad-inputs.md"), b.toString());
    }

    static List<Case> loadCases() throws Exception {
        Path root = Path.of(BadInputCorpusIT.class.getResource("/bad-inputs").toURI());
        List<Case> cases = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path dir : dirs.sorted().toList()) {
                Properties d = new Properties();
                try (Reader r = Files.newBufferedReader(dir.resolve("case.properties"))) {
                    d.load(r);
                }
                cases.add(new Case(dir.getFileName().toString(), dir, d));
            }
        }
        return cases;
    }

    /** The record value a case sends. */
    static byte[] value(Case c, String id, StreamFixture f, Places places, boolean repeat) throws IOException {
        Properties d = c.d();
        switch (d.getProperty("kind")) {
            case "raw" -> {
                return Files.readAllBytes(c.dir().resolve(d.getProperty("value")));
            }
            case "avro" -> {
                Schema schema = new Schema.Parser().parse(c.dir().resolve(d.getProperty("writerSchema")).toFile());
                int schemaId = f.registry.register("bad-inputs-" + c.name() + "-value", schema);
                GenericRecord datum = new GenericDatumReader<GenericRecord>(schema).read(null, DecoderFactory.get()
                        .jsonDecoder(schema, Files.readString(c.dir().resolve(d.getProperty("datum")))));
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                out.write(ByteBuffer.allocate(5).put((byte) 0).putInt(schemaId).array());
                BinaryEncoder enc = EncoderFactory.get().binaryEncoder(out, null);
                new GenericDatumWriter<GenericRecord>(schema).write(datum, enc);
                enc.flush();
                return out.toByteArray();
            }
            default -> {
                ImagingRequest request = request(c, id, places);
                if (repeat && "other".equals(c.repeat())) {
                    request = ImagingRequest.newBuilder(request).setPatient(io.medfuse.events.Patient.newBuilder(
                            request.getPatient()).setAgeYears(71.0).build()).build();
                }
                byte[] encoded = f.codec.encode(f.requests, request);
                String truncate = d.getProperty("wireTruncate");
                return truncate == null ? encoded : Arrays.copyOf(encoded, Integer.parseInt(truncate));
            }
        }
    }

    static ImagingRequest request(Case c, String id, Places places) throws IOException {
        Properties d = c.d();
        ImagePayload.Builder image = ImagePayload.newBuilder().setMediaType(d.getProperty("mediaType"));
        if (d.getProperty("data") != null) {
            image.setData(ByteBuffer.wrap(Files.readAllBytes(c.dir().resolve(d.getProperty("data")))));
        }
        if (d.getProperty("reference") != null) {
            String uri = d.getProperty("reference")
                    .replace("{case}", c.dir().toAbsolutePath().toString())
                    .replace("{runtime}", places.runtime().toString())
                    .replace("{hostile}", String.valueOf(places.hostilePort()))
                    .replace("{metricsPort}", String.valueOf(places.metricsPort()))
                    .replace("{closedPort}", String.valueOf(places.closedPort()));
            image.setReference(ImageReference.newBuilder().setUri(uri)
                    .setSha256(d.getProperty("referenceSha256")).build());
        }
        Map<String, Object> clinical = new HashMap<>();
        for (String key : d.stringPropertyNames()) {
            if (key.startsWith("clinical.")) {
                String v = d.getProperty(key);
                clinical.put(key.substring("clinical.".length()),
                        v.startsWith("number:") ? (Object) Double.valueOf(v.substring(7)) : v);
            }
        }
        ImagingRequest.Builder b = ImagingRequest.newBuilder()
                .setRequestId(id)
                .setRequestedAt(Instant.now())
                .setClinical(clinical)
                .setImage(image.build());
        if (!"none".equals(d.getProperty("patient"))) {
            String age = d.getProperty("age");
            b.setPatient(Patient.newBuilder().setAgeYears(age == null ? null : Double.valueOf(age))
                    .setSex(d.getProperty("sex")).build());
        }
        return b.build();
    }

    static long usedHeapAfterGc() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(200);
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
