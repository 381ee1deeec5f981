package io.medfuse.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.FailureReason;
import io.medfuse.events.Prediction;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.SharedBroker;
import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import io.medfuse.events.serde.ConfluentAvroCodec;

/** 'medfuse watch --json' on a real broker: reads what is on the answer topics and reports it per interval. */
class WatchIT {

    @Test
    void reportsPredictionsLatencyLabelDriftAndDeadLettersAsJsonLines(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("model.onnx");
        Files.write(model, MedfuseWorker.bundledModel());
        List<String> labels = OnnxModelFile.readContract(model).labelNames();
        String only = labels.get(0);
        EmbeddedKafka kafka = SharedBroker.kafka();
        InProcessSchemaRegistry registry = SharedBroker.registry();
        String suffix = java.util.UUID.randomUUID().toString();
        String predictionsTopic = "watch-it-predictions-" + suffix;
        String deadLettersTopic = "watch-it-dead-letters-" + suffix;
        kafka.createTopics(2, predictionsTopic, deadLettersTopic);
        var client = new RestSchemaRegistryClient(RegistrySettings.of(registry.url()));
        var predictions = new ConfluentAvroCodec<>(client, Prediction.class, true);
        var deadLetters = new ConfluentAvroCodec<>(client, FailedRequest.class, true);
        Properties p = kafka.clientProperties();
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
                new ByteArraySerializer())) {
            for (int i = 0; i < 60; i++) {
                // every prediction has the same label: far from any training mix over several labels
                Prediction pr = WatchStatsTest.prediction("w" + i, only, 1_000_000, 1_000_000 + 10 + i);
                producer.send(new ProducerRecord<>(predictionsTopic, pr.getRequestId(),
                        predictions.encode(predictionsTopic, pr)));
            }
            FailedRequest dead = WatchStatsTest.deadLetter(FailureReason.IMAGE_TOO_LARGE);
            producer.send(new ProducerRecord<>(deadLettersTopic, "x",
                    deadLetters.encode(deadLettersTopic, dead)));
            producer.flush();
        }

        PrintStream out = System.out;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        int exit;
        try {
            exit = Medfuse.run("watch", "--bootstrap", kafka.bootstrapServers(), "--registry",
                    registry.url().toString(), "--predictions-topic", predictionsTopic, "--dead-letters-topic",
                    deadLettersTopic, "--model", model.toString(), "--from-beginning", "--json",
                    "--interval", "1", "--duration", "6", "--drift-threshold", "0.3");
        } finally {
            System.setOut(out);
        }
        assertThat(exit).isZero();
        List<String> lines = o.toString(StandardCharsets.UTF_8).lines().filter(l -> l.startsWith("{")).toList();
        assertThat(lines).hasSizeGreaterThanOrEqualTo(4);
        JsonNode last = new ObjectMapper().readTree(lines.get(lines.size() - 1));
        System.out.println("WatchIT last line: " + lines.get(lines.size() - 1));
        assertThat(last.get("predictions").asLong()).isEqualTo(60);
        assertThat(last.get("deadLetters").asLong()).isEqualTo(1);
        assertThat(last.get("deadLettersByReason").get("IMAGE_TOO_LARGE").asLong()).isEqualTo(1);
        assertThat(last.get("latencyMs").get("p50").asDouble()).isBetween(10.0, 70.0);
        assertThat(last.get("labels").get(only).asLong()).isEqualTo(60);
        assertThat(last.get("trainingMix").size()).isEqualTo(labels.size());
        assertThat(last.get("drift").asDouble()).isGreaterThan(0.3);
        assertThat(last.get("driftWarning").asBoolean()).isTrue();
        assertThat(last.get("models").fieldNames().next()).startsWith("derm 1.0");
    }
}
