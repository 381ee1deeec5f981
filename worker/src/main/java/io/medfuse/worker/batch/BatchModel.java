package io.medfuse.worker.batch;

/**
 * One forward pass over a batch of prepared inputs. Implementations are thread-safe.
 */
public interface BatchModel {

    /**
     * Runs the model.
     *
     * @param images {@code n} images, each {@code imageSize} floats, contiguous
     * @param tabular {@code n} rows, each {@code tabularWidth} floats, contiguous
     * @param n number of requests (the arrays may be longer)
     * @return n rows of class probabilities
     * @throws RuntimeException when the run fails; the batcher then splits the batch to isolate the culprit
     */
    float[][] predict(float[] images, float[] tabular, int n);

    /** Floats per image. */
    int imageSize();

    /** Floats per tabular row. */
    int tabularWidth();

    /** The batch size the model really runs for n requests (after padding). */
    int paddedSize(int n);
}
