package io.medfuse.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.engine.OnnxClassifier;
import io.medfuse.model.onnx.BackboneGraph;
import io.medfuse.model.onnx.FusedCnnFactory;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.trainer.data.Dataset;
import io.medfuse.trainer.data.DatasetOptions;
import io.medfuse.trainer.synth.SyntheticDataset;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

/**
 * The frozen bundled MobileNetV2 with a trained head: features are extracted once, the head trains in DJL, the
 * export is ONE graph (backbone + head) whose probabilities on the raw validation images match DJL's on the cached
 * features. CI-sized: 48 synthetic images.
 */
class MobileNetV2TrainingTest {

    static final DatasetOptions OPTIONS = new DatasetOptions("image", "label", List.of("age"),
            List.of("sex", "localization"), "lesion_id", null, false);
    @TempDir
    static Path dir;
    static Dataset data;

    @BeforeAll
    static void read() {
        Path csv = new SyntheticDataset(5).write(dir, 48);
        data = TrainingRun.read(dir.resolve("images"), csv, OPTIONS, hp(InputMode.FUSED));
    }

    static HyperParameters hp(InputMode mode) {
        return new HyperParameters("mobilenetv2", mode, 3, 16, 3e-3, 7, 0.3, 3, false, 224);
    }

    @Test
    void featuresAreCachedPooledBackboneOutputs() {
        assertThat(data.image()).isEqualTo(Backbone.IMAGE_SPEC);
        assertThat(data.samples()).allSatisfy(s -> {
            // the last map's means, the earlier maps' means, the last map's maxima
            assertThat(s.pixels()).hasSize(2 * Backbone.FEATURES + Backbone.EXTRA_WIDTH);
            // after ReLU6: in [0, 6]; no channel's mean above its maximum
            int max = Backbone.FEATURES + Backbone.EXTRA_WIDTH;
            for (int c = 0; c < Backbone.FEATURES; c++) {
                assertThat(s.pixels()[c]).isBetween(0f, 6f);
                assertThat(s.pixels()[max + c]).isBetween(s.pixels()[c], 6f);
            }
        });
        assertThat(data.samples().get(0).pixels()).isNotEqualTo(
                new float[2 * Backbone.FEATURES + Backbone.EXTRA_WIDTH]);
    }

