package io.medfuse.worker.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Range;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigDef.ValidString;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.types.Password;

/**
 * The worker's typed configuration: every key has a type, default, validator and doc string (Kafka's
 * {@link ConfigDef}); all bad keys are reported together; {@code docs/configuration.md} is generated from these
 * definitions ({@link #markdownTable()}). Keys under {@value #KAFKA_PREFIX} pass through to the Kafka clients and
 * Kafka Streams unchanged (e.g. {@code kafka.security.protocol=SASL_SSL}).
 *
 * <p>Sources, later wins: defaults, the properties file, environment variables {@code MEDFUSE_<KEY>} where the key
 * is upper-cased with dots and dashes as underscores (e.g. {@code MEDFUSE_BATCH_MAX_SIZE=16},
 * {@code MEDFUSE_KAFKA_SASL_JAAS_CONFIG=...}), then explicit overrides (command-line options).
 */
public final class WorkerConfig extends AbstractConfig {

    public static final String KAFKA_PREFIX = "kafka.";
    public static final String ENV_PREFIX = "MEDFUSE_";

    public static final String BOOTSTRAP_SERVERS = "bootstrap.servers";
    public static final String APPLICATION_ID = "application.id";
    public static final String PROCESSING_GUARANTEE = "processing.guarantee";
    public static final String NUM_STREAM_THREADS = "num.stream.threads";
    public static final String COMMIT_INTERVAL_MS = "commit.interval.ms";
    public static final String STATE_DIR = "state.dir";
    public static final String REGISTRY_URL = "schema.registry.url";
    public static final String REGISTRY_USER_INFO = "schema.registry.basic.auth.user.info";
    public static final String REGISTRY_TIMEOUT_MS = "schema.registry.timeout.ms";
    public static final String REGISTRY_AUTO_REGISTER = "schema.registry.auto.register";
    public static final String TOPIC_REQUESTS = "topic.requests";
    public static final String TOPIC_PREDICTIONS = "topic.predictions";
    public static final String TOPIC_DEAD_LETTERS = "topic.dead.letters";
    public static final String MODEL_PATH = "model.path";
    public static final String MODEL_DEVICE = "model.device";
    public static final String MODEL_INTRA_OP_THREADS = "model.intra.op.threads";
    public static final String MODEL_OPTIMIZATION_LEVEL = "model.optimization.level";
    public static final String BATCH_MAX_SIZE = "batch.max.size";
    public static final String BATCH_MAX_QUEUE_DELAY_MS = "batch.max.queue.delay.ms";
    public static final String BATCH_PADDED_SIZES = "batch.padded.sizes";
    public static final String PREPROCESS_THREADS = "preprocess.threads";
    public static final String MAX_IN_FLIGHT = "max.in.flight";
    public static final String IMAGE_MAX_BYTES = "image.max.bytes";
    public static final String IMAGE_MAX_PIXELS = "image.max.pixels";
    public static final String REFERENCE_SCHEMES = "image.reference.schemes";
    public static final String REFERENCE_TIMEOUT_MS = "image.reference.timeout.ms";
    public static final String DLQ_MAX_ORIGINAL_BYTES = "dead.letter.max.original.bytes";
    public static final String FORWARD_INTERVAL_MS = "forward.interval.ms";
    public static final String METRICS_PORT = "metrics.port";

    /** The built-in demo model: served when {@value #MODEL_PATH} is empty. */
    public static final String BUNDLED_MODEL = "";

