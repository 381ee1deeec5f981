package io.medfuse.model.onnx;

import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.contract.ModelContractException;
import io.medfuse.model.onnx.proto.OnnxProtos.AttributeProto;
import io.medfuse.model.onnx.proto.OnnxProtos.GraphProto;
import io.medfuse.model.onnx.proto.OnnxProtos.ModelProto;
import io.medfuse.model.onnx.proto.OnnxProtos.NodeProto;
import io.medfuse.model.onnx.proto.OnnxProtos.OperatorSetIdProto;
import io.medfuse.model.onnx.proto.OnnxProtos.TensorProto;
import io.medfuse.model.onnx.proto.OnnxProtos.ValueInfoProto;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Graph surgery on a pretrained image backbone (e.g. the ImageNet MobileNetV2 of the ONNX Model Zoo) so it can serve
 * as a frozen feature extractor, and so a head trained on its features can be shipped as ONE graph with it.
 *
 * <p>Both operations keep only the backbone nodes that the chosen feature map needs (the ImageNet classifier is
 * dropped), prefix every backbone tensor, node and initializer with {@value #PREFIX} (so no name can clash with the
 * head's), rename the backbone's image input, and append {@code GlobalAveragePool → Flatten}: pooled features
 * [N, C]. The backbone's opset imports (including {@code com.microsoft} for quantized contrib ops) and IR version are
 * kept; the head uses only operators whose semantics are the same from opset 11 on (Gemm, Relu, Concat, Flatten,
 * GlobalAveragePool, and Softmax over axis 1 of a 2-D tensor).
 */
public final class BackboneGraph {

    /** Prefix of every tensor, node and initializer taken from the backbone. */
    public static final String PREFIX = "backbone/";
    /** Name of the pooled feature tensor [N, C] inside the graphs written here. */
    public static final String POOLED = "backbone_features";
    /** metadata_props key naming the backbone's sha256 in composed models. */
    public static final String BACKBONE_SHA_KEY = "medfuse.backbone.sha256";

    private static final int MIN_OPSET = 11;

    private BackboneGraph() {
    }

    /** How the feature map becomes a vector: its mean over H and W, or the mean followed by the maximum. */
    public enum Pooling {
        /** GlobalAveragePool: [N, C]. */
        AVG,
        /** GlobalAveragePool ⊕ GlobalMaxPool: [N, 2C], the means first. */
        AVG_MAX;

        /** Width of the pooled vector for a feature map of {@code channels}. */
        public int width(int channels) {
            return this == AVG ? channels : 2 * channels;
        }
    }

    /** Views of each image when a composed model averages over flips: itself, mirrored left-right, up-down, both. */
    public static final int FLIP_VIEWS = 4;
    /** The four flips and each of them transposed (H and W swapped): the 8 symmetries of a square. */
    public static final int DIHEDRAL_VIEWS = 8;

    /**
     * What the pooled feature vector is made of: the main feature map's mean, then the mean of each of
     * {@code extraMaps} (block outputs earlier in the backbone, dequantized when the backbone is quantized), then,
     * for {@link Pooling#AVG_MAX}, the main map's maximum; averaged over {@code views} views of the image (1, 4 or
     * 8).
     *
     * @param extraWidth the channels of {@code extraMaps} together
     * @param affine the pooled vector is then scaled and shifted element by element, {@code x ⊙ features.scale +
     *               features.shift} (a standardisation fitted on the training rows), before the head reads it
     */
    public record Layout(Pooling pooling, int views, List<String> extraMaps, int extraWidth, boolean affine) {

        public Layout(Pooling pooling, int views, List<String> extraMaps, int extraWidth) {
            this(pooling, views, extraMaps, extraWidth, false);
        }

        public Layout {
            if (views != 1 && views != FLIP_VIEWS && views != DIHEDRAL_VIEWS) {
                throw new IllegalArgumentException("views must be 1, " + FLIP_VIEWS + " or " + DIHEDRAL_VIEWS
                        + ", got " + views);
            }
            extraMaps = List.copyOf(extraMaps);
            if (extraWidth < 0 || extraMaps.isEmpty() != (extraWidth == 0)) {
                throw new IllegalArgumentException("extra maps " + extraMaps + " with width " + extraWidth);
            }
        }

        /** The main map alone, pooled by {@code pooling}, over {@code views} views. */
        public static Layout of(Pooling pooling, int views) {
            return new Layout(pooling, views, List.of(), 0);
        }

        /** Width of the vector for a main map of {@code channels}. */
        public int width(int channels) {
            return pooling.width(channels) + extraWidth;
        }

        /** The same, one view and no affine (what a feature extractor computes per image). */
        public Layout oneView() {
            return new Layout(pooling, 1, extraMaps, extraWidth, false);
        }

        /** The same, with or without the affine step. */
        public Layout withAffine(boolean a) {
            return new Layout(pooling, views, extraMaps, extraWidth, a);
        }
    }

    /**
     * View {@code view} (0..3) of a [C, H, W] image as the composed graph makes it: 0 the image, 1 mirrored
     * left-right (W reversed), 2 up-down (H reversed), 3 both. What a head trained on flip-averaged features sees.
     */
    public static float[] flipView(float[] image, int channels, int height, int width, int view) {
        if (view >= FLIP_VIEWS && view < DIHEDRAL_VIEWS) {
            if (height != width) {
                throw new IllegalArgumentException("transposed views need a square image, got " + height + "x"
                        + width);
            }
            // view 4 + k: view k, then H and W swapped
            float[] flipped = flipView(image, channels, height, width, view - FLIP_VIEWS);
            float[] out = new float[flipped.length];
            for (int c = 0; c < channels; c++) {
                int plane = c * height * width;
                for (int y = 0; y < height; y++) {
                    for (int x = 0; x < width; x++) {
                        out[plane + x * width + y] = flipped[plane + y * width + x];
                    }
                }
            }
            return out;
        }
        if (view < 0 || view >= FLIP_VIEWS) {
            throw new IllegalArgumentException("view must be 0.." + (DIHEDRAL_VIEWS - 1) + ", got " + view);
        }
        if (image.length != channels * height * width) {
            throw new IllegalArgumentException("expected " + channels * height * width + " floats, got "
                    + image.length);
        }
        boolean flipW = view == 1 || view == 3;
        boolean flipH = view == 2 || view == 3;
        float[] out = new float[image.length];
        for (int c = 0; c < channels; c++) {
            for (int y = 0; y < height; y++) {
                int from = (c * height + (flipH ? height - 1 - y : y)) * width;
                int to = (c * height + y) * width;
                if (flipW) {
                    for (int x = 0; x < width; x++) {
                        out[to + x] = image[from + width - 1 - x];
                    }
                } else {
                    System.arraycopy(image, from, out, to, width);
                }
            }
        }
        return out;
    }

    /**
     * A graph with one input {@code imageInput} (the backbone's image input, renamed) and one output
     * {@code output}: float [N, channels], the global average of {@code featureMap} over H and W.
     *
     * @param featureMap a 4-D float tensor [N, C, H, W] inside the backbone (for MobileNetV2-12-int8: {@code 627})
     * @param channels C, declared as the output's width
     * @throws OnnxFormatException when the backbone is not usable (no such tensor, not one image input, subgraphs)
     */
    public static byte[] featureExtractor(byte[] backbone, String featureMap, int channels, String imageInput,
                                          String output) {
        return featureExtractor(backbone, featureMap, channels, imageInput, output, Pooling.AVG);
    }

    /** As above, pooled by {@code pooling}: the output is [N, pooling.width(channels)]. */
    public static byte[] featureExtractor(byte[] backbone, String featureMap, int channels, String imageInput,
                                          String output, Pooling pooling) {
        return featureExtractor(backbone, featureMap, channels, imageInput, output, Layout.of(pooling, 1));
    }

    /** As above, laid out by {@code layout} (one view): the output is [N, layout.width(channels)]. */
    public static byte[] featureExtractor(byte[] backbone, String featureMap, int channels, String imageInput,
                                          String output, Layout layout) {
        if (layout.views() != 1 || layout.affine()) {
            throw new IllegalArgumentException("a feature extractor sees one view per image and pools only; make "
                    + "the views first and scale after");
        }
        Surgery s = new Surgery(backbone, featureMap, layout.extraMaps(), imageInput, 1);
        OnnxGraphBuilder head = s.headBuilder("feature-extractor-head", null);
        head.output(pool(head, s, layout.pooling(), output), layout.width(channels));
        return s.merge(head.build(), "feature-extractor").toByteArray();
    }

    /** The pooled [N, width] tensor named {@code output}: mean of the main map, of each extra, then the maximum. */
    private static String pool(OnnxGraphBuilder head, Surgery s, Pooling pooling, String output) {
        if (s.extraNames().isEmpty() && pooling == Pooling.AVG) {
            return head.flatten(output, head.globalAveragePool(output + "_gap", s.featureName()));
        }
        List<String> parts = new ArrayList<>();
        parts.add(head.flatten(output + "_avg", head.globalAveragePool(output + "_gap", s.featureName())));
        List<String> extras = s.extraNames();
        for (int i = 0; i < extras.size(); i++) {
            parts.add(head.flatten(output + "_extra" + i, head.globalAveragePool(output + "_extra" + i + "_gap",
                    extras.get(i))));
        }
        if (pooling == Pooling.AVG_MAX) {
            parts.add(head.flatten(output + "_max", head.globalMaxPool(output + "_gmp", s.featureName())));
        }
        return head.concat(output, 1, parts.toArray(String[]::new));
    }

    /**
     * The backbone composed with a fusion head, as one graph that {@code OnnxClassifier} serves: image input
     * {@code contract.imageInput()} → backbone → pooled features [N, channels] ⊕ tabular [N, F] →
     * {@code fc1..fcK} (Gemm, ReLU) → {@code logits} (Gemm) → Softmax → {@code contract.output()}. The weights are
     * asked for as {@code fc<i>.weight} [out, in] / {@code fc<i>.bias} and {@code logits.weight} / {@code .bias}
     * (PyTorch Linear layouts, Gemm transB=1); fc1's input is the pooled features first, then the tabular columns.
     *
     * @param hidden the units of fc1..fcK (may be empty: features ⊕ tabular → logits)
     * @param architecture written under {@link FusedCnnFactory#ARCHITECTURE_KEY}
     * @throws ModelContractException when the contract is invalid or does not say PROBABILITIES
     * @throws OnnxFormatException when the backbone is not usable
     * @throws IllegalArgumentException when {@code weights} lacks a tensor or has one of another size
     */
    public static byte[] compose(byte[] backbone, String featureMap, int channels, ModelContract contract,
                                 int[] hidden, Weights weights, String architecture) {
        return compose(backbone, featureMap, channels, contract, hidden, weights, architecture, Pooling.AVG, 1);
    }

    /**
     * As above, with the features pooled by {@code pooling} (fc1's input is then {@code pooling.width(channels)}
     * features, then the tabular columns) and, with {@code views} = {@link #FLIP_VIEWS}, averaged over the image and
     * its three flips (left-right, up-down, both: Slice with step −1 on W and H), each run through the backbone as
     * one batch of 4N; {@code views} = 1: the image only.
     */
    public static byte[] compose(byte[] backbone, String featureMap, int channels, ModelContract contract,
                                 int[] hidden, Weights weights, String architecture, Pooling pooling, int views) {
        return compose(backbone, featureMap, channels, contract, hidden, weights, architecture, pooling, views, false);
    }

    /**
     * As above; with {@code metaBlock} the tabular row gates the pooled features instead of joining them (MetaBlock,
     * Pacheco &amp; Krohling 2021): {@code g = sigmoid(tanh(f ⊙ (W_f·t + b_f)) + (W_g·t + b_g))}, with
     * {@code meta_f.weight} / {@code meta_g.weight} [width, F] and their biases (a trained batch normalisation already
     * folded in), and fc1 reads g alone ([hidden, width]).
     */
    public static byte[] compose(byte[] backbone, String featureMap, int channels, ModelContract contract,
                                 int[] hidden, Weights weights, String architecture, Pooling pooling, int views,
                                 boolean metaBlock) {
        return compose(backbone, featureMap, channels, contract, hidden, weights, architecture,
                Layout.of(pooling, views), metaBlock);
    }

    /** As above, the features laid out by {@code layout} (extra maps and 8 views included). */
    public static byte[] compose(byte[] backbone, String featureMap, int channels, ModelContract contract,
                                 int[] hidden, Weights weights, String architecture, Layout layout,
                                 boolean metaBlock) {
        contract.validate();
        if (contract.outputKind() != ModelContract.OutputKind.PROBABILITIES) {
            throw new ModelContractException("a composed model ends in Softmax, so contract '" + contract.name()
                    + "' must say outputKind PROBABILITIES, not " + contract.outputKind());
        }
        int views = layout.views();
        Surgery s = new Surgery(backbone, featureMap, layout.extraMaps(), contract.imageInput(), views);
        OnnxGraphBuilder head = s.headBuilder(contract.name() + "-head", contract);
        int width = layout.width(channels);
        String x;
        if (views > 1) {
            // [V·N, width] (views one after another) → [V, N·width] → mean over the views → [N, width]
            String perView = pool(head, s, layout.pooling(), POOLED + "_views");
            String rows = head.reshape(POOLED + "_by_view", perView, views, -1);
            float[] share = new float[views];
            java.util.Arrays.fill(share, 1f / views);
            String mean = head.matMul(POOLED + "_mean", share, 1, views, rows);
            x = head.reshape(POOLED, mean, -1, width);
        } else {
            x = pool(head, s, layout.pooling(), POOLED);
        }
        if (layout.affine()) {
            String scale = head.initializer("features.scale", weights.get("features.scale", width), width);
            String shift = head.initializer("features.shift", weights.get("features.shift", width), width);
            x = head.node("Add", POOLED + "_standardized", List.of(head.node("Mul", POOLED + "_scaled",
                    List.of(x, scale)), shift));
        }
        int in;
        if (metaBlock) {
            int f = contract.tabularWidth();
            String t = contract.tabularInput();
            String scale = head.gemm("meta_f", t, weights.get("meta_f.weight", width, f),
                    weights.get("meta_f.bias", width), width, f);
            String shift = head.gemm("meta_g", t, weights.get("meta_g.weight", width, f),
                    weights.get("meta_g.bias", width), width, f);
            String gated = head.node("Tanh", "meta_tanh", List.of(head.node("Mul", "meta_mul", List.of(x, scale))));
            x = head.node("Sigmoid", "fused", List.of(head.node("Add", "meta_add", List.of(gated, shift))));
            in = width;
        } else {
            x = head.concat("fused", 1, x, contract.tabularInput());
            in = width + contract.tabularWidth();
        }
        for (int i = 0; i < hidden.length; i++) {
            String name = "fc" + (i + 1);
            int out = hidden[i];
            x = head.gemm(name, x, weights.get(name + ".weight", out, in), weights.get(name + ".bias", out), out, in);
            x = head.relu(name + "_relu", x);
            in = out;
        }
        int classes = contract.labels().size();
        x = head.gemm("logits", x, weights.get("logits.weight", classes, in), weights.get("logits.bias", classes),
                classes, in);
        head.softmax(contract.output(), x, 1);
        head.output(contract.output(), classes);
        head.metadata(ModelContract.METADATA_KEY, io.medfuse.model.contract.ModelContractJson.write(contract))
                .metadata(FusedCnnFactory.ARCHITECTURE_KEY, architecture)
                .metadata(BACKBONE_SHA_KEY, OnnxModelFile.sha256(backbone));
        ModelProto merged = s.merge(head.build(), contract.name() + "-" + architecture);
        return merged.toBuilder()
                .setDocString("medfuse '" + architecture + "' fused image + tabular classifier: " + contract.name()
                        + " " + contract.version() + " (frozen backbone sha256 " + OnnxModelFile.sha256(backbone)
                        + " under '" + PREFIX + "', trained fusion head)")
                .build().toByteArray();
    }

    /** The pruned, renamed backbone and how to merge a head built with {@link OnnxGraphBuilder} onto it. */
    private static final class Surgery {
        private final ModelProto model;
        private final String imageInput;
        private final String originalInput;
        private final String featureMap;
        private final List<NodeProto> nodes = new ArrayList<>();
        private final List<TensorProto> initializers = new ArrayList<>();
        private final ValueInfoProto input;
        /** Nodes before the backbone's (the flipped views), or none; and their initializers. */
        private final List<NodeProto> preNodes = new ArrayList<>();
        private final List<TensorProto> preInitializers = new ArrayList<>();
        private final List<String> extraNames = new ArrayList<>();
        /** The tensor the backbone's first nodes read: the image input, or the batch of its views. */
        private final String backboneInput;

        Surgery(byte[] backbone, String featureMap, List<String> extraMaps, String imageInput, int views) {
            this.model = OnnxModelFile.parse(backbone, "backbone");
            this.backboneInput = views > 1 ? "views" : imageInput;
            if (views > 1) {
                // [N,C,H,W] → [x; x mirrored on W; on H; on both (; each transposed)] = [V·N,C,H,W]
                OnnxGraphBuilder pre = new OnnxGraphBuilder("views");
                pre.input(imageInput, 1);
                String w = pre.reverse("view_w", imageInput, 3);
                String h = pre.reverse("view_h", imageInput, 2);
                String hw = pre.reverse("view_hw", h, 3);
                List<String> all = new ArrayList<>(List.of(imageInput, w, h, hw));
                if (views == DIHEDRAL_VIEWS) {
                    for (String v : List.of(imageInput, w, h, hw)) {
                        all.add(pre.node("Transpose", "view_t_" + (v.equals(imageInput) ? "image" : v), List.of(v),
                                OnnxGraphBuilder.ints("perm", 0, 1, 3, 2)));
                    }
                }
                pre.concat(backboneInput, 0, all.toArray(String[]::new));
                pre.output(backboneInput, 1); // dropped with the placeholder input: only the nodes are kept
                GraphProto g = pre.build().getGraph();
                preNodes.addAll(g.getNodeList());
                preInitializers.addAll(g.getInitializerList());
            }
            this.featureMap = featureMap;
            this.imageInput = imageInput;
            GraphProto g = model.getGraph();
            Set<String> initNames = new HashSet<>();
            g.getInitializerList().forEach(t -> initNames.add(t.getName()));
            List<ValueInfoProto> realInputs = g.getInputList().stream()
                    .filter(v -> !initNames.contains(v.getName())).toList();
            if (realInputs.size() != 1) {
                throw new OnnxFormatException("a backbone must have exactly one image input, this one has "
                        + realInputs.stream().map(ValueInfoProto::getName).toList());
            }
            this.originalInput = realInputs.get(0).getName();
            this.input = realInputs.get(0).toBuilder().setName(imageInput).build();

            Map<String, NodeProto> producer = new HashMap<>();
            for (NodeProto n : g.getNodeList()) {
                for (AttributeProto a : n.getAttributeList()) {
                    if (a.hasG() || a.getGraphsCount() > 0) {
                        throw new OnnxFormatException("backbone node '" + n.getName() + "' (" + n.getOpType()
                                + ") has a subgraph; backbones with control flow are not supported");
                    }
                }
                n.getOutputList().forEach(o -> producer.put(o, n));
            }
            for (String map : concat(featureMap, extraMaps)) {
                if (!producer.containsKey(map)) {
                    throw new OnnxFormatException("the backbone has no tensor '" + map + "' produced by a node");
                }
            }
            // walk back from the feature maps: only what they need stays (the ImageNet classifier goes)
            Set<NodeProto> needed = new HashSet<>();
            Set<String> usedTensors = new HashSet<>();
            Deque<String> todo = new ArrayDeque<>(concat(featureMap, extraMaps));
            while (!todo.isEmpty()) {
                String t = todo.pop();
                if (!usedTensors.add(t)) {
                    continue;
                }
                NodeProto p = producer.get(t);
                if (p != null && needed.add(p)) {
                    p.getInputList().stream().filter(i -> !i.isEmpty()).forEach(todo::push);
                }
            }
            for (NodeProto n : g.getNodeList()) { // graph order is a valid topological order; keep it
                if (needed.contains(n)) {
                    NodeProto.Builder b = n.toBuilder().clearInput().clearOutput()
                            .setName(PREFIX + (n.getName().isEmpty() ? n.getOutput(0) : n.getName()));
                    n.getInputList().forEach(i -> b.addInput(rename(i)));
                    n.getOutputList().forEach(o -> b.addOutput(rename(o)));
                    nodes.add(b.build());
                }
            }
            for (TensorProto t : g.getInitializerList()) {
                if (usedTensors.contains(t.getName())) {
                    initializers.add(t.toBuilder().setName(rename(t.getName())).build());
                }
            }
            // a quantized block output (QLinearConv / QLinearAdd: its scale and zero point are inputs 6 and 7) is
            // dequantized to float for pooling; a float tensor is pooled as it is
            for (String map : extraMaps) {
                NodeProto p = producer.get(map);
                boolean quantized = (p.getOpType().equals("QLinearConv") || p.getOpType().equals("QLinearAdd"))
                        && p.getInputCount() >= 8;
                if (quantized) {
                    String out = rename(map) + "_float";
                    nodes.add(NodeProto.newBuilder().setName(out).setOpType("DequantizeLinear")
                            .addInput(rename(map)).addInput(rename(p.getInput(6))).addInput(rename(p.getInput(7)))
                            .addOutput(out).build());
                    extraNames.add(out);
                } else {
                    extraNames.add(rename(map));
                }
            }
        }

        private static List<String> concat(String first, List<String> rest) {
            List<String> all = new ArrayList<>(List.of(first));
            all.addAll(rest);
            return all;
        }

        String featureName() {
            return rename(featureMap);
        }

        /** The float tensors of the extra maps, in order. */
        List<String> extraNames() {
            return extraNames;
        }

        private String rename(String tensor) {
            if (tensor.isEmpty()) {
                return tensor; // an omitted optional input
            }
            return tensor.equals(originalInput) ? backboneInput : PREFIX + tensor;
        }

        /** A builder whose graph reads the (renamed) feature map, and the tabular input when composing. */
        OnnxGraphBuilder headBuilder(String name, ModelContract contract) {
            OnnxGraphBuilder head = new OnnxGraphBuilder(name);
            head.input(featureName(), 1); // a placeholder so nodes may read it; dropped in merge()
            extraNames.forEach(e -> head.input(e, 1));
            if (contract != null) {
                head.input(contract.tabularInput(), contract.tabularWidth());
            }
            return head;
        }

        ModelProto merge(ModelProto head, String graphName) {
            GraphProto h = head.getGraph();
            GraphProto.Builder g = GraphProto.newBuilder().setName(graphName).addInput(input);
            h.getInputList().stream().filter(v -> !v.getName().equals(featureName())
                    && !extraNames.contains(v.getName())).forEach(g::addInput);
            g.addAllNode(preNodes).addAllNode(nodes).addAllNode(h.getNodeList())
                    .addAllInitializer(preInitializers).addAllInitializer(initializers)
                    .addAllInitializer(h.getInitializerList())
                    .addAllOutput(h.getOutputList());
            List<OperatorSetIdProto> opsets = new ArrayList<>();
            boolean hasDefault = false;
            for (OperatorSetIdProto o : model.getOpsetImportList()) {
                if (o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) {
                    hasDefault = true;
                    if (o.getVersion() < MIN_OPSET) {
                        throw new OnnxFormatException("the backbone uses opset " + o.getVersion()
                                + "; the head needs at least " + MIN_OPSET);
                    }
                }
                opsets.add(o);
            }
            if (!hasDefault) {
                opsets.add(OperatorSetIdProto.newBuilder().setDomain("").setVersion(OnnxGraphBuilder.OPSET).build());
            }
            return ModelProto.newBuilder()
                    .setIrVersion(model.getIrVersion())
                    .addAllOpsetImport(opsets)
                    .setProducerName(OnnxGraphBuilder.PRODUCER)
                    .setGraph(g)
                    .addAllMetadataProps(head.getMetadataPropsList())
                    .build();
        }
    }
}
