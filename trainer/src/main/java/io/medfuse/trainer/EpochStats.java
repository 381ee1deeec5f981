package io.medfuse.trainer;

/**
 * One finished epoch.
 *
 * @param epoch 1-based
 * @param epochs the planned maximum
 * @param trainLoss mean class-weighted cross-entropy over the epoch's batches
 * @param validationAccuracy share of validation rows predicted right
 * @param validationBalancedAccuracy mean per-class recall on validation (the early-stopping metric)
 * @param imagesPerSecond training throughput of this epoch
 * @param secondsLeft estimated seconds to the planned last epoch
 * @param learningRate the learning rate at the end of the epoch
 * @param best whether this epoch is the best so far (its weights are kept)
 * @param refit an epoch of the training again on every training row: nothing is chosen on its validation figures,
 *              the last epoch is kept
 */
public record EpochStats(int epoch, int epochs, double trainLoss, double validationAccuracy,
                         double validationBalancedAccuracy, double imagesPerSecond, double secondsLeft,
                         double learningRate, boolean best, boolean refit) {

    public EpochStats(int epoch, int epochs, double trainLoss, double validationAccuracy,
                      double validationBalancedAccuracy, double imagesPerSecond, double secondsLeft,
                      double learningRate, boolean best) {
        this(epoch, epochs, trainLoss, validationAccuracy, validationBalancedAccuracy, imagesPerSecond, secondsLeft,
                learningRate, best, false);
    }

    /** One progress line: {@code epoch  3/30  loss 0.4123  val acc 0.812  bal acc 0.805  412 img/s  ETA 0:42}. */
    public String line() {
        long eta = Math.round(secondsLeft);
        return String.format(java.util.Locale.ROOT,
                "%s %3d/%d  loss %.4f  val acc %.3f  bal acc %.3f  lr %.2e  %4.0f img/s  ETA %d:%02d%s",
                refit ? "refit" : "epoch", epoch, epochs, trainLoss, validationAccuracy, validationBalancedAccuracy,
                learningRate, imagesPerSecond, eta / 60, eta % 60, best && !refit ? "  *best" : "");
    }
}