    private static final ConfigDef DEF = new ConfigDef()
            .define(BOOTSTRAP_SERVERS, Type.STRING, ConfigDef.NO_DEFAULT_VALUE, new ConfigDef.NonEmptyString(),
                    Importance.HIGH, "Kafka bootstrap servers, host:port[,host:port...].")
            .define(REGISTRY_URL, Type.STRING, ConfigDef.NO_DEFAULT_VALUE, new ConfigDef.NonEmptyString(),
                    Importance.HIGH, "Base URL of a schema registry speaking the Confluent REST API (Confluent, "
                            + "Karapace, Redpanda: http://host:8081; Apicurio 3: http://host:8080/apis/ccompat/v7).")
            .define(REGISTRY_USER_INFO, Type.PASSWORD, null, Importance.MEDIUM,
                    "Basic-auth credentials for the registry as user:password; empty for none.")
            .define(REGISTRY_TIMEOUT_MS, Type.INT, 10_000, Range.atLeast(100), Importance.LOW,
                    "Timeout of one registry HTTP call, in ms.")
            .define(REGISTRY_AUTO_REGISTER, Type.BOOLEAN, true, Importance.LOW,
                    "Register the Prediction and FailedRequest schemas on first use; false: they must exist.")
            .define(APPLICATION_ID, Type.STRING, "medfuse-worker", new ConfigDef.NonEmptyString(), Importance.HIGH,
                    "Kafka Streams application id = consumer group; instances with the same id share the work.")
            .define(PROCESSING_GUARANTEE, Type.STRING, "exactly_once_v2",
                    ValidString.in("exactly_once_v2", "at_least_once"), Importance.MEDIUM,
                    "exactly_once_v2: one prediction or dead letter per request, also across crashes; "
                            + "at_least_once: faster, may duplicate after a crash.")
            .define(NUM_STREAM_THREADS, Type.INT, 1, Range.atLeast(1), Importance.MEDIUM,
                    "Kafka Streams threads (the consumers); decoding and inference run on their own pools.")
            .define(COMMIT_INTERVAL_MS, Type.LONG, 100L, Range.atLeast(1), Importance.LOW,
                    "How often Kafka Streams commits (and, with exactly_once_v2, ends a transaction), in ms.")
            .define(STATE_DIR, Type.STRING, "", Importance.LOW,
                    "Kafka Streams state directory; empty: a per-process directory under java.io.tmpdir.")
            .define(TOPIC_REQUESTS, Type.STRING, "medfuse.requests", new ConfigDef.NonEmptyString(),
                    Importance.HIGH, "Topic the ImagingRequest events are read from.")
            .define(TOPIC_PREDICTIONS, Type.STRING, "medfuse.predictions", new ConfigDef.NonEmptyString(),
                    Importance.HIGH, "Topic the Prediction events are written to.")
            .define(TOPIC_DEAD_LETTERS, Type.STRING, "medfuse.dead-letters", new ConfigDef.NonEmptyString(),
                    Importance.HIGH, "Topic the FailedRequest events (dead letters) are written to.")
            .define(MODEL_PATH, Type.STRING, BUNDLED_MODEL, Importance.HIGH,
                    "Path of the ONNX model file (with a medfuse contract); empty: the bundled demo model.")
            .define(MODEL_DEVICE, Type.STRING, "auto", new DeviceValidator(), Importance.MEDIUM,
                    "auto (CUDA if the GPU build and a GPU are there, else CPU), cpu, cuda or cuda:N.")
            // 1, not all cores: the preprocessing pool and the Kafka clients share the cores with inference, and
            // intra-op threads that wait for a preempted sibling at every operator made batching slower than no
            // batching (docs/benchmarks.md); batches supply the parallelism instead
            .define(MODEL_INTRA_OP_THREADS, Type.INT, 1, Range.atLeast(0), Importance.LOW,
                    "ONNX Runtime intra-op threads; 1 leaves the other cores to decoding and Kafka (batching supplies "
                            + "the parallelism); 0: the number of cores.")
            .define(MODEL_OPTIMIZATION_LEVEL, Type.STRING, "all", ValidString.in("all", "extended", "basic", "none"),
                    Importance.LOW, "ONNX Runtime graph optimisation level.")
            .define(BATCH_MAX_SIZE, Type.INT, 32, Range.between(1, 1024), Importance.MEDIUM,
                    "Largest batch; a batch is run as soon as it has this many requests.")
            .define(BATCH_MAX_QUEUE_DELAY_MS, Type.INT, 10, Range.between(0, 60_000), Importance.MEDIUM,
                    "Longest time the oldest request waits for its batch to fill, in ms.")
            .define(BATCH_PADDED_SIZES, Type.LIST, "1,2,4,8,16,32", Importance.LOW,
                    "Batch sizes ONNX Runtime sees: a batch is padded up to the next one, so memory is not "
                            + "re-planned for every size. The largest must be >= batch.max.size.")
            .define(PREPROCESS_THREADS, Type.INT, 0, Range.atLeast(0), Importance.LOW,
                    "Threads that decode and resize images; 0: the number of cores.")
            .define(MAX_IN_FLIGHT, Type.INT, 128, Range.atLeast(1), Importance.MEDIUM,
                    "Most requests held between consumption and answer per instance; the stream threads wait "
                            + "when it is reached, so memory stays bounded under any backlog.")
            .define(IMAGE_MAX_BYTES, Type.LONG, 20L * 1024 * 1024, Range.atLeast(1), Importance.MEDIUM,
                    "Largest encoded image accepted, in bytes (inline or fetched); larger: IMAGE_TOO_LARGE.")
            .define(IMAGE_MAX_PIXELS, Type.LONG, 40_000_000L, Range.atLeast(1), Importance.MEDIUM,
                    "Largest width x height accepted, checked from the image header before decoding.")
            .define(REFERENCE_SCHEMES, Type.LIST, "file,http,https", Importance.MEDIUM,
                    "URI schemes allowed for image references; empty: references are refused.")
            .define(REFERENCE_TIMEOUT_MS, Type.INT, 10_000, Range.atLeast(1), Importance.LOW,
                    "Timeout for fetching one referenced image, in ms.")
            .define(DLQ_MAX_ORIGINAL_BYTES, Type.INT, 1024 * 1024, Range.atLeast(0), Importance.LOW,
                    "Dead letters carry the original record value when it is at most this many bytes.")
            .define(FORWARD_INTERVAL_MS, Type.LONG, 5L, Range.between(1, 1000), Importance.LOW,
                    "How often each task forwards finished results, in ms (bounds the added latency).")
            .define(METRICS_PORT, Type.INT, 9464, Range.between(-1, 65_535), Importance.MEDIUM,
                    "HTTP port of /metrics (Prometheus), /health/live and /health/ready; 0: any free port; "
                            + "-1: no HTTP server.");

