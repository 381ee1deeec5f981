package io.medfuse.model.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.medfuse.model.contract.ModelContract;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

class WeightsTest {

    private static final ModelContract CONTRACT = RandomWeightContracts.demoShaped();

    @Test
    void namedWeightsWriteTheSameBytesAsTheSeededRandomOnes() {
        Map<String, float[]> recorded = new LinkedHashMap<>();
        Weights random = Weights.heNormal(42);
        byte[] seeded = FusedCnnFactory.small(CONTRACT, (name, shape) -> {
            float[] w = random.get(name, shape);
            recorded.put(name, w);
            return w;
        });

        assertThat(seeded).isEqualTo(FusedCnnFactory.small(CONTRACT, 42));
        assertThat(recorded.keySet()).containsExactly("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                "conv3.weight", "conv3.bias", "fc1.weight", "fc1.bias", "logits.weight", "logits.bias");
        assertThat(FusedCnnFactory.small(CONTRACT, Weights.of(recorded))).isEqualTo(seeded);
    }

    @Test
    void aMissingOrMisshapenTensorIsNamed() {
        assertThatThrownBy(() -> FusedCnnFactory.small(CONTRACT, Weights.of(Map.of())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("conv1.weight");
        assertThatThrownBy(() -> Weights.of(Map.of("fc1.weight", new float[3])).get("fc1.weight", 64, 70))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[64, 70]");
    }
}
