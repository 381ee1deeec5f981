package io.medfuse.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.engine.OnnxClassifier;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.model.image.ImagePreprocessor;
import io.medfuse.model.onnx.FusedCnnFactory;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.model.tabular.TabularEncoder;
import io.medfuse.trainer.data.Dataset;
import io.medfuse.trainer.data.DatasetOptions;
import io.medfuse.trainer.synth.SyntheticDataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The exported file is what the worker loads: contract, provenance, and predictions through the serving path. */
class ExportRoundTripTest {

    @Test
    void exportedFileLoadsAndPredictsFromRawRequestsLikeTheTrainedNetwork(@TempDir Path dir) throws Exception {
        SyntheticDataset synth = new SyntheticDataset(21);
        Path csv = synth.write(dir, 240);
        Dataset data = TrainingRun.read(dir.resolve("images"), csv, new DatasetOptions("image", "label",
                List.of("age"), List.of("sex", "localization"), "lesion_id", List.of("benign", "malignant"), false),
                32);
        HyperParameters hp = new HyperParameters("small", InputMode.FUSED, 3, 32, 3e-3, 3, 0.25, 3, true, 32);

        TrainingRun.Outcome out = TrainingRun.train(data, hp, "roundtrip", "1.2.3", s -> { }, new StopSignal());
        Path file = dir.resolve("model.onnx");
        Files.write(file, out.onnx());

        assertThat(out.parityMaxDelta()).isLessThanOrEqualTo(TrainingRun.PARITY_TOLERANCE);
        assertThat(OnnxModelFile.readMetadata(out.onnx())).containsEntry(FusedCnnFactory.ARCHITECTURE_KEY, "small");
        try (OnnxClassifier ort = OnnxClassifier.load(file, EngineOptions.defaults().withDevice("cpu"))) {
            ModelContract c = ort.contract();
            assertThat(c.trained()).isTrue();
            assertThat(c.name()).isEqualTo("roundtrip");
            assertThat(c.version()).isEqualTo("1.2.3");
            // the spec trained with, recording the decoder that read the images (OpenCV where it loads)
            assertThat(c.image()).isEqualTo(TrainingRun.imageSpec(32)
                    .withDecoder(io.medfuse.model.image.ImageDecoder.configured().contractId()));
            assertThat(c.image().decoder()).isIn("opencv", "imageio");
            assertThat(c.tabular()).extracting(f -> f.name()).containsExactly("age", "sex", "localization");
            assertThat(c.labels()).extracting(l -> l.frequency()).allSatisfy(f -> assertThat(f).isBetween(0.2, 0.8));
            assertThat(c.provenance()).containsEntry("seed", 3).containsEntry("epochs", 3)
                    .containsEntry("datasetFingerprint", "sha256:" + data.fingerprint())
                    .containsEntry("inputs", "fused");
            @SuppressWarnings("unchecked")
            Map<String, Object> metrics = (Map<String, Object>) c.provenance().get("metrics");
            assertThat(metrics).containsKeys("validationAccuracy", "validationBalancedAccuracy", "bestEpoch");

            // a raw request, through the serving preprocessing and encoder, gives the probabilities training saw
            SyntheticDataset.Case first = synth.generate(data.samples().indexOf(
                    data.samples().get(out.split().validation().get(0))));
            float[] image = new ImagePreprocessor(c.image(), ImageLimits.defaults()).preprocess(first.png(),
                    first.mediaType());
            float[] tab = new TabularEncoder(c.tabular()).encode(first.fields()).values();
            float[] served = ort.predictUncalibrated(image, tab, 1)[0];
            float[] trained = out.training().validationProbabilities()[0];
            for (int k = 0; k < served.length; k++) {
                assertThat((double) served[k]).isCloseTo(trained[k], org.assertj.core.data.Offset.offset(1e-4));
            }
            // what is published: the same with the contract's temperature applied
            float[] calibrated = trained.clone();
            if (c.calibration() != null) {
                c.calibration().applyInPlace(calibrated);
            }
            float[] published = ort.predict(image, tab, 1)[0];
            for (int k = 0; k < published.length; k++) {
                assertThat((double) published[k]).isCloseTo(calibrated[k], org.assertj.core.data.Offset.offset(1e-4));
            }
        }
    }

    @Test
    void stopSignalBeforeTheFirstBatchStillWritesAWorkingModel(@TempDir Path dir) {
        Path csv = new SyntheticDataset(4).write(dir, 40);
        Dataset data = TrainingRun.read(dir.resolve("images"), csv, new DatasetOptions("image", "label",
                List.of("age"), List.of("sex"), null, null, false), 16);
        StopSignal stop = new StopSignal();
        stop.stop();

        TrainingRun.Outcome out = TrainingRun.train(data, new HyperParameters("small", InputMode.IMAGE, 5, 8, 1e-3,
                1, 0.25, 2, false, 16), "stopped", "0", s -> { }, stop);

        assertThat(out.training().stoppedBy()).isEqualTo("stop-signal");
        assertThat(out.training().history()).isEmpty();
        assertThat(out.parityMaxDelta()).isLessThanOrEqualTo(TrainingRun.PARITY_TOLERANCE);
    }
}