    private WorkerConfig(Map<String, ?> originals) {
        super(DEF, originals, false);
    }

    /** The definitions, for documentation. */
    public static ConfigDef definition() {
        return DEF;
    }

    /**
     * Builds the configuration from a properties file's content, the environment and overrides (later wins),
     * reporting every problem at once.
     *
     * @throws ConfigException naming every missing or invalid key
     */
    public static WorkerConfig load(Properties file, Map<String, String> env, Map<String, ?> overrides) {
        Map<String, Object> merged = new LinkedHashMap<>();
        if (file != null) {
            file.forEach((k, v) -> merged.put(String.valueOf(k), String.valueOf(v).trim()));
        }
        merged.putAll(fromEnvironment(env));
        if (overrides != null) {
            overrides.forEach((k, v) -> {
                if (v != null) {
                    merged.put(k, v);
                }
            });
        }
        List<String> problems = new ArrayList<>();
        for (String key : merged.keySet()) {
            if (!DEF.names().contains(key) && !key.startsWith(KAFKA_PREFIX)) {
                problems.add("unknown key '" + key + "'");
            }
        }
        for (String key : DEF.names()) {
            ConfigDef.ConfigKey k = DEF.configKeys().get(key);
            if (!k.hasDefault() && merged.get(key) == null) {
                problems.add("missing required key '" + key + "' (" + k.documentation + ")");
            }
        }
        if (problems.isEmpty()) {
            try {
                WorkerConfig config = new WorkerConfig(merged);
                config.checkCrossKeys();
                return config;
            } catch (ConfigException e) {
                problems.add(e.getMessage());
            }
        }
        throw new ConfigException("invalid worker configuration: " + String.join("; ", problems));
    }

