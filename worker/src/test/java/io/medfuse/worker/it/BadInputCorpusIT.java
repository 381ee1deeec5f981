package io.medfuse.worker.it;

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
import io.medfuse.kafka.EmbeddedKafka;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.worker.registry.InProcessSchemaRegistry;
import io.medfuse.worker.sample.SampleRequests;

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

        String expectedOutcome() {
            if (expect().equals("prediction")) {
                String flags = d.getProperty("flags", "");
                return flags.isEmpty() ? "prediction"
                        : "prediction, flagged " + String.join(",", new TreeSet<>(List.of(flags.split(","))));
            }
            return "dead letter " + d.getProperty("reason");
        }
    }

    record Sent(Case c, String requestId, int partition, long offset) {
    }

    @Test
    void answersEveryCorpusCaseAsItsDescriptorSaysAndKeepsGoing() throws Exception {
        List<Case> cases = loadCases();
        assertThat(cases).hasSizeGreaterThanOrEqualTo(30);
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        try (StreamFixture f = new StreamFixture(kafka, registry, 2);
             MedfuseWorker worker = MedfuseWorker.start(f.workerConfig(Map.of(
                     WorkerConfig.IMAGE_MAX_BYTES, "100000",
                     WorkerConfig.REFERENCE_TIMEOUT_MS, "3000")))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            f.startReading();
            SampleRequests samples = new SampleRequests(5, 64, "image/png");
            List<List<Sent>> rounds = new ArrayList<>();
            Set<String> fillers = new HashSet<>();
            long heapBefore = 0;
            for (int round = 1; round <= ROUNDS; round++) {
                List<Sent> sent = new ArrayList<>();
                for (Case c : cases) {
                    String id = c.d().getProperty("requestId", c.name() + "-r" + round);
                    RecordMetadata meta = f.sendAndWait(id, value(c, id, f, closedPort));
                    sent.add(new Sent(c, id, meta.partition(), meta.offset()));
                    ImagingRequest filler = samples.next("filler-r" + round);
                    fillers.add(filler.getRequestId());
                    f.send(filler);
                }
                f.flush();
                int expected = (round * cases.size()) + fillers.size();
                assertThat(StreamFixture.await(() -> f.answers() >= expected, Duration.ofSeconds(120)))
                        .as("round %d: %d answers of %d", round, f.answers(), expected).isTrue();
                rounds.add(sent);
                if (round == 1) {
                    heapBefore = usedHeapAfterGc();
                }
            }
            Thread.sleep(1000); // a duplicate would arrive now
            long heapAfter = usedHeapAfterGc();
            System.out.printf("BadInputCorpusIT: heap after round 1 %d MiB, after round %d %d MiB; in flight %d%n",
                    heapBefore >> 20, ROUNDS, heapAfter >> 20, worker.pipeline().inFlight());
            assertThat(heapAfter - heapBefore).as("heap growth over %d more rounds", ROUNDS - 1)
                    .isLessThan(64L << 20);
            assertThat(worker.pipeline().inFlight()).isZero();
            assertThat(worker.state().isRunningOrRebalancing()).isTrue();

            Set<String> predictedIds = f.predicted.stream().map(Prediction::getRequestId).collect(Collectors.toSet());
            assertThat(predictedIds).containsAll(fillers);
            List<String> problems = new ArrayList<>();
            List<String> table = new ArrayList<>();
            for (int round = 0; round < ROUNDS; round++) {
                for (Sent s : rounds.get(round)) {
                    List<Prediction> p = f.predicted.stream()
                            .filter(x -> !s.requestId().isEmpty() && x.getRequestId().equals(s.requestId())).toList();
                    List<FailedRequest> d = f.failed.stream().filter(x -> x.getSourcePartition() == s.partition()
                            && x.getSourceOffset() == s.offset()).toList();
                    String observed = observed(p, d);
                    if (!observed.equals(s.c().expectedOutcome())) {
                        problems.add(s.c().name() + " (round " + (round + 1) + "): expected "
                                + s.c().expectedOutcome() + ", got " + observed);
                    }
                    if (round == 0) {
                        table.add(row(table.size() + 1, s.c(), observed, p, d, closedPort));
                    }
                }
            }
            writeDoc(table);
            assertThat(problems).as("cases whose outcome differs from their descriptor").isEmpty();
        }
    }

    private static String observed(List<Prediction> p, List<FailedRequest> d) {
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
                              int closedPort) {
        String detail = "";
        if (d.size() == 1) {
            detail = d.get(0).getDetail().replace(c.dir().toAbsolutePath().toString(), "bad-inputs/" + c.name())
                    .replace(String.valueOf(closedPort), "<closed port>")
                    .replaceAll("http://127\\.0\\.0\\.1:[0-9]+/schemas", "http://127.0.0.1:<registry port>/schemas")
                    // registry ids depend on what other tests registered first: keep the generated doc stable
                    .replaceAll("schema id [0-9]+", "schema id <id>");
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
                .append("below. In this test `image.max.bytes` is 100000. Do not edit by hand: run the test.\n\n")
                .append("| # | case | input | expected | observed | dead-letter detail / label |\n")
                .append("|---|---|---|---|---|---|\n");
        rows.forEach(r -> b.append(r).append('\n'));
        b.append("\nA prediction's flags name each value that was imputed (`:imputed`) or not in the model's vocabulary\n")
                .append("(`:unknown`). Dead-letter details never contain patient values except the offending value of an\n")
                .append("invalid numeric field (so the sender can correct it).\n");
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
    static byte[] value(Case c, String id, StreamFixture f, int closedPort) throws IOException {
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
                byte[] encoded = f.codec.encode(f.requests, request(c, id, closedPort));
                String truncate = d.getProperty("wireTruncate");
                return truncate == null ? encoded : Arrays.copyOf(encoded, Integer.parseInt(truncate));
            }
        }
    }

    static ImagingRequest request(Case c, String id, int closedPort) throws IOException {
        Properties d = c.d();
        ImagePayload.Builder image = ImagePayload.newBuilder().setMediaType(d.getProperty("mediaType"));
        if (d.getProperty("data") != null) {
            image.setData(ByteBuffer.wrap(Files.readAllBytes(c.dir().resolve(d.getProperty("data")))));
        }
        if (d.getProperty("reference") != null) {
            String uri = d.getProperty("reference")
                    .replace("{case}", c.dir().toAbsolutePath().toString())
                    .replace("{closedPort}", String.valueOf(closedPort));
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
