package io.medfuse.model.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.engine.FeatureExtractor;
import io.medfuse.model.engine.OnnxClassifier;
import io.medfuse.model.onnx.proto.OnnxProtos.ModelProto;
import io.medfuse.model.onnx.proto.OnnxProtos.NodeProto;
import io.medfuse.model.onnx.proto.OnnxProtos.OperatorSetIdProto;
import io.medfuse.model.onnx.proto.OnnxProtos.TensorProto;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

/**
 * Graph surgery on a tiny stand-in backbone (conv 3→4 + ReLU as the feature map '627', then an "ImageNet"
 * classifier that must be cut off): pooled features and the composed graph are checked against arithmetic done
 * here, independently of ONNX Runtime.
 */
class BackboneGraphTest {

    static final float[] W = TestContracts.floats(4 * 3 * 9, 1);
    static final float[] B = TestContracts.floats(4, 2);

    /** input [N,3,8,8] → Conv(4, 3x3, pad 1) → Relu '627' → GAP → Flatten → Gemm(5) 'output'; plus a contrib opset. */
    static byte[] backbone() {
        OnnxGraphBuilder g = new OnnxGraphBuilder("fake-backbone");
        g.input("input", 3, 8, 8);
        String x = g.relu("627", g.conv("conv", "input", W, B, 4, 3, 3, 1, 1));
        x = g.flatten("flat", g.globalAveragePool("pool", x));
        g.gemm("output", x, TestContracts.floats(20, 3), new float[5], 5, 4);
        g.output("output", 5);
        ModelProto m = g.build().toBuilder()
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("com.microsoft").setVersion(1)).build();
        return m.toByteArray();
    }

    /** mean over H, W of relu(conv(x)), computed here. */
    static float[] pooled(float[] image, int offset) {
        float[] out = new float[4];
        for (int o = 0; o < 4; o++) {
            double sum = 0;
            for (int y = 0; y < 8; y++) {
                for (int x = 0; x < 8; x++) {
                    double v = B[o];
                    for (int c = 0; c < 3; c++) {
                        for (int ky = 0; ky < 3; ky++) {
                            for (int kx = 0; kx < 3; kx++) {
                                int yy = y + ky - 1;
                                int xx = x + kx - 1;
                                if (yy >= 0 && yy < 8 && xx >= 0 && xx < 8) {
                                    v += W[((o * 3 + c) * 3 + ky) * 3 + kx] * image[offset + (c * 8 + yy) * 8 + xx];
                                }
                            }
                        }
                    }
                    sum += Math.max(0, v);
                }
            }
            out[o] = (float) (sum / 64);
        }
        return out;
    }

    @Test
    void featureExtractorPoolsTheFeatureMapAndDropsTheClassifier() {
        byte[] graph = BackboneGraph.featureExtractor(backbone(), "627", 4, "image", "features");
        ModelProto m = OnnxModelFile.parse(graph, "extractor");
        assertThat(m.getGraph().getInitializerList()).extracting(TensorProto::getName)
                .containsExactlyInAnyOrder("backbone/conv.weight", "backbone/conv.bias");
        assertThat(m.getGraph().getNodeList()).extracting(NodeProto::getOpType)
                .containsExactly("Conv", "Relu", "GlobalAveragePool", "Flatten");
        assertThat(m.getOpsetImportList()).extracting(OperatorSetIdProto::getDomain).contains("com.microsoft");

        float[] images = TestContracts.floats(2 * 3 * 64, 9);
        try (FeatureExtractor fx = FeatureExtractor.load(backbone(), "627", 4, 3, 8, 8, 1)) {
            float[][] f = fx.extract(images, 2);
            for (int i = 0; i < 2; i++) {
                float[] expected = pooled(images, i * 192);
                for (int c = 0; c < 4; c++) {
                    assertThat(f[i][c]).isCloseTo(expected[c], within(1e-5f));
                }
            }
        }
    }

    @Test
    void composedGraphIsBackbonePlusHeadAndServes() {
        ModelContract contract = TestContracts.contract(3, 8, 2, 3);
        float[] fc1 = TestContracts.floats(6 * 6, 4);
        float[] fc1b = TestContracts.floats(6, 5);
        float[] lw = TestContracts.floats(3 * 6, 6);
        float[] lb = TestContracts.floats(3, 7);
        byte[] onnx = BackboneGraph.compose(backbone(), "627", 4, contract, new int[] {6},
                Weights.of(Map.of("fc1.weight", fc1, "fc1.bias", fc1b, "logits.weight", lw, "logits.bias", lb)),
                "test-backbone");
        assertThat(OnnxModelFile.readMetadata(onnx)).containsEntry(FusedCnnFactory.ARCHITECTURE_KEY, "test-backbone")
                .containsKey(BackboneGraph.BACKBONE_SHA_KEY);

        float[] images = TestContracts.floats(2 * 3 * 64, 11);
        float[] tabular = TestContracts.floats(2 * 2, 12);
        try (OnnxClassifier ort = OnnxClassifier.load(onnx, "composed", new EngineOptions("cpu", 1, 1, "all",
                List.of(1, 2)))) {
            float[][] p = ort.predict(images, tabular, 2);
            for (int i = 0; i < 2; i++) {
                float[] in = new float[6];
                System.arraycopy(pooled(images, i * 192), 0, in, 0, 4);
                System.arraycopy(tabular, i * 2, in, 4, 2);
                double[] h = new double[6];
                for (int o = 0; o < 6; o++) {
                    double v = fc1b[o];
                    for (int k = 0; k < 6; k++) {
                        v += fc1[o * 6 + k] * in[k];
                    }
                    h[o] = Math.max(0, v);
                }
                double[] z = new double[3];
                double sum = 0;
                for (int c = 0; c < 3; c++) {
                    double v = lb[c];
                    for (int k = 0; k < 6; k++) {
                        v += lw[c * 6 + k] * h[k];
                    }
                    z[c] = Math.exp(v);
                    sum += z[c];
                }
                for (int c = 0; c < 3; c++) {
                    assertThat((double) p[i][c]).isCloseTo(z[c] / sum, within(1e-5));
                }
            }
        }
    }

    @Test
    void unknownFeatureMapIsAClearError() {
        assertThatThrownBy(() -> BackboneGraph.featureExtractor(backbone(), "nope", 4, "image", "features"))
                .isInstanceOf(OnnxFormatException.class).hasMessageContaining("'nope'");
    }
}