    /** MEDFUSE_BATCH_MAX_SIZE → batch.max.size; MEDFUSE_KAFKA_X_Y → kafka.x.y. */
    static Map<String, String> fromEnvironment(Map<String, String> env) {
        Map<String, String> byEnvName = new TreeMap<>();
        for (String key : DEF.names()) {
            byEnvName.put(envName(key), key);
        }
        Map<String, String> out = new LinkedHashMap<>();
        if (env == null) {
            return out;
        }
        env.forEach((name, value) -> {
            if (!name.startsWith(ENV_PREFIX)) {
                return;
            }
            String key = byEnvName.get(name);
            if (key == null && name.startsWith(ENV_PREFIX + "KAFKA_")) {
                key = KAFKA_PREFIX + name.substring((ENV_PREFIX + "KAFKA_").length())
                        .toLowerCase(Locale.ROOT).replace('_', '.');
            }
            if (key != null) {
                out.put(key, value);
            }
        });
        return out;
    }

    /** The environment variable that sets a key. */
    public static String envName(String key) {
        return ENV_PREFIX + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    private void checkCrossKeys() {
        List<Integer> padded = paddedBatchSizes();
        if (padded.isEmpty() || padded.get(padded.size() - 1) < batchMaxSize()) {
            throw new ConfigException(BATCH_PADDED_SIZES, getList(BATCH_PADDED_SIZES),
                    "the largest padded size must be at least " + BATCH_MAX_SIZE + " (" + batchMaxSize() + ")");
        }
    }

    public String bootstrapServers() {
        return getString(BOOTSTRAP_SERVERS);
    }

    public String applicationId() {
        return getString(APPLICATION_ID);
    }

    public String requestsTopic() {
        return getString(TOPIC_REQUESTS);
    }

    public String predictionsTopic() {
        return getString(TOPIC_PREDICTIONS);
    }

    public String deadLettersTopic() {
        return getString(TOPIC_DEAD_LETTERS);
    }

    public String registryUrl() {
        return getString(REGISTRY_URL);
    }

    /** user:password or null. */
    public String registryUserInfo() {
        Password p = getPassword(REGISTRY_USER_INFO);
        return p == null || p.value().isEmpty() ? null : p.value();
    }

    public int registryTimeoutMs() {
        return getInt(REGISTRY_TIMEOUT_MS);
    }

    public boolean registryAutoRegister() {
        return getBoolean(REGISTRY_AUTO_REGISTER);
    }

    public String modelPath() {
        return getString(MODEL_PATH);
    }

    public String modelDevice() {
        return getString(MODEL_DEVICE);
    }

    public int modelIntraOpThreads() {
        int n = getInt(MODEL_INTRA_OP_THREADS);
        return n == 0 ? Runtime.getRuntime().availableProcessors() : n;
    }

    public String modelOptimizationLevel() {
        return getString(MODEL_OPTIMIZATION_LEVEL);
    }

    public int batchMaxSize() {
        return getInt(BATCH_MAX_SIZE);
    }

    public int batchMaxQueueDelayMs() {
        return getInt(BATCH_MAX_QUEUE_DELAY_MS);
    }

    public List<Integer> paddedBatchSizes() {
        List<Integer> sizes = new ArrayList<>();
        for (String s : getList(BATCH_PADDED_SIZES)) {
            try {
                int n = Integer.parseInt(s.trim());
                if (n < 1) {
                    throw new NumberFormatException();
                }
                sizes.add(n);
            } catch (NumberFormatException e) {
                throw new ConfigException(BATCH_PADDED_SIZES, s, "each padded size must be a whole number >= 1");
            }
        }
        return sizes.stream().distinct().sorted().toList();
    }

    public int preprocessThreads() {
        int n = getInt(PREPROCESS_THREADS);
        return n == 0 ? Runtime.getRuntime().availableProcessors() : n;
    }

    public int maxInFlight() {
        return getInt(MAX_IN_FLIGHT);
    }

    public long imageMaxBytes() {
        return getLong(IMAGE_MAX_BYTES);
    }

    public long imageMaxPixels() {
        return getLong(IMAGE_MAX_PIXELS);
    }

    public List<String> referenceSchemes() {
        return getList(REFERENCE_SCHEMES).stream().map(s -> s.trim().toLowerCase(Locale.ROOT))
                .filter(s -> !s.isEmpty()).toList();
    }

    public int referenceTimeoutMs() {
        return getInt(REFERENCE_TIMEOUT_MS);
    }

    public int deadLetterMaxOriginalBytes() {
        return getInt(DLQ_MAX_ORIGINAL_BYTES);
    }

    public long forwardIntervalMs() {
        return getLong(FORWARD_INTERVAL_MS);
    }

    public int metricsPort() {
        return getInt(METRICS_PORT);
    }

    /**
     * Kafka Streams / client settings: the worker's own Kafka keys plus every {@value #KAFKA_PREFIX} key with the
     * prefix removed (which win).
     */
    public Properties streamsProperties() {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrapServers());
        p.put("application.id", applicationId());
        p.put("processing.guarantee", getString(PROCESSING_GUARANTEE));
        p.put("num.stream.threads", getInt(NUM_STREAM_THREADS));
        p.put("commit.interval.ms", getLong(COMMIT_INTERVAL_MS));
        String stateDir = getString(STATE_DIR);
        if (!stateDir.isBlank()) {
            p.put("state.dir", stateDir);
        }
        p.putAll(kafkaClientOverrides());
        return p;
    }

