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

    /**
     * View {@code view} (0..3) of a [C, H, W] image as the composed graph makes it: 0 the image, 1 mirrored
     * left-right (W reversed), 2 up-down (H reversed), 3 both. What a head trained on flip-averaged features sees.
     */
    public static float[] flipView(float[] image, int channels, int height, int width, int view) {
        if (view < 0 || view >= FLIP_VIEWS) {
            throw new IllegalArgumentException("view must be 0.." + (FLIP_VIEWS - 1) + ", got " + view);
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
        Surgery s = new Surgery(backbone, featureMap, imageInput, false);
        OnnxGraphBuilder head = s.headBuilder("feature-extractor-head", null);
        head.output(pool(head, s.featureName(), pooling, output), pooling.width(channels));
        return s.merge(head.build(), "feature-extractor").toByteArray();
    }

    /** The pooled [N, width] tensor named {@code output}. */
    private static String pool(OnnxGraphBuilder head, String featureMap, Pooling pooling, String output) {
        if (pooling == Pooling.AVG) {
            return head.flatten(output, head.globalAveragePool(output + "_gap", featureMap));
        }
        String avg = head.flatten(output + "_avg", head.globalAveragePool(output + "_gap", featureMap));
        String max = head.flatten(output + "_max", head.globalMaxPool(output + "_gmp", featureMap));
        return head.concat(output, 1, avg, max);
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
        if (views != 1 && views != FLIP_VIEWS) {
            throw new IllegalArgumentException("views must be 1 or " + FLIP_VIEWS + ", got " + views);
        }
        contract.validate();
        if (contract.outputKind() != ModelContract.OutputKind.PROBABILITIES) {
            throw new ModelContractException("a composed model ends in Softmax, so contract '" + contract.name()
                    + "' must say outputKind PROBABILITIES, not " + contract.outputKind());
        }
        Surgery s = new Surgery(backbone, featureMap, contract.imageInput(), views == FLIP_VIEWS);
        OnnxGraphBuilder head = s.headBuilder(contract.name() + "-head", contract);
        int width = pooling.width(channels);
        String x;
        if (views == FLIP_VIEWS) {
            // [4N, width] (views one after another) → [4, N·width] → mean over the views → [N, width]
            String perView = pool(head, s.featureName(), pooling, POOLED + "_views");
            String rows = head.reshape(POOLED + "_by_view", perView, FLIP_VIEWS, -1);
            float[] quarter = new float[FLIP_VIEWS];
            java.util.Arrays.fill(quarter, 1f / FLIP_VIEWS);
            String mean = head.matMul(POOLED + "_mean", quarter, 1, FLIP_VIEWS, rows);
            x = head.reshape(POOLED, mean, -1, width);
        } else {
            x = pool(head, s.featureName(), pooling, POOLED);
        }
        x = head.concat("fused", 1, x, contract.tabularInput());
        int in = width + contract.tabularWidth();
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
        /** The tensor the backbone's first nodes read: the image input, or the batch of its views. */
        private final String backboneInput;

        Surgery(byte[] backbone, String featureMap, String imageInput, boolean flips) {
            this.model = OnnxModelFile.parse(backbone, "backbone");
            this.backboneInput = flips ? "views" : imageInput;
            if (flips) {
                // [N,C,H,W] → [x; x mirrored on W; on H; on both] = [4N,C,H,W]
                OnnxGraphBuilder pre = new OnnxGraphBuilder("views");
                pre.input(imageInput, 1);
                String w = pre.reverse("view_w", imageInput, 3);
                String h = pre.reverse("view_h", imageInput, 2);
                String hw = pre.reverse("view_hw", h, 3);
                pre.concat(backboneInput, 0, imageInput, w, h, hw);
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
            if (!producer.containsKey(featureMap)) {
                throw new OnnxFormatException("the backbone has no tensor '" + featureMap + "' produced by a node");
            }
            // walk back from the feature map: only what it needs stays (the ImageNet classifier goes)
            Set<NodeProto> needed = new HashSet<>();
            Set<String> usedTensors = new HashSet<>();
            Deque<String> todo = new ArrayDeque<>(List.of(featureMap));
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
        }

        String featureName() {
            return rename(featureMap);
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
            if (contract != null) {
                head.input(contract.tabularInput(), contract.tabularWidth());
            }
            return head;
        }

        ModelProto merge(ModelProto head, String graphName) {
            GraphProto h = head.getGraph();
            GraphProto.Builder g = GraphProto.newBuilder().setName(graphName).addInput(input);
            h.getInputList().stream().filter(v -> !v.getName().equals(featureName())).forEach(g::addInput);
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
