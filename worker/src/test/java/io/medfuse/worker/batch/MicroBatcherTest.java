package io.medfuse.worker.batch;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

class MicroBatcherTest {

    /** A model that echoes the first image value as class 0's "probability" and records batch sizes. */
    static final class EchoModel implements BatchModel {
        final List<Integer> batchSizes = Collections.synchronizedList(new ArrayList<>());
        volatile float poison = Float.NaN;
        volatile long delayMillis;

        @Override
        public float[][] predict(float[] images, float[] tabular, int n) {
            batchSizes.add(n);
            if (delayMillis > 0) {
                try {
                    Thread.sleep(delayMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            float[][] out = new float[n][];
            for (int i = 0; i < n; i++) {
                if (images[i * 2] == poison) {
                    throw new IllegalArgumentException("poisoned input in batch of " + n);
                }
                out[i] = new float[] {images[i * 2], tabular[i]};
            }
            return out;
        }

        @Override
        public int imageSize() {
            return 2;
        }

        @Override
        public int tabularWidth() {
            return 1;
        }

        @Override
        public int paddedSize(int n) {
            return Integer.highestOneBit(Math.max(1, n - 1)) * 2;
        }
    }

    record Result(float[] probabilities, RuntimeException error, BatchStats stats) {
    }

    private static BatchCallback into(ConcurrentHashMap<Integer, Result> results, int id, CountDownLatch latch) {
        return new BatchCallback() {
            @Override
            public void completed(float[] probabilities, BatchStats stats) {
                results.put(id, new Result(probabilities, null, stats));
                latch.countDown();
            }

            @Override
            public void failed(RuntimeException error, BatchStats stats) {
                results.put(id, new Result(null, error, stats));
                latch.countDown();
            }
        };
    }

    @Test
    void fillsBatchesUpToMaxSizeAndRoutesEachResultToItsRequest() throws Exception {
        EchoModel model = new EchoModel();
        model.delayMillis = 30;
        ConcurrentHashMap<Integer, Result> results = new ConcurrentHashMap<>();
        CountDownLatch latch = new CountDownLatch(40);
        try (MicroBatcher batcher = new MicroBatcher(model, 8, 1000)) {
            for (int i = 0; i < 40; i++) {
                batcher.submit(new float[] {i, 0}, new float[] {-i}, into(results, i, latch));
            }
            assertThat(latch.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(batcher.requestCount()).isEqualTo(40);
        }
        for (int i = 0; i < 40; i++) {
            assertThat(results.get(i).probabilities()).containsExactly(i, -i);
        }
        assertThat(model.batchSizes).allMatch(n -> n <= 8);
        assertThat(model.batchSizes.stream().mapToInt(Integer::intValue).sum()).isEqualTo(40);
        // submitted faster than a batch runs: batches fill to the maximum
        assertThat(model.batchSizes.stream().filter(n -> n == 8).count()).isGreaterThanOrEqualTo(4);
    }

    @Test
    void flushesAPartialBatchWhenTheOldestRequestHasWaitedTheMaxQueueDelay() throws Exception {
        EchoModel model = new EchoModel();
        ConcurrentHashMap<Integer, Result> results = new ConcurrentHashMap<>();
        CountDownLatch latch = new CountDownLatch(3);
        long start = System.nanoTime();
        try (MicroBatcher batcher = new MicroBatcher(model, 32, 50)) {
            for (int i = 0; i < 3; i++) {
                batcher.submit(new float[] {i, 0}, new float[] {0}, into(results, i, latch));
            }
            assertThat(latch.await(5, TimeUnit.SECONDS)).isTrue();
        }
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(model.batchSizes).containsExactly(3);
        assertThat(tookMillis).isGreaterThanOrEqualTo(45);
        assertThat(results.get(0).stats().batchSize()).isEqualTo(3);
        assertThat(results.get(0).stats().paddedSize()).isEqualTo(4);
    }

    @Test
    void splitsAFailingBatchSoOnlyTheCulpritFails() throws Exception {
        EchoModel model = new EchoModel();
        model.poison = 5;
        model.delayMillis = 20;
        ConcurrentHashMap<Integer, Result> results = new ConcurrentHashMap<>();
        CountDownLatch latch = new CountDownLatch(8);
        try (MicroBatcher batcher = new MicroBatcher(model, 8, 1000)) {
            for (int i = 0; i < 8; i++) {
                batcher.submit(new float[] {i, 0}, new float[] {0}, into(results, i, latch));
            }
            assertThat(latch.await(5, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(results.get(5).error()).hasMessageContaining("poisoned");
        assertThat(results.get(5).stats().batchSize()).isEqualTo(1);
        for (int i = 0; i < 8; i++) {
            if (i != 5) {
                assertThat(results.get(i).probabilities()).as("request %d", i).containsExactly(i, 0);
            }
        }
    }

    @Test
    void failsQueuedRequestsAsClosedNotAsModelErrorsOnClose() throws Exception {
        EchoModel model = new EchoModel();
        model.delayMillis = 300;
        ConcurrentHashMap<Integer, Result> results = new ConcurrentHashMap<>();
        CountDownLatch latch = new CountDownLatch(3);
        MicroBatcher batcher = new MicroBatcher(model, 1, 0);
        for (int i = 0; i < 3; i++) {
            batcher.submit(new float[] {i, 0}, new float[] {0}, into(results, i, latch));
        }
        Thread.sleep(50);
        batcher.close();
        assertThat(latch.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(results.values()).anyMatch(r -> r.error() instanceof BatcherClosedException);
        assertThat(results.values()).noneMatch(r -> r.error() != null && !(r.error() instanceof BatcherClosedException));
    }
}
