package io.medfuse.worker;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Prediction;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.worker.metrics.StallDetector;
import io.medfuse.worker.models.ModelControl;
import io.medfuse.worker.models.ModelManager;
import io.medfuse.worker.topology.ShadowPublisher;
import io.medfuse.worker.metrics.WorkerTelemetry;
import io.medfuse.worker.pipeline.Classifier;
import io.medfuse.worker.pipeline.InFlightLimit;
import io.medfuse.worker.pipeline.OnnxModel;
import io.medfuse.worker.pipeline.RequestPipeline;
import io.medfuse.worker.registry.RegistryOutage;
import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import io.medfuse.events.registry.SchemaRegistryClient;
import io.medfuse.events.serde.AvroSerde;
import io.medfuse.events.serde.ConfluentAvroCodec;
import io.medfuse.worker.topology.AnswerBacklog;
import io.medfuse.worker.topology.Answers;
import io.medfuse.worker.topology.DeadLetterOnProcessingError;
import io.medfuse.worker.topology.DeadLetterOnProductionError;
import io.medfuse.worker.topology.PendingSource;
import io.medfuse.worker.topology.TopologyFactory;
import io.medfuse.worker.topology.TopologySettings;

/**
 * One worker instance: the model, the shared pipeline and a Kafka Streams application. Owns all of them and closes
 * them in reverse order. Instances with the same {@code application.id} share the partitions of the requests topic.
 *
 * <p>Start-up checks what can be checked before any record is read, cheapest and most local first, and stops at the
 * first failure with one message naming it: the model (loaded and checked against its contract), the schema
 * registry (the output schemas registered or found), the topics (they exist; their size limits are read), the
 * state slot. Whatever a failed start created is released again.
 */
