package io.medfuse.worker.models;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the model control topic and applies each announcement ({@link ModelManager}), on its own thread: every
 * instance reads every partition from the beginning without a consumer group (each must serve what the topic says,
 * not a share of it), read_committed, and keeps reading. Each outcome goes to the status topic, keyed by instance
 * id, when one is configured. See docs/adr/0014-model-control-topic.md.
 */
public final class ModelControl implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ModelControl.class);

    private final KafkaConsumer<String, byte[]> consumer;
    private final KafkaProducer<String, byte[]> producer;
    private final String controlTopic;
    private final String statusTopic;
    private final ModelManager manager;
    private final Thread thread;
    private final CountDownLatch caughtUp = new CountDownLatch(1);
    private volatile boolean running = true;
    private volatile boolean started;

    /**
     * @param clientProps bootstrap servers and security settings shared with the worker's other clients
     * @param statusTopic null: outcomes are logged and counted only
     */
    public ModelControl(Map<String, Object> clientProps, String controlTopic, String statusTopic,
                        ModelManager manager) {
        this.controlTopic = controlTopic;
        this.statusTopic = statusTopic;
        this.manager = manager;
        Map<String, Object> c = new HashMap<>(clientProps);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 1024 * 1024);
        c.remove(ConsumerConfig.GROUP_ID_CONFIG);
        this.consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer());
        if (statusTopic != null) {
            Map<String, Object> p = new HashMap<>(clientProps);
            p.put(ProducerConfig.ACKS_CONFIG, "all");
            p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
            this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
        } else {
            this.producer = null;
        }
        this.thread = new Thread(this::loop, "medfuse-model-control");
        this.thread.setDaemon(true);
    }

    /** Starts reading. */
    public ModelControl start() {
        started = true;
        thread.start();
        return this;
    }

    /** Waits until what the topic held at start has been applied (for tests and the demo); false on timeout. */
    public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
        return caughtUp.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void loop() {
        long backoffMs = 500;
        try {
            while (running) {
                try {
                    follow();
                    return;
                } catch (WakeupException e) {
                    return; // closing
                } catch (RuntimeException e) {
                    if (!running) {
                        return;
                    }
                    // a broker briefly away, a topic not there yet: read it again, from the start, after a pause
                    LOG.error("model control: reading {} failed ({}); reading it again in {} ms", controlTopic,
                            e.toString(), backoffMs);
                    try {
                        Thread.sleep(backoffMs);
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                    backoffMs = Math.min(30_000, backoffMs * 2);
                }
            }
        } finally {
            caughtUp.countDown();
            // on its own thread: a consumer is not shared
            consumer.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(5)));
        }
    }

    /**
     * Reads the topic from the start. Until it has read what the topic held, only the latest record per role counts
     * (the part of a compacted topic not cleaned yet still holds older ones: a model announced and then replaced
     * must not be loaded on the way); from then on, each record as it comes.
     */
    private void follow() {
        List<TopicPartition> partitions = consumer.partitionsFor(controlTopic, Duration.ofSeconds(30)).stream()
                .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
        if (partitions.isEmpty()) {
            throw new IllegalStateException("the topic " + controlTopic + " has no partitions (does it exist?)");
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, Duration.ofSeconds(30));
        LOG.info("model control: reading {} ({} partition(s)) from the beginning", controlTopic, partitions.size());
        Map<String, ConsumerRecord<String, byte[]>> latest = new java.util.LinkedHashMap<>();
        boolean caught = false;
        while (running) {
            for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                if (caught) {
                    handle(r);
                } else {
                    latest.remove(r.key());
                    latest.put(r.key(), r); // the latest per role, in the order they were last written
                }
            }
            if (!caught && ends.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue())) {
                for (ConsumerRecord<String, byte[]> r : latest.values()) {
                    if (running) {
                        handle(r);
                    }
                }
                latest.clear();
                caught = true;
                caughtUp.countDown();
            }
        }
    }

    private void handle(ConsumerRecord<String, byte[]> r) {
        if (!running) {
            return;
        }
        ModelStatus status;
        try {
            ModelAnnouncement a = ModelAnnouncement.parse(r.key(), r.value());
            status = manager.apply(a);
        } catch (ModelAnnouncement.InvalidAnnouncementException e) {
            status = manager.invalid(r.key(), e.getMessage() + " (record " + r.topic() + "-" + r.partition() + "@"
                    + r.offset() + ")");
        } catch (RuntimeException e) {
            if (!running) {
                return; // the worker is stopping: the pipeline refused the model it closes
            }
            LOG.error("model control: the record at {}-{}@{} could not be applied", r.topic(), r.partition(),
                    r.offset(), e);
            status = manager.invalid(r.key(), "it could not be applied (" + e.getClass().getSimpleName() + ")");
        }
        if (producer != null) {
            producer.send(new ProducerRecord<>(statusTopic, status.instance(), status.toJson()), (m, e) -> {
                if (e != null) {
                    LOG.warn("model control: the status event could not be sent to {}: {}", statusTopic,
                            e.toString());
                }
            });
        }
    }

    @Override
    public void close() {
        running = false;
        if (!started) {
            consumer.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(5)));
        } else {
            consumer.wakeup();
            try {
                // a model load in progress finishes on its own (the pipeline then refuses it); the stop waits no
                // longer than this for it, so the worker's own shutdown keeps its time
                thread.join(TimeUnit.SECONDS.toMillis(3));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (thread.isAlive()) {
                LOG.info("model control: a model load is still running; the worker stops without waiting for it");
            }
        }
        if (producer != null) {
            producer.close(Duration.ofSeconds(5));
        }
    }
}
