package io.medfuse.worker.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.medfuse.events.FailureReason;
import io.medfuse.events.ImagingRequest;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.testkit.SampleRequests;

/** The pipeline with the bundled model, held on purpose where a test needs the model not to return. */
class RequestPipelineTest {

    private SlowClassifier model;
    private RequestPipeline pipeline;
    private final SampleRequests samples = new SampleRequests(3, 64, "image/png");

    @BeforeEach
    void setUp() {
        model = new SlowClassifier(OnnxModel.load(MedfuseWorker.bundledModel(), "bundled",
                EngineOptions.defaults().withDevice("cpu")), 0);
        pipeline = new RequestPipeline(model, new RequestPipeline.Settings(1, 1, 0, ImageLimits.defaults(),
                ReferencePolicy.NONE, Duration.ofMillis(400), Duration.ofMinutes(5), Duration.ofDays(7), 0));
    }

    @AfterEach
    void tearDown() {
        CountDownLatch h = model.hold;
        if (h != null) {
            h.countDown();
        }
        pipeline.close();
        model.close();
    }

    private CompletableFuture<Outcome.Predicted> submit(ImagingRequest r) {
        return pipeline.submit(r, pipeline.validate(r), System.nanoTime());
    }

    private static Throwable failureOf(CompletableFuture<?> f) throws Exception {
        try {
            f.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("the request was answered");
    }

    /**
     * A request's tensor is written when its batch runs, into the model's reused input buffer, from the image decoded
     * on the pool: under concurrent load (batches of 8 over 2 decoding threads) every answer is still its own
     * image's, as when each request runs alone.
     */
    @Test
    void tensorsWrittenAtBatchTimeNeverMixOneRequestsPixelsIntoAnothersAnswer() throws Exception {
        java.util.List<ImagingRequest> requests = new java.util.ArrayList<>();
        for (int i = 0; i < 120; i++) {
            requests.add(samples.next("pool-" + i));
        }
        Map<String, float[]> alone = new HashMap<>();
        for (ImagingRequest r : requests) {
            alone.put(r.getRequestId(), submit(r).get(10, TimeUnit.SECONDS).probabilities());
        }
        try (RequestPipeline busy = new RequestPipeline(model, new RequestPipeline.Settings(2, 8, 5,
                ImageLimits.defaults(), ReferencePolicy.NONE, Duration.ofSeconds(30), Duration.ofMinutes(5),
                Duration.ofDays(7), 0))) {
            for (int round = 0; round < 3; round++) {
                java.util.List<CompletableFuture<Outcome.Predicted>> answers = new java.util.ArrayList<>();
                for (ImagingRequest r : requests) {
                    answers.add(busy.submit(r, busy.validate(r), System.nanoTime()));
                }
                for (int i = 0; i < requests.size(); i++) {
                    float[] got = answers.get(i).get(30, TimeUnit.SECONDS).probabilities();
                    float[] expected = alone.get(requests.get(i).getRequestId());
                    for (int k = 0; k < got.length; k++) {
                        assertThat(got[k]).as("request %d, class %d, round %d", i, k, round)
                                .isCloseTo(expected[k], org.assertj.core.api.Assertions.within(1e-5f));
                    }
                }
            }
        }
    }

    @Test
    void predictsAndForgetsTheRequest() throws Exception {
        Outcome.Predicted p = submit(samples.next("ok")).get(10, TimeUnit.SECONDS);
        assertThat(p.probabilities()).hasSize(model.contract().labels().size());
        assertThat(pipeline.outstanding()).isZero();
    }

    @Test
    void answersTimedOutWhenTheModelDoesNotReturnAndNamesWhereItWaited() throws Exception {
        model.hold = new CountDownLatch(1);
        CompletableFuture<Outcome.Predicted> stuck = submit(samples.next("stuck"));
        assertThat(model.entered.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(pipeline.modelRunningForNanos()).isPositive();

        Throwable failure = failureOf(stuck);

        Optional<Outcome.Failed> answer = Failures.classify(failure);
        assertThat(answer).get().extracting(Outcome.Failed::reason).isEqualTo(FailureReason.TIMED_OUT);
        assertThat(answer.get().detail()).contains("request.deadline.ms = 400 ms", "in the model");
        assertThat(pipeline.outstanding()).as("a timed-out request leaves the pipeline").isZero();
    }

    @Test
    void aRequestThatTimedOutIsNotRunThroughTheModelAfterwards() throws Exception {
        model.hold = new CountDownLatch(1);
        CompletableFuture<Outcome.Predicted> running = submit(samples.next("running"));
        assertThat(model.entered.await(10, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<Outcome.Predicted> queued = submit(samples.next("queued")); // waits behind the held run
        assertThat(failureOf(running)).isInstanceOf(RequestTimedOutException.class);
        assertThat(failureOf(queued)).isInstanceOf(RequestTimedOutException.class);
        CountDownLatch h = model.hold;
        model.hold = null;
        h.countDown();
        Outcome.Predicted later = submit(samples.next("later")).get(10, TimeUnit.SECONDS);
        assertThat(later.stats().batchSize()).isEqualTo(1);
        // the held run and the later one; the queued request was left out of every batch once it had its answer
        assertThat(model.batches.get()).isEqualTo(2);
    }

    @Test
    void closingGivesRequestsStillInsideNoAnswerSoTheyStayPending() throws Exception {
        pipeline.close();
        CompletableFuture<Outcome.Predicted> late = submit(samples.next("late"));
        Throwable failure = failureOf(late);
        assertThat(failure).isInstanceOf(PipelineClosedException.class);
        assertThat(Failures.classify(failure)).isEmpty();
    }

    @Test
    void flagsARequestedAtFarInTheFutureOrThePast() {
        ImagingRequest now = samples.next("now");
        assertThat(pipeline.validate(now).flags()).doesNotContain(RequestPipeline.REQUESTED_AT_IMPLAUSIBLE);
        for (Instant odd : new Instant[] {Instant.parse("9999-01-01T00:00:00Z"), Instant.ofEpochMilli(0),
            Instant.ofEpochMilli(-1)}) {
            ImagingRequest r = ImagingRequest.newBuilder(now).setRequestedAt(odd).build();
            assertThat(pipeline.validate(r).flags()).as("requestedAt %s", odd)
                    .contains(RequestPipeline.REQUESTED_AT_IMPLAUSIBLE);
        }
    }

    @Test
    void boundsEveryFieldAProducerControls() {
        ImagingRequest base = samples.next("b");
        assertRejected(ImagingRequest.newBuilder(base).setRequestId("x".repeat(300)).build(), "requestId");
        assertRejected(ImagingRequest.newBuilder(base).setRequestId("line\nbreak").build(), "control characters");
        Map<String, Object> many = new HashMap<>();
        for (int i = 0; i < 65; i++) {
            many.put("k" + i, "v");
        }
        assertRejected(ImagingRequest.newBuilder(base).setClinical(many).build(), "at most 64");
        assertRejected(ImagingRequest.newBuilder(base).setClinical(Map.of("localization", "y".repeat(2000)))
                .build(), "longer than 1024");
    }

    private void assertRejected(ImagingRequest r, String message) {
        assertThatThrownBy(() -> pipeline.validate(r)).isInstanceOfSatisfying(RequestRejectedException.class,
                e -> assertThat(e.reason()).isEqualTo(FailureReason.INVALID_FIELD)).hasMessageContaining(message);
    }
}
