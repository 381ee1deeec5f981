package io.medfuse.worker.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.FailureReason;
import io.medfuse.events.ImagePayload;
import io.medfuse.events.ImageReference;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.LabelProbability;
import io.medfuse.events.Patient;
import io.medfuse.events.Prediction;
import io.medfuse.events.SourceRef;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.SharedBroker;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.worker.pipeline.PatientIdentifier;

/**
 * DICOM objects made by gdcm and dcmtk, inline and by file: reference, through a worker on a real broker: each gets
 * the probabilities the same pixels get as a PNG; an object in a syntax medfuse does not decode is a dead letter
 * naming it.
 */
class DicomIT {

    static final EmbeddedKafka kafka = SharedBroker.kafka();
    static final InProcessSchemaRegistry registry = SharedBroker.registry();
    /** The objects other implementations made (model's test resources; see their README). */
    static final Path INDEPENDENT = Path.of("..", "model", "src", "test", "resources", "dicom", "independent")
            .toAbsolutePath().normalize();

    @Test
    void aDicomObjectInlineOrByReferenceIsClassifiedAsTheSamePixelsAsPng() throws Exception {
        byte[] explicit = Files.readAllBytes(INDEPENDENT.resolve("rgb8-explicit.dcm"));
        byte[] png = pngOfPixelData(explicit, 40, 30);
        try (StreamFixture f = new StreamFixture(kafka, registry, 2);
             MedfuseWorker worker = MedfuseWorker.start(f.workerConfig(Map.of(
                     WorkerConfig.REFERENCE_FILE_ROOTS, INDEPENDENT.toString())))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            f.startReading();
            f.send(request("as-png", "image/png", png, null));
            f.send(request("dicom-inline", "application/dicom", explicit, null));
            f.send(request("dicom-implicit", "application/dicom",
                    Files.readAllBytes(INDEPENDENT.resolve("rgb8-implicit.dcm")), null));
            f.send(request("dicom-rle", "application/dicom",
                    Files.readAllBytes(INDEPENDENT.resolve("rgb8-rle.dcm")), null));
            f.send(request("dicom-deflated", "application/dicom",
                    Files.readAllBytes(INDEPENDENT.resolve("rgb8-deflated.dcm")), null));
            f.send(request("dicom-file", "application/dicom", null,
                    INDEPENDENT.resolve("rgb8-planar1.dcm").toUri().toString()));
            f.send(request("dicom-jpeg2000", "application/dicom",
                    Files.readAllBytes(INDEPENDENT.resolve("unsupported-jpeg2000.dcm")), null));
            f.flush();
            assertThat(StreamFixture.await(() -> f.answers() >= 7, Duration.ofSeconds(60)))
                    .as("answers: %s / %s", f.predicted, f.failed).isTrue();

            List<LabelProbability> reference = f.prediction("as-png").getProbabilities();
            for (String id : List.of("dicom-inline", "dicom-implicit", "dicom-rle", "dicom-deflated", "dicom-file")) {
                Prediction p = f.prediction(id);
                assertThat(p.getFlags()).as(id).isEmpty();
                for (int i = 0; i < reference.size(); i++) {
                    assertThat(p.getProbabilities().get(i).getLabel()).isEqualTo(reference.get(i).getLabel());
                    assertThat(p.getProbabilities().get(i).getProbability()).as("%s class %d", id, i)
                            .isCloseTo(reference.get(i).getProbability(), within(1e-5));
                }
            }
            FailedRequest refused = f.failed.stream().filter(d -> "dicom-jpeg2000".equals(d.getRequestId()))
                    .findFirst().orElseThrow();
            assertThat(refused.getReason()).isEqualTo(FailureReason.UNSUPPORTED_TRANSFER_SYNTAX);
            assertThat(refused.getDetail()).contains("JPEG 2000").contains("1.2.840.10008.1.2.4.90");
            assertThat(f.failed).hasSize(1);
        }
    }

