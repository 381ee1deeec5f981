package io.medfuse.model.engine;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.medfuse.model.onnx.BackboneGraph;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;

/**
 * A frozen image backbone in ONNX Runtime that returns pooled features: the backbone is cut at a feature map and
 * given {@code GlobalAveragePool → Flatten} by {@link BackboneGraph#featureExtractor}. Thread-safe; close once.
 */
public final class FeatureExtractor implements AutoCloseable {

    private static final String INPUT = "image";
    private static final String OUTPUT = "features";

    private final OrtEnvironment env;
    private final OrtSession session;
    private final int channels;
    private final int height;
    private final int width;
    private final int features;

    private FeatureExtractor(OrtEnvironment env, OrtSession session, int channels, int height, int width,
                             int features) {
        this.env = env;
        this.session = session;
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.features = features;
    }

    /**
     * @param backbone the backbone's ONNX bytes
     * @param featureMap the [N, C, H, W] tensor to pool (MobileNetV2-12-int8: {@code 627}, C = 1280)
     * @param features C
     * @param channels, height, width the image tensor the backbone takes (e.g. 3, 224, 224)
     * @param threads ONNX Runtime intra-op threads (0 = its default)
     * @throws ModelInferenceException when ONNX Runtime rejects the graph
     */
    public static FeatureExtractor load(byte[] backbone, String featureMap, int features, int channels, int height,
                                        int width, int threads) {
        return load(backbone, featureMap, features, channels, height, width, threads, BackboneGraph.Pooling.AVG);
    }

    /** As above, pooled by {@code pooling}: rows of {@code pooling.width(features)} floats. */
    public static FeatureExtractor load(byte[] backbone, String featureMap, int features, int channels, int height,
                                        int width, int threads, BackboneGraph.Pooling pooling) {
        return load(backbone, featureMap, features, channels, height, width, threads,
                BackboneGraph.Layout.of(pooling, 1));
    }

    /** As above, laid out by {@code layout} (one view): rows of {@code layout.width(features)} floats. */
    public static FeatureExtractor load(byte[] backbone, String featureMap, int features, int channels, int height,
                                        int width, int threads, BackboneGraph.Layout layout) {
        byte[] graph = BackboneGraph.featureExtractor(backbone, featureMap, features, INPUT, OUTPUT, layout);
        features = layout.width(features);
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            if (threads > 0) {
                so.setIntraOpNumThreads(threads);
            }
            so.setInterOpNumThreads(1);
            so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            return new FeatureExtractor(env, env.createSession(graph, so), channels, height, width, features);
        } catch (OrtException e) {
            throw new ModelInferenceException("ONNX Runtime cannot load the feature extractor cut at '" + featureMap
                    + "': " + e.getMessage(), e);
        }
    }

    /** The version of the ONNX Runtime that extracts features here (its kernels decide the floats, to the last bit). */
    public static String runtimeVersion() {
        return OrtEnvironment.getEnvironment().getVersion();
    }

    /** Width of one feature vector. */
    public int width() {
        return features;
    }

    /**
     * @param images n·C·H·W floats, images one after another, preprocessed as the backbone expects
     * @return n rows of {@link #width()} floats
     * @throws ModelInferenceException when ONNX Runtime fails
     */
    public float[][] extract(float[] images, int n) {
        int size = channels * height * width;
        if (images.length != (long) n * size) {
            throw new IllegalArgumentException("expected " + n + " images of " + size + " floats, got "
                    + images.length + " floats");
        }
        float[][] out = new float[n][];
        if (n == 0) {
            return out;
        }
        try (OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(images),
                new long[] {n, channels, height, width});
             OrtSession.Result r = session.run(Map.of(INPUT, in), Set.of(OUTPUT))) {
            OnnxValue v = r.get(OUTPUT).orElseThrow();
            if (!(v instanceof OnnxTensor t) || t.getInfo().type != OnnxJavaType.FLOAT
                    || !Arrays.equals(t.getInfo().getShape(), new long[] {n, features})) {
                throw new ModelInferenceException("the feature extractor returned " + v.getInfo() + ", expected float ["
                        + n + "," + features + "]");
            }
            FloatBuffer buf = t.getFloatBuffer();
            for (int i = 0; i < n; i++) {
                out[i] = new float[features];
                buf.get(i * features, out[i]);
            }
            return out;
        } catch (OrtException e) {
            throw new ModelInferenceException("the feature extractor failed on " + n + " images: " + e.getMessage(),
                    e);
        }
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new ModelInferenceException("closing the feature extractor failed: " + e.getMessage(), e);
        }
    }
}
