package io.medfuse.app;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.worker.models.ModelAnnouncement;
import io.medfuse.worker.pipeline.RequestPipeline.Role;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code medfuse model}: changes the models running workers serve, without a restart (the control topic). */
@Command(name = "model", mixinStandardHelpOptions = true,
        description = {"Changes the models running workers serve, without restarting them: announcements on the "
                + "model control topic (the workers' model.control.topic), and what each worker made of them (its "
                + "model.status.topic). See docs/operations.md."},
        subcommands = {ModelCommand.Announce.class, ModelCommand.Remove.class, ModelCommand.Status.class})
final class ModelCommand implements java.util.concurrent.Callable<Integer> {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(System.out);
        return 0;
    }

    /** The control topic that announce and remove write to. */
    static final class ControlTopic {
        @Option(names = "--topic", defaultValue = "medfuse.models", paramLabel = "TOPIC",
                description = "The model control topic (default: ${DEFAULT-VALUE}).")
        String topic;
    }

    /** Options every subcommand shares. */
    static final class Connection {
        @Option(names = "--bootstrap", required = true, paramLabel = "HOST:PORT",
                description = "Kafka bootstrap servers.")
        String bootstrap;

        @Option(names = "--kafka", paramLabel = "KEY=VALUE",
                description = "Extra Kafka client setting, e.g. security.protocol=SASL_SSL (repeatable).")
        Map<String, String> kafka = new LinkedHashMap<>();
    }

    @Command(name = "announce", mixinStandardHelpOptions = true,
            description = {"Announces a model file for a role. Each worker reads the file (it must be inside the "
                    + "workers' model.control.dir, at the same path on every worker), checks its SHA-256 (computed "
                    + "here), its contract, its labels and its features, warms it up and switches to it between two "
                    + "batches; a model it refuses changes nothing, and the refusal shows in 'medfuse model status'.",
                    "primary: answers every request (a canary's share excepted). canary: answers --share of the "
                            + "requests, chosen by request id (0 rolls back, 1 answers all). shadow: runs beside "
                            + "the answering model; its predictions go to model.shadow.topic only."})
    static final class Announce implements java.util.concurrent.Callable<Integer> {
        @picocli.CommandLine.Mixin
        Connection connection;

        @picocli.CommandLine.Mixin
        ControlTopic control;

        @Option(names = "--role", defaultValue = "primary", paramLabel = "ROLE",
                description = "primary, canary or shadow (default: ${DEFAULT-VALUE}).")
        String role;

        @Option(names = "--file", required = true, paramLabel = "MODEL.onnx",
                description = "The model file, as the workers see it.")
        Path file;

        @Option(names = "--share", paramLabel = "S",
                description = "For a canary: the share of requests it answers, 0 to 1.")
        Double share;

        @Override
        public Integer call() {
            Role r = role(role);
            if (r == Role.CANARY && (share == null || !(share >= 0 && share <= 1))) {
                throw new UserInputException("a canary needs --share between 0 and 1");
            }
            if (r != Role.CANARY && share != null) {
                throw new UserInputException("--share is for a canary only");
            }
            Path absolute = file.toAbsolutePath().normalize();
            if (!Files.isRegularFile(absolute)) {
                throw new UserInputException("--file " + file + ": no such file");
            }
            ModelContract contract = OnnxModelFile.readContract(absolute);
            String sha = sha256(absolute);
            ModelAnnouncement a = new ModelAnnouncement(r, absolute.toUri(), sha, share, false);
            publish(connection.bootstrap, new HashMap<>(connection.kafka), control.topic, a);
            System.out.printf("announced %s %s (sha256 %s) as %s%s on %s; 'medfuse model status' shows what each "
                    + "worker made of it%n", contract.name(), contract.version(), sha, a.key(),
                    share == null ? "" : " for a share of " + share, control.topic);
            return 0;
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true,
            description = "Removes the canary or the shadow (a tombstone on the control topic); the primary then "
                    + "answers every request. The primary is replaced, never removed.")
    static final class Remove implements java.util.concurrent.Callable<Integer> {
        @picocli.CommandLine.Mixin
        Connection connection;

        @picocli.CommandLine.Mixin
        ControlTopic control;

        @Option(names = "--role", required = true, paramLabel = "ROLE", description = "canary or shadow.")
        String role;

        @Override
        public Integer call() {
            Role r = role(role);
            if (r == Role.PRIMARY) {
                throw new UserInputException("the primary model is replaced ('model announce'), never removed");
            }
            publish(connection.bootstrap, new HashMap<>(connection.kafka), control.topic,
                    new ModelAnnouncement(r, null, null, null, true));
            System.out.printf("removed the %s model (tombstone on %s)%n", role.toLowerCase(java.util.Locale.ROOT),
                    control.topic);
            return 0;
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true,
            description = "Prints the workers' status events (one JSON object per line: instance, state serving, "
                    + "share, removed or refused, the model, the reason and a sentence), from the beginning of the "
                    + "status topic, then stops after --timeout without a new one.")
    static final class Status implements java.util.concurrent.Callable<Integer> {
        @picocli.CommandLine.Mixin
        Connection connection;

        @Option(names = "--topic", defaultValue = "medfuse.model-status", paramLabel = "TOPIC",
                description = "The model status topic (default: ${DEFAULT-VALUE}).")
        String topic;

        @Option(names = "--timeout", defaultValue = "5", paramLabel = "SECONDS",
                description = "Stop after this long without a new event (default: ${DEFAULT-VALUE}).")
        long timeoutSeconds;

        @Override
        public Integer call() {
            return printStatus(connection.bootstrap, new HashMap<>(connection.kafka), topic,
                    Duration.ofSeconds(timeoutSeconds), System.out);
        }
    }

    static Role role(String text) {
        try {
            return ModelAnnouncement.role(text);
        } catch (ModelAnnouncement.InvalidAnnouncementException e) {
            throw new UserInputException("--role must be primary, canary or shadow");
        }
    }

    /** The file's SHA-256, read once as a stream. */
    static String sha256(Path file) {
        try (InputStream in = new DigestInputStream(Files.newInputStream(file),
                MessageDigest.getInstance("SHA-256"))) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
        } catch (IOException e) {
            throw new UserInputException("--file " + file + ": cannot be read (" + e.getMessage() + ")");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Sends one announcement and waits for the broker's acknowledgement. */
    static void publish(String bootstrap, Map<String, Object> overrides, String topic, ModelAnnouncement a) {
        Map<String, Object> p = new HashMap<>(overrides);
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 15_000);
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
                new ByteArraySerializer())) {
            producer.send(new ProducerRecord<>(topic, a.key(), a.toJson())).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new UserInputException("the announcement could not be sent to " + topic + " at " + bootstrap
                    + ": " + (e.getCause() == null ? e : e.getCause()).getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UserInputException("interrupted while sending the announcement");
        }
    }

    /** Prints every status event from the beginning until {@code quiet} passes without one; returns 0. */
    static int printStatus(String bootstrap, Map<String, Object> overrides, String topic, Duration quiet,
                           PrintStream out) {
        Map<String, Object> c = new HashMap<>(overrides);
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c, new StringDeserializer(),
                new StringDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(15)).stream()
                    .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            if (partitions.isEmpty()) {
                throw new UserInputException("topic " + topic + " does not exist at " + bootstrap);
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long lastNanos = System.nanoTime();
            while (System.nanoTime() - lastNanos < quiet.toNanos()) {
                for (var r : consumer.poll(Duration.ofMillis(200))) {
                    out.println(r.value() == null ? "" : r.value());
                    lastNanos = System.nanoTime();
                }
            }
        } catch (org.apache.kafka.common.errors.TimeoutException e) {
            throw new UserInputException("Kafka at " + bootstrap + " did not answer: " + e.getMessage());
        }
        return 0;
    }
}