    @Test
    void patientFieldsLeftEmptyAreReadFromTheTagsAndTheUidsAreEchoed() throws Exception {
        byte[] tags = Files.readAllBytes(INDEPENDENT.resolve("rgb8-tags.dcm"));
        io.medfuse.model.image.DicomDataset tagged = io.medfuse.model.image.DicomParser.parse(tags,
                io.medfuse.model.image.ImageLimits.defaults()).dataset();
        byte[] png = pngOfPixelData(tags, 40, 30);
        String fhirTopic = "dicom-it-fhir-" + java.util.UUID.randomUUID();
        kafka.createTopics(1, fhirTopic);
        try (StreamFixture f = new StreamFixture(kafka, registry, 2);
             MedfuseWorker worker = MedfuseWorker.start(f.workerConfig(Map.of(
                     WorkerConfig.OUTPUT_FHIR_TOPIC, fhirTopic)))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            f.startReading();
            f.send(withPatient(request("png-45-female", "image/png", png, null), 45.0, "female"));
            f.send(withPatient(request("tags-only", "application/dicom", tags, null), null, null));
            f.send(withPatient(request("fields-win", "application/dicom", tags, null), 60.0, null));
            f.send(withPatient(request("birthdate", "application/dicom",
                    Files.readAllBytes(INDEPENDENT.resolve("rgb8-tags-birthdate.dcm")), null), null, null));
            f.send(withPatient(request("invalid-tags", "application/dicom",
                    Files.readAllBytes(INDEPENDENT.resolve("rgb8-tags-invalid.dcm")), null), null, null));
            f.flush();
            assertThat(StreamFixture.await(() -> f.answers() >= 5, Duration.ofSeconds(60)))
                    .as("answers: %s / %s", f.predicted, f.failed).isTrue();

            Prediction fromTags = f.prediction("tags-only");
            assertThat(fromTags.getFlags()).containsExactlyInAnyOrder("age:from-dicom", "sex:from-dicom");
            List<LabelProbability> reference = f.prediction("png-45-female").getProbabilities();
            for (int i = 0; i < reference.size(); i++) {
                assertThat(fromTags.getProbabilities().get(i).getProbability()).as("class %d", i)
                        .isCloseTo(reference.get(i).getProbability(), within(1e-5));
            }
            assertThat(fromTags.getSource().getSystem()).as("the request's own source is kept").isEqualTo("dicom-it");
            assertThat(fromTags.getSource().getStudyInstanceUid())
                    .isEqualTo(tagged.string(io.medfuse.model.image.DicomTags.STUDY_INSTANCE_UID).orElseThrow());
            assertThat(fromTags.getSource().getSeriesInstanceUid())
                    .isEqualTo(tagged.string(io.medfuse.model.image.DicomTags.SERIES_INSTANCE_UID).orElseThrow());
            assertThat(fromTags.getSource().getSopInstanceUid())
                    .isEqualTo(tagged.string(io.medfuse.model.image.DicomTags.SOP_INSTANCE_UID).orElseThrow());

            assertThat(f.prediction("fields-win").getFlags()).as("the request's age wins over PatientAge")
                    .containsExactly("sex:from-dicom");
            assertThat(f.prediction("birthdate").getFlags()).containsExactlyInAnyOrder("age:from-dicom",
                    "sex:from-dicom");
            assertThat(f.prediction("invalid-tags").getFlags()).as("PatientAge '45' and PatientSex 'X'")
                    .containsExactlyInAnyOrder("age:imputed", "age:dicom-invalid", "sex:unknown", "sex:from-dicom");
            assertThat(f.prediction("png-45-female").getSource().getStudyInstanceUid()).isNull();

            // one FHIR document per prediction, committed with it, each read by HAPI's strict R4 parser
            List<org.hl7.fhir.r4.model.Bundle> documents = fhirDocuments(fhirTopic, 5);
            assertThat(documents).hasSize(5);
            for (org.hl7.fhir.r4.model.Bundle b : documents) {
                org.hl7.fhir.r4.model.Observation o = (org.hl7.fhir.r4.model.Observation) b.getEntry().get(1)
                        .getResource();
                String predictionId = o.getIdentifierFirstRep().getValue();
                Prediction p;
                synchronized (f.predicted) {
                    p = f.predicted.stream().filter(x -> x.getPredictionId().equals(predictionId)).findFirst()
                            .orElseThrow();
                }
                io.medfuse.worker.fhir.FhirDocumentsTest.assertWellFormed(b, p);
            }
            org.hl7.fhir.r4.model.Bundle fromTagsDoc = documents.stream().filter(b -> ((org.hl7.fhir.r4.model
                    .Observation) b.getEntry().get(1).getResource()).getIdentifierFirstRep().getValue()
                    .equals(fromTags.getPredictionId())).findFirst().orElseThrow();
            assertThat(((org.hl7.fhir.r4.model.DiagnosticReport) fromTagsDoc.getEntry().get(2).getResource())
                    .getImagingStudyFirstRep().getIdentifier().getValue())
                    .isEqualTo("urn:oid:" + fromTags.getSource().getStudyInstanceUid());
            String all = documents.stream().map(b -> io.medfuse.worker.fhir.FhirDocumentsTest.R4.newJsonParser()
                    .encodeResourceToString(b)).reduce("", String::concat);
            assertThat(all).as("no patient tag value reaches a FHIR document").doesNotContain("Doe^Jane")
                    .doesNotContain("MRN-4711-0815");
        }
    }

