package io.medfuse.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;

class DjlRuntimeTest {

    @Test
    void loadsPyTorchOfflineFromTheNativeJar() {
        Engine engine = DjlRuntime.pytorch();
        assertThat(engine.getEngineName()).isEqualTo("PyTorch");
        assertThat(System.getenv("DJL_OFFLINE")).isEqualTo("true");
        try (NDManager m = engine.newBaseManager()) {
            assertThat(m.create(new float[] {1, 2, 3}).sum().getFloat()).isEqualTo(6f);
        }
    }
}
