package io.medfuse.model.engine;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.onnx.OnnxGraphBuilder;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.model.onnx.TestContracts;
import org.junit.jupiter.api.Test;

import java.nio.FloatBuffer;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The writer's operators give, in ONNX Runtime, the numbers worked out by hand here. */
class GraphWriterExactnessTest {

    private static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();

    @Test
    void convReluConcatAndGemmWithTransBMatchHandComputation() throws Exception {
        // given image [[1,2],[3,4]] and tabular [2]
        OnnxGraphBuilder g = new OnnxGraphBuilder("exact");
        g.input("image", 1, 2, 2).input("tabular", 1);
        // channel 0: 1·1 + 4·1 + 0.5 = 5.5; channel 1: 2·1 + 3·(-1) = -1 → ReLU → 0
        String x = g.conv("conv", "image", new float[] {1, 0, 0, 1, 0, 1, -1, 0}, new float[] {0.5f, 0}, 2, 1, 2, 1, 0);
        x = g.flatten("flat", g.relu("relu", x));
        x = g.concat("fused", 1, x, "tabular");                      // [5.5, 0, 2]
        // non-square [out=2, in=3]: [5.5+0+6+0.1, 0-0+2] = [11.6, 2]
        x = g.gemm("fc", x, new float[] {1, 2, 3, 0, -1, 1}, new float[] {0.1f, 0}, 2, 3);
        // square [[1,2],[3,4]] as [out,in]: [11.6+4, 34.8+8] = [15.6, 42.8]; transB=0 would give [17.6, 31.2]
        g.gemm("out", x, new float[] {1, 2, 3, 4}, new float[] {0, 0}, 2, 2);
        g.output("out", 2).output("fused", 3);

        Map<String, float[]> out = run(g.toByteArray(), new float[] {1, 2, 3, 4}, new long[] {1, 1, 2, 2},
                new float[] {2}, "out", "fused");

        assertThat(out.get("fused")).containsExactly(new float[] {5.5f, 0, 2}, within(1e-6f));
        assertThat(out.get("out")).containsExactly(new float[] {15.6f, 42.8f}, within(1e-5f));
    }

    @Test
    void maxPoolBatchNormGlobalAveragePoolAndSoftmaxMatchHandComputation() throws Exception {
        // given image 0..15 as 4x4
        OnnxGraphBuilder g = new OnnxGraphBuilder("exact2");
        g.input("image", 1, 4, 4).input("tabular", 1);
        String x = g.maxPool("pool", "image", 2, 2);                   // [[5,7],[13,15]]
        // 2·(x - 0.5)/sqrt(4) + 1 = x + 0.5 → [5.5, 7.5, 13.5, 15.5]
        x = g.batchNormalization("bn", x, new float[] {2}, new float[] {1}, new float[] {0.5f}, new float[] {4}, 0f);
        x = g.flatten("flat", g.globalAveragePool("gap", x));          // [10.5]
        x = g.concat("fused", 1, x, "tabular");                       // [10.5, 10.5 + ln 3]
        g.softmax("probs", x, 1);                                     // [1/4, 3/4]
        g.output("probs", 2);
        float[] image = new float[16];
        for (int i = 0; i < 16; i++) {
            image[i] = i;
        }

        Map<String, float[]> out = run(g.toByteArray(), image, new long[] {1, 1, 4, 4},
                new float[] {(float) (10.5 + Math.log(3))}, "probs");

        assertThat(out.get("probs")).containsExactly(new float[] {0.25f, 0.75f}, within(1e-6f));
    }

    @Test
    void classifierAppliesSoftmaxToLogitsModels() {
        // given a model whose output is the tabular row itself, declared as LOGITS
        ModelContract contract = TestContracts.contract(1, 2, 2, 2, 2, ModelContract.OutputKind.LOGITS);
        OnnxGraphBuilder g = new OnnxGraphBuilder("logits");
        g.input("image", 1, 2, 2).input("tabular", 2);
        g.gemm("probabilities", "tabular", new float[] {1, 0, 0, 1}, new float[] {0, 0}, 2, 2);
        g.output("probabilities", 2);
        byte[] bytes = OnnxModelFile.attachContract(g.toByteArray(), contract);

        try (OnnxClassifier classifier = OnnxClassifier.load(bytes, "logits", EngineOptions.defaults()
                .withDevice("cpu"))) {
            float[][] p = classifier.predict(new float[8], new float[] {0, (float) Math.log(3), 1, 1}, 2);

            assertThat(p[0]).containsExactly(new float[] {0.25f, 0.75f}, within(1e-6f));
            assertThat(p[1]).containsExactly(new float[] {0.5f, 0.5f}, within(1e-6f));
        }
    }

    private static Map<String, float[]> run(byte[] model, float[] image, long[] imageShape, float[] tabular,
                                            String... outputs) throws Exception {
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions();
             OrtSession session = ENV.createSession(model, so);
             OnnxTensor i = OnnxTensor.createTensor(ENV, FloatBuffer.wrap(image), imageShape);
             OnnxTensor t = OnnxTensor.createTensor(ENV, FloatBuffer.wrap(tabular), new long[] {1, tabular.length});
             OrtSession.Result r = session.run(Map.of("image", i, "tabular", t), java.util.Set.of(outputs))) {
            Map<String, float[]> values = new java.util.HashMap<>();
            for (String name : outputs) {
                FloatBuffer fb = ((OnnxTensor) r.get(name).orElseThrow()).getFloatBuffer();
                float[] v = new float[fb.remaining()];
                fb.get(v);
                values.put(name, v);
            }
            return values;
        }
    }
}
