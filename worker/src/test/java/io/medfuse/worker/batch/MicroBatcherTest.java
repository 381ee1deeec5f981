package io.medfuse.worker.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

class MicroBatcherTest {

    /** A model that echoes the first image value as class 0's "probability" and records batch sizes. */
    static class EchoModel implements BatchModel {
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

    record Outcome(float[] probabilities, Throwable error, BatchStats stats) {
    }

    private static CompletableFuture<Outcome> outcome(CompletableFuture<MicroBatcher.Result> f) {
        return f.handle((r, e) -> r != null ? new Outcome(r.probabilities(), null, r.stats())
                : new Outcome(null, e, null));
    }

    /**
     * The direct memory a batcher's batches may hold at once: the batch being formed and one per runner, each a
     * buffer per 32 rows of it; rows per batch follow the formation rules (requests up to the maximum; adaptive, rows
     * up to the maximum, or one request's rows where they are more).
     */
    @Test
    void theInputBufferBoundFollowsHowBatchesAreFormed() {
        BatchModel model = new EchoModel() {
            @Override
            public long inputBufferBytes() {
                return 1000;
            }

            @Override
            public int inputBufferRows() {
                return 32;
            }
        };
        // one row per request: one buffer per batch, three batches with two runners
        assertThat(MicroBatcher.inputBufferBound(model, 32, 1, true, 2)).isEqualTo(3 * 1000);
        assertThat(MicroBatcher.inputBufferBound(model, 32, 1, false, 2)).isEqualTo(3 * 1000);
        // influence (two rows per request): adaptive caps rows, so still one buffer; filled to 32 requests, two
        assertThat(MicroBatcher.inputBufferBound(model, 32, 2, true, 2)).isEqualTo(3 * 1000);
        assertThat(MicroBatcher.inputBufferBound(model, 32, 2, false, 2)).isEqualTo(3 * 2 * 1000);
        // per feature with 20 features (22 rows): 704 rows, 22 buffers; adaptive, one request of 40 rows: 2
        assertThat(MicroBatcher.inputBufferBound(model, 32, 22, false, 1)).isEqualTo(2 * 22 * 1000);
        assertThat(MicroBatcher.inputBufferBound(model, 32, 40, true, 1)).isEqualTo(2 * 2 * 1000);
        // a model written into heap arrays holds none
        assertThat(MicroBatcher.inputBufferBound(new EchoModel(), 32, 22, false, 4)).isZero();
    }

    /**
     * Adaptive batching sweeps every candidate size on zero inputs before the first request runs, never runs more
     * rows than the configured maximum, and loses no request when one that does not fit the batch being formed is
     * carried over to the next.
     */
    @Test
    void adaptiveBatchingSweepsFirstAndAnswersEveryRequestOnce() throws Exception {
        EchoModel model = new EchoModel();
        List<CompletableFuture<Outcome>> results = new ArrayList<>();
        try (MicroBatcher batcher = new MicroBatcher(model, 16, 5, MicroBatcher.Listener.NONE, true)) {
            for (int i = 0; i < 300; i++) {
                // a third of them with two variant rows: batches fill in rows, not requests
                float[] variants = i % 3 == 0 ? new float[] {-1, -2} : new float[0];
                results.add(outcome(batcher.submit(new float[] {i, 0}, new float[] {i}, variants)));
            }
            for (int i = 0; i < results.size(); i++) {
                Outcome o = results.get(i).get(30, java.util.concurrent.TimeUnit.SECONDS);
                assertThat(o.error()).isNull();
                assertThat(o.probabilities()).containsExactly(i, i);
            }
            assertThat(batcher.batchCap()).isBetween(1, 16);
            assertThat(batcher.requestCount()).isEqualTo(300);
        }
        // the sweep: each candidate (this model pads 1 to 2) once to warm up and once to time it, before any request
        List<Integer> sizes = new ArrayList<>(model.batchSizes);
        assertThat(sizes.subList(0, 8)).containsExactly(2, 2, 4, 4, 8, 8, 16, 16);
        assertThat(sizes).allMatch(n -> n <= 16);
    }

