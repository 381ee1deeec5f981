package io.medfuse.worker.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.medfuse.events.ImagingRequest;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.testkit.SampleRequests;
import io.medfuse.testkit.Waits;
import io.medfuse.worker.models.ModelVariants;
import io.medfuse.worker.pipeline.RequestPipeline.Role;

/** Which model answers which request, across a swap and with a canary; the real bundled model in each role. */
class ModelRoutingTest {

    private static final EngineOptions CPU = EngineOptions.defaults().withDevice("cpu");

    private final ModelVariants variants = new ModelVariants();
    private final SampleRequests samples = new SampleRequests(9, 64, "image/png");
    private SlowClassifier first;
    private RequestPipeline pipeline;

    @BeforeEach
    void setUp() {
        first = new SlowClassifier(OnnxModel.load(variants.bundled(), "bundled", CPU), 0);
        pipeline = new RequestPipeline(first, new RequestPipeline.Settings(1, 4, 0, ImageLimits.defaults(),
                ReferencePolicy.NONE, Duration.ofSeconds(30), Duration.ofMinutes(5), Duration.ofDays(7), 0));
    }

    @AfterEach
    void tearDown() {
        CountDownLatch h = first.hold;
        if (h != null) {
            h.countDown();
        }
        pipeline.close();
        first.close();
    }

    private CompletableFuture<Outcome.Predicted> submit(ImagingRequest r) {
        return pipeline.submit(r, pipeline.validate(r), System.nanoTime());
    }

    private Classifier v2() {
        return OnnxModel.load(variants.version("2", 2.0), "v2", CPU);
    }

    @Test
    void requestsInsideAtASwapFinishWithTheirModelAndTheNextOnesGoToTheNewOne() throws Exception {
        first.hold = new CountDownLatch(1);
        CompletableFuture<Outcome.Predicted> held = submit(samples.next("held"));
        assertThat(first.entered.await(10, TimeUnit.SECONDS)).isTrue();
        ModelGeneration old = pipeline.model(Role.PRIMARY);

        pipeline.install(Role.PRIMARY, v2(), 0);
        Outcome.Predicted next = submit(samples.next("next")).get(20, TimeUnit.SECONDS);

        assertThat(next.model().identity().getVersion()).isEqualTo("2");
        assertThat(held).isNotDone();
        assertThat(old.isRetired()).isTrue();
        assertThat(old.isClosed()).as("not while a request bound to it runs").isFalse();
        first.hold.countDown();
        assertThat(held.get(20, TimeUnit.SECONDS).model()).isSameAs(old);
        assertThat(Waits.until(old::isClosed, Duration.ofSeconds(10))).isTrue();
    }

    @Test
    void aRequestValidatedBeforeASwapIsEncodedAgainByTheNewModel() throws Exception {
        ImagingRequest r = samples.next("between");
        RequestPipeline.Validated v = pipeline.validate(r);
        pipeline.install(Role.PRIMARY, v2(), 0);
        Outcome.Predicted p = pipeline.submit(r, v, System.nanoTime()).get(20, TimeUnit.SECONDS);
        assertThat(p.model().identity().getVersion()).isEqualTo("2");
    }