    /**
     * A contract whose site feature also reads BodyPartExamined, mapped to its vocabulary by {@code dicomValues}: an
     * object tagged {@code BACK} with no request fields at all is classified as the same pixels as a PNG with age
     * 45, female and site "back" typed in; a request's own site still wins.
     */
    @Test
    void theSiteIsReadFromBodyPartExaminedThroughTheContractsMapping(@org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        byte[] bundled;
        try (var in = MedfuseWorker.class.getResourceAsStream("/io/medfuse/worker/models/medfuse-demo.onnx")) {
            assertThat(in).as("the bundled model").isNotNull();
            bundled = in.readAllBytes();
        }
        io.medfuse.model.contract.ModelContract c = io.medfuse.model.onnx.OnnxModelFile.readContract(bundled,
                "bundled");
        List<io.medfuse.model.contract.FeatureSpec> features = c.tabular().stream().map(f -> {
            if (!f.name().equals("localization")) {
                return f;
            }
            var site = (io.medfuse.model.contract.FeatureSpec.Categorical) f;
            return (io.medfuse.model.contract.FeatureSpec) new io.medfuse.model.contract.FeatureSpec.Categorical(
                    site.name(), List.of(site.sources().get(0), new io.medfuse.model.contract.FeatureSource.Dicom(
                    io.medfuse.model.contract.FeatureSource.DicomAttribute.BodyPartExamined)),
                    site.vocabulary(), Map.of("BACK", "back", "ABDOMEN", "abdomen"));
        }).toList();
        io.medfuse.model.contract.ModelContract withSite = new io.medfuse.model.contract.ModelContract(
                c.contractVersion(), c.name(), c.version() + "-site-from-dicom", c.description(), c.imageInput(),
                c.tabularInput(), c.output(), c.outputKind(), c.image(), features, c.labels(),
                c.preprocessingVersion(), c.trained(), c.provenance());
        Path model = dir.resolve("site-from-dicom.onnx");
        Files.write(model, io.medfuse.model.onnx.OnnxModelFile.attachContract(bundled, withSite));

        byte[] tags = Files.readAllBytes(INDEPENDENT.resolve("rgb8-tags.dcm"));
        try (StreamFixture f = new StreamFixture(kafka, registry, 2);
             MedfuseWorker worker = MedfuseWorker.start(f.workerConfig(Map.of(
                     WorkerConfig.MODEL_PATH, model.toString())))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            f.startReading();
            f.send(withPatient(request("png-typed", "image/png", pngOfPixelData(tags, 40, 30), null), 45.0,
                    "female"));
            ImagingRequest bare = request("tags-only", "application/dicom", tags, null);
            bare.setPatient(null);
            bare.setClinical(Map.of());
            f.send(bare);
            ImagingRequest typedSite = request("site-typed", "application/dicom", tags, null);
            typedSite.setPatient(null);
            typedSite.setClinical(Map.of("localization", "face"));
            f.send(typedSite);
            f.flush();
            assertThat(StreamFixture.await(() -> f.answers() >= 3, Duration.ofSeconds(60)))
                    .as("answers: %s / %s", f.predicted, f.failed).isTrue();

            Prediction fromTags = f.prediction("tags-only");
            assertThat(fromTags.getFlags()).containsExactlyInAnyOrder("age:from-dicom", "sex:from-dicom",
                    "localization:from-dicom");
            List<LabelProbability> typed = f.prediction("png-typed").getProbabilities();
            for (int i = 0; i < typed.size(); i++) {
                assertThat(fromTags.getProbabilities().get(i).getProbability()).as("class %d", i)
                        .isCloseTo(typed.get(i).getProbability(), within(1e-5));
            }
            assertThat(f.prediction("site-typed").getFlags()).as("the request's site wins over the tag")
                    .containsExactlyInAnyOrder("age:from-dicom", "sex:from-dicom");
        }
    }

