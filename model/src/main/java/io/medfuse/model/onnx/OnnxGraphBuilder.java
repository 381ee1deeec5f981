package io.medfuse.model.onnx;

import com.google.protobuf.ByteString;
import io.medfuse.model.onnx.proto.OnnxProtos.AttributeProto;
import io.medfuse.model.onnx.proto.OnnxProtos.GraphProto;
import io.medfuse.model.onnx.proto.OnnxProtos.ModelProto;
import io.medfuse.model.onnx.proto.OnnxProtos.NodeProto;
import io.medfuse.model.onnx.proto.OnnxProtos.OperatorSetIdProto;
import io.medfuse.model.onnx.proto.OnnxProtos.StringStringEntryProto;
import io.medfuse.model.onnx.proto.OnnxProtos.TensorProto;
import io.medfuse.model.onnx.proto.OnnxProtos.TensorShapeProto;
import io.medfuse.model.onnx.proto.OnnxProtos.TypeProto;
import io.medfuse.model.onnx.proto.OnnxProtos.ValueInfoProto;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes small float32 ONNX graphs: the inputs, float initializers, the handful of operators medfuse's
 * architectures use, outputs and metadata, as an opset-{@value #OPSET} / IR-version-{@value #IR_VERSION} model.
 *
 * <p>Every input and output gets a dynamic batch dimension named {@value #BATCH_DIM} in front of the static
 * dimensions given. Each operator method names its output tensor explicitly (the first argument) and returns it,
 * so graphs read like the network they describe and can be inspected by tensor name. Weights are stored as
 * little-endian {@code raw_data}, as PyTorch's exporter does.
 *
 * <p>Not thread-safe; build one model per instance. {@link #build()} fails with {@link IllegalStateException}
 * when a node reads a tensor nothing defines, or an output is never produced.
 */
public final class OnnxGraphBuilder {

    /** The default-domain opset written into {@code opset_import}. */
    public static final int OPSET = 17;
    /** The ONNX IR version written; 8 is what opset 17 shipped with. */
    public static final int IR_VERSION = 8;
    /** Name of the symbolic batch dimension of every input and output. */
    public static final String BATCH_DIM = "N";
    /** {@code producer_name} written into every model. */
    public static final String PRODUCER = "medfuse";

    private final String graphName;
    private final List<ValueInfoProto> inputs = new ArrayList<>();
    private final List<ValueInfoProto> outputs = new ArrayList<>();
    private final List<TensorProto> initializers = new ArrayList<>();
    private final List<NodeProto> nodes = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final Set<String> defined = new HashSet<>();
    private String docString;

    /** @param graphName the graph's name (shown by ONNX tools); not null */
    public OnnxGraphBuilder(String graphName) {
        this.graphName = requireName(graphName, "graph name");
    }

    /** Declares a float32 graph input of shape [N, dims...]. */
    public OnnxGraphBuilder input(String name, long... dims) {
        define(name);
        inputs.add(valueInfo(name, dims));
        return this;
    }

    /** Declares a float32 graph output of shape [N, dims...]; some node must produce {@code name}. */
    public OnnxGraphBuilder output(String name, long... dims) {
        requireName(name, "output name");
        outputs.add(valueInfo(name, dims));
        return this;
    }

    /** Adds a {@code metadata_props} entry; a second call with the same key replaces the value. */
    public OnnxGraphBuilder metadata(String key, String value) {
        metadata.put(requireName(key, "metadata key"), value == null ? "" : value);
        return this;
    }

    /** Sets the model's {@code doc_string}. */
    public OnnxGraphBuilder docString(String doc) {
        this.docString = doc;
        return this;
    }

    /**
     * Adds a float32 initializer (a constant, usually a weight) in row-major order.
     *
     * @return {@code name}
     * @throws IllegalArgumentException when {@code values.length} is not the product of {@code dims}
     */
    public String initializer(String name, float[] values, long... dims) {
        long count = 1;
        for (long d : dims) {
            if (d <= 0) {
                throw new IllegalArgumentException("initializer '" + name + "': dimensions must be > 0, got "
                        + Arrays.toString(dims));
            }
            count *= d;
        }
        if (count != values.length) {
            throw new IllegalArgumentException("initializer '" + name + "' has " + values.length
                    + " values but shape " + Arrays.toString(dims) + " needs " + count);
        }
        define(name);
        ByteBuffer raw = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        raw.asFloatBuffer().put(values);
        TensorProto.Builder t = TensorProto.newBuilder()
                .setName(name)
                .setDataType(TensorProto.DataType.FLOAT_VALUE)
                .setRawData(ByteString.copyFrom(raw.array()));
        for (long d : dims) {
            t.addDims(d);
        }
        initializers.add(t.build());
        return name;
    }

    /** Adds an int64 initializer (shapes, axes, slice bounds) in row-major order; {@code dims} empty: 1-D. */
    public String int64Initializer(String name, long[] values, long... dims) {
        define(name);
        ByteBuffer raw = ByteBuffer.allocate(values.length * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        raw.asLongBuffer().put(values);
        TensorProto.Builder t = TensorProto.newBuilder()
                .setName(name)
                .setDataType(TensorProto.DataType.INT64_VALUE)
                .setRawData(ByteString.copyFrom(raw.array()));
        if (dims.length == 0) {
            t.addDims(values.length);
        } else {
            for (long d : dims) {
                t.addDims(d);
            }
        }
        initializers.add(t.build());
        return name;
    }

    /**
     * Adds any node of the default domain. Use the typed methods below where one exists.
     *
     * @return {@code output}
     */
    public String node(String opType, String output, List<String> nodeInputs, AttributeProto... attributes) {
        requireName(opType, "op type");
        for (String in : nodeInputs) {
            if (!in.isEmpty() && !defined.contains(in)) {
                throw new IllegalStateException(opType + " node '" + output + "' reads tensor '" + in
                        + "', which no input, initializer or earlier node defines");
            }
        }
        define(output);
        nodes.add(NodeProto.newBuilder()
                .setName(output)
                .setOpType(opType)
                .addAllInput(nodeInputs)
                .addOutput(output)
                .addAllAttribute(Arrays.asList(attributes))
                .build());
        return output;
    }

    /**
     * 2-D convolution with a square kernel, symmetric zero padding and a bias; adds the initializers
     * {@code output + ".weight"} [outChannels, inChannels, k, k] and {@code output + ".bias"} [outChannels].
     */
    public String conv(String output, String x, float[] weight, float[] bias, int outChannels, int inChannels,
                       int kernel, int stride, int pad) {
        String w = initializer(output + ".weight", weight, outChannels, inChannels, kernel, kernel);
        String b = initializer(output + ".bias", bias, outChannels);
        return node("Conv", output, List.of(x, w, b),
                ints("kernel_shape", kernel, kernel),
                ints("strides", stride, stride),
                ints("pads", pad, pad, pad, pad),
                ints("dilations", 1, 1),
                integer("group", 1));
    }

    /** Element-wise max(0, x). */
    public String relu(String output, String x) {
        return node("Relu", output, List.of(x));
    }

    /** Max pooling with a square window, no padding, floor mode (ceil_mode 0). */
    public String maxPool(String output, String x, int kernel, int stride) {
        return node("MaxPool", output, List.of(x),
                ints("kernel_shape", kernel, kernel),
                ints("strides", stride, stride),
                ints("pads", 0, 0, 0, 0),
                integer("ceil_mode", 0));
    }

    /** Mean over H and W: [N,C,H,W] → [N,C,1,1]. */
    public String globalAveragePool(String output, String x) {
        return node("GlobalAveragePool", output, List.of(x));
    }

    /** Max over H and W: [N,C,H,W] → [N,C,1,1]. */
    public String globalMaxPool(String output, String x) {
        return node("GlobalMaxPool", output, List.of(x));
    }

    /** The tensor in reverse order along {@code axis} (Slice with step −1, opset 10+). */
    public String reverse(String output, String x, int axis) {
        String starts = int64Initializer(output + ".starts", new long[] {-1});
        String ends = int64Initializer(output + ".ends", new long[] {Long.MIN_VALUE});
        String axes = int64Initializer(output + ".axes", new long[] {axis});
        String steps = int64Initializer(output + ".steps", new long[] {-1});
        return node("Slice", output, List.of(x, starts, ends, axes, steps));
    }

    /** Reshape to {@code shape} (one entry may be −1; 0 is not used here). */
    public String reshape(String output, String x, long... shape) {
        return node("Reshape", output, List.of(x, int64Initializer(output + ".shape", shape)));
    }

    /** Matrix product {@code a · b} of 2-D tensors, {@code a} a float initializer [rows, cols]. */
    public String matMul(String output, float[] a, int rows, int cols, String b) {
        return node("MatMul", output, List.of(initializer(output + ".a", a, rows, cols), b));
    }

    /** [N, d1, d2, ...] → [N, d1·d2·...], in row-major (NCHW) order. */
    public String flatten(String output, String x) {
        return node("Flatten", output, List.of(x), integer("axis", 1));
    }

    /** Joins tensors along {@code axis}. */
    public String concat(String output, int axis, String... xs) {
        return node("Concat", output, List.of(xs), integer("axis", axis));
    }

    /**
     * Fully connected layer {@code y = x · Wᵀ + b} with the weight stored as [out, in] (PyTorch's {@code Linear}
     * layout) and {@code transB=1}; adds {@code output + ".weight"} and {@code output + ".bias"}. FACTS.md: with
     * transB=0 a square weight still runs, silently transposed, so the layout is fixed here, once.
     */
    public String gemm(String output, String x, float[] weight, float[] bias, int out, int in) {
        String w = initializer(output + ".weight", weight, out, in);
        String b = initializer(output + ".bias", bias, out);
        return node("Gemm", output, List.of(x, w, b),
                floating("alpha", 1f), floating("beta", 1f), integer("transA", 0), integer("transB", 1));
    }

    /** Softmax along {@code axis} (opset 13+ semantics: one axis, not flattened). */
    public String softmax(String output, String x, int axis) {
        return node("Softmax", output, List.of(x), integer("axis", axis));
    }

    /**
     * Inference-mode batch normalisation over channel axis 1; adds {@code output + ".scale"}, {@code ".bias"},
     * {@code ".mean"} and {@code ".var"} initializers of length C.
     */
    public String batchNormalization(String output, String x, float[] scale, float[] bias, float[] mean,
                                     float[] var, float epsilon) {
        int c = scale.length;
        String s = initializer(output + ".scale", scale, c);
        String b = initializer(output + ".bias", bias, c);
        String m = initializer(output + ".mean", mean, c);
        String v = initializer(output + ".var", var, c);
        return node("BatchNormalization", output, List.of(x, s, b, m, v), floating("epsilon", epsilon));
    }

    /** The model. */
    public ModelProto build() {
        if (inputs.isEmpty() || outputs.isEmpty()) {
            throw new IllegalStateException("graph '" + graphName + "' needs at least one input and one output");
        }
        for (ValueInfoProto out : outputs) {
            if (!defined.contains(out.getName())) {
                throw new IllegalStateException("graph '" + graphName + "' declares output '" + out.getName()
                        + "' but no node produces it");
            }
        }
        GraphProto graph = GraphProto.newBuilder()
                .setName(graphName)
                .addAllInput(inputs)
                .addAllOutput(outputs)
                .addAllInitializer(initializers)
                .addAllNode(nodes)
                .build();
        ModelProto.Builder model = ModelProto.newBuilder()
                .setIrVersion(IR_VERSION)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET))
                .setProducerName(PRODUCER)
                .setGraph(graph);
        if (docString != null) {
            model.setDocString(docString);
        }
        metadata.forEach((k, v) -> model.addMetadataProps(
                StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
        return model.build();
    }

    /** The model's serialized bytes: an .onnx file. */
    public byte[] toByteArray() {
        return build().toByteArray();
    }

    /** An INT attribute. */
    public static AttributeProto integer(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

    /** A FLOAT attribute. */
    public static AttributeProto floating(String name, float value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(value)
                .build();
    }

    /** An INTS attribute. */
    public static AttributeProto ints(String name, long... values) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long v : values) {
            a.addInts(v);
        }
        return a.build();
    }

    private static ValueInfoProto valueInfo(String name, long... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(BATCH_DIM));
        for (long d : dims) {
            if (d <= 0) {
                throw new IllegalArgumentException("'" + name + "': static dimensions must be > 0, got "
                        + Arrays.toString(dims));
            }
            shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        }
        return ValueInfoProto.newBuilder()
                .setName(name)
                .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder()
                        .setElemType(TensorProto.DataType.FLOAT_VALUE)
                        .setShape(shape)))
                .build();
    }

    private void define(String name) {
        requireName(name, "tensor name");
        if (!defined.add(name)) {
            throw new IllegalStateException("tensor '" + name + "' is defined twice in graph '" + graphName + "'");
        }
    }

    private static String requireName(String name, String what) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException(what + " must not be blank");
        }
        return name;
    }
}
