package io.medfuse.worker.batch;

import io.medfuse.model.image.ImageTensor;

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

    /**
     * Runs the model on rows given one image and one tabular array each ({@code images[i]}, {@code tabular[i]}; one
     * image may stand for several rows, as a request's does for its influence rows). By default the images are
     * written into one array for {@link #predict}; the ONNX model writes them straight into its input buffers
     * instead.
     */
    default float[][] predictRows(ImageTensor[] images, float[][] tabular) {
        int n = images.length;
        int imageSize = imageSize();
        int width = tabularWidth();
        float[] flatImages = new float[n * imageSize];
        float[] flatTabular = new float[n * width];
        for (int i = 0; i < n; i++) {
            images[i].writeTo(flatImages, i * imageSize);
            System.arraycopy(tabular[i], 0, flatTabular, i * width, width);
        }
        return predict(flatImages, flatTabular, n);
    }

    /** Floats per image. */
    int imageSize();

    /** Floats per tabular row. */
    int tabularWidth();

    /** The batch size the model really runs for n requests (after padding). */
    int paddedSize(int n);
}
