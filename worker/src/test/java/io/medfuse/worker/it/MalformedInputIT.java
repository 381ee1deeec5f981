package io.medfuse.worker.it;

import io.medfuse.testkit.SharedBroker;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.FailureReason;
import io.medfuse.events.ImagePayload;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Patient;
import io.medfuse.events.Prediction;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.SampleRequests;

/** Valid requests mixed with malformed ones: each malformed one a dead letter with the right reason. */
class MalformedInputIT {

    static final EmbeddedKafka kafka = SharedBroker.kafka();
    static final InProcessSchemaRegistry registry = SharedBroker.registry();

    private static ImagingRequest withPatient(ImagingRequest r, Double age, String sex) {
        return ImagingRequest.newBuilder(r).setPatient(Patient.newBuilder().setAgeYears(age).setSex(sex).build())
                .build();
    }

    private static ImagingRequest referenced(SampleRequests samples, String id, String uri, String sha256) {
        return ImagingRequest.newBuilder(samples.next("x")).setRequestId(id)
                .setImage(ImagePayload.newBuilder().setMediaType("image/png")
                        .setReference(io.medfuse.events.ImageReference.newBuilder().setUri(uri).setSha256(sha256)
                                .build())
                        .build())
                .build();
    }

    @Test
    void routesEachMalformedRequestToDeadLettersWithItsReasonAndAnswersEveryValidOne() throws Exception {
        java.nio.file.Path images = java.nio.file.Files.createTempDirectory("medfuse-ref-root");
        try (StreamFixture f = new StreamFixture(kafka, registry, 3);
             MedfuseWorker worker = MedfuseWorker.start(f.workerConfig(Map.of(
                     WorkerConfig.REFERENCE_FILE_ROOTS, images.toString(),
                     // dead letters carry the original record here (off by default: it is patient data)
                     WorkerConfig.DLQ_MAX_ORIGINAL_BYTES, String.valueOf(1024 * 1024))))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            f.startReading();
            SampleRequests samples = new SampleRequests(3, 80, "image/png");
            Map<String, FailureReason> expected = new LinkedHashMap<>();
            Set<String> valid = new HashSet<>();
            int rawWithoutId = 0;
            for (int i = 0; i < 30; i++) {
                ImagingRequest r = samples.next("ok");
                valid.add(r.getRequestId());
                f.send(r);
                switch (i) {
                    case 3 -> {
                        ImagingRequest bad = samples.request("bad-undecodable", 40.0, "male", "back",
                                "not an image at all".getBytes(StandardCharsets.UTF_8));
                        expected.put(bad.getRequestId(), FailureReason.IMAGE_UNDECODABLE);
                        f.send(bad);
                    }
                    case 6 -> {
                        ImagingRequest bad = ImagingRequest.newBuilder(samples.next("x"))
                                .setRequestId("bad-media-type")
                                .setImage(ImagePayload.newBuilder().setMediaType("image/gif")
                                        .setData(ByteBuffer.wrap(new byte[] {'G', 'I', 'F', '8', '9', 'a'})).build())
                                .build();
                        expected.put(bad.getRequestId(), FailureReason.UNSUPPORTED_MEDIA_TYPE);
                        f.send(bad);
                    }
                    case 9 -> {
                        f.sendRaw("not-avro", "{\"requestId\":\"json\"}".getBytes(StandardCharsets.UTF_8));
                        rawWithoutId++;
                    }
                    case 12 -> {
                        // Confluent framing with a schema id the registry never issued
                        f.sendRaw("unknown-schema", new byte[] {0, 0, 0, 0x7f, 0x11, 2, 4, 6, 8});
                        rawWithoutId++;
                    }
                    case 15 -> {
                        ImagingRequest bad = ImagingRequest.newBuilder(samples.next("x"))
                                .setRequestId("bad-missing-image")
                                .setImage(ImagePayload.newBuilder().setMediaType("image/png").build())
                                .build();
                        expected.put(bad.getRequestId(), FailureReason.IMAGE_MISSING);
                        f.send(bad);
                    }
                    case 18 -> {
                        ImagingRequest bad = withPatient(ImagingRequest.newBuilder(samples.next("x"))
                                .setRequestId("bad-age-negative").build(), -1.0, "female");
                        expected.put(bad.getRequestId(), FailureReason.INVALID_FIELD);
                        f.send(bad);
                    }
                    case 21 -> {
                        ImagingRequest bad = withPatient(ImagingRequest.newBuilder(samples.next("x"))
                                .setRequestId("bad-age-300").build(), 300.0, "female");
                        expected.put(bad.getRequestId(), FailureReason.INVALID_FIELD);
                        f.send(bad);
                    }
                    case 26 -> {
                        // image references: a good file, a missing file, a sha256 mismatch
                        byte[] png = samples.image(99);
                        java.nio.file.Path file = java.nio.file.Files.createTempFile(images, "medfuse-ref", ".png");
                        java.nio.file.Files.write(file, png);
                        String sha = java.util.HexFormat.of().formatHex(
                                java.security.MessageDigest.getInstance("SHA-256").digest(png));
                        ImagingRequest byRef = referenced(samples, "ok-reference", file.toUri().toString(), sha);
                        valid.add(byRef.getRequestId());
                        f.send(byRef);
                        ImagingRequest missing = referenced(samples, "bad-reference-missing",
                                file.resolveSibling("no-such-image.png").toUri().toString(), null);
                        expected.put(missing.getRequestId(), FailureReason.REFERENCE_UNREACHABLE);
                        f.send(missing);
                        ImagingRequest mismatch = referenced(samples, "bad-reference-sha", file.toUri().toString(),
                                "0".repeat(64));
                        expected.put(mismatch.getRequestId(), FailureReason.REFERENCE_MISMATCH);
                        f.send(mismatch);
                    }
                    case 24 -> {
                        // missing age and an unknown sex are imputed, not rejected: a flagged prediction
                        ImagingRequest imputed = withPatient(ImagingRequest.newBuilder(samples.next("x"))
                                .setRequestId("ok-imputed").build(), null, "intersex");
                        valid.add(imputed.getRequestId());
                        f.send(imputed);
                    }
                    default -> {
                    }
                }
            }
            f.flush();
            int total = valid.size() + expected.size() + rawWithoutId;
            assertThat(f.awaitEverythingAnswered(total, Duration.ofSeconds(120))).as("committed answers")
                    .isEqualTo(total);
            assertThat(f.predicted.stream().map(Prediction::getRequestId).collect(Collectors.toSet()))
                    .isEqualTo(valid);
            assertThat(f.predicted).hasSize(valid.size());
            Map<String, FailureReason> got = f.failed.stream().filter(d -> d.getRequestId() != null)
                    .collect(Collectors.toMap(FailedRequest::getRequestId, FailedRequest::getReason));
            assertThat(got).isEqualTo(expected);
            assertThat(f.failed.stream().filter(d -> d.getRequestId() == null).map(FailedRequest::getReason))
                    .containsExactlyInAnyOrder(FailureReason.UNDESERIALIZABLE, FailureReason.UNKNOWN_SCHEMA);
            for (FailedRequest d : f.failed) {
                assertThat(d.getSourceTopic()).isEqualTo(f.requests);
                assertThat(d.getSourceOffset()).isNotNegative();
                assertThat(d.getDetail()).isNotBlank();
                assertThat(d.getOriginalBytes()).isNotNull();
            }
            Prediction imputed = f.predicted.stream().filter(p -> p.getRequestId().equals("ok-imputed"))
                    .findFirst().orElseThrow();
            assertThat(imputed.getFlags()).contains("age:imputed", "sex:unknown");
            String details = f.failed.stream().map(FailedRequest::getDetail).collect(Collectors.joining("\n"));
            System.out.println("MalformedInputIT dead letters:\n" + details);
        }
    }
}
