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

    /** relu(conv(x)) [4][64] of one 3x8x8 image at {@code offset}, computed here. */
    static double[][] featureMap(float[] image, int offset) {
        double[][] out = new double[4][64];
        for (int o = 0; o < 4; o++) {
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
                    out[o][y * 8 + x] = Math.max(0, v);
                }
            }
        }
        return out;
    }

    /** mean over H, W of relu(conv(x)), computed here. */
    static float[] pooled(float[] image, int offset) {
        double[][] map = featureMap(image, offset);
        float[] out = new float[4];
        for (int o = 0; o < 4; o++) {
            out[o] = (float) (java.util.Arrays.stream(map[o]).sum() / 64);
        }
        return out;
    }

    /** max over H, W of relu(conv(x)): the second half of an AVG_MAX vector, computed here. */
    static float[] pooledMax(float[] image, int offset) {
        double[][] map = featureMap(image, offset);
        float[] out = new float[4];
        for (int o = 0; o < 4; o++) {
            out[o] = (float) java.util.Arrays.stream(map[o]).max().orElseThrow();
        }
        return out;
    }

    /** The head's probabilities for one input row {@code x}: fc1 (6, ReLU) → logits (3) → softmax, here. */
    static double[] head(double[] x, float[] fc1, float[] fc1b, float[] lw, float[] lb) {
        int in = x.length;
        double[] h = new double[6];
        for (int o = 0; o < 6; o++) {
            double v = fc1b[o];
            for (int k = 0; k < in; k++) {
                v += fc1[o * in + k] * x[k];
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
            z[c] /= sum;
        }
        return z;
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
                double[] z = head(toDoubles(in), fc1, fc1b, lw, lb);
                for (int c = 0; c < 3; c++) {
                    assertThat((double) p[i][c]).isCloseTo(z[c], within(1e-5));
                }
            }
        }
    }

    @Test
    void avgMaxExtractorGivesTheMeansThenTheMaxima() {
        float[] images = TestContracts.floats(2 * 3 * 64, 21);
        try (FeatureExtractor fx = FeatureExtractor.load(backbone(), "627", 4, 3, 8, 8, 1,
                BackboneGraph.Pooling.AVG_MAX)) {
            assertThat(fx.width()).isEqualTo(8);
            float[][] f = fx.extract(images, 2);
            for (int i = 0; i < 2; i++) {
                float[] avg = pooled(images, i * 192);
                float[] max = pooledMax(images, i * 192);
                for (int c = 0; c < 4; c++) {
                    assertThat(f[i][c]).isCloseTo(avg[c], within(1e-5f));
                    assertThat(f[i][4 + c]).isCloseTo(max[c], within(1e-5f));
                }
                assertThat(max[0]).isGreaterThanOrEqualTo(avg[0]);
            }
        }
    }

    @Test
    void flipViewsMirrorWidthHeightAndBoth() {
        float[] img = new float[2 * 2 * 3]; // C=2, H=2, W=3
        for (int i = 0; i < img.length; i++) {
            img[i] = i;
        }
        assertThat(BackboneGraph.flipView(img, 2, 2, 3, 0)).containsExactly(img);
        assertThat(BackboneGraph.flipView(img, 2, 2, 3, 1)).containsExactly(2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9);
        assertThat(BackboneGraph.flipView(img, 2, 2, 3, 2)).containsExactly(3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8);
        assertThat(BackboneGraph.flipView(img, 2, 2, 3, 3)).containsExactly(5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6);
        assertThatThrownBy(() -> BackboneGraph.flipView(img, 2, 2, 3, 4)).as("a transposed view needs a square")
                .isInstanceOf(IllegalArgumentException.class);
        float[] sq = {0, 1, 2, 3}; // C=1, 2x2: rows [0 1] [2 3]
        assertThat(BackboneGraph.flipView(sq, 1, 2, 2, 4)).containsExactly(0, 2, 1, 3);
        assertThat(BackboneGraph.flipView(sq, 1, 2, 2, 5)).as("mirrored on W, then transposed")
                .containsExactly(1, 3, 0, 2);
        assertThat(BackboneGraph.flipView(sq, 1, 2, 2, 7)).containsExactly(3, 1, 2, 0);
        assertThatThrownBy(() -> BackboneGraph.flipView(sq, 1, 2, 2, 8)).isInstanceOf(
                IllegalArgumentException.class);
    }

    @Test
    void aLayoutWithAnExtraMapAndEightViewsServesTheMeanOverTheViews() {
        ModelContract contract = TestContracts.contract(3, 8, 2, 3);
        // the extra map is the conv's output before ReLU ("conv", 4 channels): its mean can be negative
        BackboneGraph.Layout layout = new BackboneGraph.Layout(BackboneGraph.Pooling.AVG, 8, List.of("conv"), 4);
        int in = 8 + 2;
        float[] fc1 = TestContracts.floats(6 * in, 4);
        float[] fc1b = TestContracts.floats(6, 5);
        float[] lw = TestContracts.floats(3 * 6, 6);
        float[] lb = TestContracts.floats(3, 7);
        byte[] onnx = BackboneGraph.compose(backbone(), "627", 4, contract, new int[] {6},
                Weights.of(Map.of("fc1.weight", fc1, "fc1.bias", fc1b, "logits.weight", lw, "logits.bias", lb)),
                "test-backbone", layout, false);
        float[] images = TestContracts.floats(2 * 3 * 64, 15);
        float[] tabular = TestContracts.floats(2 * 2, 16);
        // the extractor with the same layout, one view at a time, averaged here
        try (OnnxClassifier ort = OnnxClassifier.load(onnx, "composed", new EngineOptions("cpu", 1, 1, "all",
                List.of(1, 2)));
             FeatureExtractor fx = FeatureExtractor.load(backbone(), "627", 4, 3, 8, 8, 1, layout.oneView())) {
            assertThat(fx.width()).isEqualTo(8);
            float[][] p = ort.predict(images, tabular, 2);
            for (int i = 0; i < 2; i++) {
                float[] image = java.util.Arrays.copyOfRange(images, i * 192, (i + 1) * 192);
                double[] x = new double[in];
                for (int v = 0; v < 8; v++) {
                    float[] f = fx.extract(BackboneGraph.flipView(image, 3, 8, 8, v), 1)[0];
                    float[] avg = pooled(BackboneGraph.flipView(image, 3, 8, 8, v), 0);
                    for (int c = 0; c < 4; c++) {
                        assertThat(f[c]).isCloseTo(avg[c], within(1e-5f));
                    }
                    for (int k = 0; k < 8; k++) {
                        x[k] += f[k] / 8.0;
                    }
                }
                x[8] = tabular[i * 2];
                x[9] = tabular[i * 2 + 1];
                double[] z = head(x, fc1, fc1b, lw, lb);
                for (int c = 0; c < 3; c++) {
                    assertThat((double) p[i][c]).isCloseTo(z[c], within(1e-5));
                }
            }
        }
    }

    @Test
    void composedGraphAveragesAvgMaxFeaturesOverTheFourFlips() {
        ModelContract contract = TestContracts.contract(3, 8, 2, 3);
        int in = 8 + 2;
        float[] fc1 = TestContracts.floats(6 * in, 4);
        float[] fc1b = TestContracts.floats(6, 5);
        float[] lw = TestContracts.floats(3 * 6, 6);
        float[] lb = TestContracts.floats(3, 7);
        byte[] onnx = BackboneGraph.compose(backbone(), "627", 4, contract, new int[] {6},
                Weights.of(Map.of("fc1.weight", fc1, "fc1.bias", fc1b, "logits.weight", lw, "logits.bias", lb)),
                "test-backbone", BackboneGraph.Pooling.AVG_MAX, BackboneGraph.FLIP_VIEWS);
        // an asymmetric image, so each flip pools to something else
        float[] images = TestContracts.floats(2 * 3 * 64, 13);
        float[] tabular = TestContracts.floats(2 * 2, 14);
        try (OnnxClassifier ort = OnnxClassifier.load(onnx, "composed", new EngineOptions("cpu", 1, 1, "all",
                List.of(1, 2)))) {
            float[][] p = ort.predict(images, tabular, 2);
            for (int i = 0; i < 2; i++) {
                float[] image = java.util.Arrays.copyOfRange(images, i * 192, (i + 1) * 192);
                double[] x = new double[in];
                for (int v = 0; v < BackboneGraph.FLIP_VIEWS; v++) {
                    float[] view = BackboneGraph.flipView(image, 3, 8, 8, v);
                    float[] avg = pooled(view, 0);
                    float[] max = pooledMax(view, 0);
                    for (int c = 0; c < 4; c++) {
                        x[c] += avg[c] / 4.0;
                        x[4 + c] += max[c] / 4.0;
                    }
                }
                x[8] = tabular[i * 2];
                x[9] = tabular[i * 2 + 1];
                double[] z = head(x, fc1, fc1b, lw, lb);
                for (int c = 0; c < 3; c++) {
                    assertThat((double) p[i][c]).isCloseTo(z[c], within(1e-5));
                }
            }
            // one image alone gives what it gave in the batch: the views of row 0 never mix with row 1's
            float[][] alone = ort.predict(java.util.Arrays.copyOfRange(images, 192, 384),
                    java.util.Arrays.copyOfRange(tabular, 2, 4), 1);
            for (int c = 0; c < 3; c++) {
                assertThat(alone[0][c]).isCloseTo(p[1][c], within(1e-6f));
            }
        }
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    @Test
    void unknownFeatureMapIsAClearError() {
        assertThatThrownBy(() -> BackboneGraph.featureExtractor(backbone(), "nope", 4, "image", "features"))
                .isInstanceOf(OnnxFormatException.class).hasMessageContaining("'nope'");
    }
}
