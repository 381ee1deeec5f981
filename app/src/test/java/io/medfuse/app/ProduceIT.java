package io.medfuse.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.medfuse.events.ImagingRequest;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import io.medfuse.testkit.SampleRequests;
import io.medfuse.testkit.SharedBroker;
import io.medfuse.events.serde.ConfluentAvroCodec;

/** 'medfuse produce' publishes a folder of images plus a CSV as ImagingRequest events on a real broker. */
class ProduceIT {

    @Test
    void publishesOneRequestPerCsvRowWithPatientAndClinicalFields(@TempDir Path dir) throws Exception {
        Path images = Files.createDirectories(dir.resolve("images"));
        SampleRequests samples = new SampleRequests(1, 32, "image/png");
        Files.write(images.resolve("a.png"), samples.image(1));
        Files.write(images.resolve("b.png"), samples.image(2));
        Files.write(images.resolve("c.png"), samples.image(3));
        Path csv = dir.resolve("metadata.csv");
        Files.writeString(csv, "image,label,age,sex,localization\n"
                + "a.png,nv,45,male,trunk\n"
                + "b.png,mel,,female,\"lower extremity\"\n"
                + "c.png,nv,70.5,,back\n");
        EmbeddedKafka kafka = SharedBroker.kafka();
        InProcessSchemaRegistry registry = SharedBroker.registry();
        String topic = "produce-it-" + java.util.UUID.randomUUID();
        kafka.createTopics(2, topic);
        int exit = Medfuse.run("produce", "--bootstrap", kafka.bootstrapServers(), "--registry",
                registry.url().toString(), "--images", images.toString(), "--metadata", csv.toString(),
                "--topic", topic);
        assertThat(exit).isZero();

        List<ImagingRequest> got = read(kafka, registry, topic, 3);
        assertThat(got).extracting(ImagingRequest::getRequestId).containsExactlyInAnyOrder("a", "b", "c");
        ImagingRequest a = got.stream().filter(r -> r.getRequestId().equals("a")).findFirst().orElseThrow();
        assertThat(a.getPatient().getAgeYears()).isEqualTo(45.0);
        assertThat(a.getPatient().getSex()).isEqualTo("male");
        assertThat(a.getClinical()).containsEntry("localization", "trunk").doesNotContainKey("label");
        assertThat(a.getImage().getMediaType()).isEqualTo("image/png");
        assertThat(a.getImage().getData().remaining()).isEqualTo(Files.size(images.resolve("a.png")));
        ImagingRequest b = got.stream().filter(r -> r.getRequestId().equals("b")).findFirst().orElseThrow();
        assertThat(b.getPatient().getAgeYears()).isNull();
        assertThat(b.getClinical()).containsEntry("localization", "lower extremity");
        ImagingRequest c = got.stream().filter(r -> r.getRequestId().equals("c")).findFirst().orElseThrow();
        assertThat(c.getPatient().getSex()).isNull();
        assertThat(c.getPatient().getAgeYears()).isEqualTo(70.5);
    }

    @Test
    void publishesAFolderOfDicomFilesWithTheirUidsAndNoPatientFields(@TempDir Path dir) throws Exception {
        Path independent = Path.of("..", "model", "src", "test", "resources", "dicom", "independent");
        Path folder = Files.createDirectories(dir.resolve("dicom/series-1"));
        Files.copy(independent.resolve("rgb8-tags.dcm"), folder.resolve("IM0001"));
        Files.copy(independent.resolve("gray8-implicit.dcm"), folder.resolve("IM0002.dcm"));
        Files.writeString(dir.resolve("dicom/README.txt"), "not a DICOM file");
        var expected = io.medfuse.model.image.DicomParser.parse(Files.readAllBytes(folder.resolve("IM0001")),
                io.medfuse.model.image.ImageLimits.defaults()).dataset();
        EmbeddedKafka kafka = SharedBroker.kafka();
        InProcessSchemaRegistry registry = SharedBroker.registry();
        String topic = "produce-dicom-it-" + java.util.UUID.randomUUID();
        kafka.createTopics(1, topic);
        int exit = Medfuse.run("produce", "--bootstrap", kafka.bootstrapServers(), "--registry",
                registry.url().toString(), "--dicom", dir.resolve("dicom").toString(), "--topic", topic);
        assertThat(exit).isZero();

        List<ImagingRequest> got = read(kafka, registry, topic, 2);
        assertThat(got).hasSize(2);
        assertThat(got).allSatisfy(r -> {
            assertThat(r.getImage().getMediaType()).isEqualTo("application/dicom");
            assertThat(r.getPatient()).isNull();
            assertThat(r.getRequestId()).isEqualTo(r.getSource().getSopInstanceUid());
        });
        ImagingRequest first = got.get(0);
        assertThat(first.getSource().getSopInstanceUid()).isEqualTo(expected.string(
                io.medfuse.model.image.DicomTags.SOP_INSTANCE_UID).orElseThrow());
        assertThat(first.getSource().getStudyInstanceUid()).isEqualTo(expected.string(
                io.medfuse.model.image.DicomTags.STUDY_INSTANCE_UID).orElseThrow());
        assertThat(first.getImage().getData().remaining()).isEqualTo(Files.size(folder.resolve("IM0001")));

        assertThat(Medfuse.run("produce", "--bootstrap", kafka.bootstrapServers(), "--registry",
                registry.url().toString(), "--dicom", dir.resolve("dicom").toString(), "--images", dir.toString()))
                .as("--dicom with --images is a usage error").isNotZero();
    }

    /** Up to {@code n} requests from the topic, in order (30 s at most); each record is keyed by its request id. */
    private static List<ImagingRequest> read(EmbeddedKafka kafka, InProcessSchemaRegistry registry, String topic,
                                             int n) {
        var codec = new ConfluentAvroCodec<>(new RestSchemaRegistryClient(RegistrySettings.of(registry.url())),
                ImagingRequest.class, false);
        Properties p = kafka.clientProperties();
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "produce-it-" + topic);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        List<ImagingRequest> got = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p, new StringDeserializer(),
                new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 30_000;
            while (got.size() < n && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    ImagingRequest req = codec.decode(r.value());
                    assertThat(r.key()).isEqualTo(req.getRequestId());
                    got.add(req);
                }
            }
        }
        return got;
    }
}
