package io.medfuse.events.serde;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.FailureReason;
import io.medfuse.events.ImagePayload;
import io.medfuse.events.ImageReference;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.LabelProbability;
import io.medfuse.events.ModelIdentity;
import io.medfuse.events.Patient;
import io.medfuse.events.Prediction;
import io.medfuse.events.SourceRef;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;

/** Sample events and wire-format helpers for serde tests. */
final class SampleEvents {

    static final Instant REQUESTED_AT = Instant.ofEpochMilli(1_764_115_200_123L);

    private SampleEvents() {}

    static ImagingRequest requestWithInlineImage() {
        Map<String, Object> clinical = new HashMap<>();
        clinical.put("localization", "back");
        clinical.put("lesionDiameterMm", 6.5);
        clinical.put("familyHistory", true);
        clinical.put("fitzpatrick", null);
        return ImagingRequest.newBuilder()
                .setRequestId("req-0001")
                .setRequestedAt(REQUESTED_AT)
                .setSource(SourceRef.newBuilder().setSystem("derm-cam-3").setStudyInstanceUid("1.2.840.1").build())
                .setPatient(Patient.newBuilder().setAgeYears(54.5).setSex("female").build())
                .setClinical(clinical)
                .setImage(ImagePayload.newBuilder()
                        .setMediaType("image/png")
                        .setData(ByteBuffer.wrap(new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 1, 2, 3}))
                        .build())
                .build();
    }

    static ImagingRequest requestWithReferenceAndNoPatient() {
        return ImagingRequest.newBuilder()
                .setRequestId("req-0002")
                .setRequestedAt(REQUESTED_AT)
                .setPatient(null)
                .setImage(ImagePayload.newBuilder()
                        .setMediaType("image/jpeg")
                        .setReference(ImageReference.newBuilder()
                                .setUri("https://pacs.example/images/2.jpg")
                                .setSha256("ab".repeat(32))
                                .build())
                        .build())
                .build();
    }

    static ModelIdentity model() {
        return ModelIdentity.newBuilder().setName("derm-fusion").setVersion("1.2.0").setSha256("cd".repeat(32))
                .setExecutionProvider("CPU").build();
    }

    static Prediction prediction() {
        return Prediction.newBuilder()
                .setPredictionId("6f1c3c5e-7d2a-5b4e-9a3f-0c1d2e3f4a5b")
                .setRequestId("req-0001")
                .setModel(model())
                .setLabel("nv")
                .setProbability(0.83)
                .setProbabilities(List.of(
                        LabelProbability.newBuilder().setLabel("nv").setProbability(0.83).build(),
                        LabelProbability.newBuilder().setLabel("mel").setProbability(0.17).build()))
                .setRequestedAt(REQUESTED_AT)
                .setPredictedAt(REQUESTED_AT.plusMillis(42))
                .setTimings(io.medfuse.events.Timings.newBuilder().setQueueWaitMs(3.5).setPreprocessMs(1.25)
                        .setInferenceMs(18.0).setBatchSize(5).setPaddedBatchSize(8).build())
                .setFlags(List.of("age:imputed"))
                .build();
    }

    static FailedRequest failedRequest() {
        return FailedRequest.newBuilder()
                .setRequestId("req-0003")
                .setReason(FailureReason.IMAGE_UNDECODABLE)
                .setDetail("image/png bytes end inside the IHDR chunk")
                .setSourceTopic("imaging.requests")
                .setSourcePartition(3)
                .setSourceOffset(12_345L)
                .setFailedAt(REQUESTED_AT.plusSeconds(1))
                .setModel(model())
                .setOriginalBytes(ByteBuffer.wrap(new byte[] {0, 0, 0, 0, 1, 2}))
                .build();
    }

    static Schema schemaResource(String path) {
        try (InputStream in = SampleEvents.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + path);
            }
            return new Schema.Parser().parse(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Header (magic 0 + big-endian id) followed by {@code payload}. */
    static byte[] wire(int schemaId, byte[] payload) {
        ByteBuffer buffer = ByteBuffer.allocate(5 + payload.length);
        buffer.put((byte) 0).putInt(schemaId).put(payload);
        return buffer.array();
    }

    /** A generic record in the wire format, as another producer would write it. */
    static byte[] wire(int schemaId, Schema schema, GenericRecord record) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
            new GenericDatumWriter<GenericRecord>(schema).write(record, encoder);
            encoder.flush();
            return wire(schemaId, out.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Avro's zig-zag varint encoding of {@code value}. */
    static byte[] varint(long value) {
        long n = (value << 1) ^ (value >> 63);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while ((n & ~0x7FL) != 0) {
            out.write((int) ((n & 0x7F) | 0x80));
            n >>>= 7;
        }
        out.write((int) n);
        return out.toByteArray();
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
