package io.medfuse.model.onnx;

import java.util.Arrays;
import java.util.Map;
import java.util.Random;

/**
 * Where {@link FusedCnnFactory} gets each layer's parameters: keyed by the initializer name the graph uses
 * ({@code <layer>.weight}, {@code <layer>.bias}, e.g. {@code conv1.weight} [out, in, k, k] or {@code fc1.weight}
 * [out, in]), so a trained network can be written by the same code that describes the architecture, instead of by
 * a second graph builder that could drift from it.
 *
 * <p>The factory asks for each layer's weight, then its bias, layer by layer in graph order.
 */
@FunctionalInterface
public interface Weights {

    /**
     * The values of one initializer in row-major order.
     *
     * @param name initializer name, {@code <layer>.weight} or {@code <layer>.bias}
     * @param shape its shape: conv weights [out, in, k, k], Gemm weights [out, in] (PyTorch's Linear layout, written
     *              with transB=1), biases [out]
     * @return exactly the product of {@code shape} floats; the factory copies them
     * @throws IllegalArgumentException when the provider has no such tensor or a different shape
     */
    float[] get(String name, long... shape);

    /**
     * Random weights for untrained models: He-normal N(0, 2/fan_in) for {@code .weight} (fan_in = product of the
     * shape after the first dimension), zeros for {@code .bias}. Draws happen in request order from one
     * {@link Random}, so a seed always gives the same bytes.
     */
    static Weights heNormal(long seed) {
        Random rng = new Random(seed);
        return (name, shape) -> {
            int count = Math.toIntExact(Arrays.stream(shape).reduce(1, (a, b) -> a * b));
            if (name.endsWith(".bias")) {
                return new float[count];
            }
            long fanIn = Arrays.stream(shape).skip(1).reduce(1, (a, b) -> a * b);
            double std = Math.sqrt(2.0 / fanIn);
            float[] w = new float[count];
            for (int i = 0; i < count; i++) {
                w[i] = (float) (rng.nextGaussian() * std);
            }
            return w;
        };
    }

    /**
     * Weights from a map keyed by initializer name (a trained network's parameters).
     *
     * @throws IllegalArgumentException from {@link #get} naming the tensor when it is absent or its length does not
     *                                  match the shape the architecture needs
     */
    static Weights of(Map<String, float[]> tensors) {
        Map<String, float[]> copy = Map.copyOf(tensors);
        return (name, shape) -> {
            float[] values = copy.get(name);
            if (values == null) {
                throw new IllegalArgumentException("no weights for '" + name + "' " + Arrays.toString(shape)
                        + "; have " + new java.util.TreeSet<>(copy.keySet()));
            }
            long count = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            if (values.length != count) {
                throw new IllegalArgumentException("weights for '" + name + "' have " + values.length
                        + " values, but the architecture needs shape " + Arrays.toString(shape) + " (" + count + ")");
            }
            return values;
        };
    }
}
