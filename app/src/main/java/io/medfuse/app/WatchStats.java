package io.medfuse.app;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.ModelIdentity;
import io.medfuse.events.Prediction;
import io.medfuse.worker.pipeline.RequestPipeline;
import io.medfuse.model.contract.ClassLabel;
import io.medfuse.model.contract.ModelContract;

/**
 * What {@code medfuse watch} shows, aggregated from the answers it reads: totals and rates, end-to-end latency
 * percentiles, the predicted-label mix against the mix the model was trained on, dead letters by reason, and the
 * models seen. Thread-safe: the consumer thread adds, the printing thread takes snapshots.
 *
 * <p>Latency is {@code predictedAt - requestedAt} of each prediction (the imaging system's clock to the worker's):
 * time in the requests topic plus time in the worker. Percentiles and the label mix cover the last {@code window}
 * predictions, so the view follows what happens now; totals cover the whole run.
 */
final class WatchStats {

    /** Latency percentiles in ms over {@code samples} predictions; NaN when there are none. */
    /**
     * @param excluded predictions left out because the worker flagged their requestedAt as implausible (a producer
     *     clock in another year would otherwise make every percentile meaningless)
     */
    record Latency(int samples, double p50, double p95, double p99, long excluded) {
    }

    /**
     * The clinical data's influence over the last {@code window} predictions that carry it
     * ({@code clinicalInfluence}): the shift of the predicted class's probability (with the clinical data minus
     * without), as percentiles and mean absolute value, and the share whose label the clinical data changed.
     */
    record Influence(int samples, double p5, double p50, double p95, double meanAbsolute, double labelChanged) {
    }

    /**
     * How the shadow model's labels compare with the answering model's, over the last {@code window} requests both
     * answered (paired by request id).
     *
     * @param confusion answered label → shadow label → count
     * @param shadowModels each shadow model seen, with its count
     */
    record Shadow(int pairs, double agreement, Map<String, Map<String, Long>> confusion,
                  Map<String, Long> shadowModels) {
    }

    /**
     * One view of the stream.
     *
     * @param predictedMix share of each label among the last {@code window} predictions
     * @param trainingMix share of each label in the training data (from the contract); null without a contract
     * @param drift total variation distance between the two mixes (0 = same, 1 = disjoint); null when there is no
     *              training mix or fewer than {@code minSamples} predictions
     * @param models each model seen on predictions ("name version sha256-prefix") with its count
     * @param influence the clinical data's influence; null when no recent prediction carries it
     * @param shadow agreement with the shadow model; null when no shadow prediction was paired yet
     */
    record Snapshot(long atMillis, double seconds, long predictions, long deadLetters, double predictionsPerSecond,
                    double deadLettersPerSecond, Latency latency, Map<String, Long> labels,
                    Map<String, Double> predictedMix, Map<String, Double> trainingMix, Double drift,
                    double driftThreshold, boolean driftWarning, Map<String, Long> deadLettersByReason,
                    Map<String, Long> models, String contractModel, Influence influence, Shadow shadow) {
    }

    private final Map<String, Double> trainingMix;
    private final String contractModel;
    private final double driftThreshold;
    private final int minSamples;
    private final int window;
    private final long startMillis;

    private long predictions;
    private long deadLetters;
    private final Map<String, Long> labels = new TreeMap<>();
    private final Map<String, Long> deadLettersByReason = new TreeMap<>();
    private final Map<String, Long> models = new LinkedHashMap<>();
    private final Deque<String> recentLabels = new ArrayDeque<>();
    private final Map<String, Long> recentLabelCounts = new TreeMap<>();
    private final double[] latencies;
    private int latencyCount;
    private int latencyNext;
    private long latencyExcluded;
    private final double[] shifts;
    private final boolean[] changed;
    private int shiftCount;
    private int shiftNext;
    /** Labels waiting for their counterpart, by request id (bounded: the oldest goes first). */
    private final Map<String, String> unpairedAnswers;
    private final Map<String, String> unpairedShadows;
    private final Deque<String[]> pairs = new ArrayDeque<>();
    private final Map<String, Long> shadowModels = new LinkedHashMap<>();
    private long lastMillis;
    private long lastPredictions;
    private long lastDeadLetters;

