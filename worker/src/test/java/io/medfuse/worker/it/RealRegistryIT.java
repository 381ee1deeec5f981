package io.medfuse.worker.it;

import io.medfuse.testkit.SharedBroker;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

import org.apache.avro.Schema;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.FailureReason;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Prediction;
import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import io.medfuse.events.registry.SchemaRegistryException;
import io.medfuse.events.registry.UnknownSchemaException;
import io.medfuse.events.serde.AvroDecodeException;
import io.medfuse.events.serde.AvroSerde;
import io.medfuse.events.serde.ConfluentAvroCodec;
import io.medfuse.events.serde.DecodeFailure;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.NewerRequestSchema;
import io.medfuse.testkit.SampleRequests;
import io.medfuse.worker.MedfuseWorker;

/**
 * Our registry client, codec and serde, and a whole worker, against a real schema registry: Apicurio Registry's
 * Confluent-compatible API, one process for the whole run ({@link SharedRegistry}). Every test uses subjects of its
 * own, and every "fresh" client starts with empty caches, so each answer checked really came from Apicurio.
 * {@link #inProcessRegistryAnswersTheProtocolAsApicurioDoes} runs one sequence of calls against both registries,
 * so a divergence of our in-process stand-in shows up here.
 */
class RealRegistryIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    private static URI url;
    private final HttpClient http = HttpClient.newHttpClient();
    private final String topic = "rr-" + UUID.randomUUID().toString().substring(0, 8);
    private final String subject = topic + "-value";

    /**
     * Per test, not per class: a skip (no Java 21+) then counts every test as skipped in Failsafe's summary, where
     * an abort in {@code @BeforeAll} shows as "Tests run: 0, Skipped: 0".
     */
    @BeforeEach
    void realRegistry() {
        if (url == null) {
            long start = System.nanoTime();
            URI started = SharedRegistry.url();
            System.out.printf("RealRegistryIT: registry at %s (waited %d ms for it)%n", started,
                    (System.nanoTime() - start) / 1_000_000);
            url = started;
        }
    }

    private static RestSchemaRegistryClient freshClient() {
        return new RestSchemaRegistryClient(RegistrySettings.of(url));
    }

    @Test
    void theSameSchemaGetsTheSameIdUnderEverySubjectAndAFreshClientFetchesItById() throws Exception {
        Schema schema = ImagingRequest.getClassSchema();

        int id = freshClient().register(subject, schema);

        assertThat(freshClient().register(subject, schema)).isEqualTo(id);
        assertThat(freshClient().register(topic + "-copy-value", schema)).as("ids are global").isEqualTo(id);
        assertThat(freshClient().schemaById(id)).isEqualTo(schema);
        assertThat(freshClient().lookup(subject, schema)).isEqualTo(id);
        assertThat(call("GET", url, "/subjects/" + subject + "/versions", null).body().toString())
                .as("registering again made no new version").isEqualTo("[1]");
    }

    @Test
    void anUnknownIdIsUnknownSchemaExceptionAndDecodesAsUnknownSchemaId() {
        int unknown = 2_000_000_000;

        var thrown = catchThrowableOfType(UnknownSchemaException.class, () -> freshClient().schemaById(unknown));

        assertThat(thrown.schemaId()).isEqualTo(unknown);
        assertThat(thrown.status()).isEqualTo(404);
        assertThat(thrown.errorCode()).isEqualTo(40403);
        assertThat(thrown).hasMessageContaining(url + "/schemas/ids/" + unknown);
        byte[] bytes = ByteBuffer.allocate(7).put((byte) 0).putInt(unknown).put(new byte[] {2, 'x'}).array();
        var codec = new ConfluentAvroCodec<>(freshClient(), ImagingRequest.class, false);
        assertThat(catchThrowableOfType(AvroDecodeException.class, () -> codec.decode(bytes)).failure())
                .isEqualTo(DecodeFailure.UNKNOWN_SCHEMA_ID);
    }

    @Test
    void aProducerThatMustNotRegisterFailsUntilTheSchemaIsRegistered() {
        var strict = new ConfluentAvroCodec<>(freshClient(), ImagingRequest.class, false);
        ImagingRequest request = new SampleRequests(3, 16, "image/png").next("strict");

        Throwable noSubject = catchThrowable(() -> strict.encode(topic, request));

        assertThat(noSubject).isInstanceOf(SerializationException.class).hasMessageContaining("look up");
        assertThat(((SchemaRegistryException) noSubject.getCause()).errorCode()).isEqualTo(40401);
        freshClient().register(subject, NewerRequestSchema.schema());
        var notUnderSubject = catchThrowableOfType(SchemaRegistryException.class,
                () -> freshClient().lookup(subject, ImagingRequest.getClassSchema()));
        assertThat(notUnderSubject.status()).isEqualTo(404);
        assertThat(notUnderSubject.errorCode()).isEqualTo(40403);
        int id = freshClient().register(subject, ImagingRequest.getClassSchema());
        byte[] bytes = new ConfluentAvroCodec<>(freshClient(), ImagingRequest.class, false).encode(topic, request);
        assertThat(ByteBuffer.wrap(bytes, 1, 4).getInt()).isEqualTo(id);
    }

    @Test
    void aBackwardSubjectTakesTheNewerRequestSchemaRefusesARequiredFieldAndOldReadersReadTheNewer()
            throws Exception {
        var client = freshClient();
        int currentId = client.register(subject, ImagingRequest.getClassSchema());
        Answer set = call("PUT", url, "/config/" + subject, "{\"compatibility\":\"BACKWARD\"}");
        assertThat(set.status()).isEqualTo(200);
        assertThat(set.body().get("compatibility").asText()).isEqualTo("BACKWARD");
        assertThat(call("GET", url, "/config/" + subject, null).body().get("compatibilityLevel").asText())
                .isEqualTo("BACKWARD");

        int newerId = client.register(subject, NewerRequestSchema.schema());
        var refused = catchThrowableOfType(SchemaRegistryException.class, () -> client.register(subject,
                withField(ImagingRequest.getClassSchema(), "priority", Schema.create(Schema.Type.INT))));

        assertThat(newerId).isNotEqualTo(currentId);
        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.errorCode()).isEqualTo(409);
        assertThat(refused).hasMessageContaining("HTTP 409").hasMessageContaining("priority")
                .hasMessageContaining(url + "/subjects/" + subject + "/versions");
        assertThat(call("GET", url, "/subjects/" + subject + "/versions", null).body().toString())
                .isEqualTo("[1,2]");
        // a worker built with the current class reads what an upgraded producer wrote, fetching its schema by id
        var producer = new ConfluentAvroCodec<>(client, ImagingRequest.class, true);
        ImagingRequest request = new SampleRequests(5, 16, "image/png").next("newer");
        byte[] written = NewerRequestSchema.encode(producer, topic, newerId, request);
        ImagingRequest read = new ConfluentAvroCodec<>(freshClient(), ImagingRequest.class, false).decode(written);
        assertThat(read).isEqualTo(request);
    }

    @Test
    void apicuriosDefaultCompatibilityIsNoneUnlikeConfluentsAndTheInProcessRegistrysBackward() throws Exception {
        var client = freshClient();
        client.register(subject, ImagingRequest.getClassSchema());

        int incompatible = client.register(subject,
                withField(ImagingRequest.getClassSchema(), "priority", Schema.create(Schema.Type.INT)));

        assertThat(incompatible).isPositive();
        assertThat(call("GET", url, "/config/" + subject, null).body().get("compatibilityLevel").asText())
                .isEqualTo("NONE");
    }

    @Test
    void aChangeOfDocsOnlyKeepsTheIdOnApicurioWhereTheInProcessRegistryMakesANewVersion() throws Exception {
        Schema current = ImagingRequest.getClassSchema();
        Schema redocumented = new Schema.Parser().parse(current.toString().replace(current.getDoc(),
                current.getDoc() + " (reworded)"));
        assertThat(redocumented).as("Avro's equality ignores docs").isEqualTo(current);
        assertThat(redocumented.toString()).isNotEqualTo(current.toString());
        int id = freshClient().register(subject, current);

        int again = freshClient().register(subject, redocumented);

        assertThat(again).isEqualTo(id);
        assertThat(call("GET", url, "/subjects/" + subject + "/versions", null).body().toString()).isEqualTo("[1]");
        try (InProcessSchemaRegistry inProcess = InProcessSchemaRegistry.start(0)) {
            var ours = new RestSchemaRegistryClient(RegistrySettings.of(inProcess.url()));
            assertThat(ours.register(subject, redocumented)).isNotEqualTo(ours.register(subject, current));
        }
    }

    @Test
    void realEventsRoundTripWithOneSchemaIdPerSubject() {
        ImagingRequest request = new SampleRequests(9, 32, "image/png").next("round-trip");
        FailedRequest failed = FailedRequest.newBuilder().setRequestId("rt-1").setReason(FailureReason.IMAGE_UNDECODABLE)
                .setDetail("image/png bytes end inside the IHDR chunk").setSourceTopic(topic).setSourcePartition(1)
                .setSourceOffset(42L).setFailedAt(Instant.ofEpochMilli(1_764_115_200_123L)).build();
        var requests = new AvroSerde<>(new ConfluentAvroCodec<>(freshClient(), ImagingRequest.class, true));
        var deadLetters = new AvroSerde<>(new ConfluentAvroCodec<>(freshClient(), FailedRequest.class, true));

        byte[] r1 = requests.serializer().serialize(topic, request);
        byte[] r2 = requests.serializer().serialize(topic, request);
        byte[] d1 = deadLetters.serializer().serialize(topic + "-dlq", failed);

        int requestId = freshClient().lookup(subject, ImagingRequest.getClassSchema());
        assertThat(ByteBuffer.wrap(r1, 1, 4).getInt()).isEqualTo(requestId);
        assertThat(ByteBuffer.wrap(r2, 1, 4).getInt()).isEqualTo(requestId);
        assertThat(ByteBuffer.wrap(d1, 1, 4).getInt())
                .isEqualTo(freshClient().lookup(topic + "-dlq-value", FailedRequest.getClassSchema()))
                .isNotEqualTo(requestId);
        var reader = new AvroSerde<>(new ConfluentAvroCodec<>(freshClient(), ImagingRequest.class, false));
        var deadLetterReader = new AvroSerde<>(new ConfluentAvroCodec<>(freshClient(), FailedRequest.class, false));
        assertThat(reader.deserializer().deserialize(topic, r1)).isEqualTo(request);
        assertThat(deadLetterReader.deserializer().deserialize(topic + "-dlq", d1)).isEqualTo(failed);
    }

    /**
     * One sequence of raw calls against Apicurio and against a fresh in-process registry: the HTTP status and
     * error code of every answer must agree (message texts and id numbers may differ: docs/schema-evolution.md).
     */
    @Test
    void inProcessRegistryAnswersTheProtocolAsApicurioDoes() throws Exception {
        try (InProcessSchemaRegistry inProcess = InProcessSchemaRegistry.start(0)) {
            List<String> apicurio = protocolWalk(url, subject);
            List<String> ours = protocolWalk(inProcess.url(), subject);

            System.out.println("RealRegistryIT protocol walk, Apicurio | in-process:");
            for (int i = 0; i < apicurio.size(); i++) {
                System.out.println("  " + apicurio.get(i) + "  |  " + ours.get(i));
            }
            assertThat(codes(ours)).isEqualTo(codes(apicurio));
        }
    }

    /** Each answer as {@code "step: status error_code message"}; registrations as {@code "... id=<same|new>"}. */
    private List<String> protocolWalk(URI base, String s) throws Exception {
        String v1 = ImagingRequest.getClassSchema().toString();
        String v2 = NewerRequestSchema.schema().toString();
        String required = withField(NewerRequestSchema.schema(), "priority", Schema.create(Schema.Type.INT)).toString();
        String other = FailedRequest.getClassSchema().toString();
        List<String> out = new ArrayList<>();
        Answer first = call("POST", base, "/subjects/" + s + "/versions", body(v1));
        out.add(line("register v1", first));
        Answer again = call("POST", base, "/subjects/" + s + "/versions", body(v1));
        out.add(line("register v1 again", again) + " id=" + (again.body().path("id").equals(first.body().path("id"))
                ? "same" : "new"));
        out.add(line("PUT /config BACKWARD", call("PUT", base, "/config/" + s, "{\"compatibility\":\"BACKWARD\"}")));
        Answer second = call("POST", base, "/subjects/" + s + "/versions", body(v2));
        out.add(line("register v2 (optional field)", second) + " id="
                + (second.body().path("id").equals(first.body().path("id")) ? "same" : "new"));
        out.add(line("register v3 (required field)", call("POST", base, "/subjects/" + s + "/versions",
                body(required))));
        out.add(line("look up v1", call("POST", base, "/subjects/" + s, body(v1))));
        out.add(line("look up another schema", call("POST", base, "/subjects/" + s, body(other))));
        out.add(line("look up in unknown subject", call("POST", base, "/subjects/" + s + "-nope", body(v1))));
        out.add(line("schema by unknown id", call("GET", base, "/schemas/ids/2000000000", null)));
        Answer versions = call("GET", base, "/subjects/" + s + "/versions", null);
        out.add(line("versions", versions) + " " + versions.body());
        Answer latest = call("GET", base, "/subjects/" + s + "/versions/latest", null);
        out.add(line("latest", latest) + " version=" + latest.body().path("version"));
        out.add(line("versions of unknown subject", call("GET", base, "/subjects/" + s + "-nope/versions", null)));
        out.add(line("register an invalid schema", call("POST", base, "/subjects/" + s + "-bad/versions",
                body("{\"type\":\"record\",\"name\":\"Bad\",\"fields\":[{\"name\":\"x\",\"type\":\"nonsense\"}]}"))));
        return out;
    }

    /** Drops the messages, keeps step, status, error code and the id/version facts. */
    private static List<String> codes(List<String> lines) {
        return lines.stream().map(l -> l.replaceAll(" \"[^\"]*\"", "")).collect(Collectors.toList());
    }

    private static String line(String step, Answer a) {
        JsonNode code = a.body() == null ? null : a.body().get("error_code");
        JsonNode message = a.body() == null ? null : a.body().get("message");
        return step + ": " + a.status() + (code == null ? "" : " " + code.asInt())
                + (message == null ? "" : " \"" + message.asText().replace('"', '\'') + "\"");
    }

    @Test
    void aWorkerAnswersRequestsWhileProducerWorkerAndReaderAllUseTheRealRegistry() throws Exception {
        int n = 6;
        int deadLetters = 2;
        try (StreamFixture f = new StreamFixture(SharedBroker.kafka(), url, 2);
             MedfuseWorker worker = MedfuseWorker.start(f.workerConfig(Map.of()))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(90))).isTrue();
            f.startReading();
            SampleRequests samples = new SampleRequests(17, 48, "image/png");
            Set<String> ids = new HashSet<>();
            long sent = System.nanoTime();
            for (int i = 0; i < n; i++) {
                ImagingRequest r = samples.next("real-registry");
                ids.add(r.getRequestId());
                f.send(r);
            }
            // a request whose image is not an image, and a record naming a schema id the registry never issued
            f.send(samples.request("real-registry-undecodable", 50.0, "female", "back",
                    "not an image".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
            f.sendRaw("real-registry-unknown-id", new byte[] {0, 0x0f, 0x42, 0x3f, 0x7f, 2, 4, 6});
            f.flush();

            assertThat(StreamFixture.await(() -> f.answers() >= n + deadLetters, Duration.ofSeconds(90)))
                    .as("%d predictions, %d dead letters of %d", f.predicted.size(), f.failed.size(),
                            n + deadLetters).isTrue();
            System.out.printf("RealRegistryIT: %d answers %d ms after sending%n", n + deadLetters,
                    (System.nanoTime() - sent) / 1_000_000);
            assertThat(f.failed).extracting(FailedRequest::getReason).containsExactlyInAnyOrder(
                    FailureReason.IMAGE_UNDECODABLE, FailureReason.UNKNOWN_SCHEMA);
            assertThat(f.failed).filteredOn(d -> d.getReason() == FailureReason.UNKNOWN_SCHEMA).singleElement()
                    .satisfies(d -> assertThat(d.getDetail()).as("the registry's 404 for the id, as a reason")
                            .contains("255999871"));
            assertThat(f.predicted.stream().map(Prediction::getRequestId).collect(Collectors.toSet())).isEqualTo(ids);
            assertThat(f.predicted).allSatisfy(p -> assertThat(p.getLabel()).isNotBlank());
            // the worker registered its output schema in Apicurio, where the reader found it by id
            JsonNode subjects = call("GET", url, "/subjects", null).body();
            assertThat(subjects.toString()).contains("\"" + f.requests + "-value\"",
                    "\"" + f.predictions + "-value\"", "\"" + f.deadLetters + "-value\"");
            int predictionId = freshClient().lookup(f.predictions + "-value", Prediction.getClassSchema());
            assertThat(freshClient().schemaById(predictionId)).isEqualTo(Prediction.getClassSchema());
        }
    }

    private record Answer(int status, JsonNode body) {}

    private Answer call(String method, URI base, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(10))
                .header("Accept", CONTENT_TYPE + ", application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", CONTENT_TYPE);
        }
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode json = r.body() == null || r.body().isBlank() ? null : JSON.readTree(r.body());
        return new Answer(r.statusCode(), json);
    }

    private static String body(String schema) {
        return JSON.createObjectNode().put("schema", schema).toString();
    }

    private static Schema withField(Schema record, String name, Schema type) {
        List<Schema.Field> fields = new ArrayList<>();
        for (Schema.Field f : record.getFields()) {
            fields.add(new Schema.Field(f, f.schema()));
        }
        fields.add(new Schema.Field(name, type, "required, no default"));
        return Schema.createRecord(record.getName(), record.getDoc(), record.getNamespace(), false, fields);
    }
}
