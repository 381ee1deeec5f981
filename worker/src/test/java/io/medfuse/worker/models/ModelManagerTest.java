package io.medfuse.worker.models;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.medfuse.events.ImagingRequest;
import io.medfuse.events.ModelIdentity;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.testkit.SampleRequests;
import io.medfuse.testkit.Waits;
import io.medfuse.worker.metrics.WorkerMetrics;
import io.medfuse.worker.pipeline.Classifier;
import io.medfuse.worker.pipeline.ForwardingClassifier;
import io.medfuse.worker.pipeline.ModelGeneration;
import io.medfuse.worker.pipeline.OnnxModel;
import io.medfuse.worker.pipeline.Outcome;
import io.medfuse.worker.pipeline.ReferencePolicy;
import io.medfuse.worker.pipeline.RequestPipeline;
import io.medfuse.worker.pipeline.RequestPipeline.Role;

/** Announced models applied to a running pipeline with the bundled model: what is installed, what is refused. */
class ModelManagerTest {

    private static final EngineOptions CPU = EngineOptions.defaults().withDevice("cpu");

    @TempDir
    Path dir;
    private final ModelVariants variants = new ModelVariants();
    private final SampleRequests samples = new SampleRequests(5, 64, "image/png");
    private final List<String> refusals = new CopyOnWriteArrayList<>();
    private final List<String> installs = new CopyOnWriteArrayList<>();
    private Classifier first;
    private RequestPipeline pipeline;
    private ModelManager.Loader loader = (bytes, name) -> OnnxModel.load(bytes, name, CPU);

    @BeforeEach
    void setUp() {
        first = OnnxModel.load(variants.bundled(), "bundled", CPU);
        WorkerMetrics metrics = new WorkerMetrics() {
            @Override
            public void modelRefused(String role, String reason) {
                refusals.add(role + "/" + reason);
            }

            @Override
            public void modelInstalled(String role) {
                installs.add(role);
            }
        };
        pipeline = new RequestPipeline(first, new RequestPipeline.Settings(1, 4, 0, ImageLimits.defaults(),
                ReferencePolicy.NONE, Duration.ofSeconds(20), Duration.ofMinutes(5), Duration.ofDays(7), 0),
                metrics);
    }

    @AfterEach
    void tearDown() {
        pipeline.close();
        first.close();
    }

    private ModelManager manager(String shadowTopic) {
        return new ModelManager(pipeline, new ModelManager.Settings(dir, 64L << 20, shadowTopic),
                (bytes, name) -> loader.load(bytes, name), pipeline.metrics(), "worker-a");
    }

    private static ModelAnnouncement announce(Role role, Path file, String sha, Double share) {
        return new ModelAnnouncement(role, file.toUri(), sha, share, false);
    }

    private static ModelAnnouncement announce(Role role, Path file, Double share) throws Exception {
        return announce(role, file, OnnxModelFile.sha256(Files.readAllBytes(file)), share);
    }

    private Outcome.Predicted predict(ImagingRequest r) throws Exception {
        return pipeline.submit(r, pipeline.validate(r), System.nanoTime()).get(20, TimeUnit.SECONDS);
    }

    @Test
    void aNewPrimaryAnswersTheNextRequestsAndTheOldOneClosesWhenDrained() throws Exception {
        ImagingRequest r = samples.next("swap");
        Outcome.Predicted before = predict(r);
        ModelGeneration old = pipeline.model(Role.PRIMARY);
        Path v2 = ModelVariants.write(dir, "v2.onnx", variants.version("2", 3.0));

        ModelStatus s = manager(null).apply(announce(Role.PRIMARY, v2, null));

        assertThat(s.state()).isEqualTo("serving");
        assertThat(s.model().getVersion()).isEqualTo("2");
        assertThat(installs).containsExactly("primary");
        Outcome.Predicted after = predict(r);
        assertThat(before.model().identity().getVersion()).isEqualTo(variants.contract().version());
        assertThat(after.model().identity().getVersion()).isEqualTo("2");
        assertThat(after.model().identity().getSha256()).isEqualTo(OnnxModelFile.sha256(Files.readAllBytes(v2)));
        // a temperature of 3 flattens the same network's answer: the new model really answered
        assertThat(max(after.probabilities())).isLessThan(max(before.probabilities()));
        assertThat(Waits.until(old::isClosed, Duration.ofSeconds(10))).as("the old model closes").isTrue();
        assertThat(pipeline.identity().getVersion()).isEqualTo("2");
    }

    @Test
    void theSameModelAgainChangesNothingAndACanaryShareChangesWithoutAReload() throws Exception {
        Path v2 = ModelVariants.write(dir, "v2.onnx", variants.version("2", 2.0));
        ModelManager m = manager(null);
        assertThat(m.apply(announce(Role.CANARY, v2, 0.25)).state()).isEqualTo("serving");
        ModelGeneration canary = pipeline.model(Role.CANARY);

        assertThat(m.apply(announce(Role.CANARY, v2, 0.25)).detail()).contains("already serving");
        ModelStatus share = m.apply(announce(Role.CANARY, v2, 1.0));

        assertThat(share.state()).isEqualTo("share");
        assertThat(pipeline.model(Role.CANARY)).isSameAs(canary);
        assertThat(pipeline.canaryShare()).isEqualTo(1.0);
        assertThat(predict(samples.next("all-canary")).model().identity().getVersion()).isEqualTo("2");
        assertThat(installs).containsExactly("canary");

        ModelStatus removed = m.apply(new ModelAnnouncement(Role.CANARY, null, null, null, true));
        assertThat(removed.state()).isEqualTo("removed");
        assertThat(pipeline.model(Role.CANARY)).isNull();
        assertThat(predict(samples.next("back")).model().identity().getVersion())
                .isEqualTo(variants.contract().version());
        assertThat(Waits.until(canary::isClosed, Duration.ofSeconds(10))).isTrue();
    }

