package io.medfuse.events.serde;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.medfuse.events.ImagingRequest;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class AvroSerdeTest {

    @Test
    void serializesThroughTheCodecAndMapsNullToNull() {
        try (var registry = InProcessSchemaRegistry.start(0)) {
            var codec = new ConfluentAvroCodec<>(new RestSchemaRegistryClient(RegistrySettings.of(registry.url())),
                    ImagingRequest.class, true);
            try (var serde = new AvroSerde<>(codec)) {
                ImagingRequest request = SampleEvents.requestWithInlineImage();

                byte[] bytes = serde.serializer().serialize("imaging.requests", request);

                assertThat(bytes[0]).isZero();
                assertThat(serde.deserializer().deserialize("imaging.requests", bytes)).isEqualTo(request);
                assertThat(serde.serializer().serialize("imaging.requests", null)).isNull();
                assertThat(serde.deserializer().deserialize("imaging.requests", null)).isNull();
                assertThat(registry.requestLog()).containsExactly("POST /subjects/imaging.requests-value/versions");
            }
        }
    }

    @Test
    void deserializerThrowsTypedFailuresThatKafkaTreatsAsSerializationErrors() {
        try (var registry = InProcessSchemaRegistry.start(0)) {
            var serde = new AvroSerde<>(new ConfluentAvroCodec<>(
                    new RestSchemaRegistryClient(RegistrySettings.of(registry.url())), ImagingRequest.class, true));

            assertThatThrownBy(() -> serde.deserializer().deserialize("t", "{}".getBytes(StandardCharsets.UTF_8)))
                    .isInstanceOf(org.apache.kafka.common.errors.SerializationException.class)
                    .isInstanceOfSatisfying(AvroDecodeException.class,
                            e -> assertThat(e.failure()).isEqualTo(DecodeFailure.WRONG_MAGIC_BYTE));
        }
    }
}
