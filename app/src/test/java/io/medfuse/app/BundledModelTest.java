package io.medfuse.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.engine.OnnxClassifier;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.model.image.ImagePreprocessor;
import io.medfuse.model.tabular.TabularEncoder;
import io.medfuse.trainer.synth.SyntheticDataset;
import io.medfuse.worker.MedfuseWorker;

/**
 * The bundled demo model is the trainer's output on the synthetic generator (tools/train-bundled-model.sh), and it
 * answers unseen cases of that generator correctly through the serving preprocessing and engine.
 */
class BundledModelTest {

    @Test
    void bundledModelIsTrainedOnSyntheticDataAndClassifiesUnseenCases() {
        try (OnnxClassifier model = OnnxClassifier.load(MedfuseWorker.bundledModel(), "bundled",
                EngineOptions.defaults().withDevice("cpu"))) {
            ModelContract contract = model.contract();
            assertThat(contract.trained()).isTrue();
            assertThat(contract.name()).isEqualTo("medfuse-demo");
            assertThat(contract.labelNames()).containsExactlyElementsOf(SyntheticDataset.LABELS);
            assertThat(contract.provenance()).containsKey("seed");

            ImagePreprocessor images = new ImagePreprocessor(contract.image(), ImageLimits.defaults());
            TabularEncoder tabular = new TabularEncoder(contract.tabular());
            List<SyntheticDataset.Case> cases = new SyntheticDataset(99).generate(0, 200);
            int n = cases.size();
            float[] x = new float[n * contract.image().tensorSize()];
            float[] t = new float[n * tabular.width()];
            for (int i = 0; i < n; i++) {
                SyntheticDataset.Case c = cases.get(i);
                images.preprocessInto(c.png(), c.mediaType(), x, i * contract.image().tensorSize());
                tabular.encodeInto(c.fields(), t, i * tabular.width());
            }
            float[][] p = model.predict(x, t, n);
            int correct = 0;
            for (int i = 0; i < n; i++) {
                int best = p[i][0] >= p[i][1] ? 0 : 1;
                if (contract.labelNames().get(best).equals(cases.get(i).label())) {
                    correct++;
                }
            }
            assertThat(correct / (double) n).as("accuracy on 200 unseen synthetic cases").isGreaterThan(0.9);
        }
    }

    @Test
    void theBundledModelsContractPredatesSourcesAndReadsTheRuleEarlierVersionsServed() {
        String json = io.medfuse.model.onnx.OnnxModelFile.readMetadata(
                MedfuseWorker.bundledModel()).get(ModelContract.METADATA_KEY);
        assertThat(json).as("the committed model was written before features named their sources")
                .doesNotContain("\"sources\"");

        ModelContract contract = io.medfuse.model.contract.ModelContractJson.parse(json);

        assertThat(contract.tabular()).extracting(io.medfuse.model.contract.FeatureSpec::name)
                .containsExactly("age", "sex", "localization");
        // the request's field first, then the DICOM tag of the same fact (for an application/dicom image)
        assertThat(contract.tabular()).extracting(io.medfuse.model.contract.FeatureSpec::sources).containsExactly(
                List.of(io.medfuse.model.contract.FeatureSource.PATIENT_AGE,
                        io.medfuse.model.contract.FeatureSource.DICOM_PATIENT_AGE),
                List.of(io.medfuse.model.contract.FeatureSource.PATIENT_SEX,
                        io.medfuse.model.contract.FeatureSource.DICOM_PATIENT_SEX),
                List.of(new io.medfuse.model.contract.FeatureSource.Clinical("localization")));
    }
}
