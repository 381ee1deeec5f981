package io.medfuse.worker.metrics;

import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;

import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.streams.KafkaStreams;

import io.medfuse.events.FailureReason;
import io.medfuse.events.ModelIdentity;
import io.medfuse.worker.batch.BatchStats;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/**
 * The worker's metrics in a Micrometer Prometheus registry. Names as Prometheus shows them:
 *
 * <table>
 * <caption>metrics</caption>
 * <tr><td>{@code medfuse_requests_total}</td><td>records read from the requests topic</td></tr>
 * <tr><td>{@code medfuse_predictions_total}</td><td>predictions forwarded</td></tr>
 * <tr><td>{@code medfuse_dead_letters_total{reason}}</td><td>dead letters forwarded, by reason (every reason is
 * present from the start, at 0)</td></tr>
 * <tr><td>{@code medfuse_batch_size}</td><td>histogram of the requests per model run</td></tr>
 * <tr><td>{@code medfuse_batch_failures_total}</td><td>model runs that failed (split or answered MODEL_ERROR)</td></tr>
 * <tr><td>{@code medfuse_duplicates_ignored_total}</td><td>requests that repeated an earlier one (same id, same
 * content) and were not answered again</td></tr>
 * <tr><td>{@code medfuse_pending_resubmitted_total}</td><td>pending requests taken again after a crash or
 * rebalance</td></tr>
 * <tr><td>{@code medfuse_pending_reread_total}</td><td>of those, the records read again from the requests topic (the
 * pending store keeps only their offsets)</td></tr>
 * <tr><td>{@code medfuse_queue_wait_seconds}, {@code medfuse_preprocess_seconds},
 * {@code medfuse_inference_seconds}</td><td>histograms per prediction</td></tr>
 * <tr><td>{@code medfuse_in_flight_requests}</td><td>requests between consumption and answer</td></tr>
 * <tr><td>{@code medfuse_consumer_lag_records{topic,partition}}</td><td>records behind the end of each owned
 * partition of the requests topic, from the Kafka Streams consumer's {@code records-lag} (the consumer reports each
 * partition twice, with the topic's name and with dots replaced by underscores; it is exported once)</td></tr>
 * <tr><td>{@code medfuse_model_info{role,name,version,sha256,provider}}</td><td>1 for each model serving, by role
 * (primary, canary, shadow)</td></tr>
 * <tr><td>{@code medfuse_model_predictions_total{model,version}}, {@code medfuse_model_inference_seconds{model,version}},
 * {@code medfuse_model_errors_total{model,version}}, {@code medfuse_model_referral_assessed_total{model,version}},
 * {@code medfuse_model_referral_referred_total{model,version}}</td><td>per model version: predictions forwarded, their
 * model runs, failed runs, referral counts</td></tr>
 * <tr><td>{@code medfuse_model_installed_total{role}}, {@code medfuse_model_refused_total{role,reason}}</td><td>models
 * put in a role while running, and announced models refused (every reason present from the start, at 0)</td></tr>
 * <tr><td>{@code medfuse_shadow_predictions_total}, {@code medfuse_shadow_failures_total},
 * {@code medfuse_shadow_skipped_total}</td><td>the shadow's predictions, failures, and requests it skipped</td></tr>
 * </table>
 *
 * plus the JVM's memory, GC, threads, CPU and uptime. Counters count what this instance forwarded; under
 * exactly_once_v2 a transaction that aborts (a crash, a fenced producer) is counted here but never seen by
 * read_committed readers.
 */
public final class MicrometerWorkerMetrics implements WorkerMetrics, AutoCloseable {

