package io.medfuse.model.image;

import java.nio.FloatBuffer;
import java.util.Objects;

/**
 * One request's image tensor ({@code C·H·W} floats, channel-major), written where it is needed. What
 * {@link ImagePreprocessor#decode} returns has been checked and decoded already (every way the image can fail has
 * failed by then); its tensor is computed (resize, channels, normalisation, in one pass) only when it is written,
 * straight into a batch's input buffer, so no array at the model's size exists per image (issue 13). A request that
 * waits for its batch holds its decoded samples, not a tensor: a quarter of the memory for 8-bit images at the
 * model's size.
 *
 * <p>Writing is repeatable (a batch that is split and run again writes its rows again) and thread-safe; it never
 * throws an {@link ImageException}.
 */
public interface ImageTensor {

    /** Floats written: {@code C·H·W} of the model's image spec. */
    int tensorSize();

    /**
     * Writes the tensor at {@code dst[index .. index + tensorSize())}, absolute: the buffer's position and limit are
     * not changed.
     *
     * @throws IndexOutOfBoundsException when the buffer's limit cannot hold the tensor at {@code index}
     */
    void writeTo(FloatBuffer dst, int index);

    /**
     * Writes the tensor at {@code dst[offset .. offset + tensorSize())}.
     *
     * @throws IndexOutOfBoundsException when the array cannot hold the tensor at {@code offset}
     */
    void writeTo(float[] dst, int offset);

    /**
     * Says that this tensor will not be written again, so what it holds (a decoded image's samples) may serve
     * another image. Optional: a tensor never released is collected as garbage. Writing after it throws an
     * {@link IllegalStateException}; releasing again does nothing.
     */
    default void release() {
    }

    /** A tensor computed already (tests, the trainer's arrays, a batch-size sweep); the array is not copied. */
    static ImageTensor of(float[] tensor) {
        Objects.requireNonNull(tensor, "tensor");
        return new ImageTensor() {
            @Override
            public int tensorSize() {
                return tensor.length;
            }

            @Override
            public void writeTo(FloatBuffer dst, int index) {
                Objects.checkFromIndexSize(index, tensor.length, dst.limit());
                dst.put(index, tensor, 0, tensor.length);
            }

            @Override
            public void writeTo(float[] dst, int offset) {
                System.arraycopy(tensor, 0, dst, offset, tensor.length);
            }

            @Override
            public String toString() {
                return "ImageTensor[" + tensor.length + " floats, computed]";
            }
        };
    }
}
