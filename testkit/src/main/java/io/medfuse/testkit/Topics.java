package io.medfuse.testkit;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;

/** Topic creation for both brokers of the test kit (in-JVM and process). */
final class Topics {

    private Topics() {
    }

    /** Creates topics (replication 1, image-sized records), ignoring those that exist already. */
    static void create(Properties clientProperties, int partitions, String... topics) {
        List<NewTopic> newTopics = new ArrayList<>();
        for (String t : topics) {
            newTopics.add(new NewTopic(t, partitions, (short) 1)
                    .configs(Map.of("max.message.bytes", String.valueOf(EmbeddedKafka.MAX_MESSAGE_BYTES))));
        }
        try (Admin admin = Admin.create(clientProperties)) {
            for (var entry : admin.createTopics(newTopics).values().entrySet()) {
                try {
                    entry.getValue().get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new EmbeddedKafkaException("cannot create topic " + entry.getKey() + ": "
                                + e.getCause().getMessage(), e.getCause());
                    }
                }
            }
            awaitVisible(admin, List.of(topics));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EmbeddedKafkaException("interrupted while creating topics", e);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new EmbeddedKafkaException("timed out creating topics " + List.of(topics), e);
        }
    }

    /**
     * createTopics returns once the controller has the topics; the broker's metadata may lag behind, and a client
     * that describes them at once (the worker's start-up check) was told they do not exist (a flaky ScaleOutIT).
     */
    private static void awaitVisible(Admin admin, List<String> topics) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                admin.describeTopics(topics).allTopicNames().get(10, TimeUnit.SECONDS);
                return;
            } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                if (System.nanoTime() > deadline) {
                    throw new EmbeddedKafkaException("topics " + topics + " were created but are not visible after "
                            + "30 s: " + e.getMessage(), e);
                }
                TimeUnit.MILLISECONDS.sleep(50);
            }
        }
    }
}
