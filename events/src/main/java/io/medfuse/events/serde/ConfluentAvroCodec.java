package io.medfuse.events.serde;

import io.medfuse.events.registry.SchemaRegistryClient;
import io.medfuse.events.registry.SchemaRegistryException;
import io.medfuse.events.registry.UnknownSchemaException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.stream.Collectors;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;

/**
 * Encodes and decodes one generated Avro class in the Confluent Schema Registry wire format: byte 0 is the magic
 * byte 0x00, bytes 1–4 the writer schema's registry id (big-endian), then Avro binary. Records written by
 * Confluent's {@code KafkaAvroSerializer} decode here and the other way round.
 *
 * <p>Decoding reads with the writer schema named in the header and resolves it to {@code T}'s schema (the reader),
 * so records written with an older or newer compatible schema decode into {@code T} with defaults filled in.
 * Every way bad bytes can fail ends in an {@link AvroDecodeException} with a {@link DecodeFailure}; nothing else
 * escapes, and no length prefix can make it allocate more than the record's own size.
 *
 * <p>Subjects follow Confluent's TopicNameStrategy for values: {@code <topic>-value}.
 *
 * <p>Thread-safe: writer schemas, ids and datum readers are cached in concurrent maps for the codec's life.
 *
 * @param <T> the generated class, e.g. {@code io.medfuse.events.ImagingRequest}
 */
public final class ConfluentAvroCodec<T extends SpecificRecord> {

    /** First byte of every record in the wire format. */
    public static final byte MAGIC_BYTE = 0x00;
    /** Magic byte plus the 4-byte schema id. */
    public static final int HEADER_LENGTH = 5;

    private final SchemaRegistryClient registry;
    private final Class<T> type;
    private final boolean autoRegister;
    private final SpecificData model;
    private final Schema readerSchema;
    private final SpecificDatumWriter<T> writer;
    private final ConcurrentMap<String, Integer> idBySubject = new ConcurrentHashMap<>();
    private final ConcurrentMap<Integer, Resolution<T>> resolutionByWriterId = new ConcurrentHashMap<>();

    /** How records written with one writer schema are read; either {@code reader} or {@code incompatibility}. */
    private record Resolution<T>(Schema writer, AvroBoundsCheck bounds, SpecificDatumReader<T> reader,
                                 String incompatibility) {}