public final class MedfuseWorker implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(MedfuseWorker.class);

    /** Classpath location of the bundled demo model. */
    public static final String BUNDLED_MODEL_RESOURCE = "/io/medfuse/worker/models/medfuse-demo.onnx";

    /** Headroom under the output topics' message size for the key, headers and batch overhead. */
    private static final int RECORD_OVERHEAD_BYTES = 16 * 1024;

    private final WorkerConfig config;
    private final Classifier classifier;
    private final RequestPipeline pipeline;
    private final InFlightLimit limit;
    private final KafkaStreams streams;
    private final InstanceSlot slot;
    private final RegistryOutage outage;
    private final WorkerTelemetry telemetry;
    private final CompletableFuture<String> stopped;
    /** Reads the model control topic; null when it is off. */
    private final ModelControl control;
    /** Sends shadow predictions; null when there is no shadow topic. */
    private final ShadowPublisher shadow;

    private MedfuseWorker(WorkerConfig config, Classifier classifier, RequestPipeline pipeline, InFlightLimit limit,
                          KafkaStreams streams, InstanceSlot slot, RegistryOutage outage, WorkerTelemetry telemetry,
                          CompletableFuture<String> stopped, ModelControl control, Deque<AutoCloseable> made) {
        this.control = control;
        this.shadow = made.stream().filter(ShadowPublisher.class::isInstance).map(ShadowPublisher.class::cast)
                .findFirst().orElse(null);
        this.config = config;
        this.classifier = classifier;
        this.pipeline = pipeline;
        this.limit = limit;
        this.streams = streams;
        this.slot = slot;
        this.outage = outage;
        this.telemetry = telemetry;
        this.stopped = stopped;
    }

    /**
     * Loads the model, checks the registry and the topics and starts consuming.
     *
     * @throws io.medfuse.model.ModelException when the model cannot be loaded or fails its contract check
     * @throws WorkerStartException when the registry, the cluster, the topics or the state folder are not usable
     */
    public static MedfuseWorker start(WorkerConfig config) {
        return start(config, null);
    }

    /**
     * Starts with a classifier built by the caller (tests wrap the model, e.g. to slow it down), or loads the
     * configured one when {@code given} is null. The worker owns the classifier from here on and closes it, also
     * when the start fails.
     */
    public static MedfuseWorker start(WorkerConfig config, Classifier given) {
        LOG.info("starting medfuse worker with {}", config.describe());
        Deque<AutoCloseable> made = new ArrayDeque<>();
        // the model file first: a wrong model.path is reported before Kafka or the registry are asked anything
        checkModelFile(config);
        // then, at once (ADR 0006: a restart's seconds count): the model loads (ONNX Runtime's native library, the
        // session and its contract check), the registry and the topics are checked, the metrics server starts; a
        // model that fails is reported before whatever the checks found
        CompletableFuture<Classifier> loading = given != null ? CompletableFuture.completedFuture(given)
                : CompletableFuture.supplyAsync(() -> loadModel(config), MedfuseWorker::startThread);
        SchemaRegistryClient registry;
        try {
            registry = registry(config);
        } catch (RuntimeException e) {
            closeWhenLoaded(loading, given);
            throw e;
        }
        ConfluentAvroCodec<ImagingRequest> requests = new ConfluentAvroCodec<>(registry, ImagingRequest.class,
                false);
        ConfluentAvroCodec<Prediction> predictions = new ConfluentAvroCodec<>(registry, Prediction.class,
                config.registryAutoRegister());
        ConfluentAvroCodec<FailedRequest> deadLetters = new ConfluentAvroCodec<>(registry, FailedRequest.class,
                config.registryAutoRegister());
        CompletableFuture<TopicLimits> preflight = CompletableFuture.supplyAsync(() -> {
            checkRegistry(config, predictions, deadLetters);
            return checkTopics(config);
        }, MedfuseWorker::startThread);
        try {
            if (given != null) {
                made.push(given);
            }
            // so that /health/live answers (and /health/ready says why not) while the model loads
            WorkerTelemetry telemetry;
            try {
                telemetry = WorkerTelemetry.start(config.metricsBindAddress(), config.metricsPort());
            } catch (RuntimeException e) {
                closeWhenLoaded(loading, given);
                throw e;
            }
            made.push(telemetry);
            Classifier classifier = join(loading);
            if (given == null) {
                made.push(classifier);
            }
            telemetry.modelLoaded(classifier.identity());
            TopicLimits limits = join(preflight);
            InstanceSlot slot = InstanceSlot.claim(config.stateDir(), config.instanceId(), config.applicationId(),
                    "exactly_once_v2".equals(config.streamsProperties().get(StreamsConfig.PROCESSING_GUARANTEE_CONFIG)));
            made.push(slot);
            RequestPipeline pipeline = RequestPipeline.owning(classifier, pipelineSettings(config),
                    telemetry.metrics());
            made.push(pipeline);
            ModelControl control = null;
            if (config.modelControlTopic() != null) {
                Map<String, Object> clientProps = clientProps(config);
                if (config.modelShadowTopic() != null) {
                    var shadowSerializer = new AvroSerde<>(predictions).serializer();
                    String shadowTopic = config.modelShadowTopic();
                    ShadowPublisher shadow = new ShadowPublisher(clientProps, shadowTopic,
                            p -> shadowSerializer.serialize(shadowTopic, p), telemetry.metrics());
                    made.push(shadow);
                    pipeline.shadowSink(shadow, config.maxInFlight());
                }
                EngineOptions options = engineOptions(config);
                ModelManager manager = new ModelManager(pipeline, new ModelManager.Settings(config.modelControlDir(),
                        config.modelMaxBytes(), config.modelShadowTopic()),
                        (bytes, name) -> OnnxModel.load(bytes, name, options), telemetry.metrics(), slot.instanceId());
                control = new ModelControl(clientProps, config.modelControlTopic(), config.modelStatusTopic(),
                        manager);
                made.push(control);
            }
            RegistryOutage outage = new RegistryOutage(registry, Duration.ofSeconds(5));
            made.push(outage);
            InFlightLimit limit = new InFlightLimit(config.maxInFlight());
            AnswerBacklog backlog = new AnswerBacklog();
            TopologySettings settings = topologySettings(config, limits);
            Answers answers = new Answers(settings, new AvroSerde<>(predictions).serializer(),
                    new AvroSerde<>(deadLetters).serializer(), pipeline::identity);
            Topology topology = TopologyFactory.build(settings, new TopologyFactory.Parts(requests, answers,
                    pipeline, limit, outage, backlog, PendingSource.kafka(clientProps(config), Duration.ofSeconds(30))));
            Properties props = streamsProperties(config, slot);
            props.put(Answers.CONFIG_KEY, answers);
            LOG.info("topology:\n{}", topology.describe());
            KafkaStreams streams = new KafkaStreams(topology, props);
            made.push(() -> streams.close(Duration.ofSeconds(10)));
            outage.attach(streams::pause, streams::resume);
            CompletableFuture<String> stopped = new CompletableFuture<>();
            streams.setUncaughtExceptionHandler(new StreamThreadFailures());
            streams.setStateListener((now, before) -> {
                LOG.info("Kafka Streams state {} -> {}", before, now);
                if (now == KafkaStreams.State.ERROR) {
                    stopped.complete("Kafka Streams stopped with an error (see the log above)");
                }
            });
            telemetry.watch(streams, config.requestsTopic(), limit::inFlight,
                    new StallDetector(signals(pipeline, backlog, outage), Duration.ofMillis(config.healthStallReadyMs()),
                            Duration.ofMillis(config.healthStallLiveMs())));
            if (control != null) {
                // what the control topic says is served from the first request on: a new instance does not answer
                // with model.path while the others serve the announced model
                control.start();
                try {
                    if (!control.awaitCaughtUp(Duration.ofSeconds(30))) {
                        LOG.warn("the model control topic {} was not read to its end within 30 s; starting with "
                                + "the current model, announcements apply when read", config.modelControlTopic());
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new WorkerStartException("interrupted while reading the model control topic", e);
                }
            }
            streams.start();
            var serving = pipeline.identity();
            LOG.info("worker {} started: model {} {} sha256 {} on {}; reading {}", slot.instanceId(),
                    serving.getName(), serving.getVersion(), serving.getSha256(), serving.getExecutionProvider(),
                    config.requestsTopic());
            return new MedfuseWorker(config, classifier, pipeline, limit, streams, slot, outage, telemetry, stopped,
                    control, made);
        } catch (RuntimeException | Error e) {
            closeAll(made, e);
            throw e;
        }
    }

    private static void startThread(Runnable r) {
        Thread t = new Thread(r, "medfuse-start");
        t.setDaemon(true);
        t.start();
    }

    /** A start step's result, or the exception it threw (unwrapped: a ModelException stays one). */
    private static <T> T join(CompletableFuture<T> step) {
        try {
            return step.join();
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw e;
        }
    }

    private static void closeWhenLoaded(CompletableFuture<Classifier> loading, Classifier given) {
        if (given == null) {
            loading.thenAccept(Classifier::close);
        }
    }

    private static void closeAll(Deque<AutoCloseable> made, Throwable primary) {
        while (!made.isEmpty()) {
            try {
                made.pop().close();
            } catch (Exception e) {
                primary.addSuppressed(e);
            }
        }
    }

    private static StallDetector.Signals signals(RequestPipeline pipeline, AnswerBacklog backlog,
                                                 RegistryOutage outage) {
        return new StallDetector.Signals() {
            @Override
            public int outstanding() {
                return pipeline.outstanding();
            }

            @Override
            public long nanosSinceProgress() {
                return pipeline.nanosSinceProgress();
            }

            @Override
            public long modelRunningForNanos() {
                return pipeline.modelRunningForNanos();
            }

            @Override
            public int consecutiveFailedRuns() {
                return pipeline.consecutiveFailedRuns();
            }

            @Override
            public int answersWaiting() {
                return backlog.waiting();
            }

            @Override
            public long nanosWithoutForwarding() {
                return backlog.nanosWithoutForwarding();
            }

            @Override
            public Optional<String> pausedBecause() {
                return outage.reason();
            }
        };
    }

    /** The pipeline settings from the configuration (public so the benchmark runs the pipeline exactly so). */
    public static RequestPipeline.Settings pipelineSettings(WorkerConfig config) {
        return new RequestPipeline.Settings(config.preprocessThreads(), config.batchMaxSize(),
                config.batchMaxQueueDelayMs(), new ImageLimits(config.imageMaxBytes(), config.imageMaxPixels()),
                config.referencePolicy(), Duration.ofMillis(config.requestDeadlineMs()),
                Duration.ofMillis(config.requestedAtMaxSkewMs()), Duration.ofMillis(config.requestedAtMaxAgeMs()),
                config.imageDicomFrame(), config.fhirPatientIdentifierSystem() != null, config.influenceEnabled(),
                config.influencePerFeature(), config.referralThreshold(), config.batchAdaptive(),
                config.batchConcurrentRuns());
    }

    /** What the output topics take, read at start-up. */
    record TopicLimits(int predictionsMaxBytes, int deadLettersMaxBytes) {
    }

    private static TopologySettings topologySettings(WorkerConfig config, TopicLimits limits) {
        return new TopologySettings(config.requestsTopic(), config.predictionsTopic(), config.deadLettersTopic(),
                config.forwardIntervalMs(), config.deadLetterMaxOriginalBytes(), limits.predictionsMaxBytes(),
                limits.deadLettersMaxBytes(), config.requestIdWindowMs(), config.fhirTopic(),
                config.fhirPatientIdentifierSystem());
    }

    /**
     * Kafka Streams settings for image-sized records and fast recovery, before the configuration's own keys
     * ({@code kafka.*} wins): bigger requests and fetches, fewer buffered records (FACTS.md); static membership,
     * a short session and a short transaction timeout (ADR 0006). Public so the benchmark's bus stage runs a
     * pass-through topology with exactly the worker's client settings.
     */
    public static Properties imageRecordStreamsDefaults(WorkerConfig config) {
        Properties props = new Properties();
        props.put(StreamsConfig.producerPrefix(ProducerConfig.MAX_REQUEST_SIZE_CONFIG),
                TopologyFactory.PENDING_MAX_MESSAGE_BYTES + 1024 * 1024);
        props.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG), 8 * 1024 * 1024);
        props.put(StreamsConfig.BUFFERED_RECORDS_PER_PARTITION_CONFIG, Math.max(8, config.maxInFlight() / 2));
        props.put(StreamsConfig.POLL_MS_CONFIG, 10L);
        props.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 5);
        // ADR 0006: a dead member's partitions move after 6 s (the broker's default minimum); the dead member's
        // open transaction is aborted by the broker 4 s after it began (at its next check, every 10 s by default)
        props.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 6_000);
        props.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 1_500);
        props.put(StreamsConfig.producerPrefix(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG), 4_000);
        return props;
    }

    /** Everything Kafka Streams is given: defaults, the configuration, this instance's identity and handlers. */
    static Properties streamsProperties(WorkerConfig config, InstanceSlot slot) {
        Properties props = imageRecordStreamsDefaults(config);
        props.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG), slot.instanceId());
        props.put(StreamsConfig.STATE_DIR_CONFIG, slot.stateDir().toString());
        props.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterOnProcessingError.class);
        props.put(StreamsConfig.PRODUCTION_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterOnProductionError.class);
        props.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BoundedRocksDb.class);
        props.putAll(config.streamsProperties());
        return props;
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

    /**
     * Registers (or finds) the output schemas, so that writing an answer never needs the registry later, and so an
     * unreachable or refusing registry stops the start with one line.
     */
    static void checkRegistry(WorkerConfig config, ConfluentAvroCodec<Prediction> predictions,
                              ConfluentAvroCodec<FailedRequest> deadLetters) {
        try {
            predictions.schemaIdFor(config.predictionsTopic());
            deadLetters.schemaIdFor(config.deadLettersTopic());
            if (config.modelShadowTopic() != null) {
                predictions.schemaIdFor(config.modelShadowTopic());
            }
        } catch (SerializationException e) {
            throw new WorkerStartException("schema registry " + RegistrySettings.redact(URI.create(
                    config.registryUrl())) + " is not usable: " + e.getMessage() + " (check "
                    + WorkerConfig.REGISTRY_URL + (config.registryAutoRegister() ? ""
                    : "; with " + WorkerConfig.REGISTRY_AUTO_REGISTER + "=false the schemas must be registered")
                    + ")", e);
        }
    }

    /** Fails at once when {@code model.path} names no readable file (the model's content is checked as it loads). */
    static void checkModelFile(WorkerConfig config) {
        String path = config.modelPath();
        if (path != null && !path.isBlank() && !(Files.isRegularFile(Path.of(path)) && Files.isReadable(Path.of(path)))) {
            throw new WorkerStartException(WorkerConfig.MODEL_PATH + " = " + path + ": no such readable file");
        }
    }

    /** Loads the configured model, or the bundled one when {@code model.path} is empty. */
    public static Classifier loadModel(WorkerConfig config) {
        EngineOptions options = engineOptions(config);
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

    /** The ONNX Runtime options for every model this worker loads. */
    static EngineOptions engineOptions(WorkerConfig config) {
        return new EngineOptions(config.modelDevice(), config.modelIntraOpThreads(), 1,
                config.modelOptimizationLevel(), config.paddedBatchSizes());
    }

    /** Bootstrap servers and the kafka.* settings, for the worker's own clients beside Kafka Streams. */
    static Map<String, Object> clientProps(WorkerConfig config) {
        Map<String, Object> props = new HashMap<>(config.kafkaClientOverrides());
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        return props;
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

    /**
     * Fails fast, naming each missing topic, instead of letting Kafka Streams stop later; reads how large a record
     * the output topics take.
     */
    static TopicLimits checkTopics(WorkerConfig config) {
        Map<String, Object> adminProps = new HashMap<>(config.kafkaClientOverrides());
        adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        adminProps.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30_000);
        adminProps.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15_000);
        List<String> topics = new ArrayList<>(List.of(config.requestsTopic(), config.predictionsTopic(),
                config.deadLettersTopic()));
        if (config.fhirTopic() != null) {
            topics.add(config.fhirTopic());
        }
        for (String t : new String[] {config.modelControlTopic(), config.modelStatusTopic(),
                config.modelShadowTopic()}) {
            if (t != null) {
                topics.add(t);
            }
        }
        List<String> missing = new ArrayList<>();
        try (Admin admin = Admin.create(adminProps)) {
            // one request for every topic, one for both limits: each round trip counts on a restart (ADR 0006)
            Map<String, org.apache.kafka.common.KafkaFuture<TopicDescription>> described = admin
                    .describeTopics(topics).topicNameValues();
            for (String topic : topics) {
                try {
                    TopicDescription d = described.get(topic).get(30, TimeUnit.SECONDS);
                    LOG.info("topic {}: {} partition(s)", topic, d.partitions().size());
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                        missing.add(topic);
                    } else {
                        throw unusable(config, topic, e.getCause());
                    }
                }
            }
            if (!missing.isEmpty()) {
                throw new WorkerStartException("topic(s) " + missing + " do not exist on " + config.bootstrapServers()
                        + "; create them first (the requests topic's partition count caps the number of instances)");
            }
            Map<String, Integer> limits = maxValueBytes(admin, List.of(config.predictionsTopic(),
                    config.deadLettersTopic()));
            return new TopicLimits(limits.get(config.predictionsTopic()), limits.get(config.deadLettersTopic()));
        } catch (TimeoutException e) {
            throw new WorkerStartException("Kafka at " + config.bootstrapServers()
                    + " did not answer within 30 s (check bootstrap.servers and the kafka.* security settings)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new WorkerStartException("interrupted while checking topics", e);
        }
    }

    private static WorkerStartException unusable(WorkerConfig config, String topic, Throwable cause) {
        if (cause instanceof AuthenticationException) {
            // not retriable: a wrong password must stop the start, not loop in the clients forever
            return new WorkerStartException("Kafka at " + config.bootstrapServers() + " refused the worker's "
                    + "credentials (" + cause.getMessage() + "); check kafka.security.protocol, kafka.sasl.mechanism "
                    + "and the user and password in kafka.sasl.jaas.config", cause);
        }
        if (cause instanceof AuthorizationException) {
            return new WorkerStartException("Kafka at " + config.bootstrapServers() + " does not allow the worker to "
                    + "describe topic " + topic + " (" + cause.getMessage() + "); grant the worker's principal "
                    + "access to it", cause);
        }
        return new WorkerStartException("cannot reach Kafka at " + config.bootstrapServers() + ": "
                + cause.getMessage(), cause);
    }

    /** Each topic's max.message.bytes less record overhead; Kafka's default where it cannot be read. */
    private static Map<String, Integer> maxValueBytes(Admin admin, List<String> topics)
            throws InterruptedException, TimeoutException {
        Map<String, Integer> out = new HashMap<>();
        List<ConfigResource> resources = topics.stream()
                .map(t -> new ConfigResource(ConfigResource.Type.TOPIC, t)).toList();
        Map<ConfigResource, Config> configs = Map.of();
        try {
            configs = admin.describeConfigs(resources).all().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            LOG.info("cannot read {} of the output topics ({}); assuming Kafka's default",
                    TopicConfig.MAX_MESSAGE_BYTES_CONFIG, e.getCause() == null ? e.toString() : e.getCause().toString());
        }
        for (ConfigResource r : resources) {
            int value = TopologySettings.DEFAULT_MAX_VALUE_BYTES;
            Config c = configs.get(r);
            ConfigEntry e = c == null ? null : c.get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG);
            if (e != null && e.value() != null) {
                try {
                    value = Math.max(1024, Integer.parseInt(e.value()) - RECORD_OVERHEAD_BYTES);
                } catch (NumberFormatException ignored) {
                    // keep the default
                }
            }
            out.put(r.name(), value);
        }
        return out;
    }

    /** Kafka Streams' state (RUNNING when consuming). */
    public KafkaStreams.State state() {
        return streams.state();
    }

    /** The model serving requests. */
    public Classifier classifier() {
        return classifier;
    }

    /** The shared pipeline (for metrics: outstanding, queued). */
    /** The model control topic's reader; empty when {@code model.control.topic} is off. */
    public Optional<ModelControl> modelControl() {
        return Optional.ofNullable(control);
    }

    public RequestPipeline pipeline() {
        return pipeline;
    }

    /** Requests holding a permit of {@code max.in.flight} now. */
    public int inFlight() {
        return limit.inFlight();
    }

    /** This instance's identity in the group ({@code group.instance.id}). */
    public String instanceId() {
        return slot.instanceId();
    }

    /** The registry outage gate (consumption paused while it is down). */
    public RegistryOutage registryOutage() {
        return outage;
    }

    /** Completes with a reason when the worker stops by itself (Kafka Streams in ERROR); a main exits then. */
    public CompletableFuture<String> stoppedByItself() {
        return stopped;
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
     * Stops consuming, commits what was answered and leaves the group (its partitions move at once), then stops the
     * pipeline (waiting for a running model batch, however long it takes) and only then releases the model.
     * Requests still in flight stay in the pending store and are answered by whoever owns their partition next.
     */
    @Override
    public void close() {
        close(Duration.ofSeconds(30));
    }

    public void close(Duration timeout) {
        if (control != null) {
            control.close(); // no model changes while stopping
        }
        boolean clean = streams.close(CloseOptions.timeout(timeout)
                .withGroupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
        clean &= streams.state() == KafkaStreams.State.NOT_RUNNING;
        if (clean) {
            slot.markStoppedCleanly();
        } else {
            LOG.warn("Kafka Streams did not stop within {} s; the state slot stays locked until this process ends",
                    timeout.toSeconds());
        }
        // each step runs whatever the one before threw: nothing native or locked is left behind
        // the shadow's producer after the pipeline: no shadow outcome is sent to a closed producer
        Deque<AutoCloseable> rest = new ArrayDeque<>(List.of(pipeline));
        if (shadow != null) {
            rest.add(shadow);
        }
        rest.addAll(List.of(classifier, outage, telemetry));
        if (clean) {
            rest.addLast(slot); // stream threads still running may hold the state: then the lock goes with the JVM
        }
        RuntimeException first = null;
        for (AutoCloseable c : rest) {
            try {
                c.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException r ? r : new IllegalStateException(e);
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        LOG.info("worker stopped");
        if (first != null) {
            throw first;
        }
    }
}
