package io.medfuse.model.contract;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Map;

import org.junit.jupiter.api.Test;

import io.medfuse.model.onnx.RandomWeightContracts;

class CalibrationTest {

    @Test
    void temperatureScalingIsTheSoftmaxOfTheLogitsOverT() {
        float[] p = {0.7f, 0.2f, 0.1f};
        Calibration.apply(p, 2.0);
        double a = Math.sqrt(0.7);
        double b = Math.sqrt(0.2);
        double c = Math.sqrt(0.1);
        assertThat((double) p[0]).isCloseTo(a / (a + b + c), within(1e-6));
        assertThat((double) p[2]).isCloseTo(c / (a + b + c), within(1e-6));
        assertThat(p[0]).as("the predicted class stays the predicted class").isGreaterThan(p[1]);
        float[] same = {0.7f, 0.2f, 0.1f};
        Calibration.apply(same, 1.0);
        assertThat(same).containsExactly(0.7f, 0.2f, 0.1f);
        float[] withZero = {1f, 0f};
        Calibration.apply(withZero, 0.5);
        assertThat(withZero).containsExactly(1f, 0f);
    }

    @Test
    void aContractKeepsItsCalibrationThroughJsonAndRefusesNonsense() {
        ModelContract c = RandomWeightContracts.demoShaped().withCalibration(new Calibration(
                Calibration.TEMPERATURE, 1.7, 0.8, Map.of("validationRows", 40)));
        ModelContract read = ModelContractJson.parse(ModelContractJson.write(c));
        assertThat(read.calibration()).isEqualTo(c.calibration());
        assertThat(ModelContractJson.write(RandomWeightContracts.demoShaped())).doesNotContain("calibration");
        assertThatThrownBy(() -> RandomWeightContracts.demoShaped().withCalibration(new Calibration("platt", -1,
                1.5, null)).validate()).hasMessageContaining("calibration.method 'platt'")
                .hasMessageContaining("calibration.temperature").hasMessageContaining("referralThreshold");
    }
}