    @Test
    void theCanaryAnswersItsShareOfIdsAndTheShareMovesWithoutAReload() throws Exception {
        pipeline.install(Role.CANARY, v2(), 0.25);
        List<String> ids = IntStream.range(0, 4000).mapToObj(i -> "req-" + i).toList();
        long inCanary = ids.stream().filter(id -> RequestPipeline.bucket(id) < 0.25).count();
        // binomial(4000, 0.25): mean 1000, sd 27.4; five sd either side
        assertThat(inCanary).isBetween(863L, 1137L);

        List<ImagingRequest> requests = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            ImagingRequest r = samples.next("c");
            requests.add(r);
        }
        for (ImagingRequest r : requests) {
            boolean expected = RequestPipeline.bucket(r.getRequestId()) < 0.25;
            assertThat(submit(r).get(20, TimeUnit.SECONDS).model().identity().getVersion())
                    .as(r.getRequestId()).isEqualTo(expected ? "2" : variants.contract().version());
        }
        ModelGeneration canary = pipeline.model(Role.CANARY);
        pipeline.canaryShare(0);
        assertThat(submit(requests.get(0)).get(20, TimeUnit.SECONDS).model()).isSameAs(pipeline.model(Role.PRIMARY));
        pipeline.canaryShare(1);
        for (ImagingRequest r : requests.subList(0, 5)) {
            assertThat(submit(r).get(20, TimeUnit.SECONDS).model()).isSameAs(canary);
        }
    }

    @Test
    void aGrowingShareKeepsTheIdsItHad() {
        for (int i = 0; i < 2000; i++) {
            double b = RequestPipeline.bucket("id-" + i);
            assertThat(b).isBetween(0.0, 1.0).isNotEqualTo(1.0);
            assertThat(RequestPipeline.bucket("id-" + i)).isEqualTo(b);
        }
    }

    @Test
    void theShadowRunsBesideThePrimaryAndItsFailuresStayItsOwn() throws Exception {
        RecordingSink sink = recordShadow();
        List<Outcome.Predicted> shadowed = sink.predicted;
        List<Throwable> failed = sink.failed;
        pipeline.install(Role.SHADOW, v2(), 0);
        ImagingRequest r = samples.next("shadowed");
        Outcome.Predicted primary = submit(r).get(20, TimeUnit.SECONDS);
        assertThat(Waits.until(() -> shadowed.size() == 1, Duration.ofSeconds(20))).isTrue();
        assertThat(primary.model().identity().getVersion()).isEqualTo(variants.contract().version());
        assertThat(shadowed.get(0).model().identity().getVersion()).isEqualTo("2");
        // the same network on the same pixels and features: the same argmax, the calibration flattens it
        assertThat(argmax(shadowed.get(0).probabilities())).isEqualTo(argmax(primary.probabilities()));

        // a shadow that fails: the primary still answers, the failure goes to the sink
        Classifier broken = new ForwardingClassifier(v2()) {
            @Override
            public float[][] predict(float[] images, float[] tabular, int n) {
                throw new IllegalStateException("shadow broke");
            }
        };
        pipeline.install(Role.SHADOW, broken, 0);
        Outcome.Predicted still = submit(samples.next("still")).get(20, TimeUnit.SECONDS);
        assertThat(still.model().identity().getVersion()).isEqualTo(variants.contract().version());
        assertThat(Waits.until(() -> failed.size() == 1, Duration.ofSeconds(20))).isTrue();
        assertThat(shadowed).hasSize(1);
    }

    @Test
    void aHangingShadowNeitherDelaysAnswersNorLooksLikeAStall() throws Exception {
        List<Outcome.Predicted> shadowed = recordShadow().predicted;
        SlowClassifier stuck = new SlowClassifier(v2(), 0);
        stuck.hold = new CountDownLatch(1);
        pipeline.install(Role.SHADOW, stuck, 0);
        try {
            for (int i = 0; i < 3; i++) {
                Outcome.Predicted p = submit(samples.next("answered")).get(20, TimeUnit.SECONDS);
                assertThat(p.model().identity().getVersion()).isEqualTo(variants.contract().version());
            }
            assertThat(stuck.entered.await(10, TimeUnit.SECONDS)).as("the shadow's run hangs").isTrue();
            assertThat(pipeline.modelRunningForNanos()).as("a hanging shadow is no stalled model").isZero();
            assertThat(pipeline.consecutiveFailedRuns()).isZero();
            assertThat(shadowed).isEmpty();
        } finally {
            stuck.hold.countDown();
        }
        assertThat(Waits.until(() -> shadowed.size() == 3, Duration.ofSeconds(20))).isTrue();
    }

    /** Keeps what the shadow made of each request. */
    private static final class RecordingSink implements RequestPipeline.ShadowSink {
        final List<Outcome.Predicted> predicted = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<Throwable> failed = new java.util.concurrent.CopyOnWriteArrayList<>();

        @Override
        public void predicted(ImagingRequest request, Outcome.Predicted shadow) {
            predicted.add(shadow);
        }

        @Override
        public void failed(ImagingRequest request, ModelGeneration shadow, Throwable error) {
            failed.add(error);
        }
    }

    private RecordingSink recordShadow() {
        RecordingSink sink = new RecordingSink();
        pipeline.shadowSink(sink, 16);
        return sink;
    }

    private static int argmax(float[] p) {
        int best = 0;
        for (int i = 1; i < p.length; i++) {
            if (p[i] > p[best]) {
                best = i;
            }
        }
        return best;
    }
}
