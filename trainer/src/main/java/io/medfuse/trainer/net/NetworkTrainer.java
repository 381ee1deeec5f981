package io.medfuse.trainer.net;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.CosineTracker;
import ai.djl.training.tracker.Tracker;
import io.medfuse.trainer.DjlRuntime;
import io.medfuse.trainer.EpochStats;
import io.medfuse.trainer.HyperParameters;
import io.medfuse.trainer.Metrics;
import io.medfuse.trainer.StopSignal;
import io.medfuse.trainer.TensorSet;
import io.medfuse.trainer.TrainerException;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Trains a {@link SmallFusedNet} (or a {@link HeadNet} on cached backbone features) with DJL: Adam with a cosine learning-rate schedule, class-weighted cross-entropy
 * (weight of class c = n / (classes · n_c), so rare classes count as much as common ones), augmentation for scratch
 * training, early stopping on validation balanced accuracy keeping the best epoch's weights, and a
 * {@link StopSignal} that ends training after the current batch, also keeping the best weights.
 *
 * <p>All DJL objects live and die inside {@link #train}; what comes out is plain Java (weights, probabilities).
 */
public final class NetworkTrainer {

    private static final int EVAL_BATCH = 128;

    private NetworkTrainer() {
    }

    /**
     * The outcome.
     *
     * @param weights the best epoch's parameters, {@code <layer>.<weight|bias>} → floats ({@link SmallFusedNet#weights()})
     * @param history every finished epoch
     * @param bestEpoch 1-based epoch whose weights were kept (0 when stopped before any epoch finished)
     * @param validationProbabilities DJL's softmax output of the kept weights on the validation rows
     * @param stoppedBy "epochs" (ran all), "early-stopping" or "stop-signal"
     */
    public record Result(Map<String, float[]> weights, List<EpochStats> history, int bestEpoch,
                         float[][] validationProbabilities, String stoppedBy, float[][] stoppingProbabilities) {
        public Result(Map<String, float[]> weights, List<EpochStats> history, int bestEpoch,
                      float[][] validationProbabilities, String stoppedBy) {
            this(weights, history, bestEpoch, validationProbabilities, stoppedBy, validationProbabilities);
        }
    }

    /**
     * @param image [C, H, W] of one image, or [D] of one feature vector (architecture mobilenetv2: the head is
     *              trained on the frozen backbone's cached features)
     * @param classes number of classes
     * @param progress called after every epoch (on this thread)
     * @throws TrainerException when the engine cannot be loaded or training fails
     */
    public static Result train(TensorSet train, TensorSet validation, long[] image, int classes, HyperParameters hp,
                               Consumer<EpochStats> progress, StopSignal stop) {
        return train(train, validation, null, image, classes, hp, progress, stop);
    }

    /**
     * As above, stopping early on {@code validation} (the epochs' validation figures are its) and, when
     * {@code report} is not null, giving the kept weights' probabilities on {@code report} as
     * {@link Result#validationProbabilities()} ({@link Result#stoppingProbabilities()} stay {@code validation}'s):
     * rows that chose nothing, so their score is not optimistic.
     */
    public static Result train(TensorSet train, TensorSet validation, TensorSet report, long[] image, int classes,
                               HyperParameters hp, Consumer<EpochStats> progress, StopSignal stop) {
        return train(train, validation, report, image, classes, hp, progress, stop, false);
    }

    /**
     * As above; with {@code keepLast} every one of {@code hp.epochs()} epochs runs and the last one's weights are
     * kept (nothing is chosen on {@code validation}, whose figures are then only shown).
     */
    public static Result train(TensorSet train, TensorSet validation, TensorSet report, long[] image, int classes,
                               HyperParameters hp, Consumer<EpochStats> progress, StopSignal stop,
                               boolean keepLast) {
        Engine engine = DjlRuntime.pytorch();
        engine.setRandomSeed((int) hp.seed());
        FusedNet net = "mobilenetv2".equals(hp.architecture())
                ? new HeadNet(hp.inputs(), classes, (int) image[0], hp.metaBlock())
                : "seed".equals(hp.architecture()) ? new SeedFusedNet(hp.inputs(), classes)
                : new SmallFusedNet(hp.inputs(), classes);
        int n = train.size();
        int stepsPerEpoch = (n + hp.batchSize() - 1) / hp.batchSize();
        Tracker lr = CosineTracker.builder().setBaseValue((float) hp.learningRate())
                .optFinalValue((float) (hp.learningRate() * 0.05)).setMaxUpdates(Math.max(1, hp.epochs() * stepsPerEpoch))
                .build();
        float[] classWeights = classWeights(train.labels(), classes);
        Augmenter augmenter = hp.augment() && image.length == 3
                ? new Augmenter((int) image[0], (int) image[1], (int) image[2], HyperParameters.MAX_SHIFT,
                        HyperParameters.MAX_ROTATION_DEGREES, HyperParameters.COLOUR_JITTER) : null;
        Random rng = new Random(hp.seed());

        try (Model model = Model.newInstance("medfuse-" + hp.architecture(), DjlRuntime.ENGINE)) {
            model.setBlock(net);
            DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                    .optOptimizer(Optimizer.adam().optLearningRateTracker(lr).build());
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.initialize(batchShape(1, image), new Shape(1, train.width()));
                NDManager manager = trainer.getManager();
                List<EpochStats> history = new ArrayList<>();
                byte[] best = snapshot(net);
                double bestScore = Double.NEGATIVE_INFINITY;
                int bestEpoch = 0;
                int sinceBest = 0;
                String stoppedBy = "epochs";
                int[] order = new int[n];
                for (int i = 0; i < n; i++) {
                    order[i] = i;
                }
                long started = System.nanoTime();
                int updates = 0;
                epochs:
                for (int epoch = 1; epoch <= hp.epochs(); epoch++) {
                    shuffle(order, rng);
                    long t0 = System.nanoTime();
                    double lossSum = 0;
                    int batches = 0;
                    int seen = 0;
                    for (int start = 0; start < n; start += hp.batchSize()) {
                        if (stop.isStopped()) {
                            stoppedBy = "stop-signal";
                            break epochs;
                        }
                        int b = Math.min(hp.batchSize(), n - start);
                        if (b == 1 && n > 1 && net instanceof HeadNet h && h.needsTwoRows()) {
                            continue; // batch normalisation cannot train on one row; it is in the next shuffle
                        }
                        lossSum += step(trainer, manager, train, order, start, b, image, classes, classWeights,
                                augmenter, rng);
                        batches++;
                        seen += b;
                        updates++;
                    }
                    double seconds = (System.nanoTime() - t0) / 1e9;
                    float[][] probs = predict(net, manager, validation, image);
                    double acc = Metrics.accuracy(probs, validation.labels());
                    double bal = Metrics.balancedAccuracy(probs, validation.labels(), classes);
                    boolean better = keepLast || bal > bestScore;
                    if (better) {
                        bestScore = bal;
                        bestEpoch = epoch;
                        best = snapshot(net);
                        sinceBest = 0;
                    } else {
                        sinceBest++;
                    }
                    double elapsed = (System.nanoTime() - started) / 1e9;
                    EpochStats stats = new EpochStats(epoch, hp.epochs(), lossSum / Math.max(1, batches), acc, bal,
                            seen / Math.max(seconds, 1e-9), elapsed / epoch * (hp.epochs() - epoch),
                            lr.getNewValue(updates), better && !keepLast, keepLast);
                    history.add(stats);
                    progress.accept(stats);
                    if (!keepLast && sinceBest >= hp.patience() && epoch < hp.epochs()) {
                        stoppedBy = "early-stopping";
                        break;
                    }
                }
                restore(net, manager, best);
                float[][] stopping = predict(net, manager, validation, image);
                return new Result(net.weights(), history, bestEpoch,
                        report == null ? stopping : predict(net, manager, report, image), stoppedBy, stopping);
            }
        } catch (TrainerException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new TrainerException("training failed in DJL: " + e.getMessage(), e);
        }
    }

    private static double step(Trainer trainer, NDManager parent, TensorSet data, int[] order, int start, int b,
                               long[] image, int classes, float[] classWeights, Augmenter augmenter, Random rng) {
        int imageSize = data.imageSize();
        int width = data.width();
        float[] images = new float[b * imageSize];
        float[] tabular = new float[b * width];
        // per-row target: the class weight at the label's slot, so sum(target · log p) is the weighted NLL
        float[] target = new float[b * classes];
        float weightSum = 0;
        for (int i = 0; i < b; i++) {
            int row = order[start + i];
            if (augmenter != null) {
                augmenter.apply(data.images(), row * imageSize, images, i * imageSize, rng);
            } else {
                System.arraycopy(data.images(), row * imageSize, images, i * imageSize, imageSize);
            }
            System.arraycopy(data.tabular(), row * width, tabular, i * width, width);
            int label = data.labels()[row];
            target[i * classes + label] = classWeights[label];
            weightSum += classWeights[label];
        }
        try (NDManager m = parent.newSubManager()) {
            NDArray x = m.create(images, batchShape(b, image));
            NDArray t = m.create(tabular, new Shape(b, width));
            NDArray y = m.create(target, new Shape(b, classes));
            float value;
            try (GradientCollector gc = trainer.newGradientCollector()) {
                NDArray logits = trainer.forward(new NDList(x, t)).singletonOrThrow();
                NDArray loss = logits.logSoftmax(1).mul(y).sum().neg().div(weightSum);
                value = loss.getFloat();
                gc.backward(loss);
            }
            trainer.step();
            return value;
        }
    }

    /** Softmax probabilities of the network in inference mode. */
    static float[][] predict(FusedNet net, NDManager parent, TensorSet data, long[] image) {
        int n = data.size();
        float[][] out = new float[n][];
        ParameterStore ps = new ParameterStore(parent, false);
        for (int start = 0; start < n; start += EVAL_BATCH) {
            int b = Math.min(EVAL_BATCH, n - start);
            try (NDManager m = parent.newSubManager()) {
                NDArray x = m.create(data.images(start, b), batchShape(b, image));
                NDArray t = m.create(data.tabular(start, b), new Shape(b, data.width()));
                NDArray p = net.forward(ps, new NDList(x, t), false).singletonOrThrow().softmax(1);
                float[] flat = p.toFloatArray();
                int classes = flat.length / b;
                for (int i = 0; i < b; i++) {
                    out[start + i] = java.util.Arrays.copyOfRange(flat, i * classes, (i + 1) * classes);
                }
            }
        }
        return out;
    }

    /** [b, dims...]: an image batch [b, C, H, W] or a feature batch [b, D]. */
    static Shape batchShape(long b, long[] dims) {
        long[] s = new long[dims.length + 1];
        s[0] = b;
        System.arraycopy(dims, 0, s, 1, dims.length);
        return new Shape(s);
    }

    static float[] classWeights(int[] labels, int classes) {
        int[] counts = new int[classes];
        for (int l : labels) {
            counts[l]++;
        }
        float[] w = new float[classes];
        for (int c = 0; c < classes; c++) {
            w[c] = counts[c] == 0 ? 0f : (float) labels.length / (classes * counts[c]);
        }
        return w;
    }

    private static void shuffle(int[] a, Random rng) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int tmp = a[i];
            a[i] = a[j];
            a[j] = tmp;
        }
    }

    private static byte[] snapshot(FusedNet net) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            net.saveParameters(out);
        } catch (IOException e) {
            throw new TrainerException("cannot copy the network's weights: " + e.getMessage(), e);
        }
        return bytes.toByteArray();
    }

    private static void restore(FusedNet net, NDManager manager, byte[] snapshot) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(snapshot))) {
            net.loadParameters(manager, in);
        } catch (IOException | ai.djl.MalformedModelException e) {
            throw new TrainerException("cannot restore the best weights: " + e.getMessage(), e);
        }
    }
}
