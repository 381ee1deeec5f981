package io.medfuse.worker.it;

import io.medfuse.testkit.SharedBroker;
import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;

import io.medfuse.events.Prediction;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.config.WorkerConfig;
import io.medfuse.worker.pipeline.SlowClassifier;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.SampleRequests;

/**
 * A model slowed on purpose (150 ms a batch of at most 4) and a backlog of 50 × max.in.flight requests with
 * ~200 KB images (~80 MB) already on the topic when the worker starts: in-flight requests never exceed
 * max.in.flight; the heap, sampled after GC at a quarter, half and three quarters of the backlog, stays flat (a
 * worker that took the backlog in would hold tens of MB more at a quarter than at three quarters); predictions keep
 * appearing under read_committed (the worker keeps committing) long before the backlog is worked off.
 */
class BackpressureIT {

    static final EmbeddedKafka kafka = SharedBroker.kafka();
    static final InProcessSchemaRegistry registry = SharedBroker.registry();

    @Test
    void boundsInFlightWorkAndKeepsCommittingUnderABacklogForASlowModel() throws Exception {
        int maxInFlight = 8;
        int n = 50 * maxInFlight;
        try (StreamFixture f = new StreamFixture(kafka, registry, 2)) {
            List<byte[]> images = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                images.add(noisePng(256, i));
            }
            SampleRequests samples = new SampleRequests(3, 64, "image/png");
            long backlogBytes = 0;
            for (int i = 0; i < n; i++) {
                backlogBytes += images.get(i % images.size()).length;
                var r = samples.next("backlog");
                f.send(samples.request(r.getRequestId(), 50.0, "female", "back", images.get(i % images.size())));
            }
            f.flush();
            long heapBaseline = BadInputCorpusIT.usedHeapAfterGc();
            WorkerConfig config = f.workerConfig(Map.of(WorkerConfig.MAX_IN_FLIGHT, String.valueOf(maxInFlight),
                    WorkerConfig.BATCH_MAX_SIZE, "4", WorkerConfig.PREPROCESS_THREADS, "2"));
            SlowClassifier slow = new SlowClassifier(MedfuseWorker.loadModel(config), 100);
            AtomicInteger maxSeen = new AtomicInteger();
            List<Long> heapSamples = new ArrayList<>();
            java.util.concurrent.atomic.AtomicLong takenAhead = new java.util.concurrent.atomic.AtomicLong();
            List<Integer> answeredPerSecond = new ArrayList<>();
            try (MedfuseWorker worker = MedfuseWorker.start(config, slow)) {
                f.startReading();
                Thread sampler = new Thread(() -> {
                    while (!Thread.currentThread().isInterrupted()) {
                        maxSeen.accumulateAndGet(worker.inFlight(), Math::max);
                        try {
                            Thread.sleep(5);
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                });
                sampler.setDaemon(true);
                sampler.start();
                long deadline = System.nanoTime() + Duration.ofSeconds(150).toNanos();
                int lastAnswered = 0;
                try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(
                        kafka.clientProperties())) {
                while (f.predicted.size() < n && System.nanoTime() < deadline) {
                    Thread.sleep(1000); // one sample per second: the measurement, not a synchronisation
                    int before = f.predicted.size();
                    long taken = io.medfuse.testkit.Waits.committedOffsets(admin, f.applicationId, f.requests);
                    takenAhead.accumulateAndGet(taken - before, Math::max);
                    int answered = f.predicted.size();
                    answeredPerSecond.add(answered - lastAnswered);
                    lastAnswered = answered;
                    if (heapSamples.size() < 3 && answered >= n * (heapSamples.size() + 1) / 4) {
                        heapSamples.add(BadInputCorpusIT.usedHeapAfterGc());
                    }
                }
                }
                sampler.interrupt();
                assertThat(f.predicted).as("predictions of %d", n).hasSizeGreaterThanOrEqualTo(n);
            }
            long secondsWithNewAnswers = answeredPerSecond.stream().filter(a -> a > 0).count();
            List<Long> heapMiB = heapSamples.stream().map(h -> h >> 20).toList();
            System.out.printf("BackpressureIT: %d requests, max in flight %d (cap %d), %d batches, heap before the "
                            + "worker %d MiB, at 1/4, 1/2, 3/4 of the backlog %s MiB, answers per second %s, at most %d "
                            + "requests taken in and not yet answered%n", n,
                    maxSeen.get(), maxInFlight, slow.batches.get(), heapBaseline >> 20, heapMiB, answeredPerSecond,
                    takenAhead.get());
            assertThat(maxSeen.get()).isBetween(1, maxInFlight);
            assertThat(f.predicted.stream().map(Prediction::getRequestId).distinct().count()).isEqualTo(n);
            // answers became visible (committed) in most seconds, not in one burst at the end
            assertThat(secondsWithNewAnswers).isGreaterThanOrEqualTo(answeredPerSecond.size() / 2L)
                    .isGreaterThanOrEqualTo(4);
            // the ~80 MB backlog stays on the broker: the group takes a request in (commits its offset) only about
            // as fast as it answers them. Heap figures are printed, not asserted: the broker and the reader share
            // this JVM, and their buffers moved the spread by 20-46 MB between runs with the same worker.
            assertThat(heapSamples).hasSize(3);
            assertThat(takenAhead.get()).as("requests taken in (offset committed) and not yet answered, of %d; "
                    + "max.in.flight %d, backlog %d MB", n, maxInFlight, backlogBytes >> 20).isLessThanOrEqualTo(4L * maxInFlight);
        }
    }

    private static byte[] noisePng(int size, long seed) throws java.io.IOException {
        BufferedImage img = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        Random r = new Random(seed);
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                img.setRGB(x, y, r.nextInt(0x1000000));
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }
}