    /**
     * With {@code output.fhir.patient.identifier.system} set, the FHIR documents name the patient by the object's
     * PatientID under that system, and only they: the predictions do not carry it. An object without PatientID, a
     * PNG, and an object whose PatientID holds several values get no subject (the last one a flag).
     */
    @Test
    void aConfiguredIdentifierSystemPutsThePatientIdIntoTheFhirDocumentsOnly() throws Exception {
        byte[] tags = Files.readAllBytes(INDEPENDENT.resolve("rgb8-tags.dcm"));
        byte[] noPatientId = Files.readAllBytes(INDEPENDENT.resolve("rgb8-explicit.dcm"));
        byte[] severalIds = replace(tags, "MRN-4711-0815", "MRN\\4711\\0815");
        String system = "urn:oid:1.2.826.0.1.3680043.8.498.77";
        String fhirTopic = "dicom-it-fhir-patient-" + java.util.UUID.randomUUID();
        kafka.createTopics(1, fhirTopic);
        try (StreamFixture f = new StreamFixture(kafka, registry, 2);
             MedfuseWorker worker = MedfuseWorker.start(f.workerConfig(Map.of(
                     WorkerConfig.OUTPUT_FHIR_TOPIC, fhirTopic,
                     WorkerConfig.OUTPUT_FHIR_PATIENT_IDENTIFIER_SYSTEM, system)))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            f.startReading();
            f.send(withPatient(request("with-id", "application/dicom", tags, null), null, null));
            f.send(withPatient(request("without-id", "application/dicom", noPatientId, null), 50.0, "male"));
            f.send(withPatient(request("several-ids", "application/dicom", severalIds, null), null, null));
            f.send(withPatient(request("png", "image/png", pngOfPixelData(tags, 40, 30), null), 45.0, "female"));
            f.flush();
            assertThat(StreamFixture.await(() -> f.answers() >= 4, Duration.ofSeconds(60)))
                    .as("answers: %s / %s", f.predicted, f.failed).isTrue();
            assertThat(f.failed).isEmpty();
            assertThat(f.prediction("several-ids").getFlags()).contains(PatientIdentifier.INVALID_FLAG);
            assertThat(f.prediction("with-id").getFlags()).doesNotContain(PatientIdentifier.INVALID_FLAG);
            synchronized (f.predicted) {
                assertThat(f.predicted.toString()).as("no PatientID on a prediction").doesNotContain("4711");
            }

            List<org.hl7.fhir.r4.model.Bundle> documents = fhirDocuments(fhirTopic, 4);
            assertThat(documents).hasSize(4);
            for (org.hl7.fhir.r4.model.Bundle b : documents) {
                String predictionId = ((org.hl7.fhir.r4.model.Observation) b.getEntry().get(1).getResource())
                        .getIdentifierFirstRep().getValue();
                Prediction p;
                synchronized (f.predicted) {
                    p = f.predicted.stream().filter(x -> x.getPredictionId().equals(predictionId)).findFirst()
                            .orElseThrow();
                }
                if (p.getRequestId().equals("with-id")) {
                    io.medfuse.worker.fhir.FhirDocumentsTest.assertWellFormed(b, p, system, "MRN-4711-0815");
                } else {
                    io.medfuse.worker.fhir.FhirDocumentsTest.assertWellFormed(b, p);
                }
            }
            String all = documents.stream().map(b -> io.medfuse.worker.fhir.FhirDocumentsTest.R4.newJsonParser()
                    .encodeResourceToString(b)).reduce("", String::concat);
            assertThat(all).as("PatientID only, never PatientName").doesNotContain("Doe^Jane");
        }
    }

