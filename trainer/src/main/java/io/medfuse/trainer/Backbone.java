package io.medfuse.trainer;

import io.medfuse.model.contract.ImageSpec;
import io.medfuse.model.engine.FeatureExtractor;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/**
 * The pretrained backbone medfuse ships (see {@code backbones/NOTICE.md}, Apache-2.0, ONNX Model Zoo): MobileNetV2-1.0
 * int8, used frozen. Its features are the global average of tensor {@value #FEATURE_MAP} ([N,1280,7,7]).
 */
public final class Backbone {

    /** The resource, next to its LICENSE and NOTICE.md. */
    public static final String RESOURCE = "backbones/mobilenetv2-12-int8.onnx";
    /** sha256 of the resource, as published by the ONNX Model Zoo. */
    public static final String SHA256 = "cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f";
    /** The [N,1280,7,7] map after the last 1x1 conv + ReLU6. */
    public static final String FEATURE_MAP = "627";
    /** Width of the pooled feature vector. */
    public static final int FEATURES = 1280;
    /**
     * Earlier block outputs pooled too with {@code --multi-scale} (the int8 graph's quantized tensors, dequantized):
     * the last bottleneck's 320-channel projection and the outputs of the 160-, 96-, 64- and 32-channel stages.
     */
    public static final List<String> EXTRA_MAPS = List.of("624_quantized", "452_quantized", "426_quantized",
            "400_quantized", "365_quantized");
    /** Channels of {@link #EXTRA_MAPS} together. */
    public static final int EXTRA_WIDTH = 320 + 160 + 96 + 64 + 32;
    /**
     * What a dataset read for a frozen backbone keeps per image (whatever the hyper-parameters pool): the last map's
     * mean, the extra maps' means, the last map's maximum; the head reads its columns of it.
     */
    public static final io.medfuse.model.onnx.BackboneGraph.Layout STORED = new io.medfuse.model.onnx.BackboneGraph
            .Layout(io.medfuse.model.onnx.BackboneGraph.Pooling.AVG_MAX, 1, EXTRA_MAPS, EXTRA_WIDTH);
    /** ImageNet preprocessing at 224x224 (short side scaled, centre cropped: for square images the same as stretch). */
    public static final ImageSpec IMAGE_SPEC = new ImageSpec(224, 224, 3, "NCHW", ImageSpec.ResizeMode.CENTER_CROP,
            List.of(0.485, 0.456, 0.406), List.of(0.229, 0.224, 0.225));

    private static volatile byte[] bytes;

    private Backbone() {
    }

    /**
     * The backbone's bytes, checked against {@link #SHA256}.
     *
     * @throws TrainerException when the resource is missing or altered
     */
    public static byte[] bytes() {
        byte[] b = bytes;
        if (b == null) {
            try (InputStream in = Backbone.class.getResourceAsStream(RESOURCE)) {
                if (in == null) {
                    throw new TrainerException("the bundled backbone " + RESOURCE + " is missing from the class path");
                }
                b = in.readAllBytes();
            } catch (IOException e) {
                throw new TrainerException("cannot read the bundled backbone " + RESOURCE + ": " + e.getMessage(), e);
            }
            String sha = io.medfuse.model.onnx.OnnxModelFile.sha256(b);
            if (!SHA256.equals(sha)) {
                throw new TrainerException("the bundled backbone " + RESOURCE + " has sha256 " + sha + ", expected "
                        + SHA256);
            }
            bytes = b;
        }
        return b;
    }

    /** A feature extractor in ONNX Runtime with {@code threads} intra-op threads (0 = default); close it. */
    public static FeatureExtractor extractor(int threads) {
        return extractor(threads, io.medfuse.model.onnx.BackboneGraph.Layout.of(
                io.medfuse.model.onnx.BackboneGraph.Pooling.AVG, 1));
    }

    /** As above, laid out by {@code layout} (one view). */
    public static FeatureExtractor extractor(int threads, io.medfuse.model.onnx.BackboneGraph.Layout layout) {
        return FeatureExtractor.load(bytes(), FEATURE_MAP, FEATURES, IMAGE_SPEC.channels(), IMAGE_SPEC.height(),
                IMAGE_SPEC.width(), threads, layout);
    }

    /**
     * The columns of a {@link #STORED} row that a head with {@code layout}'s pooling and extras reads, in the order
     * the exported graph makes them (mean, extras, maximum).
     */
    public static int[] columns(io.medfuse.model.onnx.BackboneGraph.Layout layout) {
        int extras = layout.extraWidth();
        boolean max = layout.pooling() == io.medfuse.model.onnx.BackboneGraph.Pooling.AVG_MAX;
        int[] cols = new int[layout.width(FEATURES)];
        int k = 0;
        for (int i = 0; i < FEATURES + extras; i++) {
            cols[k++] = i;
        }
        for (int i = 0; max && i < FEATURES; i++) {
            cols[k++] = FEATURES + EXTRA_WIDTH + i;
        }
        return cols;
    }
}