    private static final String RESTORE_CONSUMER = "restore-consumer";

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter requests;
    private final Counter predictions;
    private final Map<FailureReason, Counter> deadLetters = new EnumMap<>(FailureReason.class);
    private final DistributionSummary batchSize;
    private final Timer queueWait;
    private final Timer preprocess;
    private final Timer inference;
    private final Counter batchFailures;
    private final Counter duplicates;
    private final Counter resubmitted;
    private final Counter reread;
    private final Counter referralsAssessed;
    private final Counter referred;
    private final DistributionSummary influence;
    private final MultiGauge consumerLag;
    private final JvmGcMetrics gc = new JvmGcMetrics();
    private final MultiGauge modelInfo;
    private final Counter shadowPredictions;
    private final Counter shadowFailures;
    private final Counter shadowSkipped;
    /** Per-model meters, by "name\0version". */
    private final Map<String, ModelMeters> models = new java.util.concurrent.ConcurrentHashMap<>();

    /** The meters of one model version. */
    private record ModelMeters(Counter predictions, Timer inference, Counter errors, Counter assessed,
                               Counter referred) {
    }
    private volatile KafkaStreams streams;
    private volatile String requestsTopic;

    public MicrometerWorkerMetrics() {
        requests = Counter.builder("medfuse.requests")
                .description("Records read from the requests topic").register(registry);
        predictions = Counter.builder("medfuse.predictions")
                .description("Predictions forwarded to the predictions topic").register(registry);
        for (FailureReason reason : FailureReason.values()) {
            deadLetters.put(reason, Counter.builder("medfuse.dead.letters").tag("reason", reason.name())
                    .description("Dead letters forwarded, by reason").register(registry));
        }
        batchSize = DistributionSummary.builder("medfuse.batch.size")
                .description("Requests per model run (after any split of a failing batch)")
                .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
                .register(registry);
        batchFailures = Counter.builder("medfuse.batch.failures")
                .description("Model runs that failed (split, or answered MODEL_ERROR)").register(registry);
        duplicates = Counter.builder("medfuse.duplicates.ignored")
                .description("Requests that repeated an earlier one (same id and content), not answered again")
                .register(registry);
        resubmitted = Counter.builder("medfuse.pending.resubmitted")
                .description("Pending requests taken again after a crash or a rebalance").register(registry);
        reread = Counter.builder("medfuse.pending.reread")
                .description("Pending requests read again from the requests topic after a crash or a rebalance")
                .register(registry);
        referralsAssessed = Counter.builder("medfuse.referral.assessed")
                .description("Predictions checked against a referral threshold").register(registry);
        referred = Counter.builder("medfuse.referral.referred")
                .description("Predictions marked referral=true (top probability below the threshold); the "
                        + "referral rate is this over medfuse_referral_assessed_total").register(registry);
        influence = DistributionSummary.builder("medfuse.clinical.influence.shift")
                .description("|shift| of the predicted class's probability the clinical data caused "
                        + "(influence.enabled)")
                .serviceLevelObjectives(0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
                .register(registry);
        queueWait = timer("medfuse.queue.wait", "From the stream thread taking a request to its model run");
        preprocess = timer("medfuse.preprocess",
                "Image checks, decoding and tabular encoding, per request (resize and normalisation: in queue wait)");
        inference = timer("medfuse.inference", "Model run of the request's batch");
        consumerLag = MultiGauge.builder("medfuse.consumer.lag").baseUnit("records")
                .description("Records behind the end of each requests partition this instance owns")
                .register(registry);
        modelInfo = MultiGauge.builder("medfuse.model.info")
                .description("The models this instance serves, by role (value always 1)").register(registry);
        shadowPredictions = Counter.builder("medfuse.shadow.predictions")
                .description("Shadow predictions sent to the shadow topic").register(registry);
        shadowFailures = Counter.builder("medfuse.shadow.failures")
                .description("Requests the shadow model failed on (their own answers are unaffected)")
                .register(registry);
        shadowSkipped = Counter.builder("medfuse.shadow.skipped")
                .description("Requests the shadow skipped (it held its limit of requests already)")
                .register(registry);
        for (String role : List.of("primary", "canary", "shadow")) {
            Counter.builder("medfuse.model.installed").tag("role", role)
                    .description("Models put in a role while the worker runs").register(registry);
            for (io.medfuse.worker.models.RefusalReason reason : io.medfuse.worker.models.RefusalReason.values()) {
                Counter.builder("medfuse.model.refused").tag("role", role).tag("reason", reason.id())
                        .description("Announced models refused, by role and reason (the current model keeps "
                                + "serving)").register(registry);
            }
        }
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }

    private Timer timer(String name, String description) {
        return Timer.builder(name).description(description)
                .serviceLevelObjectives(ms(1), ms(2), ms(5), ms(10), ms(20), ms(50), ms(100), ms(200), ms(500),
                        ms(1000), ms(2000), ms(5000), ms(10_000))
                .register(registry);
    }

    private static Duration ms(long millis) {
        return Duration.ofMillis(millis);
    }

    /** Publishes {@code medfuse_model_info} for the model being served (the primary, at start). */
    public void bindModel(ModelIdentity model) {
        modelsServing(Map.of("primary", model));
    }

    @Override
    public void modelsServing(Map<String, ModelIdentity> byRole) {
        List<MultiGauge.Row<?>> rows = new ArrayList<>();
        byRole.forEach((role, m) -> rows.add(MultiGauge.Row.of(Tags.of("role", role, "name", m.getName(),
                "version", m.getVersion(), "sha256", m.getSha256(), "provider", m.getExecutionProvider()), 1)));
        modelInfo.register(rows, true);
    }

    private ModelMeters meters(ModelIdentity m) {
        return models.computeIfAbsent(m.getName() + "\u0000" + m.getVersion(), k -> {
            Tags tags = Tags.of("model", m.getName(), "version", m.getVersion());
            return new ModelMeters(
                    Counter.builder("medfuse.model.predictions").tags(tags)
                            .description("Predictions forwarded, by the model version that answered")
                            .register(registry),
                    Timer.builder("medfuse.model.inference").tags(tags)
                            .description("Model run of the request's batch, by model version")
                            .serviceLevelObjectives(ms(1), ms(2), ms(5), ms(10), ms(20), ms(50), ms(100), ms(200),
                                    ms(500), ms(1000), ms(2000), ms(5000), ms(10_000))
                            .register(registry),
                    Counter.builder("medfuse.model.errors").tags(tags)
                            .description("Failed model runs, by model version").register(registry),
                    Counter.builder("medfuse.model.referral.assessed").tags(tags)
                            .description("Predictions checked against a referral threshold, by model version")
                            .register(registry),
                    Counter.builder("medfuse.model.referral.referred").tags(tags)
                            .description("Predictions marked referral=true, by model version").register(registry));
        });
    }

    @Override
    public void modelAnswered(ModelIdentity model, long inferenceNanos, Boolean referral) {
        ModelMeters m = meters(model);
        m.predictions().increment();
        m.inference().record(Math.max(0, inferenceNanos), TimeUnit.NANOSECONDS);
        if (referral != null) {
            m.assessed().increment();
            if (referral) {
                m.referred().increment();
            }
        }
    }

    @Override
    public void modelRunFailed(ModelIdentity model) {
        meters(model).errors().increment();
    }

    @Override
    public void modelInstalled(String role) {
        registry.counter("medfuse.model.installed", "role", role).increment();
    }

    @Override
    public void modelRefused(String role, String reason) {
        registry.counter("medfuse.model.refused", "role", role, "reason", reason).increment();
    }

    @Override
    public void shadowPredicted() {
        shadowPredictions.increment();
    }

    @Override
    public void shadowFailed() {
        shadowFailures.increment();
    }

    @Override
    public void shadowSkipped() {
        shadowSkipped.increment();
    }

    /** Publishes {@code medfuse_in_flight_requests}, read at every scrape. */
    public void bindInFlight(IntSupplier inFlight) {
        Gauge.builder("medfuse.in.flight", inFlight::getAsInt).baseUnit("requests")
                .description("Requests between consumption and answer").register(registry);
    }

    /** Reads the consumer lag of {@code topic} from these Kafka Streams' client metrics at every scrape. */
    public void bindStreams(KafkaStreams kafkaStreams, String topic) {
        this.streams = kafkaStreams;
        this.requestsTopic = topic;
    }

    @Override
    public void requestReceived() {
        requests.increment();
    }

    @Override
    public void predicted(long queueWaitNanos, long preprocessNanos, long inferenceNanos) {
        predictions.increment();
        queueWait.record(Math.max(0, queueWaitNanos), TimeUnit.NANOSECONDS);
        preprocess.record(Math.max(0, preprocessNanos), TimeUnit.NANOSECONDS);
        inference.record(Math.max(0, inferenceNanos), TimeUnit.NANOSECONDS);
    }

    @Override
    public void predictionNotes(Boolean referral, double influenceShift) {
        if (referral != null) {
            referralsAssessed.increment();
            if (referral) {
                referred.increment();
            }
        }
        if (!Double.isNaN(influenceShift)) {
            influence.record(Math.abs(influenceShift));
        }
    }

    @Override
    public void deadLetter(FailureReason reason) {
        deadLetters.get(reason).increment();
    }

    @Override
    public void batchCompleted(BatchStats stats) {
        batchSize.record(stats.batchSize());
    }

    @Override
    public void batchFailed(BatchStats stats) {
        batchFailures.increment();
    }

    @Override
    public void duplicateIgnored() {
        duplicates.increment();
    }

    @Override
    public void pendingResubmitted(int n) {
        resubmitted.increment(n);
    }

    @Override
    public void pendingReread(int n) {
        reread.increment(n);
    }

    /** The Prometheus text exposition of every metric, with the consumer lag read now. */
    public String scrape() {
        refreshConsumerLag();
        return registry.scrape();
    }

    /** The registry, for tests and for binding more meters. */
    public PrometheusMeterRegistry registry() {
        return registry;
    }

    private void refreshConsumerLag() {
        KafkaStreams s = streams;
        if (s == null) {
            return;
        }
        Map<List<String>, Double> lag = consumerLag(s.metrics(), requestsTopic);
        List<MultiGauge.Row<?>> rows = new ArrayList<>(lag.size());
        lag.forEach((tp, value) -> rows.add(MultiGauge.Row.of(Tags.of("topic", tp.get(0), "partition", tp.get(1)),
                value)));
        consumerLag.register(rows, true);
    }

    /**
     * The main consumers' {@code records-lag} per [topic, partition] of {@code topic} only: the restore consumer's
     * lag is about changelog topics, and the consumer's second copy of each partition's metric, tagged with the
     * topic name's dots replaced by underscores, would double a summed lag (what an autoscaler reads). A partition
     * whose lag is not known yet (NaN) is left out.
     */
    static Map<List<String>, Double> consumerLag(Map<MetricName, ? extends Metric> metrics, String topicName) {
        Map<List<String>, Double> lag = new TreeMap<>((a, b) -> {
            int c = a.get(0).compareTo(b.get(0));
            return c != 0 ? c : Integer.compare(Integer.parseInt(a.get(1)), Integer.parseInt(b.get(1)));
        });
        for (Map.Entry<MetricName, ? extends Metric> e : metrics.entrySet()) {
            MetricName name = e.getKey();
            if (!name.name().equals("records-lag") || !name.group().equals("consumer-fetch-manager-metrics")) {
                continue;
            }
            Map<String, String> tags = name.tags();
            String topic = tags.get("topic");
            String partition = tags.get("partition");
            String clientId = tags.getOrDefault("client-id", "");
            if (topic == null || partition == null || clientId.contains(RESTORE_CONSUMER)
                    || topicName != null && !topic.equals(topicName)) {
                continue;
            }
            if (e.getValue().metricValue() instanceof Number n && !Double.isNaN(n.doubleValue())) {
                lag.merge(List.of(topic, partition), n.doubleValue(), Math::max);
            }
        }
        return lag;
    }

    @Override
    public void close() {
        gc.close();
        registry.close();
    }
}