    @Test
    void avgMaxPoolingAveragedOverFlipsExportsAGraphThatMatchesTheHead(@TempDir Path cache) {
        HyperParameters hp = hp(InputMode.FUSED).withEpochs(2).withFeatures(BackboneGraph.Pooling.AVG_MAX, 4, false);
        List<String> said = new java.util.ArrayList<>();
        Dataset flips = TrainingRun.read(dir.resolve("images"), dir.resolve("metadata.csv"), OPTIONS, hp, said::add,
                cache);
        assertThat(said).anyMatch(l -> l.contains("0 image(s) from the cache, 48 extracted"));
        // the features of the flips differ from the image's own (asymmetric synthetic lesions)
        assertThat(flips.samples().get(0).pixels()).isNotEqualTo(data.samples().get(0).pixels());

        TrainingRun.Outcome out = TrainingRun.train(flips, hp, "mnv2-flips", "1", s -> { }, new StopSignal());
        // ONNX Runtime on the raw images, flipped inside the graph, agrees with DJL on the features flipped here
        assertThat(out.parityMaxDelta()).isLessThanOrEqualTo(TrainingRun.PARITY_TOLERANCE);
        @SuppressWarnings("unchecked")
        java.util.Map<String, Object> backbone = (java.util.Map<String, Object>) out.contract().provenance()
                .get("backbone");
        assertThat(backbone).containsEntry("pooling", "avg+max").containsEntry("pooledFeatures",
                2 * Backbone.FEATURES);

        // the second read of the same images takes every row from the cache, and the same features
        said.clear();
        Dataset again = TrainingRun.read(dir.resolve("images"), dir.resolve("metadata.csv"), OPTIONS, hp,
                said::add, cache);
        assertThat(said).anyMatch(l -> l.contains("48 image(s) from the cache, 0 extracted"));
        for (int i = 0; i < flips.samples().size(); i++) {
            assertThat(again.samples().get(i).pixels()).containsExactly(flips.samples().get(i).pixels());
        }
        // features of one recipe do not train another
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> TrainingRun.train(data, hp, "x", "1", s -> { },
                new StopSignal())).isInstanceOf(TrainerException.class).hasMessageContaining("read it with the same");
    }

    @Test
    void exportIsOneGraphThatMatchesTheTrainedHead() {
        TrainingRun.Outcome out = TrainingRun.train(data, hp(InputMode.FUSED), "mnv2", "1", s -> { },
                new StopSignal());
        assertThat(out.parityMaxDelta()).isLessThanOrEqualTo(TrainingRun.PARITY_TOLERANCE);
        assertThat(OnnxModelFile.readMetadata(out.onnx())).containsEntry(FusedCnnFactory.ARCHITECTURE_KEY,
                "mobilenetv2");
        try (OnnxClassifier ort = OnnxClassifier.load(out.onnx(), "mnv2", EngineOptions.defaults().withDevice("cpu"))) {
            ModelContract c = ort.contract();
            assertThat(c.image()).isEqualTo(Backbone.IMAGE_SPEC
                    .withDecoder(io.medfuse.model.image.ImageDecoder.configured().contractId()));
            assertThat(c.imageInput()).isEqualTo("image");
            assertThat(c.tabularInput()).isEqualTo("tabular");
            assertThat(c.provenance()).containsEntry("architecture", "mobilenetv2").containsKey("backbone");
        }
    }

    @Test
    void multiScaleFeaturesOverEightViewsExportAGraphThatMatchesTheHead(@TempDir Path cache) {
        HyperParameters hp = hp(InputMode.FUSED).withEpochs(2).withFeatures(BackboneGraph.Pooling.AVG, 8, true);
        Dataset eight = TrainingRun.read(dir.resolve("images"), dir.resolve("metadata.csv"), OPTIONS, hp, l -> { },
                cache);
        TrainingRun.Outcome out = TrainingRun.train(eight, hp, "mnv2-multi", "1", s -> { }, new StopSignal());
        // the extra maps are dequantized inside the exported graph as in the extractor, and 8 views averaged there
        assertThat(out.parityMaxDelta()).isLessThanOrEqualTo(TrainingRun.PARITY_TOLERANCE);
        var graph = io.medfuse.model.onnx.OnnxModelFile.parse(out.onnx(), "multi").getGraph();
        assertThat(graph.getNodeList()).filteredOn(n -> n.getOpType().equals("Transpose")).hasSize(4);
        assertThat(graph.getInitializerList()).filteredOn(t -> t.getName().equals("fc1.weight"))
                .singleElement().satisfies(t -> assertThat(t.getDimsList().get(1)).isEqualTo(
                        (long) Backbone.FEATURES + Backbone.EXTRA_WIDTH + out.contract().tabularWidth()));
    }

    @Test
    void metaBlockHeadExportsWithItsBatchNormalisationFoldedAndMatches() {
        HyperParameters hp = hp(InputMode.FUSED).withFusion("metablock");
        TrainingRun.Outcome out = TrainingRun.train(data, hp, "mnv2-metablock", "1", s -> { }, new StopSignal());
        // DJL in inference mode (running statistics) against ONNX Runtime on the folded Gemms, on the raw images
        assertThat(out.parityMaxDelta()).isLessThanOrEqualTo(TrainingRun.PARITY_TOLERANCE);
        assertThat(out.training().weights()).containsKeys("meta_f.weight", "meta_f_bn.runningVar", "meta_g.bias");
        assertThat(out.contract().provenance()).containsEntry("fusion", "metablock");
        var graph = io.medfuse.model.onnx.OnnxModelFile.parse(out.onnx(), "metablock").getGraph();
        assertThat(graph.getNodeList()).extracting(n -> n.getOpType()).contains("Tanh", "Sigmoid", "Mul");
        // fc1 reads the gated features alone: [hidden, 1280], no tabular columns
        assertThat(graph.getInitializerList()).filteredOn(t -> t.getName().equals("fc1.weight"))
                .singleElement().satisfies(t -> assertThat(t.getDimsList()).containsExactly(
                        (long) io.medfuse.trainer.net.HeadNet.HIDDEN, (long) Backbone.FEATURES));
        // the ablations are plain heads whatever --fusion says
        assertThat(hp.withInputs(InputMode.IMAGE).metaBlock()).isFalse();
    }

    @Test
    void earlyStoppingOnHeldOutTrainingRowsLeavesTheValidationRowsUnchosen() {
        HyperParameters hp = hp(InputMode.FUSED).withStoppingFraction(0.25).withStandardize(true);
        TrainingRun.Outcome out = TrainingRun.train(data, hp, "mnv2-inner", "1", s -> { }, new StopSignal());
        @SuppressWarnings("unchecked")
        java.util.Map<String, Object> split = (java.util.Map<String, Object>) out.contract().provenance()
                .get("split");
        int stopping = (Integer) split.get("earlyStoppingRows");
        int trained = (Integer) split.get("trainRows");
        assertThat(stopping).isPositive();
        // the stopping rows come out of the training rows; the validation rows are the split's own
        assertThat(trained + stopping).isEqualTo(out.split().train().size());
        assertThat(out.validationLabels()).hasSize(out.split().validation().size());
        assertThat(out.training().stoppingProbabilities().length).isEqualTo(stopping);
        assertThat(out.training().validationProbabilities().length).isEqualTo(out.split().validation().size());
        assertThat(out.validation().get("earlyStoppingRows").toString()).contains("held out");
        // standardised features: the graph's Mul/Add does what training did to the features
        assertThat(out.parityMaxDelta()).isLessThanOrEqualTo(TrainingRun.PARITY_TOLERANCE);
        var graph = io.medfuse.model.onnx.OnnxModelFile.parse(out.onnx(), "standardized").getGraph();
        assertThat(graph.getInitializerList()).extracting(t -> t.getName()).contains("features.scale",
                "features.shift");
    }

    @Test
    void aRefitTrainsEveryTrainingRowForTheChosenEpochsAndKeepsTheLast() {
        HyperParameters hp = hp(InputMode.FUSED).withEpochs(4).withStoppingFraction(0.25).withRefit(true);
        List<EpochStats> epochs = new java.util.ArrayList<>();
        TrainingRun.Outcome out = TrainingRun.train(data, hp, "mnv2-refit", "1", epochs::add, new StopSignal());
        String said = out.validation().get("earlyStoppingRows").toString();
        int chosen = Integer.parseInt(said.replaceAll(".*; epoch (\\d+) chosen there.*", "$1"));
        assertThat(chosen).isBetween(1, 4);
        // the first run's epochs, then the refit's: exactly the chosen number, the last one kept
        assertThat(out.training().history()).hasSize(chosen);
        assertThat(out.training().bestEpoch()).isEqualTo(chosen);
        assertThat(out.training().stoppedBy()).isEqualTo("epochs");
        assertThat(epochs.size()).isGreaterThan(chosen);
        // the refit's epochs say so, and none is marked best: nothing is chosen on them
        assertThat(epochs.subList(epochs.size() - chosen, epochs.size())).allMatch(e -> e.refit() && !e.best()
                && e.line().startsWith("refit") && !e.line().contains("*best"));
        assertThat(out.validation()).containsEntry("refit", true).containsEntry("bestEpoch", chosen);
        assertThat(out.parityMaxDelta()).isLessThanOrEqualTo(TrainingRun.PARITY_TOLERANCE);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> hp(InputMode.FUSED).withRefit(true))
                .hasMessageContaining("--stopping-fraction");
    }

    @Test
    void imageOnlyAblationExportsAndMatches() {
        TrainingRun.Outcome out = TrainingRun.train(data, hp(InputMode.IMAGE).withEpochs(2), "mnv2-image", "1",
                s -> { }, new StopSignal());
        assertThat(out.parityMaxDelta()).isLessThanOrEqualTo(TrainingRun.PARITY_TOLERANCE);
    }
}