    /**
     * Variant rows (the clinical-data influence's masked rows) run in the same model run as their request, with the
     * request's image, and come back in order; requests without variants in the same batch are unaffected, and the
     * batch still holds at most maxBatchSize requests.
     */
    @Test
    void variantRowsRunWithTheirRequestsImageInTheSameRun() throws Exception {
        EchoModel model = new EchoModel();
        model.delayMillis = 50;
        List<CompletableFuture<MicroBatcher.Result>> results = new ArrayList<>();
        try (MicroBatcher batcher = new MicroBatcher(model, 4, 1000)) {
            for (int i = 0; i < 8; i++) {
                float[] variants = i % 2 == 0 ? new float[] {100 + i, 200 + i} : new float[0];
                results.add(batcher.submit(new float[] {i, 0}, new float[] {-i}, variants));
            }
            CompletableFuture.allOf(results.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
        }
        for (int i = 0; i < 8; i++) {
            MicroBatcher.Result r = results.get(i).get();
            assertThat(r.probabilities()).containsExactly(i, -i);
            assertThat(r.stats().batchSize()).isLessThanOrEqualTo(4);
            if (i % 2 == 0) {
                assertThat(r.variants()).hasDimensions(2, 2);
                assertThat(r.variants()[0]).as("the request's image, the first variant row").containsExactly(i,
                        100 + i);
                assertThat(r.variants()[1]).containsExactly(i, 200 + i);
            } else {
                assertThat(r.variants()).isEmpty();
            }
        }
        // 8 requests, 4 of them with 2 variant rows each: 16 rows in all, in runs of at most 4 requests
        assertThat(model.batchSizes.stream().mapToInt(Integer::intValue).sum()).isEqualTo(16);
        assertThat(model.batchSizes).allSatisfy(rows -> assertThat(rows).isLessThanOrEqualTo(4 * 3));
    }

    @Test
    void variantRowsMustBeWholeRows() {
        try (MicroBatcher batcher = new MicroBatcher(new EchoModel() {
            @Override
            public int tabularWidth() {
                return 2;
            }
        }, 4, 10)) {
            assertThatThrownBy(() -> batcher.submit(new float[2], new float[2], new float[3]))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("whole rows");
        }
    }

    @Test
    void fillsBatchesUpToMaxSizeAndRoutesEachResultToItsRequest() throws Exception {
        EchoModel model = new EchoModel();
        model.delayMillis = 30;
        List<CompletableFuture<Outcome>> results = new ArrayList<>();
        try (MicroBatcher batcher = new MicroBatcher(model, 8, 1000)) {
            for (int i = 0; i < 40; i++) {
                results.add(outcome(batcher.submit(new float[] {i, 0}, new float[] {-i})));
            }
            CompletableFuture.allOf(results.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
            assertThat(batcher.requestCount()).isEqualTo(40);
        }
        for (int i = 0; i < 40; i++) {
            assertThat(results.get(i).get().probabilities()).containsExactly(i, -i);
        }
        assertThat(model.batchSizes).allMatch(n -> n <= 8);
        assertThat(model.batchSizes.stream().mapToInt(Integer::intValue).sum()).isEqualTo(40);
        // submitted faster than a batch runs: batches fill to the maximum
        assertThat(model.batchSizes.stream().filter(n -> n == 8).count()).isGreaterThanOrEqualTo(4);
    }

    @Test
    void flushesAPartialBatchWhenTheOldestRequestHasWaitedTheMaxQueueDelay() throws Exception {
        EchoModel model = new EchoModel();
        List<CompletableFuture<Outcome>> results = new ArrayList<>();
        long start = System.nanoTime();
        try (MicroBatcher batcher = new MicroBatcher(model, 32, 50)) {
            for (int i = 0; i < 3; i++) {
                results.add(outcome(batcher.submit(new float[] {i, 0}, new float[] {0})));
            }
            CompletableFuture.allOf(results.toArray(CompletableFuture[]::new)).get(5, TimeUnit.SECONDS);
        }
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(model.batchSizes).containsExactly(3);
        assertThat(tookMillis).isGreaterThanOrEqualTo(45);
        assertThat(results.get(0).get().stats().batchSize()).isEqualTo(3);
        assertThat(results.get(0).get().stats().paddedSize()).isEqualTo(4);
    }

    @Test
    void splitsAFailingBatchSoOnlyTheCulpritFailsAndReportsEveryRunOnce() throws Exception {
        EchoModel model = new EchoModel();
        model.poison = 5;
        model.delayMillis = 20;
        List<BatchStats> completed = Collections.synchronizedList(new ArrayList<>());
        List<BatchStats> failed = Collections.synchronizedList(new ArrayList<>());
        MicroBatcher.Listener listener = new MicroBatcher.Listener() {
            @Override
            public void batchCompleted(BatchStats stats) {
                completed.add(stats);
            }

            @Override
            public void batchFailed(BatchStats stats, RuntimeException error) {
                failed.add(stats);
            }
        };
        List<CompletableFuture<Outcome>> results = new ArrayList<>();
        try (MicroBatcher batcher = new MicroBatcher(model, 8, 1000, listener)) {
            for (int i = 0; i < 8; i++) {
                results.add(outcome(batcher.submit(new float[] {i, 0}, new float[] {0})));
            }
            CompletableFuture.allOf(results.toArray(CompletableFuture[]::new)).get(5, TimeUnit.SECONDS);
        }
        assertThat(results.get(5).get().error()).isInstanceOf(ModelRunException.class).hasMessageContaining("poisoned");
        for (int i = 0; i < 8; i++) {
            if (i != 5) {
                assertThat(results.get(i).get().probabilities()).as("request %d", i).containsExactly(i, 0);
            }
        }
        // one report per model run: as many as the model saw, split into successes and failures
        assertThat(completed.size() + failed.size()).isEqualTo(model.batchSizes.size());
        assertThat(completed.stream().mapToInt(BatchStats::batchSize).sum()).isEqualTo(7);
        assertThat(failed).extracting(BatchStats::batchSize).contains(8, 1);
    }

    @Test
    void aThrowingCallerOfOneRequestLeavesTheOthersOfItsBatchUntouched() throws Exception {
        EchoModel model = new EchoModel();
        model.delayMillis = 20;
        List<CompletableFuture<MicroBatcher.Result>> futures = new ArrayList<>();
        List<CompletableFuture<Float>> seen = new ArrayList<>();
        try (MicroBatcher batcher = new MicroBatcher(model, 8, 1000)) {
            for (int i = 0; i < 8; i++) {
                CompletableFuture<MicroBatcher.Result> f = batcher.submit(new float[] {i, 0}, new float[] {0});
                int id = i;
                seen.add(f.thenApply(r -> {
                    if (id == 3) {
                        throw new IllegalStateException("a caller's bug");
                    }
                    return r.probabilities()[0];
                }));
                futures.add(f);
            }
            CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(5, TimeUnit.SECONDS);
        }
        for (int i = 0; i < 8; i++) {
            if (i == 3) {
                assertThat(seen.get(i)).isCompletedExceptionally();
            } else {
                assertThat(seen.get(i).get()).isEqualTo((float) i);
            }
        }
        assertThat(model.batchSizes.stream().mapToInt(Integer::intValue).sum()).isEqualTo(8);
    }

    @Test
    void leavesRequestsThatAreAlreadyDoneOutOfTheirBatch() throws Exception {
        EchoModel model = new EchoModel();
        try (MicroBatcher batcher = new MicroBatcher(model, 8, 200)) {
            CompletableFuture<MicroBatcher.Result> cancelled = batcher.submit(new float[] {1, 0}, new float[] {0});
            cancelled.cancel(false); // e.g. its deadline passed while it waited for the batch to fill
            CompletableFuture<MicroBatcher.Result> kept = batcher.submit(new float[] {2, 0}, new float[] {0});
            assertThat(kept.get(5, TimeUnit.SECONDS).probabilities()).containsExactly(2, 0);
        }
        assertThat(model.batchSizes).containsExactly(1);
    }

    /** An echo model whose first run waits for the test, and that counts the requests written into staged batches. */
    static class FirstRunWaits extends EchoModel {
        final CountDownLatch firstRunEntered = new CountDownLatch(1);
        final CountDownLatch releaseFirstRun = new CountDownLatch(1);
        final java.util.concurrent.Semaphore written = new java.util.concurrent.Semaphore(0);
        final AtomicInteger runs = new AtomicInteger();

        @Override
        public float[][] predict(float[] images, float[] tabular, int n) {
            if (runs.getAndIncrement() == 0) {
                firstRunEntered.countDown();
                try {
                    releaseFirstRun.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return super.predict(images, tabular, n);
        }

        @Override
        public Staged stage() {
            Staged inner = super.stage();
            return new Staged() {
                @Override
                public RuntimeException[] add(io.medfuse.model.image.ImageTensor[] images, float[][][] rows) {
                    RuntimeException[] failures = inner.add(images, rows);
                    written.release((int) java.util.Arrays.stream(failures).filter(f -> f == null).count());
                    return failures;
                }

                @Override
                public int rows() {
                    return inner.rows();
                }

                @Override
                public float[][] run() {
                    return inner.run();
                }

                @Override
                public void close() {
                    inner.close();
                }
            };
        }
    }

    /**
     * While a batch runs, the next one forms and its images are written: the requests that arrive during the run are
     * in the model's inputs before the run ends, and they run together right after it, even with no queue delay.
     */
    @Test
    void theNextBatchIsWrittenWhileTheCurrentOneRuns() throws Exception {
        FirstRunWaits model = new FirstRunWaits();
        try (MicroBatcher batcher = new MicroBatcher(model, 8, 0)) {
            CompletableFuture<MicroBatcher.Result> first = batcher.submit(new float[] {1, 0}, new float[] {0});
            assertThat(model.firstRunEntered.await(5, TimeUnit.SECONDS)).isTrue();
            List<CompletableFuture<MicroBatcher.Result>> during = new ArrayList<>();
            for (int i = 2; i <= 4; i++) {
                during.add(batcher.submit(new float[] {i, 0}, new float[] {-i}));
            }
            // 1 written before its run, 3 more while it is still running
            assertThat(model.written.tryAcquire(4, 5, TimeUnit.SECONDS)).isTrue();
            assertThat(first).isNotDone();
            model.releaseFirstRun.countDown();
            assertThat(first.get(5, TimeUnit.SECONDS).probabilities()).containsExactly(1, 0);
            for (int i = 2; i <= 4; i++) {
                assertThat(during.get(i - 2).get(5, TimeUnit.SECONDS).probabilities()).containsExactly(i, -i);
            }
        }
        assertThat(model.batchSizes).containsExactly(1, 3);
    }

    /**
     * A request cancelled after its image was written into the next batch, before that batch ran, is left out of
     * it: the batch is written again without it.
     */
    @Test
    void aRequestCancelledAfterItWasWrittenIsLeftOutOfItsBatch() throws Exception {
        FirstRunWaits model = new FirstRunWaits();
        try (MicroBatcher batcher = new MicroBatcher(model, 8, 0)) {
            CompletableFuture<MicroBatcher.Result> first = batcher.submit(new float[] {1, 0}, new float[] {0});
            assertThat(model.firstRunEntered.await(5, TimeUnit.SECONDS)).isTrue();
            CompletableFuture<MicroBatcher.Result> cancelled = batcher.submit(new float[] {2, 0}, new float[] {0});
            CompletableFuture<MicroBatcher.Result> kept = batcher.submit(new float[] {3, 0}, new float[] {0});
            assertThat(model.written.tryAcquire(3, 5, TimeUnit.SECONDS)).isTrue();
            cancelled.cancel(false);
            model.releaseFirstRun.countDown();
            assertThat(kept.get(5, TimeUnit.SECONDS).probabilities()).containsExactly(3, 0);
            assertThat(first.get(5, TimeUnit.SECONDS).probabilities()).containsExactly(1, 0);
            // the batch was written twice: with the cancelled request, then without it
            assertThat(model.written.availablePermits()).isEqualTo(1);
        }
        assertThat(model.batchSizes).containsExactly(1, 1);
    }

    /**
     * A request whose image cannot be written into its batch fails alone, at once, with the reason; the others of
     * its batch are answered, and no model run failed.
     */
    @Test
    void aRequestWhoseImageCannotBeWrittenFailsAloneWithoutFailingARun() throws Exception {
        EchoModel model = new EchoModel();
        io.medfuse.model.image.ImageTensor released = new io.medfuse.model.image.ImageTensor() {
            @Override
            public int tensorSize() {
                return 2;
            }

            @Override
            public void writeTo(java.nio.FloatBuffer dst, int index) {
                throw new IllegalStateException("this image was released");
            }

            @Override
            public void writeTo(float[] dst, int offset) {
                throw new IllegalStateException("this image was released");
            }
        };
        List<BatchStats> failedRuns = Collections.synchronizedList(new ArrayList<>());
        MicroBatcher.Listener listener = new MicroBatcher.Listener() {
            @Override
            public void batchFailed(BatchStats stats, RuntimeException error) {
                failedRuns.add(stats);
            }
        };
        try (MicroBatcher batcher = new MicroBatcher(model, 4, 200, listener)) {
            CompletableFuture<Outcome> a = outcome(batcher.submit(new float[] {1, 0}, new float[] {0}));
            CompletableFuture<Outcome> bad = outcome(batcher.submit(released, new float[] {0}));
            CompletableFuture<Outcome> b = outcome(batcher.submit(new float[] {3, 0}, new float[] {0}));
            assertThat(bad.get(5, TimeUnit.SECONDS).error()).isInstanceOf(ModelRunException.class)
                    .hasMessageContaining("could not be written").hasMessageContaining("released");
            assertThat(a.get(5, TimeUnit.SECONDS).probabilities()).containsExactly(1, 0);
            assertThat(b.get(5, TimeUnit.SECONDS).probabilities()).containsExactly(3, 0);
            assertThat(batcher.requestCount()).isEqualTo(3);
        }
        assertThat(failedRuns).isEmpty();
        assertThat(model.batchSizes.stream().mapToInt(Integer::intValue).sum()).isEqualTo(2);
    }

    /**
     * When forming a batch fails (here the model cannot give a buffer: stage() throws once), every request taken for
     * it is answered with the failure, and the batcher goes on with the next ones.
     */
    @Test
    void aBatchThatCannotBeFormedFailsItsRequestsAndTheNextOnesAreAnswered() throws Exception {
        AtomicInteger stages = new AtomicInteger();
        EchoModel model = new EchoModel() {
            @Override
            public Staged stage() {
                if (stages.getAndIncrement() == 0) {
                    throw new OutOfMemoryError("Direct buffer memory");
                }
                return super.stage();
            }
        };
        try (MicroBatcher batcher = new MicroBatcher(model, 4, 0)) {
            CompletableFuture<Outcome> failed = outcome(batcher.submit(new float[] {1, 0}, new float[] {0}));
            assertThat(failed.get(5, TimeUnit.SECONDS).error()).isInstanceOf(ModelRunException.class)
                    .hasMessageContaining("Direct buffer memory");
            CompletableFuture<Outcome> next = outcome(batcher.submit(new float[] {2, 0}, new float[] {0}));
            assertThat(next.get(5, TimeUnit.SECONDS).probabilities()).containsExactly(2, 0);
        }
    }

    /** With two runs allowed, two batches are inside the model at the same time. */
    @Test
    void twoBatchesRunAtOnceWhenTwoRunsAreAllowed() throws Exception {
        CountDownLatch inside = new CountDownLatch(2);
        List<Boolean> sawTheOther = Collections.synchronizedList(new ArrayList<>());
        EchoModel model = new EchoModel() {
            @Override
            public float[][] predict(float[] images, float[] tabular, int n) {
                inside.countDown();
                try {
                    sawTheOther.add(inside.await(5, TimeUnit.SECONDS));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return super.predict(images, tabular, n);
            }
        };
        try (MicroBatcher batcher = new MicroBatcher(model, 1, 0, MicroBatcher.Listener.NONE, false, false, 2)) {
            CompletableFuture<MicroBatcher.Result> a = batcher.submit(new float[] {1, 0}, new float[] {0});
            CompletableFuture<MicroBatcher.Result> b = batcher.submit(new float[] {2, 0}, new float[] {0});
            assertThat(a.get(10, TimeUnit.SECONDS).probabilities()).containsExactly(1, 0);
            assertThat(b.get(10, TimeUnit.SECONDS).probabilities()).containsExactly(2, 0);
        }
        assertThat(sawTheOther).containsExactly(true, true);
    }

    /**
     * With two runners, a run that does not return still shows as the run in progress (what the stall detector
     * reads) while the other runner goes on answering.
     */
    @Test
    void aRunThatDoesNotReturnShowsWhileTheOtherRunnerAnswers() throws Exception {
        FirstRunWaits model = new FirstRunWaits();
        try (MicroBatcher batcher = new MicroBatcher(model, 1, 0, MicroBatcher.Listener.NONE, false, false, 2)) {
            CompletableFuture<MicroBatcher.Result> stuck = batcher.submit(new float[] {1, 0}, new float[] {0});
            assertThat(model.firstRunEntered.await(5, TimeUnit.SECONDS)).isTrue();
            long before = batcher.runningForNanos();
            CompletableFuture<MicroBatcher.Result> other = batcher.submit(new float[] {2, 0}, new float[] {0});
            assertThat(other.get(5, TimeUnit.SECONDS).probabilities()).containsExactly(2, 0);
            assertThat(stuck).isNotDone();
            assertThat(before).isPositive();
            assertThat(batcher.runningForNanos()).isGreaterThan(before);
            model.releaseFirstRun.countDown();
            assertThat(stuck.get(5, TimeUnit.SECONDS).probabilities()).containsExactly(1, 0);
        }
    }

    /**
     * Several runners under load from several threads: every request is answered once, with its own result, and
     * every row is run once (a batch handed over while another waits for its runner is not lost).
     */
    @Test
    void severalRunnersAnswerEveryRequestOnceUnderLoad() throws Exception {
        EchoModel model = new EchoModel();
        int perThread = 500;
        int threads = 4;
        List<java.util.Map.Entry<Integer, CompletableFuture<Outcome>>> results =
                Collections.synchronizedList(new ArrayList<>());
        try (MicroBatcher batcher = new MicroBatcher(model, 8, 0, MicroBatcher.Listener.NONE, false, false, 3)) {
            List<Thread> submitters = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int base = t * perThread;
                Thread s = new Thread(() -> {
                    for (int i = base; i < base + perThread; i++) {
                        results.add(java.util.Map.entry(i,
                                outcome(batcher.submit(new float[] {i, 0}, new float[] {-i}))));
                    }
                });
                submitters.add(s);
                s.start();
            }
            for (Thread s : submitters) {
                s.join();
            }
            CompletableFuture.allOf(results.stream().map(java.util.Map.Entry::getValue)
                    .toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            assertThat(batcher.requestCount()).isEqualTo((long) threads * perThread);
        }
        assertThat(results).hasSize(threads * perThread);
        for (java.util.Map.Entry<Integer, CompletableFuture<Outcome>> r : results) {
            int i = r.getKey();
            assertThat(r.getValue().get().probabilities()).as("request %d", i).containsExactly(i, -i);
        }
        assertThat(model.batchSizes.stream().mapToInt(Integer::intValue).sum()).isEqualTo(threads * perThread);
        assertThat(model.batchSizes).allMatch(n -> n <= 8);
    }

    @Test
    void closeReturnsOnlyAfterTheRunningBatchFinishedAndFailsTheQueuedOnesAsClosed() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger runsFinished = new AtomicInteger();
        BatchModel blocking = new EchoModel() {
            @Override
            public float[][] predict(float[] images, float[] tabular, int n) {
                entered.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                float[][] out = super.predict(images, tabular, n);
                runsFinished.incrementAndGet();
                return out;
            }
        };
        MicroBatcher batcher = new MicroBatcher(blocking, 1, 0);
        CompletableFuture<MicroBatcher.Result> running = batcher.submit(new float[] {1, 0}, new float[] {0});
        assertThat(entered.await(5, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<MicroBatcher.Result> queued = batcher.submit(new float[] {2, 0}, new float[] {0});
        AtomicInteger finishedWhenClosed = new AtomicInteger(-1);
        Thread closer = new Thread(() -> {
            batcher.close();
            finishedWhenClosed.set(runsFinished.get());
        });
        closer.start();
        closer.join(300);
        assertThat(closer.isAlive()).as("close() waits for the running batch").isTrue();
        release.countDown();
        closer.join(5000);
        assertThat(closer.isAlive()).isFalse();
        assertThat(finishedWhenClosed.get()).isEqualTo(1);
        assertThat(running.get(1, TimeUnit.SECONDS).probabilities()).containsExactly(1, 0);
        assertThatThrownBy(() -> queued.get(1, TimeUnit.SECONDS)).hasCauseInstanceOf(BatcherClosedException.class);
        assertThat(batcher.submit(new float[] {3, 0}, new float[] {0})).isCompletedExceptionally();
    }
}