    @Test
    void aWrongSha256IsRefusedAndTheCurrentModelKeepsServing() throws Exception {
        Path v2 = ModelVariants.write(dir, "v2.onnx", variants.version("2", 2.0));
        assertRefused(announce(Role.PRIMARY, v2, "0".repeat(64), null), RefusalReason.SHA256_MISMATCH, "primary");
    }

    @Test
    void filesOutsideTheControlFolderAreNotRead(@TempDir Path elsewhere) throws Exception {
        Path outside = ModelVariants.write(elsewhere, "v2.onnx", variants.version("2", 2.0));
        assertRefused(announce(Role.PRIMARY, outside, null), RefusalReason.URI_NOT_ALLOWED, "primary");
        Path link = Files.createSymbolicLink(dir.resolve("link.onnx"), outside);
        assertRefused(announce(Role.PRIMARY, link, OnnxModelFile.sha256(Files.readAllBytes(outside)), null),
                RefusalReason.URI_NOT_ALLOWED, "primary");
        assertRefused(new ModelAnnouncement(Role.PRIMARY, java.net.URI.create("http://models.example/v2.onnx"),
                "a".repeat(64), null, false), RefusalReason.URI_NOT_ALLOWED, "primary");
        assertRefused(announce(Role.PRIMARY, dir.resolve("absent.onnx"), "a".repeat(64), null),
                RefusalReason.UNREADABLE, "primary");
    }

    @Test
    void aFileThatIsNoModelOrHasOtherLabelsIsRefused() throws Exception {
        Path garbage = ModelVariants.write(dir, "garbage.onnx", "not an onnx model".getBytes());
        assertRefused(announce(Role.PRIMARY, garbage, null), RefusalReason.CONTRACT_INVALID, "primary");
        Path labels = ModelVariants.write(dir, "labels.onnx", variants.otherLabels("2"));
        assertRefused(announce(Role.CANARY, labels, 0.5), RefusalReason.LABELS_DIFFER, "canary");
    }

    @Test
    void aModelNeedingAFeatureNoRecentRequestSuppliesIsRefused() throws Exception {
        Path v2 = ModelVariants.write(dir, "smoker.onnx", variants.firstNumericFrom("2", "packYears"));
        // a shadow needs its topic
        assertThat(manager(null).apply(announce(Role.SHADOW, v2, null)).reason())
                .isEqualTo(RefusalReason.ROLE_NOT_CONFIGURED);
        // too few requests to judge: not refused for that
        assertThat(manager("shadow-topic").apply(announce(Role.SHADOW, v2, null)).state()).isEqualTo("serving");
        assertThat(pipeline.remove(Role.SHADOW)).isTrue();
        for (int i = 0; i < 25; i++) {
            pipeline.validate(samples.next("seen"));
        }
        ModelStatus s = assertRefused(announce(Role.PRIMARY, v2, null), RefusalReason.FEATURES_NOT_SUPPLIED,
                "primary");
        ModelContract c = OnnxModelFile.readContract(Files.readAllBytes(v2), "v2");
        assertThat(s.detail()).contains(c.tabular().stream()
                .filter(f -> f.sources().toString().contains("packYears")).findFirst().orElseThrow().name());
    }

    @Test
    void aModelThatFailsItsWarmUpIsRefused() throws Exception {
        Path v2 = ModelVariants.write(dir, "v2.onnx", variants.version("2", 2.0));
        loader = (bytes, name) -> new Wrapped(OnnxModel.load(bytes, name, CPU), false);
        assertRefused(announce(Role.PRIMARY, v2, null), RefusalReason.WARM_UP_FAILED, "primary");
        loader = (bytes, name) -> new Wrapped(OnnxModel.load(bytes, name, CPU), true);
        ModelStatus s = assertRefused(announce(Role.PRIMARY, v2, null), RefusalReason.WARM_UP_FAILED, "primary");
        assertThat(s.detail()).contains("not a probability distribution");
    }

    private ModelStatus assertRefused(ModelAnnouncement a, RefusalReason reason, String role) throws Exception {
        ModelIdentity serving = pipeline.identity();
        int before = refusals.size();
        ModelStatus s = manager(null).apply(a);
        assertThat(s.state()).isEqualTo("refused");
        assertThat(s.reason()).as(s.detail()).isEqualTo(reason);
        assertThat(refusals.subList(before, refusals.size())).containsExactly(role + "/" + reason.id());
        assertThat(pipeline.identity()).isEqualTo(serving);
        assertThat(predict(samples.next("still")).model().identity()).isEqualTo(serving);
        assertThat(new String(s.toJson())).contains("\"state\":\"refused\"", "\"reason\":\"" + reason.id() + "\"");
        return s;
    }

    private static float max(float[] p) {
        float m = 0;
        for (float v : p) {
            m = Math.max(m, v);
        }
        return m;
    }

    /** A real model that fails its runs, or answers something that is not a distribution. */
    private static final class Wrapped extends ForwardingClassifier {
        private final boolean nonsense;

        Wrapped(Classifier model, boolean nonsense) {
            super(model);
            this.nonsense = nonsense;
        }

        @Override
        public float[][] predict(float[] images, float[] tabular, int n) {
            if (!nonsense) {
                throw new IllegalStateException("CUDA error: out of memory");
            }
            float[][] out = model.predict(images, tabular, n);
            out[0][0] = Float.NaN;
            return out;
        }
    }
}
