package io.medfuse.worker.pipeline;

import java.util.concurrent.ArrayBlockingQueue;

/**
 * Image tensors of one model's size, reused: a 512×512 model's tensor is 3 MB, and allocating one per request cost
 * 0.48 ms of CPU per image in {@code ImagePreprocessBenchmark} (1.71 vs 1.24 ms with a reused one), most of it the
 * collector's. A tensor comes back once its request is answered and nothing else reads it (not when a shadow model
 * shares the pixels); at most {@code capacity} are kept, the rest are left to the collector, so an idle worker holds
 * at most {@code capacity} tensors. Thread-safe.
 */
final class TensorPool {

    private final int size;
    private final ArrayBlockingQueue<float[]> free;

    /**
     * @param size floats per tensor
     * @param capacity most tensors kept for reuse, &gt;= 0
     */
    TensorPool(int size, int capacity) {
        this.size = size;
        this.free = new ArrayBlockingQueue<>(Math.max(1, capacity));
    }

    /** A tensor of the model's size whose content is unspecified (the preprocessor writes every element). */
    float[] take() {
        float[] t = free.poll();
        return t != null ? t : new float[size];
    }

    /** Gives a tensor back; one of another size (or null) is ignored. */
    void give(float[] tensor) {
        if (tensor != null && tensor.length == size) {
            free.offer(tensor);
        }
    }

    /** Tensors kept now. */
    int available() {
        return free.size();
    }
}
