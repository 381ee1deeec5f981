package io.medfuse.events.serde;

import java.util.Objects;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Kafka {@link Serde} for record <em>values</em> of one generated Avro class, in the Schema Registry wire format,
 * through a {@link ConfluentAvroCodec}. Null maps to null both ways (tombstones). Deserialization failures are
 * {@link AvroDecodeException}s, which Kafka Streams hands to its deserialization exception handler.
 *
 * <p>Thread-safe; {@link #configure} and {@link #close} do nothing (the codec is built from typed settings, and
 * the registry client it uses is owned by whoever built it).
 */
public final class AvroSerde<T extends SpecificRecord> implements Serde<T> {

    private final ConfluentAvroCodec<T> codec;
    private final Serializer<T> serializer;
    private final Deserializer<T> deserializer;

    public AvroSerde(ConfluentAvroCodec<T> codec) {
        this.codec = Objects.requireNonNull(codec, "codec");
        this.serializer = (topic, value) -> value == null ? null : this.codec.encode(topic, value);
        this.deserializer = (topic, bytes) -> bytes == null ? null : this.codec.decode(bytes);
    }

    public ConfluentAvroCodec<T> codec() {
        return codec;
    }

    @Override
    public Serializer<T> serializer() {
        return serializer;
    }

    @Override
    public Deserializer<T> deserializer() {
        return deserializer;
    }
}