    /**
     * @param registry where schema ids come from; shared, not closed by the codec
     * @param type the generated class; its {@code SCHEMA$} is the reader schema and the schema written
     * @param autoRegister true: {@link #encode} registers the schema under the subject (fine for the demo and for
     *     tests; a registry with strict governance will refuse it); false: it only looks the id up, and fails
     *     when the schema was not registered beforehand
     */
    public ConfluentAvroCodec(SchemaRegistryClient registry, Class<T> type, boolean autoRegister) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.type = Objects.requireNonNull(type, "type");
        this.autoRegister = autoRegister;
        // The class's own model carries its logical-type conversions (timestamp-millis <-> Instant).
        this.model = SpecificData.getForClass(type);
        this.readerSchema = model.getSchema(type);
        this.writer = new SpecificDatumWriter<>(readerSchema, model);
    }

    /** The schema records are written with and read into ({@code T.SCHEMA$}). */
    public Schema schema() {
        return readerSchema;
    }

    public Class<T> type() {
        return type;
    }

    /** {@code <topic>-value}. */
    public static String valueSubject(String topic) {
        return topic + "-value";
    }

    /**
     * Encodes {@code record} for {@code topic}.
     *
     * @param record not null (a Kafka serializer maps null to null before calling this)
     * @throws SerializationException when the schema id cannot be had from the registry (cause: a
     *     {@link SchemaRegistryException}) or the record cannot be written (e.g. a required field is null)
     */
    public byte[] encode(String topic, T record) {
        Objects.requireNonNull(record, "record");
        int id = schemaIdFor(topic);
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        out.write(MAGIC_BYTE);
        out.write(id >>> 24);
        out.write(id >>> 16);
        out.write(id >>> 8);
        out.write(id);
        try {
            BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
            writer.write(record, encoder);
            encoder.flush();
        } catch (IOException | RuntimeException e) {
            throw new SerializationException("could not encode a " + type.getSimpleName() + " for topic " + topic
                    + " with schema id " + id + ": " + e.getMessage(), e);
        }
        return out.toByteArray();
    }

    /**
     * The schema id records for {@code topic} are written with, registering the schema first when this codec
     * auto-registers; cached, so a worker that asked once at start-up never needs the registry to write again.
     *
     * @throws SerializationException when the registry cannot be reached or refuses (cause: a
     *     {@link SchemaRegistryException})
     */
    public int schemaIdFor(String topic) {
        String subject = valueSubject(topic);
        Integer cached = idBySubject.get(subject);
        if (cached != null) {
            return cached;
        }
        int id;
        try {
            id = autoRegister ? registry.register(subject, readerSchema) : registry.lookup(subject, readerSchema);
        } catch (SchemaRegistryException e) {
            throw new SerializationException("could not " + (autoRegister ? "register" : "look up") + " the "
                    + type.getSimpleName() + " schema under subject " + subject + ": " + e.getMessage(), e);
        }
        idBySubject.putIfAbsent(subject, id);
        return id;
    }

    /**
     * Decodes a record value written in the wire format, with any writer schema the registry knows that resolves
     * to {@code T}.
     *
     * @return the record, never null
     * @throws AvroDecodeException for every kind of bad input or registry trouble; see {@link DecodeFailure}
     */
    public T decode(byte[] bytes) {
        if (bytes == null || bytes.length == 0) {
            throw new AvroDecodeException(DecodeFailure.NOT_AVRO, null, "record value is "
                    + (bytes == null ? "null" : "empty") + ": expected a " + type.getSimpleName()
                    + " in Schema Registry wire format");
        }
        if (bytes[0] != MAGIC_BYTE) {
            throw new AvroDecodeException(DecodeFailure.WRONG_MAGIC_BYTE, null, String.format(
                    "first byte is 0x%02x, not the Confluent magic byte 0x00: the record is not in Schema Registry"
                            + " wire format (is the producer using a plain JSON/Avro serializer?)", bytes[0] & 0xff));
        }
        if (bytes.length < HEADER_LENGTH) {
            throw new AvroDecodeException(DecodeFailure.WRONG_MAGIC_BYTE, null, "record value has " + bytes.length
                    + " bytes, fewer than the 5-byte Schema Registry header (magic byte 0x00 + 4-byte schema id)");
        }
        int id = ((bytes[1] & 0xff) << 24) | ((bytes[2] & 0xff) << 16) | ((bytes[3] & 0xff) << 8) | (bytes[4] & 0xff);
        Resolution<T> resolution = resolution(id);
        if (resolution.incompatibility() != null) {
            throw new AvroDecodeException(DecodeFailure.INCOMPATIBLE_SCHEMA, id, resolution.incompatibility());
        }
        try {
            resolution.bounds().check(bytes, HEADER_LENGTH);
        } catch (AvroBoundsCheck.MalformedAvroException e) {
            throw new AvroDecodeException(DecodeFailure.NOT_AVRO, id, "bytes after the header are not a valid "
                    + resolution.writer().getFullName() + " of schema id " + id + ": " + e.getMessage(), e);
        }
        try {
            BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(bytes, HEADER_LENGTH,
                    bytes.length - HEADER_LENGTH, null);
            return resolution.reader().read(null, decoder);
        } catch (IOException | RuntimeException e) {
            // The bounds check passed, so this is rare (e.g. a value a logical type rejects); still the record's fault.
            throw new AvroDecodeException(DecodeFailure.NOT_AVRO, id, "could not read " + resolution.writer().getFullName()
                    + " of schema id " + id + " as " + type.getSimpleName() + ": " + e, e);
        }
    }

    private Resolution<T> resolution(int id) {
        Resolution<T> cached = resolutionByWriterId.get(id);
        if (cached != null) {
            return cached;
        }
        Schema writerSchema;
        try {
            writerSchema = registry.schemaById(id);
        } catch (UnknownSchemaException e) {
            throw new AvroDecodeException(DecodeFailure.UNKNOWN_SCHEMA_ID, id, "schema id " + id
                    + " in the record header is unknown to the schema registry: " + e.getMessage(), e);
        } catch (SchemaRegistryException e) {
            if (e.status() == 200) {
                // The registry answered, but with something that is not an Avro schema we can use.
                throw new AvroDecodeException(DecodeFailure.INCOMPATIBLE_SCHEMA, id, e.getMessage(), e);
            }
            throw new AvroDecodeException(DecodeFailure.REGISTRY_UNAVAILABLE, id, "could not fetch writer schema id "
                    + id + ": " + e.getMessage(), e);
        }
        Resolution<T> computed = resolve(id, writerSchema);
        Resolution<T> previous = resolutionByWriterId.putIfAbsent(id, computed);
        return previous != null ? previous : computed;
    }

    private Resolution<T> resolve(int id, Schema writerSchema) {
        SchemaCompatibility.SchemaPairCompatibility compatibility =
                SchemaCompatibility.checkReaderWriterCompatibility(readerSchema, writerSchema);
        if (compatibility.getType() != SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
            String why = compatibility.getResult().getIncompatibilities().stream()
                    .map(i -> i.getType() + " at " + i.getLocation() + ": " + i.getMessage())
                    .collect(Collectors.joining("; "));
            return new Resolution<>(writerSchema, null, null, "writer schema id " + id + " ("
                    + writerSchema.getFullName() + ") cannot be read as " + readerSchema.getFullName() + ": " + why);
        }
        return new Resolution<>(writerSchema, new AvroBoundsCheck(writerSchema),
                new SpecificDatumReader<>(writerSchema, readerSchema, model), null);
    }
}
