package io.medfuse.events.serde;

import static io.medfuse.events.serde.SampleEvents.concat;
import static io.medfuse.events.serde.SampleEvents.varint;
import static io.medfuse.events.serde.SampleEvents.wire;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Prediction;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import io.medfuse.events.registry.SchemaRegistryClient;
import io.medfuse.events.registry.SchemaRegistryException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.List;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.generic.GenericRecordBuilder;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ConfluentAvroCodecTest {

    private static final String TOPIC = "imaging.requests";

    private InProcessSchemaRegistry registry;
    private SchemaRegistryClient client;
    private ConfluentAvroCodec<ImagingRequest> requests;

    @BeforeEach
    void startRegistry() {
        registry = InProcessSchemaRegistry.start(0);
        client = new RestSchemaRegistryClient(RegistrySettings.of(registry.url()));
        requests = new ConfluentAvroCodec<>(client, ImagingRequest.class, true);
    }

    @AfterEach
    void stopRegistry() {
        registry.close();
    }

    @Test
    void writesMagicByteThenBigEndianRegistryIdThenPlainAvroBinary() throws Exception {
        // Another schema first, so the request's id is not 1 and byte order matters.
        new ConfluentAvroCodec<>(client, Prediction.class, true).encode("predictions", SampleEvents.prediction());
        ImagingRequest request = SampleEvents.requestWithInlineImage();

        byte[] bytes = requests.encode(TOPIC, request);

        int id = client.register(TOPIC + "-value", ImagingRequest.getClassSchema());
        assertThat(id).isEqualTo(2);
        assertThat(bytes[0]).isEqualTo((byte) 0);
        assertThat(ByteBuffer.wrap(bytes, 1, 4).getInt()).isEqualTo(id);
        assertThat(Arrays.copyOfRange(bytes, 1, 5)).containsExactly(0, 0, 0, 2);
        BinaryDecoder plain = DecoderFactory.get().binaryDecoder(bytes, 5, bytes.length - 5, null);
        ImagingRequest read = new SpecificDatumReader<>(ImagingRequest.class).read(null, plain);
        assertThat(read).isEqualTo(request);
        assertThat(plain.isEnd()).isTrue();
    }

    @Test
    void roundTripsRequestWithInlineImageClinicalValuesAndPatient() {
        ImagingRequest request = SampleEvents.requestWithInlineImage();

        ImagingRequest read = requests.decode(requests.encode(TOPIC, request));

        assertThat(read).isEqualTo(request);
        assertThat(read.getRequestedAt()).isEqualTo(SampleEvents.REQUESTED_AT);
        assertThat(read.getClinical()).containsEntry("localization", "back").containsEntry("lesionDiameterMm", 6.5)
                .containsEntry("familyHistory", true).containsEntry("fitzpatrick", null);
        assertThat(read.getPatient().getSex()).isEqualTo("female");
        assertThat(read.getImage().getData()).isEqualTo(request.getImage().getData());
    }

    @Test
    void roundTripsRequestWithReferenceAndNoPatient() {
        ImagingRequest request = SampleEvents.requestWithReferenceAndNoPatient();

        ImagingRequest read = requests.decode(requests.encode(TOPIC, request));

        assertThat(read).isEqualTo(request);
        assertThat(read.getPatient()).isNull();
        assertThat(read.getClinical()).isEmpty();
        assertThat(read.getImage().getReference().getUri()).isEqualTo("https://pacs.example/images/2.jpg");
    }

    @Test
    void roundTripsPredictionAndFailedRequest() {
        var predictions = new ConfluentAvroCodec<>(client, Prediction.class, true);
        var deadLetters = new ConfluentAvroCodec<>(client, FailedRequest.class, true);

        assertThat(predictions.decode(predictions.encode("predictions", SampleEvents.prediction())))
                .isEqualTo(SampleEvents.prediction());
        assertThat(deadLetters.decode(deadLetters.encode("dead-letters", SampleEvents.failedRequest())))
                .isEqualTo(SampleEvents.failedRequest());
        assertThat(registry.requestLog()).contains("POST /subjects/predictions-value/versions",
                "POST /subjects/dead-letters-value/versions");
    }

    @Test
    void decodesRecordsWrittenWithTheOlderSchemaIntoTheCurrentClassWithDefaults() {
        Schema v0 = SampleEvents.schemaResource("/schemas/v0/ImagingRequest.avsc");
        String subject = TOPIC + "-value";
        int v0Id = client.register(subject, v0);
        Schema patientV0 = v0.getField("patient").schema().getTypes().get(1);
        Schema imageV0 = v0.getField("image").schema();
        GenericRecord old = new GenericRecordBuilder(v0)
                .set("requestId", "req-old")
                .set("requestedAt", SampleEvents.REQUESTED_AT.toEpochMilli())
                .set("patient", new GenericRecordBuilder(patientV0).set("ageYears", 61.0).build())
                .set("clinical", Map.of("localization", "face"))
                .set("image", new GenericRecordBuilder(imageV0).set("mediaType", "image/jpeg")
                        .set("data", ByteBuffer.wrap(new byte[] {1, 2, 3})).build())
                .build();
        byte[] oldBytes = wire(v0Id, v0, old);

        // The current schema is registered after v0 as the subject's second version (BACKWARD compatible).
        int currentId = client.register(subject, ImagingRequest.getClassSchema());
        ImagingRequest read = requests.decode(oldBytes);

        assertThat(currentId).isNotEqualTo(v0Id);
        assertThat(registry.requestLog()).contains("POST /subjects/" + subject + "/versions");
        assertThat(read.getRequestId()).isEqualTo("req-old");
        assertThat(read.getRequestedAt()).isEqualTo(SampleEvents.REQUESTED_AT);
        assertThat(read.getSource()).isNull();
        assertThat(read.getPatient().getAgeYears()).isEqualTo(61.0);
        assertThat(read.getPatient().getSex()).isNull();
        assertThat(read.getClinical()).containsEntry("localization", "face");
        assertThat(read.getImage().getData()).isEqualTo(ByteBuffer.wrap(new byte[] {1, 2, 3}));
    }

    /** Predictions written before clinicalInfluence existed decode into the current class with it null. */
    @Test
    void decodesPredictionsWrittenWithTheSchemaBeforeTheInfluenceField() throws Exception {
        Schema v0 = SampleEvents.schemaResource("/schemas/v0/Prediction.avsc");
        assertThat(v0.getField("clinicalInfluence")).isNull();
        String subject = "predictions-value";
        int v0Id = client.register(subject, v0);
        Prediction sample = SampleEvents.prediction();
        java.io.ByteArrayOutputStream payload = new java.io.ByteArrayOutputStream();
        org.apache.avro.io.BinaryEncoder enc = org.apache.avro.io.EncoderFactory.get().binaryEncoder(payload, null);
        // the old writer: the fields it knows, by position (the new field is the last one)
        new org.apache.avro.specific.SpecificDatumWriter<Prediction>(v0,
                org.apache.avro.specific.SpecificData.getForClass(Prediction.class)).write(sample, enc);
        enc.flush();
        byte[] oldBytes = wire(v0Id, payload.toByteArray());

        int currentId = client.register(subject, Prediction.getClassSchema());
        Prediction read = new ConfluentAvroCodec<>(client, Prediction.class, true).decode(oldBytes);

        assertThat(currentId).as("BACKWARD: the registry takes the new version").isNotEqualTo(v0Id);
        assertThat(read.getClinicalInfluence()).isNull();
        assertThat(read.getPredictionId()).isEqualTo(sample.getPredictionId());
        assertThat(read.getProbabilities()).isEqualTo(sample.getProbabilities());
        assertThat(read.getPredictedAt()).isEqualTo(sample.getPredictedAt());
        assertThat(read.getFlags()).isEqualTo(sample.getFlags());
    }

    @Test
    void newerWriterWithAnAppendedReasonSymbolDecodesAsOther() {
        String current = FailedRequest.getClassSchema().toString();
        List<String> symbols = FailedRequest.getClassSchema().getField("reason").schema().getEnumSymbols();
        String end = "\"" + symbols.get(symbols.size() - 1) + "\"]";
        assertThat(current).contains(end);
        Schema newer = new Schema.Parser().parse(current.replace(end, end.replace("]", ",\"QUOTA_EXCEEDED\"]")));
        int id = client.register("dead-letters-newer-value", newer);
        GenericRecord record = new GenericData.Record(newer);
        record.put("reason", new GenericData.EnumSymbol(newer.getField("reason").schema(), "QUOTA_EXCEEDED"));
        record.put("detail", "over quota");
        record.put("sourceTopic", "t");
        record.put("sourcePartition", 0);
        record.put("sourceOffset", 1L);
        record.put("failedAt", 0L);

        FailedRequest read = new ConfluentAvroCodec<>(client, FailedRequest.class, true).decode(wire(id, newer, record));

        assertThat(read.getReason()).isEqualTo(io.medfuse.events.FailureReason.OTHER);
        assertThat(read.getDetail()).isEqualTo("over quota");
    }

    @Test
    void registryRefusesAnIncompatibleNewVersionWith409() {
        String subject = TOPIC + "-value";
        client.register(subject, SampleEvents.schemaResource("/schemas/v0/ImagingRequest.avsc"));
        client.register(subject, ImagingRequest.getClassSchema());
        Schema withRequiredField = addField(ImagingRequest.getClassSchema(),
                new Schema.Field("priority", Schema.create(Schema.Type.INT), "required, no default"));

        Throwable thrown = catchThrowable(() -> client.register(subject, withRequiredField));

        assertThat(thrown).isInstanceOf(SchemaRegistryException.class)
                .hasMessageContaining("HTTP 409").hasMessageContaining("priority");
        assertThat(((SchemaRegistryException) thrown).status()).isEqualTo(409);
        assertThat(((SchemaRegistryException) thrown).errorCode()).isEqualTo(409);
    }

    @Test
    void unknownSchemaIdIsUnknownSchemaId() {
        byte[] bytes = wire(4242, new byte[] {2, 'x'});

        assertThatThrownBy(() -> requests.decode(bytes))
                .isInstanceOfSatisfying(AvroDecodeException.class, e -> {
                    assertThat(e.failure()).isEqualTo(DecodeFailure.UNKNOWN_SCHEMA_ID);
                    assertThat(e.schemaId()).isEqualTo(4242);
                })
                .hasMessageContaining("4242");
    }

    @Test
    void plainTextAndJsonAreWrongMagicByte() {
        assertFailure("hello".getBytes(StandardCharsets.US_ASCII), DecodeFailure.WRONG_MAGIC_BYTE)
                .hasMessageContaining("0x68");
        assertFailure("{\"requestId\":\"r1\"}".getBytes(StandardCharsets.UTF_8), DecodeFailure.WRONG_MAGIC_BYTE)
                .hasMessage("first byte is 0x7b, not the Confluent magic byte 0x00: the record is not in Schema"
                        + " Registry wire format (is the producer using a plain JSON/Avro serializer?)");
        assertFailure(new byte[] {0, 0, 1}, DecodeFailure.WRONG_MAGIC_BYTE).hasMessageContaining("3 bytes");
    }

    @Test
    void nullAndEmptyAreNotAvro() {
        assertFailure(null, DecodeFailure.NOT_AVRO);
        assertFailure(new byte[0], DecodeFailure.NOT_AVRO);
    }

    @Test
    void garbageAfterAValidHeaderIsNotAvro() {
        int id = idOfCurrentRequestSchema();
        // ten continuation bytes: not a valid varint
        byte[] invalidVarint = new byte[11];
        Arrays.fill(invalidVarint, (byte) 0xff);

        assertFailure(wire(id, invalidVarint), DecodeFailure.NOT_AVRO).hasMessageContaining("invalid variable-length");
        assertFailure(wire(id, new byte[0]), DecodeFailure.NOT_AVRO).hasMessageContaining("data ends");
    }

    @Test
    void truncatedRecordIsNotAvro() {
        byte[] whole = requests.encode(TOPIC, SampleEvents.requestWithInlineImage());

        for (int cut = 1; cut < whole.length - 5; cut++) {
            byte[] truncated = Arrays.copyOf(whole, whole.length - cut);
            assertFailure(truncated, DecodeFailure.NOT_AVRO);
        }
    }

    @Test
    void trailingBytesAfterTheRecordAreNotAvro() {
        byte[] whole = requests.encode(TOPIC, SampleEvents.requestWithInlineImage());

        assertFailure(concat(whole, new byte[] {7, 7}), DecodeFailure.NOT_AVRO).hasMessageContaining("2 trailing bytes");
    }

    @Test
    void randomBytesBehindAValidHeaderNeverEscapeAsAnythingButNotAvro() {
        int id = idOfCurrentRequestSchema();
        Random random = new Random(20261126L);

        for (int i = 0; i < 2_000; i++) {
            byte[] payload = new byte[random.nextInt(80)];
            random.nextBytes(payload);
            Throwable thrown = catchThrowable(() -> requests.decode(wire(id, payload)));
            if (thrown != null) {
                assertThat(thrown).isInstanceOf(AvroDecodeException.class);
                assertThat(((AvroDecodeException) thrown).failure()).isEqualTo(DecodeFailure.NOT_AVRO);
            }
        }
    }

    @Test
    void recordOfAnotherSchemaIsIncompatibleSchema() {
        byte[] prediction = new ConfluentAvroCodec<>(client, Prediction.class, true)
                .encode(TOPIC, SampleEvents.prediction());

        assertFailure(prediction, DecodeFailure.INCOMPATIBLE_SCHEMA)
                .hasMessageContaining("io.medfuse.events.Prediction")
                .hasMessageContaining("NAME_MISMATCH");
    }

    @Test
    void sameNamedRecordMissingRequiredFieldsIsIncompatibleSchema() {
        Schema stub = new Schema.Parser().parse("{\"type\":\"record\",\"name\":\"ImagingRequest\","
                + "\"namespace\":\"io.medfuse.events\",\"fields\":[{\"name\":\"requestId\",\"type\":\"string\"}]}");
        int id = client.register("stubs-value", stub);
        GenericData.Record record = new GenericData.Record(stub);
        record.put("requestId", "r1");

        assertFailure(wire(id, stub, record), DecodeFailure.INCOMPATIBLE_SCHEMA)
                .hasMessageContaining("requestedAt");
        // the verdict is cached per writer id: no further registry calls
        long calls = registry.requestCount();
        assertFailure(wire(id, stub, record), DecodeFailure.INCOMPATIBLE_SCHEMA);
        assertThat(registry.requestCount()).isEqualTo(calls);
    }

    @Test
    void registryDownIsRegistryUnavailable() {
        byte[] bytes = requests.encode(TOPIC, SampleEvents.requestWithInlineImage());
        registry.close();
        var freshCodec = new ConfluentAvroCodec<>(new RestSchemaRegistryClient(RegistrySettings.of(registry.url())),
                ImagingRequest.class, false);

        assertFailure(bytes, freshCodec, DecodeFailure.REGISTRY_UNAVAILABLE)
                .hasMessageContaining("unreachable").hasMessageContaining(registry.url().toString());
        assertThat(DecodeFailure.REGISTRY_UNAVAILABLE.isRetriable()).isTrue();
    }

    @Test
    void hugeLengthPrefixesAreRejectedWithoutAllocating() {
        int id = idOfCurrentRequestSchema();
        byte[] hugeString = wire(id, concat(varint(2_000_000_000L), "abc".getBytes(StandardCharsets.US_ASCII)));
        byte[] hugeMap = wire(id, concat(varint(2), "r1".getBytes(StandardCharsets.US_ASCII), varint(7L), varint(0),
                varint(0), varint(1_500_000_000L), new byte[] {2, 'k', 0}));
        byte[] negativeLength = wire(id, concat(varint(-5), new byte[] {1, 2, 3}));
        requests.decode(requests.encode(TOPIC, SampleEvents.requestWithInlineImage())); // warm up class loading
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();

        assertFailure(hugeString, DecodeFailure.NOT_AVRO).hasMessageContaining("length 2000000000");
        assertFailure(hugeMap, DecodeFailure.NOT_AVRO).hasMessageContaining("1500000000 items");
        assertFailure(negativeLength, DecodeFailure.NOT_AVRO).hasMessageContaining("length -5");

        assertThat(threads.getCurrentThreadAllocatedBytes() - before).isLessThan(8L << 20);
    }

    @Test
    void decodeFetchesEachWriterSchemaOnceAndEncodeRegistersOnce() {
        ImagingRequest request = SampleEvents.requestWithInlineImage();
        long start = registry.requestCount();
        byte[] bytes = null;
        for (int i = 0; i < 5; i++) {
            bytes = requests.encode(TOPIC, request);
        }
        assertThat(registry.requestCount() - start).isEqualTo(1);

        var reader = new ConfluentAvroCodec<>(new RestSchemaRegistryClient(RegistrySettings.of(registry.url())),
                ImagingRequest.class, false);
        long beforeDecode = registry.requestCount();
        for (int i = 0; i < 5; i++) {
            assertThat(reader.decode(bytes)).isEqualTo(request);
        }
        assertThat(registry.requestCount() - beforeDecode).isEqualTo(1);
        assertThat(registry.requestLog().get(registry.requestLog().size() - 1)).startsWith("GET /schemas/ids/");
    }

    @Test
    void withoutAutoRegisterEncodeLooksTheIdUpAndFailsWhenTheSchemaIsNotRegistered() {
        var strict = new ConfluentAvroCodec<>(client, ImagingRequest.class, false);

        assertThatThrownBy(() -> strict.encode(TOPIC, SampleEvents.requestWithInlineImage()))
                .isInstanceOf(org.apache.kafka.common.errors.SerializationException.class)
                .hasMessageContaining("look up").hasMessageContaining("40401")
                .hasCauseInstanceOf(SchemaRegistryException.class);

        int id = client.register(TOPIC + "-value", ImagingRequest.getClassSchema());
        byte[] bytes = new ConfluentAvroCodec<>(new RestSchemaRegistryClient(RegistrySettings.of(registry.url())),
                ImagingRequest.class, false).encode(TOPIC, SampleEvents.requestWithInlineImage());
        assertThat(ByteBuffer.wrap(bytes, 1, 4).getInt()).isEqualTo(id);
        assertThat(registry.requestLog()).contains("POST /subjects/" + TOPIC + "-value");
    }

    @Test
    void oneCodecServesManyThreadsAtOnce() throws Exception {
        var reader = new ConfluentAvroCodec<>(new RestSchemaRegistryClient(RegistrySettings.of(registry.url())),
                ImagingRequest.class, false);
        var pool = java.util.concurrent.Executors.newFixedThreadPool(8);
        try {
            var results = new java.util.ArrayList<java.util.concurrent.Future<Boolean>>();
            for (int t = 0; t < 8; t++) {
                results.add(pool.submit(() -> {
                    for (int i = 0; i < 200; i++) {
                        ImagingRequest request = i % 2 == 0 ? SampleEvents.requestWithInlineImage()
                                : SampleEvents.requestWithReferenceAndNoPatient();
                        if (!reader.decode(requests.encode(TOPIC, request)).equals(request)) {
                            return false;
                        }
                    }
                    return true;
                }));
            }
            for (var result : results) {
                assertThat(result.get(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            }
        } finally {
            pool.shutdownNow();
        }
        // one registration, and at most one schema fetch per racing thread
        assertThat(registry.requestLog()).filteredOn(r -> r.startsWith("POST")).hasSizeLessThanOrEqualTo(8);
        assertThat(registry.requestLog()).filteredOn(r -> r.startsWith("GET")).hasSizeLessThanOrEqualTo(8);
    }

    private int idOfCurrentRequestSchema() {
        return client.register(TOPIC + "-value", ImagingRequest.getClassSchema());
    }

    private org.assertj.core.api.AbstractThrowableAssert<?, ? extends Throwable> assertFailure(byte[] bytes,
            DecodeFailure expected) {
        return assertFailure(bytes, requests, expected);
    }

    private static org.assertj.core.api.AbstractThrowableAssert<?, ? extends Throwable> assertFailure(byte[] bytes,
            ConfluentAvroCodec<?> codec, DecodeFailure expected) {
        Throwable thrown = catchThrowable(() -> codec.decode(bytes));
        assertThat(thrown).isInstanceOf(AvroDecodeException.class);
        assertThat(((AvroDecodeException) thrown).failure()).as(thrown.getMessage()).isEqualTo(expected);
        return assertThat(thrown);
    }

    private static Schema addField(Schema record, Schema.Field added) {
        java.util.List<Schema.Field> fields = new java.util.ArrayList<>();
        for (Schema.Field f : record.getFields()) {
            fields.add(new Schema.Field(f, f.schema()));
        }
        fields.add(added);
        return Schema.createRecord(record.getName(), record.getDoc(), record.getNamespace(), false, fields);
    }
}
