package io.medfuse.worker.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.medfuse.events.ClinicalInfluence;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.onnx.RandomWeightContracts;
import io.medfuse.model.tabular.TabularEncoder;

class InfluenceProbeTest {

    private final ModelContract contract = RandomWeightContracts.demoShaped();
    private final TabularEncoder encoder = new TabularEncoder(contract.tabular());

    @Test
    void theMaskedRowIsWhatARequestWithoutClinicalDataEncodesTo() {
        InfluenceProbe probe = InfluenceProbe.of(contract, false);
        float[] row = encoder.encode(Map.of("age", 71.0, "sex", "male", "localization", "face")).values();
        assertThat(probe.variantCount()).isEqualTo(1);
        assertThat(probe.variants(row)).containsExactly(encoder.encode(Map.of()).values());
    }

    @Test
    void perFeatureRowsMaskOneFeatureEachAndKeepTheOthers() {
        InfluenceProbe probe = InfluenceProbe.of(contract, true);
        Map<String, Object> values = Map.of("age", 71.0, "sex", "male", "localization", "face");
        float[] row = encoder.encode(values).values();
        float[] variants = probe.variants(row);
        int width = row.length;
        assertThat(probe.variantCount()).isEqualTo(1 + 3);
        assertThat(variants).hasSize(4 * width);
        List<String> names = List.of("age", "sex", "localization");
        for (int f = 0; f < names.size(); f++) {
            Map<String, Object> without = new java.util.HashMap<>(values);
            without.remove(names.get(f));
            float[] expected = encoder.encode(without).values();
            float[] got = java.util.Arrays.copyOfRange(variants, (f + 1) * width, (f + 2) * width);
            assertThat(got).as("%s masked alone", names.get(f)).containsExactly(expected);
        }
    }

    @Test
    void theShiftIsThePredictedClasssProbabilityWithMinusWithout() {
        InfluenceProbe probe = InfluenceProbe.of(contract, true);
        // labels: nevus, benign_keratosis, melanoma
        float[] with = {0.1f, 0.2f, 0.7f};
        float[][] variants = {{0.6f, 0.1f, 0.3f}, {0.2f, 0.2f, 0.6f}, {0.1f, 0.2f, 0.7f}, {0.05f, 0.15f, 0.8f}};
        ClinicalInfluence ci = probe.influence(with, variants);
        assertThat(ci.getLabelWithout()).isEqualTo("nevus");
        assertThat(ci.getProbabilityWithout()).isCloseTo(0.3, within(1e-6));
        assertThat(ci.getShift()).isCloseTo(0.4, within(1e-6));
        assertThat(ci.getFeatures()).extracting(x -> x.getFeature()).containsExactly("age", "sex", "localization");
        assertThat(ci.getFeatures().get(0).getShift()).isCloseTo(0.1, within(1e-6));
        assertThat(ci.getFeatures().get(1).getShift()).isCloseTo(0.0, within(1e-6));
        assertThat(ci.getFeatures().get(2).getShift()).isCloseTo(-0.1, within(1e-6));
    }

    @Test
    void aModelWithoutTabularFeaturesHasNoInfluence() {
        ModelContract imageOnly = new ModelContract(contract.contractVersion(), contract.name(), contract.version(),
                contract.description(), contract.imageInput(), contract.tabularInput(), contract.output(),
                contract.outputKind(), contract.image(), List.of(), contract.labels(),
                contract.preprocessingVersion(), contract.trained(), contract.provenance());
        assertThat(InfluenceProbe.of(imageOnly, false)).isNull();
    }
}