    /** {@code bytes} with the first occurrence of {@code from} replaced by {@code to} of the same length. */
    private static byte[] replace(byte[] bytes, String from, String to) {
        byte[] a = from.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        byte[] b = to.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        assertThat(b).hasSameSizeAs(a);
        byte[] out = bytes.clone();
        for (int i = 0; i + a.length <= out.length; i++) {
            if (java.util.Arrays.equals(out, i, i + a.length, a, 0, a.length)) {
                System.arraycopy(b, 0, out, i, b.length);
                return out;
            }
        }
        throw new AssertionError("'" + from + "' is not in the object");
    }

    /** The FHIR topic under read_committed, from the beginning, until {@code n} documents (or 30 s). */
    private static List<org.hl7.fhir.r4.model.Bundle> fhirDocuments(String topic, int n) {
        java.util.Properties props = kafka.clientProperties();
        props.put("isolation.level", "read_committed");
        List<org.hl7.fhir.r4.model.Bundle> out = new java.util.ArrayList<>();
        try (org.apache.kafka.clients.consumer.KafkaConsumer<String, byte[]> c =
                     new org.apache.kafka.clients.consumer.KafkaConsumer<>(props,
                             new org.apache.kafka.common.serialization.StringDeserializer(),
                             new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
            org.apache.kafka.common.TopicPartition tp = new org.apache.kafka.common.TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (out.size() < n && System.nanoTime() < deadline) {
                for (var r : c.poll(Duration.ofMillis(200))) {
                    out.add(io.medfuse.worker.fhir.FhirDocumentsTest.parse(r.value()));
                }
            }
        }
        return out;
    }

    /**
     * A DICOMweb stand-in serving real files by WADO-RS instance URLs: as multipart/related (what PS3.18 servers
     * answer) and as single-part application/dicom, only with the configured bearer token.
     */
    @Test
    void aWadoRsInstanceOnAnAllowedServerIsFetchedWithItsCredentials() throws Exception {
        byte[] instance = Files.readAllBytes(INDEPENDENT.resolve("rgb8-tags.dcm"));
        com.sun.net.httpserver.HttpServer server = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress("127.0.0.1", 0), 0);
        java.util.List<String> accepts = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        server.createContext("/dicomweb/", exchange -> {
            accepts.add(exchange.getRequestHeaders().getFirst("Accept"));
            if (!"Bearer s3cr3t".equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
                exchange.sendResponseHeaders(401, -1);
                exchange.close();
                return;
            }
            byte[] body;
            if (exchange.getRequestURI().getPath().endsWith("/multipart")) {
                java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
                out.writeBytes("--wado-7\r\nContent-Type: application/dicom\r\n\r\n".getBytes(
                        java.nio.charset.StandardCharsets.US_ASCII));
                out.writeBytes(instance);
                out.writeBytes("\r\n--wado-7--\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                body = out.toByteArray();
                exchange.getResponseHeaders().add("Content-Type",
                        "multipart/related; type=\"application/dicom\"; boundary=wado-7");
            } else {
                body = instance;
                exchange.getResponseHeaders().add("Content-Type", "application/dicom");
            }
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        String base = "http://127.0.0.1:" + server.getAddress().getPort() + "/dicomweb/";
        String instanceUrl = base + "studies/1.2.3/series/4.5.6/instances/7.8.9";
        try (StreamFixture f = new StreamFixture(kafka, registry, 2);
             MedfuseWorker worker = MedfuseWorker.start(f.workerConfig(Map.of(
                     WorkerConfig.REFERENCE_HTTP_ALLOW, base,
                     WorkerConfig.REFERENCE_HTTP_CREDENTIALS, base + "=bearer:s3cr3t")))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            f.startReading();
            f.send(withPatient(request("inline", "application/dicom", instance, null), null, null));
            f.send(withPatient(request("wado-multipart", "application/dicom", null, instanceUrl + "/multipart"),
                    null, null));
            f.send(withPatient(request("wado-single", "application/dicom", null, instanceUrl + "/single"), null,
                    null));
            f.flush();
            assertThat(StreamFixture.await(() -> f.answers() >= 3, Duration.ofSeconds(60)))
                    .as("answers: %s / %s", f.predicted, f.failed).isTrue();
            List<LabelProbability> reference = f.prediction("inline").getProbabilities();
            for (String id : List.of("wado-multipart", "wado-single")) {
                Prediction p = f.prediction(id);
                assertThat(p.getFlags()).as(id).containsExactlyInAnyOrder("age:from-dicom", "sex:from-dicom");
                for (int i = 0; i < reference.size(); i++) {
                    assertThat(p.getProbabilities().get(i).getProbability()).as("%s class %d", id, i)
                            .isCloseTo(reference.get(i).getProbability(), within(1e-6));
                }
            }
            assertThat(accepts).hasSize(2).allSatisfy(a -> assertThat(a).contains("application/dicom")
                    .contains("multipart/related; type=\"application/dicom\""));
        } finally {
            server.stop(0);
        }
    }

    private static ImagingRequest withPatient(ImagingRequest r, Double age, String sex) {
        r.setPatient(Patient.newBuilder().setAgeYears(age).setSex(sex).build());
        return r;
    }


    private static ImagingRequest request(String id, String mediaType, byte[] data, String reference) {
        ImagePayload.Builder image = ImagePayload.newBuilder().setMediaType(mediaType);
        if (data != null) {
            image.setData(ByteBuffer.wrap(data));
        } else {
            image.setReference(ImageReference.newBuilder().setUri(reference).build());
        }
        return ImagingRequest.newBuilder().setRequestId(id).setRequestedAt(Instant.now())
                .setSource(SourceRef.newBuilder().setSystem("dicom-it").build())
                .setPatient(Patient.newBuilder().setAgeYears(55.0).setSex("female").build())
                .setClinical(Map.of("localization", "back")).setImage(image.build()).build();
    }

    /** A PNG of an 8-bit RGB object's pixel data, which gdcmimg writes as the object's last bytes. */
    private static byte[] pngOfPixelData(byte[] dicom, int width, int height) throws Exception {
        int n = width * height * 3;
        int start = dicom.length - n;
        // the Pixel Data element's header (7FE0,0010) OB, 4-byte length) sits right before its value
        assertThat(dicom[start - 12] & 0xFF).isEqualTo(0xE0);
        assertThat(dicom[start - 11] & 0xFF).isEqualTo(0x7F);
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int i = 0; i < width * height; i++) {
            int p = start + 3 * i;
            img.setRGB(i % width, i / width, (dicom[p] & 0xFF) << 16 | (dicom[p + 1] & 0xFF) << 8 | (dicom[p + 2] & 0xFF));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }
}
