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

import io.medfuse.worker.pipeline.ReferencePolicy;

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
    public static final String OUTPUT_FHIR_TOPIC = "output.fhir.topic";
    public static final String INFLUENCE_ENABLED = "influence.enabled";
    public static final String REFERRAL_THRESHOLD = "referral.threshold";
    public static final String INFLUENCE_PER_FEATURE = "influence.per.feature";
    public static final String OUTPUT_FHIR_PATIENT_IDENTIFIER_SYSTEM = "output.fhir.patient.identifier.system";
    public static final String MODEL_PATH = "model.path";
    public static final String MODEL_DEVICE = "model.device";
    public static final String MODEL_CONTROL_TOPIC = "model.control.topic";
    public static final String MODEL_STATUS_TOPIC = "model.status.topic";
    public static final String MODEL_CONTROL_DIR = "model.control.dir";
    public static final String MODEL_MAX_BYTES = "model.max.bytes";
    public static final String MODEL_SHADOW_TOPIC = "model.shadow.topic";
    public static final String MODEL_INTRA_OP_THREADS = "model.intra.op.threads";
    public static final String MODEL_OPTIMIZATION_LEVEL = "model.optimization.level";
    public static final String BATCH_MAX_SIZE = "batch.max.size";
    public static final String BATCH_ADAPTIVE = "batch.adaptive";
    public static final String BATCH_MAX_QUEUE_DELAY_MS = "batch.max.queue.delay.ms";
    public static final String BATCH_PADDED_SIZES = "batch.padded.sizes";
    public static final String BATCH_CONCURRENT_RUNS = "batch.concurrent.runs";
    public static final String PREPROCESS_THREADS = "preprocess.threads";
    public static final String MAX_IN_FLIGHT = "max.in.flight";
    public static final String IMAGE_MAX_BYTES = "image.max.bytes";
    public static final String IMAGE_MAX_PIXELS = "image.max.pixels";
    public static final String IMAGE_DICOM_FRAME = "image.dicom.frame";
    public static final String REFERENCE_FILE_ROOTS = "image.reference.file.roots";
    public static final String REFERENCE_HTTP_ALLOW = "image.reference.http.allow";
    public static final String REFERENCE_HTTP_CREDENTIALS = "image.reference.http.credentials";
    public static final String REFERENCE_TIMEOUT_MS = "image.reference.timeout.ms";
    public static final String REQUEST_DEADLINE_MS = "request.deadline.ms";
    public static final String REQUEST_ID_WINDOW_MS = "request.id.window.ms";
    public static final String REQUESTED_AT_MAX_SKEW_MS = "requested.at.max.skew.ms";
    public static final String REQUESTED_AT_MAX_AGE_MS = "requested.at.max.age.ms";
    public static final String DLQ_MAX_ORIGINAL_BYTES = "dead.letter.max.original.bytes";
    public static final String FORWARD_INTERVAL_MS = "forward.interval.ms";
    public static final String INSTANCE_ID = "instance.id";
    public static final String METRICS_PORT = "metrics.port";
    public static final String METRICS_BIND_ADDRESS = "metrics.bind.address";
    public static final String HEALTH_STALL_READY_MS = "health.stall.ready.ms";
    public static final String HEALTH_STALL_LIVE_MS = "health.stall.live.ms";

    /** Keys earlier versions had, with what replaces them (named in the error instead of "unknown key"). */
    private static final Map<String, String> REMOVED = Map.of(
            "image.reference.schemes", "references are now allowed by place, not by scheme: set "
                    + "image.reference.file.roots and/or image.reference.http.allow");

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
            // short: a record with a new writer schema id is decoded on the stream thread, which holds a transaction
            // open meanwhile (transaction.timeout.ms is 4 s, ADR 0006); an unreachable registry pauses consumption
            .define(REGISTRY_TIMEOUT_MS, Type.INT, 2_000, Range.atLeast(100), Importance.LOW,
                    "Timeout of one registry HTTP call, in ms. Keep it well under the transaction timeout (4 s): "
                            + "a schema fetch happens on a stream thread.")
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
                    "Folder under which each instance on this host keeps its Kafka Streams state in a slot of its "
                            + "own (locked while it runs, found again after a restart, so a restarted instance "
                            + "keeps its identity); empty: medfuse-state under java.io.tmpdir. Use a volume that "
                            + "survives a container restart.")
            .define(INSTANCE_ID, Type.STRING, "", Importance.MEDIUM,
                    "This instance's stable identity in the group (Kafka static membership, and the slot of its "
                            + "state): a restart with the same id takes its partitions back at once. Unique per "
                            + "instance (e.g. a StatefulSet pod name); empty: <host name>-<first free slot>.")
            .define(TOPIC_REQUESTS, Type.STRING, "medfuse.requests", new ConfigDef.NonEmptyString(),
                    Importance.HIGH, "Topic the ImagingRequest events are read from.")
            .define(TOPIC_PREDICTIONS, Type.STRING, "medfuse.predictions", new ConfigDef.NonEmptyString(),
                    Importance.HIGH, "Topic the Prediction events are written to.")
            .define(TOPIC_DEAD_LETTERS, Type.STRING, "medfuse.dead-letters", new ConfigDef.NonEmptyString(),
                    Importance.HIGH, "Topic the FailedRequest events (dead letters) are written to.")
            .define(OUTPUT_FHIR_TOPIC, Type.STRING, "", Importance.MEDIUM,
                    "Topic a FHIR R4 document (a transaction Bundle: Device, Observation, DiagnosticReport; no "
                            + "patient data unless output.fhir.patient.identifier.system is set) is written to for "
                            + "each prediction, in the same transaction; empty: off. See docs/fhir.md.")
            .define(OUTPUT_FHIR_PATIENT_IDENTIFIER_SYSTEM, Type.STRING, "", Importance.LOW,
                    "Identifier system (an absolute URI, e.g. urn:oid:<the assigning authority's OID>) under which "
                            + "a DICOM object's PatientID is written as the FHIR documents' subject; empty: the "
                            + "documents name no patient and PatientID is never read. The identifier goes to "
                            + "output.fhir.topic only: never to predictions, dead letters, logs or metrics.")
            .define(INFLUENCE_ENABLED, Type.BOOLEAN, false, Importance.MEDIUM,
                    "Measure how much the clinical data moved each prediction: every request also runs with its "
                            + "tabular features masked (encoded as missing, as the contract imputes them), in the "
                            + "same batch run, and the prediction carries clinicalInfluence (label and probability "
                            + "without them, and the shift). Doubles the model's rows per request (the image is "
                            + "decoded once). See docs/influence.md.")
            .define(INFLUENCE_PER_FEATURE, Type.BOOLEAN, false, Importance.LOW,
                    "With influence.enabled, also mask one feature at a time: one more row per feature and "
                            + "request; clinicalInfluence.features then holds each feature's shift.")
            .define(REFERRAL_THRESHOLD, Type.DOUBLE, -1.0, ConfigDef.Range.between(-1.0, 1.0), Importance.MEDIUM,
                    "A prediction whose (calibrated) top probability is below this carries referral=true: refer "
                            + "to a clinician. -1: the model contract's threshold (train --referral-threshold; "
                            + "none: no referral field); 0: never; (0,1]: this one. 'evaluate' shows what each "
                            + "threshold refers and the balanced accuracy of the rest.")
            .define(MODEL_PATH, Type.STRING, BUNDLED_MODEL, Importance.HIGH,
                    "Path of the ONNX model file (with a medfuse contract); empty: the bundled demo model.")
            .define(MODEL_CONTROL_TOPIC, Type.STRING, "", Importance.MEDIUM,
                    "Compacted topic of model announcements, keyed by role (primary, canary, shadow): each worker "
                            + "reads it from the start and loads, checks, warms up and switches to each announced "
                            + "model without a restart ('bin/medfuse model announce'); empty: the model never "
                            + "changes while running. See docs/operations.md and ADR 0014.")
            .define(MODEL_STATUS_TOPIC, Type.STRING, "", Importance.MEDIUM,
                    "Topic where each worker publishes what it made of each announcement (serving, refused with "
                            + "a reason, removed), keyed by instance id; empty: log and metrics only.")
            .define(MODEL_CONTROL_DIR, Type.STRING, "", Importance.MEDIUM,
                    "Announced model files are loaded only from inside this folder (links resolved); empty: the "
                            + "folder of model.path (required with the bundled model).")
            .define(MODEL_MAX_BYTES, Type.LONG, 1L << 30, Range.between(1024L, (long) Integer.MAX_VALUE - 8),
                    Importance.LOW, "Largest announced model file read, in bytes.")
            .define(MODEL_SHADOW_TOPIC, Type.STRING, "", Importance.MEDIUM,
                    "Topic for the shadow model's predictions (never the predictions topic); a shadow is refused "
                            + "without it. At least once: a replay may repeat one, with the same predictionId.")
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
            .define(BATCH_ADAPTIVE, Type.BOOLEAN, true, Importance.LOW,
                    "Learn, per model on this machine, which batch sizes cost least per image (a sweep when the "
                            + "model loads, then every batch) and cap batches there; batch.max.size stays the "
                            + "upper bound. false: batches fill to batch.max.size.")
            .define(BATCH_MAX_QUEUE_DELAY_MS, Type.INT, 10, Range.between(0, 60_000), Importance.MEDIUM,
                    "Longest time the oldest request waits for its batch to fill, in ms.")
            // 2: with one intra-op thread a run uses one core, and on 2 cores a second run took the seed-size
            // model from 194 to 263 images/s end to end at the same CPU per request (docs/benchmarks.md)
            .define(BATCH_CONCURRENT_RUNS, Type.INT, 2, Range.between(1, 64), Importance.LOW,
                    "Batches of one model that may run at once, each on a thread of its own in the same session "
                            + "(each holds an input buffer for the largest padded batch). A run uses "
                            + "model.intra.op.threads cores; more runs use the cores decoding leaves idle when the "
                            + "model is the bottleneck.")
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
                    "Largest width x height accepted, checked from the image header before decoding (for DICOM: "
                            + "rows x columns x frames x samples).")
            .define(IMAGE_DICOM_FRAME, Type.INT, 0, Range.atLeast(0), Importance.LOW,
                    "The frame (0-based) of a multi-frame DICOM image that is classified; an object with fewer "
                            + "frames is IMAGE_UNDECODABLE.")
            .define(REFERENCE_FILE_ROOTS, Type.LIST, "", Importance.HIGH,
                    "Folders under which file: image references may be read (after resolving .. and symbolic "
                            + "links; regular files only, never /proc, /sys or /dev); empty: file: references "
                            + "are refused.")
            .define(REFERENCE_HTTP_ALLOW, Type.LIST, "", Importance.HIGH,
                    "Servers http(s): image references may be fetched from: URL prefixes "
                            + "(https://pacs.example.org/dicomweb/) or host[:port]; every redirect is checked "
                            + "again. Loopback, link-local and cloud metadata addresses are refused unless an "
                            + "entry names them literally (http://127.0.0.1:8042/). Empty: refused.")
            .define(REFERENCE_HTTP_CREDENTIALS, Type.PASSWORD, null, Importance.MEDIUM,
                    "Credentials sent only to references under an allowed prefix, as "
                            + "PREFIX=bearer:TOKEN or PREFIX=basic:USER:PASSWORD, entries separated by ';'. "
                            + "Never logged.")
            .define(REFERENCE_TIMEOUT_MS, Type.INT, 10_000, Range.atLeast(1), Importance.LOW,
                    "Deadline for fetching one referenced image, connect to last byte, in ms; past it: "
                            + "REFERENCE_UNREACHABLE.")
            .define(REQUEST_DEADLINE_MS, Type.INT, 30_000, Range.atLeast(100), Importance.MEDIUM,
                    "Deadline for one request from entering the pipeline to its answer, in ms (fetch, decode, "
                            + "batch, model); past it the request is answered TIMED_OUT and its work is "
                            + "cancelled.")
            .define(REQUEST_ID_WINDOW_MS, Type.LONG, 3_600_000L, Range.between(1_000L, 7L * 24 * 3_600_000L),
                    Importance.MEDIUM, "How long a request id is remembered, in ms: within it the same request "
                            + "again is answered once, another request with the same id is a "
                            + "DUPLICATE_REQUEST_ID dead letter. Longer windows cost disk and restore time.")
            .define(REQUESTED_AT_MAX_SKEW_MS, Type.LONG, 300_000L, Range.atLeast(0L), Importance.LOW,
                    "A requestedAt further in the future than this (clock skew), in ms, is flagged "
                            + "requestedAt:implausible and left out of latency figures.")
            .define(REQUESTED_AT_MAX_AGE_MS, Type.LONG, 7L * 24 * 3_600_000L, Range.atLeast(1L), Importance.LOW,
                    "A requestedAt older than this, in ms, is flagged requestedAt:implausible and left out of "
                            + "latency figures.")
            .define(DLQ_MAX_ORIGINAL_BYTES, Type.INT, 0, Range.atLeast(0), Importance.MEDIUM,
                    "Dead letters carry the original record value when it is at most this many bytes; 0: never. "
                            + "The original is patient data (image and patient fields): give the dead-letter "
                            + "topic the same read ACL as the requests topic before turning this on.")
            .define(FORWARD_INTERVAL_MS, Type.LONG, 5L, Range.between(1, 1000), Importance.LOW,
                    "How often each task forwards finished results, in ms (bounds the added latency).")
            .define(METRICS_PORT, Type.INT, 9464, Range.between(-1, 65_535), Importance.MEDIUM,
                    "HTTP port of /metrics (Prometheus), /health/live and /health/ready; 0: any free port; "
                            + "-1: no HTTP server.")
            .define(METRICS_BIND_ADDRESS, Type.STRING, "0.0.0.0", new ConfigDef.NonEmptyString(), Importance.LOW,
                    "Address the metrics and health server listens on; 127.0.0.1 keeps it to this host.")
            .define(HEALTH_STALL_READY_MS, Type.LONG, 30_000L, Range.atLeast(100L), Importance.LOW,
                    "/health/ready turns DOWN when the pipeline has made no progress for this long while work "
                            + "waits, in ms.")
            .define(HEALTH_STALL_LIVE_MS, Type.LONG, 120_000L, Range.atLeast(100L), Importance.LOW,
                    "/health/live fails (so the orchestrator restarts the instance) when the stall lasts this "
                            + "long, in ms. A schema registry outage is not a stall: restarting would not help.");

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
            if (REMOVED.containsKey(key)) {
                problems.add("key '" + key + "' was removed: " + REMOVED.get(key));
            } else if (!DEF.names().contains(key) && !key.startsWith(KAFKA_PREFIX)) {
                problems.add("unknown key '" + key + "'");
            }
        }
        // each key on its own, so that every bad value is named, not only the first one AbstractConfig meets
        Map<String, Object> parsed = new java.util.HashMap<>();
        for (String key : DEF.names()) {
            ConfigDef.ConfigKey k = DEF.configKeys().get(key);
            Object raw = merged.get(key);
            if (raw == null) {
                if (!k.hasDefault()) {
                    problems.add("missing required key '" + key + "' (" + k.documentation + ")");
                } else {
                    parsed.put(key, k.defaultValue);
                }
                continue;
            }
            try {
                Object value = ConfigDef.parseType(key, raw, k.type);
                if (k.validator != null) {
                    k.validator.ensureValid(key, value);
                }
                parsed.put(key, value);
            } catch (ConfigException e) {
                problems.add(e.getMessage());
            }
        }
        // the reference policy's entries name folders and servers: checked here too, whatever else is wrong
        if (parsed.containsKey(REFERENCE_FILE_ROOTS) && parsed.containsKey(REFERENCE_HTTP_ALLOW)
                && parsed.containsKey(REFERENCE_HTTP_CREDENTIALS) && parsed.containsKey(REFERENCE_TIMEOUT_MS)) {
            Password credentials = (Password) parsed.get(REFERENCE_HTTP_CREDENTIALS);
            @SuppressWarnings("unchecked")
            List<String> roots = (List<String>) parsed.get(REFERENCE_FILE_ROOTS);
            @SuppressWarnings("unchecked")
            List<String> allow = (List<String>) parsed.get(REFERENCE_HTTP_ALLOW);
            try {
                ReferencePolicy.parse(roots, allow, credentials == null ? "" : credentials.value(),
                        (Integer) parsed.get(REFERENCE_TIMEOUT_MS));
            } catch (IllegalArgumentException e) {
                problems.add(e.getMessage());
            }
        }
        if (problems.isEmpty()) {
            WorkerConfig config = new WorkerConfig(merged);
            problems.addAll(config.crossKeyProblems());
            if (problems.isEmpty()) {
                return config;
            }
        }
        throw new ConfigException("invalid worker configuration (" + problems.size() + " problem"
                + (problems.size() == 1 ? "" : "s") + "): " + String.join("; ", problems));
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

    /** Problems that involve more than one key, or a value's meaning (folders that must exist, URL forms). */
    private List<String> crossKeyProblems() {
        List<String> problems = new ArrayList<>();
        try {
            List<Integer> padded = paddedBatchSizes();
            if (padded.isEmpty() || padded.get(padded.size() - 1) < batchMaxSize()) {
                problems.add(BATCH_PADDED_SIZES + " = " + getList(BATCH_PADDED_SIZES) + ": the largest padded size "
                        + "must be at least " + BATCH_MAX_SIZE + " (" + batchMaxSize() + ")");
            }
        } catch (ConfigException e) {
            problems.add(e.getMessage());
        }
        if (healthStallLiveMs() < healthStallReadyMs()) {
            problems.add(HEALTH_STALL_LIVE_MS + " (" + healthStallLiveMs() + ") must be at least "
                    + HEALTH_STALL_READY_MS + " (" + healthStallReadyMs() + ")");
        }
        if (influencePerFeature() && !influenceEnabled()) {
            problems.add(INFLUENCE_PER_FEATURE + " is true but " + INFLUENCE_ENABLED + " is false: set both");
        }
        String patientSystem = fhirPatientIdentifierSystem();
        if (patientSystem != null) {
            if (fhirTopic() == null) {
                problems.add(OUTPUT_FHIR_PATIENT_IDENTIFIER_SYSTEM + " is set but " + OUTPUT_FHIR_TOPIC
                        + " is empty: the identifier would go nowhere");
            }
            if (!isAbsoluteUri(patientSystem)) {
                problems.add(OUTPUT_FHIR_PATIENT_IDENTIFIER_SYSTEM + " = '" + patientSystem + "': must be an "
                        + "absolute URI without spaces or '|' (e.g. urn:oid:1.2.3.4 or https://hospital.example/mrn)");
            }
        }
        if (modelControlTopic() != null) {
            java.nio.file.Path dir = modelControlDir();
            if (dir == null) {
                problems.add(MODEL_CONTROL_TOPIC + " is set but neither " + MODEL_CONTROL_DIR + " nor " + MODEL_PATH
                        + " names a folder announced models may be loaded from");
            } else if (!java.nio.file.Files.isDirectory(dir)) {
                problems.add(MODEL_CONTROL_DIR + " = '" + dir + "' is not a folder");
            }
        } else if (modelStatusTopic() != null || modelShadowTopic() != null) {
            problems.add((modelStatusTopic() != null ? MODEL_STATUS_TOPIC : MODEL_SHADOW_TOPIC) + " is set but "
                    + MODEL_CONTROL_TOPIC + " is empty: models are only announced there");
        }
        if (modelShadowTopic() != null && (modelShadowTopic().equals(predictionsTopic())
                || modelShadowTopic().equals(requestsTopic()))) {
            problems.add(MODEL_SHADOW_TOPIC + " must be a topic of its own, not the requests or predictions topic");
        }
        if (!instanceId().isEmpty() && !instanceId().matches("[A-Za-z0-9._-]{1,100}")) {
            problems.add(INSTANCE_ID + " = '" + instanceId() + "': use 1-100 letters, digits, '.', '_' or '-'");
        }
        return problems;
    }

    private static boolean isAbsoluteUri(String s) {
        if (s.length() > 255 || s.chars().anyMatch(c -> c <= 0x20 || c == '|' || c >= 0x7F)) {
            return false;
        }
        try {
            return new java.net.URI(s).isAbsolute();
        } catch (java.net.URISyntaxException e) {
            return false;
        }
    }

    /**
     * Where image references may be read from, checked: every file root exists and is a folder, every allow-list
     * entry and credential parses, every credential's prefix is allowed.
     *
     * @throws ConfigException naming every bad entry
     */
    public ReferencePolicy referencePolicy() {
        Password credentials = getPassword(REFERENCE_HTTP_CREDENTIALS);
        try {
            return ReferencePolicy.parse(getList(REFERENCE_FILE_ROOTS), getList(REFERENCE_HTTP_ALLOW),
                    credentials == null ? "" : credentials.value(), getInt(REFERENCE_TIMEOUT_MS));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
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

    /** The configured referral threshold; null: the contract's. */
    public Double referralThreshold() {
        double t = getDouble(REFERRAL_THRESHOLD);
        return t < 0 ? null : t;
    }

    public boolean influenceEnabled() {
        return getBoolean(INFLUENCE_ENABLED);
    }

    public boolean influencePerFeature() {
        return getBoolean(INFLUENCE_PER_FEATURE);
    }

    /** The identifier system for PatientIDs in FHIR documents, or null: they name no patient. */
    public String fhirPatientIdentifierSystem() {
        String t = getString(OUTPUT_FHIR_PATIENT_IDENTIFIER_SYSTEM);
        return t == null || t.isBlank() ? null : t.trim();
    }

    /** The FHIR output topic, or null when the FHIR output is off. */
    public String fhirTopic() {
        String t = getString(OUTPUT_FHIR_TOPIC);
        return t == null || t.isBlank() ? null : t.trim();
    }

    /** The model control topic, or null when models do not change while running. */
    public String modelControlTopic() {
        return blankToNull(getString(MODEL_CONTROL_TOPIC));
    }

    /** The model status topic, or null. */
    public String modelStatusTopic() {
        return blankToNull(getString(MODEL_STATUS_TOPIC));
    }

    /** The shadow predictions topic, or null. */
    public String modelShadowTopic() {
        return blankToNull(getString(MODEL_SHADOW_TOPIC));
    }

    /** Where announced model files must be: model.control.dir, else model.path's folder; null when neither. */
    public java.nio.file.Path modelControlDir() {
        String dir = blankToNull(getString(MODEL_CONTROL_DIR));
        if (dir != null) {
            return java.nio.file.Path.of(dir);
        }
        String model = modelPath();
        if (model == null || model.isBlank()) {
            return null;
        }
        java.nio.file.Path parent = java.nio.file.Path.of(model).toAbsolutePath().getParent();
        return parent;
    }

    public long modelMaxBytes() {
        return getLong(MODEL_MAX_BYTES);
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.trim();
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

    public boolean batchAdaptive() {
        return getBoolean(BATCH_ADAPTIVE);
    }

    public int batchMaxQueueDelayMs() {
        return getInt(BATCH_MAX_QUEUE_DELAY_MS);
    }

    public int batchConcurrentRuns() {
        return getInt(BATCH_CONCURRENT_RUNS);
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

    public int imageDicomFrame() {
        return getInt(IMAGE_DICOM_FRAME);
    }

    public int referenceTimeoutMs() {
        return getInt(REFERENCE_TIMEOUT_MS);
    }

    public int requestDeadlineMs() {
        return getInt(REQUEST_DEADLINE_MS);
    }

    public long requestIdWindowMs() {
        return getLong(REQUEST_ID_WINDOW_MS);
    }

    public long requestedAtMaxSkewMs() {
        return getLong(REQUESTED_AT_MAX_SKEW_MS);
    }

    public long requestedAtMaxAgeMs() {
        return getLong(REQUESTED_AT_MAX_AGE_MS);
    }

    /** The configured instance id, or "" when the instance takes host name + slot. */
    public String instanceId() {
        return getString(INSTANCE_ID).trim();
    }

    /** The configured state root, or "" for the default under java.io.tmpdir. */
    public String stateDir() {
        return getString(STATE_DIR).trim();
    }

    public String metricsBindAddress() {
        return getString(METRICS_BIND_ADDRESS);
    }

    public long healthStallReadyMs() {
        return getLong(HEALTH_STALL_READY_MS);
    }

    public long healthStallLiveMs() {
        return getLong(HEALTH_STALL_LIVE_MS);
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