    /**
     * @param contract the model's contract, for the training mix; null to show the mix without comparison
     * @param driftThreshold warn when the total variation distance exceeds this, in [0, 1]
     * @param minSamples no drift verdict on fewer predictions than this
     * @param window predictions the mix and the latency percentiles cover
     */
    WatchStats(ModelContract contract, double driftThreshold, int minSamples, int window, long startMillis) {
        this.trainingMix = contract == null ? null : trainingMix(contract);
        this.contractModel = contract == null ? null : contract.name() + " " + contract.version();
        this.driftThreshold = driftThreshold;
        this.minSamples = minSamples;
        this.window = window;
        this.latencies = new double[window];
        this.shifts = new double[window];
        this.changed = new boolean[window];
        this.startMillis = startMillis;
        this.lastMillis = startMillis;
        this.unpairedAnswers = bounded(4 * window);
        this.unpairedShadows = bounded(4 * window);
    }

    private static Map<String, String> bounded(int max) {
        return new LinkedHashMap<>() {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
                return size() > max;
            }
        };
    }

    /** A shadow model's prediction (from the shadow topic), paired with the answer to the same request. */
    synchronized void addShadow(Prediction p) {
        shadowModels.merge(model(p.getModel()), 1L, Long::sum);
        String answered = unpairedAnswers.remove(p.getRequestId());
        if (answered != null) {
            pair(answered, p.getLabel());
        } else {
            unpairedShadows.put(p.getRequestId(), p.getLabel());
        }
    }

    private void pair(String answered, String shadow) {
        pairs.addLast(new String[] {answered, shadow});
        if (pairs.size() > window) {
            pairs.removeFirst();
        }
    }

    /** Label shares in the training data, normalised; null when the contract does not record them. */
    static Map<String, Double> trainingMix(ModelContract contract) {
        List<ClassLabel> ls = contract.labels();
        if (ls == null || ls.isEmpty() || ls.stream().anyMatch(l -> l.frequency() == null)) {
            return null;
        }
        double sum = ls.stream().mapToDouble(ClassLabel::frequency).sum();
        if (!(sum > 0)) {
            return null;
        }
        Map<String, Double> mix = new TreeMap<>();
        for (ClassLabel l : ls) {
            mix.merge(l.name(), l.frequency() / sum, Double::sum);
        }
        return mix;
    }

    synchronized void add(Prediction p) {
        predictions++;
        labels.merge(p.getLabel(), 1L, Long::sum);
        recentLabels.addLast(p.getLabel());
        recentLabelCounts.merge(p.getLabel(), 1L, Long::sum);
        if (recentLabels.size() > window) {
            String old = recentLabels.removeFirst();
            recentLabelCounts.computeIfPresent(old, (k, v) -> v == 1 ? null : v - 1);
        }
        models.merge(model(p.getModel()), 1L, Long::sum);
        String shadowed = unpairedShadows.remove(p.getRequestId());
        if (shadowed != null) {
            pair(p.getLabel(), shadowed);
        } else {
            unpairedAnswers.put(p.getRequestId(), p.getLabel());
        }
        if (p.getClinicalInfluence() != null) {
            shifts[shiftNext] = p.getClinicalInfluence().getShift();
            changed[shiftNext] = !p.getLabel().equals(p.getClinicalInfluence().getLabelWithout());
            shiftNext = (shiftNext + 1) % window;
            shiftCount = Math.min(window, shiftCount + 1);
        }
        if (p.getFlags() != null && p.getFlags().contains(RequestPipeline.REQUESTED_AT_IMPLAUSIBLE)) {
            latencyExcluded++;
        } else if (p.getRequestedAt() != null && p.getPredictedAt() != null) {
            double ms = Math.max(0, p.getPredictedAt().toEpochMilli() - p.getRequestedAt().toEpochMilli());
            latencies[latencyNext] = ms;
            latencyNext = (latencyNext + 1) % window;
            latencyCount = Math.min(window, latencyCount + 1);
        }
    }

    synchronized void add(FailedRequest f) {
        deadLetters++;
        deadLettersByReason.merge(f.getReason().name(), 1L, Long::sum);
    }

    private static String model(ModelIdentity m) {
        if (m == null) {
            return "(unknown)";
        }
        String sha = m.getSha256() == null ? "" : m.getSha256();
        return m.getName() + " " + m.getVersion() + " " + sha.substring(0, Math.min(12, sha.length()));
    }

    /** The view now; rates are over the time since the previous snapshot. */
    synchronized Snapshot snapshot(long nowMillis) {
        double interval = Math.max(1, nowMillis - lastMillis) / 1000.0;
        double predRate = (predictions - lastPredictions) / interval;
        double deadRate = (deadLetters - lastDeadLetters) / interval;
        lastMillis = nowMillis;
        lastPredictions = predictions;
        lastDeadLetters = deadLetters;

        long recent = recentLabels.size();
        Map<String, Double> predictedMix = new TreeMap<>();
        recentLabelCounts.forEach((label, n) -> predictedMix.put(label, n / (double) recent));
        Double drift = null;
        if (trainingMix != null && recent >= minSamples && recent > 0) {
            drift = totalVariation(predictedMix, trainingMix);
        }
        return new Snapshot(nowMillis, (nowMillis - startMillis) / 1000.0, predictions, deadLetters, predRate,
                deadRate, latency(), new TreeMap<>(labels), predictedMix, trainingMix, drift, driftThreshold,
                drift != null && drift > driftThreshold, new TreeMap<>(deadLettersByReason),
                new LinkedHashMap<>(models), contractModel, influence(), shadow());
    }

    private Shadow shadow() {
        if (pairs.isEmpty()) {
            return null;
        }
        Map<String, Map<String, Long>> confusion = new TreeMap<>();
        int agree = 0;
        for (String[] pair : pairs) {
            confusion.computeIfAbsent(pair[0], k -> new TreeMap<>()).merge(pair[1], 1L, Long::sum);
            agree += pair[0].equals(pair[1]) ? 1 : 0;
        }
        return new Shadow(pairs.size(), agree / (double) pairs.size(), confusion, new LinkedHashMap<>(shadowModels));
    }

    private Influence influence() {
        if (shiftCount == 0) {
            return null;
        }
        double[] sorted = Arrays.copyOf(shifts, shiftCount);
        Arrays.sort(sorted);
        double abs = 0;
        int labelChanged = 0;
        for (int i = 0; i < shiftCount; i++) {
            abs += Math.abs(shifts[i]);
            labelChanged += changed[i] ? 1 : 0;
        }
        return new Influence(shiftCount, percentile(sorted, 5), percentile(sorted, 50), percentile(sorted, 95),
                abs / shiftCount, labelChanged / (double) shiftCount);
    }

    private Latency latency() {
        if (latencyCount == 0) {
            return new Latency(0, Double.NaN, Double.NaN, Double.NaN, latencyExcluded);
        }
        double[] sorted = Arrays.copyOf(latencies, latencyCount);
        Arrays.sort(sorted);
        return new Latency(latencyCount, percentile(sorted, 50), percentile(sorted, 95), percentile(sorted, 99),
                latencyExcluded);
    }

    /** Nearest-rank percentile of sorted values. */
    static double percentile(double[] sorted, double p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    /** Half the L1 distance between two distributions over the union of their labels, in [0, 1]. */
    static double totalVariation(Map<String, Double> p, Map<String, Double> q) {
        TreeSet<String> all = new TreeSet<>(p.keySet());
        all.addAll(q.keySet());
        double sum = 0;
        for (String label : all) {
            sum += Math.abs(p.getOrDefault(label, 0.0) - q.getOrDefault(label, 0.0));
        }
        return sum / 2;
    }
}
