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

    /**
     * A batch written into the model's inputs as its requests arrive and run later: the batcher fills the next batch
     * while the current one runs. Used by one thread at a time.
     */
    interface Staged extends AutoCloseable {

        /**
         * Adds requests' rows: request k's image with each of its tabular rows.
         *
         * @return per request, null when its rows were added, else why they were not (the others keep their order)
         */
        RuntimeException[] add(ImageTensor[] images, float[][][] tabular);

        /** Rows added so far. */
        int rows();

        /** Runs every row added, once; one row of class probabilities per row, in order. */
        float[][] run();

        /** Frees what the batch holds without running it; nothing after {@link #run()}. */
        @Override
        void close();
    }

    /**
     * Starts a staged batch. By default each image is written into an array of its own as it is added (so a failing
     * image fails at once, alone) and the rows run through {@link #predictRows}; the ONNX model writes them into its
     * input buffers instead.
     */
    default Staged stage() {
        BatchModel model = this;
        return new Staged() {
            private final java.util.List<ImageTensor> images = new java.util.ArrayList<>();
            private final java.util.List<float[]> tabular = new java.util.ArrayList<>();

            @Override
            public RuntimeException[] add(ImageTensor[] requestImages, float[][][] requestRows) {
                RuntimeException[] failures = new RuntimeException[requestImages.length];
                for (int k = 0; k < requestImages.length; k++) {
                    float[] tensor = new float[model.imageSize()];
                    try {
                        requestImages[k].writeTo(tensor, 0);
                    } catch (RuntimeException e) {
                        failures[k] = e;
                        continue;
                    }
                    ImageTensor written = ImageTensor.of(tensor);
                    for (float[] row : requestRows[k]) {
                        images.add(written);
                        tabular.add(row);
                    }
                }
                return failures;
            }

            @Override
            public int rows() {
                return images.size();
            }

            @Override
            public float[][] run() {
                return model.predictRows(images.toArray(ImageTensor[]::new), tabular.toArray(float[][]::new));
            }

            @Override
            public void close() {
                images.clear();
                tabular.clear();
            }
        };
    }

    /** Floats per image. */
    int imageSize();

    /** Floats per tabular row. */
    int tabularWidth();

    /** The batch size the model really runs for n requests (after padding). */
    int paddedSize(int n);

    /**
     * Bytes of direct memory one input buffer of a {@link #stage() staged} batch takes; a batch holds one per
     * {@link #inputBufferRows()} rows. 0 where batches are written into heap arrays (the default {@link #stage()}).
     */
    default long inputBufferBytes() {
        return 0;
    }

    /** The rows one input buffer holds (the largest padded batch); 1 where there are no such buffers. */
    default int inputBufferRows() {
        return 1;
    }
}
