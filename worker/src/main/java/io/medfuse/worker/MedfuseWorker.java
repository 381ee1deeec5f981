package io.medfuse.worker;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Prediction;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.worker.metrics.WorkerTelemetry;
import io.medfuse.worker.pipeline.Classifier;
import io.medfuse.worker.pipeline.OnnxModel;
import io.medfuse.worker.pipeline.RequestPipeline;
import io.medfuse.worker.registry.RegistrySettings;
import io.medfuse.worker.registry.RestSchemaRegistryClient;
import io.medfuse.worker.registry.SchemaRegistryClient;
import io.medfuse.worker.serde.AvroSerde;
import io.medfuse.worker.serde.ConfluentAvroCodec;
import io.medfuse.worker.topology.TopologyFactory;
import io.medfuse.worker.topology.TopologySettings;

/**
 * One worker instance: the model, the shared pipeline and a Kafka Streams application. Owns all of them and closes
 * them in reverse order. Instances with the same {@code application.id} share the partitions of the requests topic.
 */
public final class MedfuseWorker implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(MedfuseWorker.class);

    /** Classpath location of the bundled demo model. */
    public static final String BUNDLED_MODEL_RESOURCE = "/io/medfuse/worker/models/medfuse-demo.onnx";

    private final WorkerConfig config;
    private final Classifier classifier;
    private final RequestPipeline pipeline;
    private final KafkaStreams streams;
    private final Path stateDir;
    private final WorkerTelemetry telemetry;

    private MedfuseWorker(WorkerConfig config, Classifier classifier, RequestPipeline pipeline,
                          KafkaStreams streams, Path stateDir, WorkerTelemetry telemetry) {
        this.config = config;
        this.classifier = classifier;
        this.pipeline = pipeline;
        this.streams = streams;
        this.stateDir = stateDir;
        this.telemetry = telemetry;
    }

    /**
     * Loads the model, checks the topics and starts consuming.
     *
     * @throws io.medfuse.model.ModelException when the model cannot be loaded or fails its contract check
     * @throws WorkerStartException when the cluster or topics are not usable
     */
    public static MedfuseWorker start(WorkerConfig config) {
        LOG.info("starting medfuse worker with {}", config.describe());
        // first, so that /health/live answers (and /health/ready says why not) while the model loads
        WorkerTelemetry telemetry = WorkerTelemetry.start(config.metricsPort());
        try {
            return start(config, telemetry);
        } catch (RuntimeException e) {
            telemetry.close();
            throw e;
        }
    }

    private static MedfuseWorker start(WorkerConfig config, WorkerTelemetry telemetry) {
        checkTopics(config);
        return run(config, loadModel(config), telemetry);
    }

    /**
     * Starts with a classifier built by the caller (tests wrap the model, e.g. to slow it down); the worker owns it
     * from here on and closes it, also when the start fails.
     *
     * @throws WorkerStartException when the cluster or topics are not usable
     */
    public static MedfuseWorker start(WorkerConfig config, Classifier classifier) {
        LOG.info("starting medfuse worker with {}", config.describe());
        WorkerTelemetry telemetry = WorkerTelemetry.start(config.metricsPort());
        try {
            checkTopics(config);
        } catch (RuntimeException e) {
            classifier.close();
            telemetry.close();
            throw e;
        }
        try {
            return run(config, classifier, telemetry);
        } catch (RuntimeException e) {
            telemetry.close();
            throw e;
        }
    }

    private static MedfuseWorker run(WorkerConfig config, Classifier classifier, WorkerTelemetry telemetry) {
        telemetry.modelLoaded(classifier.identity());
        RequestPipeline pipeline = null;
        try {
            pipeline = new RequestPipeline(classifier, pipelineSettings(config), telemetry.metrics());
            SchemaRegistryClient registry = registry(config);
            ConfluentAvroCodec<ImagingRequest> requests = new ConfluentAvroCodec<>(registry, ImagingRequest.class,
                    false);
            AvroSerde<Prediction> predictions = new AvroSerde<>(
                    new ConfluentAvroCodec<>(registry, Prediction.class, config.registryAutoRegister()));
            AvroSerde<FailedRequest> deadLetters = new AvroSerde<>(
                    new ConfluentAvroCodec<>(registry, FailedRequest.class, config.registryAutoRegister()));
            Topology topology = TopologyFactory.build(new TopologySettings(config.requestsTopic(),
                            config.predictionsTopic(), config.deadLettersTopic(), config.forwardIntervalMs(),
                            config.deadLetterMaxOriginalBytes()), requests, predictions.serializer(),
                    deadLetters.serializer(), pipeline);
            Path stateDir = null;
            Properties props = imageRecordStreamsDefaults(config);
            Properties own = config.streamsProperties();
            if (!own.containsKey(StreamsConfig.STATE_DIR_CONFIG)) {
                stateDir = Files.createTempDirectory("medfuse-streams-");
                props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
            }
            props.putAll(own);
            LOG.info("topology:\n{}", topology.describe());
            KafkaStreams streams = new KafkaStreams(topology, props);
            streams.setUncaughtExceptionHandler(e -> {
                LOG.error("stream thread failed; replacing it (the failed records are read again): {}",
                        e.toString(), e);
                return StreamThreadExceptionResponse.REPLACE_THREAD;
            });
            streams.setStateListener((now, before) -> LOG.info("Kafka Streams state {} -> {}", before, now));
            telemetry.watch(streams, pipeline::inFlight);
            streams.start();
            LOG.info("worker started: model {} {} sha256 {} on {}; reading {}", classifier.identity().getName(),
                    classifier.identity().getVersion(), classifier.identity().getSha256(),
                    classifier.identity().getExecutionProvider(), config.requestsTopic());
            return new MedfuseWorker(config, classifier, pipeline, streams, stateDir, telemetry);
        } catch (IOException e) {
            closeQuietly(pipeline, classifier);
            throw new WorkerStartException("cannot create a Kafka Streams state directory: " + e, e);
        } catch (RuntimeException e) {
            closeQuietly(pipeline, classifier);
            throw e;
        }
    }

    /** The pipeline limits from the configuration (public so the benchmark runs the pipeline exactly so). */
    public static RequestPipeline.Settings pipelineSettings(WorkerConfig config) {
        return new RequestPipeline.Settings(config.preprocessThreads(), config.maxInFlight(), config.batchMaxSize(),
                config.batchMaxQueueDelayMs(), new ImageLimits(config.imageMaxBytes(), config.imageMaxPixels()),
                config.referenceSchemes(), Duration.ofMillis(config.referenceTimeoutMs()));
    }

    /**
     * Kafka Streams settings for image-sized records, before the configuration's own keys are applied: bigger
     * requests and fetches, fewer buffered records (FACTS.md). Public so the benchmark's bus stage runs a
     * pass-through topology with exactly the worker's client settings.
     */
    public static Properties imageRecordStreamsDefaults(WorkerConfig config) {
        Properties props = new Properties();
        props.put(StreamsConfig.producerPrefix(ProducerConfig.MAX_REQUEST_SIZE_CONFIG), 16 * 1024 * 1024);
        props.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG), 8 * 1024 * 1024);
        props.put(StreamsConfig.BUFFERED_RECORDS_PER_PARTITION_CONFIG, Math.max(8, config.maxInFlight() / 2));
        props.put(StreamsConfig.POLL_MS_CONFIG, 10L);
        props.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 5);
        return props;
    }

    private static void closeQuietly(RequestPipeline pipeline, Classifier classifier) {
        if (pipeline != null) {
            pipeline.close();
        }
        classifier.close();
    }

    static SchemaRegistryClient registry(WorkerConfig config) {
        String user = null;
        String password = null;
        String info = config.registryUserInfo();
        if (info != null) {
            int colon = info.indexOf(':');
            if (colon < 0) {
                throw new WorkerStartException(WorkerConfig.REGISTRY_USER_INFO + " must be user:password");
            }
            user = info.substring(0, colon);
            password = info.substring(colon + 1);
        }
        return new RestSchemaRegistryClient(new RegistrySettings(URI.create(config.registryUrl()), user, password,
                Duration.ofMillis(config.registryTimeoutMs())));
    }

    /** Loads the configured model, or the bundled one when {@code model.path} is empty. */
    public static Classifier loadModel(WorkerConfig config) {
        EngineOptions options = new EngineOptions(config.modelDevice(), config.modelIntraOpThreads(), 1,
                config.modelOptimizationLevel(), config.paddedBatchSizes());
        String path = config.modelPath();
        if (path == null || path.isBlank()) {
            return OnnxModel.load(bundledModel(), "bundled model " + BUNDLED_MODEL_RESOURCE, options);
        }
        Path file = Path.of(path);
        if (!Files.isRegularFile(file)) {
            throw new WorkerStartException(WorkerConfig.MODEL_PATH + " = " + path + ": no such file");
        }
        return OnnxModel.load(file, options);
    }

    /** The bundled demo model's bytes. */
    public static byte[] bundledModel() {
        try (InputStream in = MedfuseWorker.class.getResourceAsStream(BUNDLED_MODEL_RESOURCE)) {
            if (in == null) {
                throw new WorkerStartException("the bundled model " + BUNDLED_MODEL_RESOURCE
                        + " is missing from the classpath");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new WorkerStartException("cannot read the bundled model: " + e, e);
        }
    }

    /** Fails fast, naming each missing topic, instead of letting Kafka Streams stop later. */
    static void checkTopics(WorkerConfig config) {
        Map<String, Object> adminProps = new java.util.HashMap<>(config.kafkaClientOverrides());
        adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        adminProps.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30_000);
        adminProps.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15_000);
        List<String> topics = List.of(config.requestsTopic(), config.predictionsTopic(), config.deadLettersTopic());
        List<String> missing = new ArrayList<>();
        try (Admin admin = Admin.create(adminProps)) {
            for (String topic : topics) {
                try {
                    TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames()
                            .get(30, TimeUnit.SECONDS).get(topic);
                    LOG.info("topic {}: {} partition(s)", topic, d.partitions().size());
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                        missing.add(topic);
                    } else if (e.getCause() instanceof AuthenticationException) {
                        // not retriable: a wrong password must stop the start, not loop in the clients forever
                        throw new WorkerStartException("Kafka at " + config.bootstrapServers()
                                + " refused the worker's credentials (" + e.getCause().getMessage()
                                + "); check kafka.security.protocol, kafka.sasl.mechanism and the user and password"
                                + " in kafka.sasl.jaas.config", e.getCause());
                    } else if (e.getCause() instanceof AuthorizationException) {
                        throw new WorkerStartException("Kafka at " + config.bootstrapServers()
                                + " does not allow the worker to describe topic " + topic + " ("
                                + e.getCause().getMessage() + "); grant the worker's principal access to it",
                                e.getCause());
                    } else {
                        throw new WorkerStartException("cannot reach Kafka at " + config.bootstrapServers() + ": "
                                + e.getCause().getMessage(), e.getCause());
                    }
                }
            }
        } catch (TimeoutException e) {
            throw new WorkerStartException("Kafka at " + config.bootstrapServers()
                    + " did not answer within 30 s (check bootstrap.servers and the kafka.* security settings)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new WorkerStartException("interrupted while checking topics", e);
        }
        if (!missing.isEmpty()) {
            throw new WorkerStartException("topic(s) " + missing + " do not exist on " + config.bootstrapServers()
                    + "; create them first (the requests topic's partition count caps the number of instances)");
        }
    }

    /** Kafka Streams' state (RUNNING when consuming). */
    public KafkaStreams.State state() {
        return streams.state();
    }

    /** The model serving requests. */
    public Classifier classifier() {
        return classifier;
    }

    /** The shared pipeline (for metrics: in-flight, queued). */
    public RequestPipeline pipeline() {
        return pipeline;
    }

    /** Waits until the instance is RUNNING. */
    public boolean awaitRunning(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            KafkaStreams.State s = streams.state();
            if (s == KafkaStreams.State.RUNNING) {
                return true;
            }
            if (s == KafkaStreams.State.ERROR || s == KafkaStreams.State.NOT_RUNNING) {
                return false;
            }
            Thread.sleep(50);
        }
        return false;
    }

    public WorkerConfig config() {
        return config;
    }

    /** Metrics, health and the HTTP port ({@code metrics.port}; the real one when configured as 0). */
    public WorkerTelemetry telemetry() {
        return telemetry;
    }

    /**
     * Stops consuming, commits what was answered, then stops the pipeline and releases the model. Requests still in
     * flight stay in the pending store and are answered by whoever owns their partition next.
     */
    @Override
    public void close() {
        close(Duration.ofSeconds(30));
    }

    public void close(Duration timeout) {
        streams.close(timeout);
        pipeline.close();
        classifier.close();
        telemetry.close();
        if (stateDir != null) {
            deleteQuietly(stateDir);
        }
        LOG.info("worker stopped");
    }

    private static void deleteQuietly(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            LOG.debug("could not delete {}: {}", dir, e.toString());
        }
    }
}
