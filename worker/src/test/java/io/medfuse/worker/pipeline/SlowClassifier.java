package io.medfuse.worker.pipeline;

import java.util.concurrent.atomic.AtomicInteger;


/**
 * The real model, slowed on purpose: every batch takes at least {@code delayMillis} longer, and while {@link #hold}
 * is set every batch waits until it is released (a model run that does not return); {@link #entered} opens when a
 * held batch has started. For unit and integration tests alike.
 */
public final class SlowClassifier extends ForwardingClassifier {

    private final long delayMillis;
    public final AtomicInteger batches = new AtomicInteger();
    public volatile java.util.concurrent.CountDownLatch hold;
    public final java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);

    public SlowClassifier(Classifier model, long delayMillis) {
        super(model);
        this.delayMillis = delayMillis;
    }

    @Override
    public float[][] predict(float[] images, float[] tabular, int n) {
        batches.incrementAndGet();
        try {
            java.util.concurrent.CountDownLatch h = hold;
            if (h != null) {
                entered.countDown();
                h.await();
            }
            Thread.sleep(delayMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return model.predict(images, tabular, n);
    }
}