    /** Only the pass-through client settings, prefix removed. */
    public Map<String, Object> kafkaClientOverrides() {
        Map<String, Object> out = new LinkedHashMap<>();
        originals().forEach((k, v) -> {
            if (k.startsWith(KAFKA_PREFIX)) {
                out.put(k.substring(KAFKA_PREFIX.length()), v);
            }
        });
        return out;
    }

    /** The effective configuration for the log, secrets masked. */
    public Map<String, String> describe() {
        Map<String, String> out = new TreeMap<>();
        for (String key : DEF.names()) {
            Object v = get(key);
            out.put(key, v instanceof Password ? "[hidden]" : String.valueOf(v));
        }
        originals().forEach((k, v) -> {
            if (k.startsWith(KAFKA_PREFIX)) {
                String lower = k.toLowerCase(Locale.ROOT);
                boolean secret = lower.contains("password") || lower.contains("jaas") || lower.contains("secret")
                        || lower.contains("key");
                out.put(k, secret ? "[hidden]" : String.valueOf(v));
            }
        });
        return out;
    }

    /** A Markdown table of every key: name, type, default, meaning, environment variable. */
    public static String markdownTable() {
        StringBuilder sb = new StringBuilder("| key | type | default | meaning | environment variable |\n")
                .append("|---|---|---|---|---|\n");
        for (ConfigDef.ConfigKey k : DEF.configKeys().values()) {
            String def = !k.hasDefault() ? "(required)"
                    : k.defaultValue == null ? "" : ConfigDef.convertToString(k.defaultValue, k.type);
            if (k.type == Type.PASSWORD) {
                def = "";
            }
            sb.append("| `").append(k.name).append("` | ").append(k.type.name().toLowerCase(Locale.ROOT))
                    .append(" | ").append(def.isEmpty() || !k.hasDefault() ? def : "`" + def + "`").append(" | ")
                    .append(k.documentation).append(" | `").append(envName(k.name)).append("` |\n");
        }
        sb.append("| `kafka.*` | any | | Passed to the Kafka clients and Kafka Streams without the prefix, e.g. "
                + "`kafka.security.protocol=SASL_SSL`. | `MEDFUSE_KAFKA_*` |\n");
        return sb.toString();
    }

    /** Accepts auto, cpu, cuda, cuda:N. */
    static final class DeviceValidator implements ConfigDef.Validator {
        @Override
        public void ensureValid(String name, Object value) {
            String v = value == null ? "" : value.toString().trim().toLowerCase(Locale.ROOT);
            if (!v.matches("auto|cpu|cuda(:\\d+)?")) {
                throw new ConfigException(name, value, "must be auto, cpu, cuda or cuda:N");
            }
        }

        @Override
        public String toString() {
            return "auto, cpu, cuda, cuda:N";
        }
    }
}
