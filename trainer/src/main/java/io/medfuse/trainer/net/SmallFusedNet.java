package io.medfuse.trainer.net;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import io.medfuse.trainer.InputMode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The "small" architecture of {@code io.medfuse.model.onnx.FusedCnnFactory#small} as a DJL block, layer for layer
 * and with the same layer names: {@code conv1..conv3} (3×3, stride 2, padding 1; 16, 32, 64 filters; ReLU) → global
 * average pool → ⊕ tabular → {@code fc1} (64, ReLU) → {@code logits} (classes). Input: {@code NDList(image [N,C,H,W],
 * tabular [N,F])}; output: logits [N, classes] (softmax is applied at inference and in the exported graph).
 *
 * <p>For {@link InputMode#IMAGE} the tabular input is read but unused and {@code fc1} takes 64 inputs; for
 * {@link InputMode#TABULAR} the convolutions do not exist and {@code fc1} takes F inputs. Unused branches are not
 * registered at all: a parameter that gets no gradient makes the optimizer step fail (FACTS.md).
 */
public final class SmallFusedNet extends AbstractBlock {

    /** Filters of conv1..conv3, as in FusedCnnFactory. */
    public static final int[] FILTERS = {16, 32, 64};
    /** Units of fc1, as in FusedCnnFactory. */
    public static final int HIDDEN = 64;

    private final InputMode mode;
    private final int classes;
    private final List<Conv2d> convs = new ArrayList<>();
    private final Linear fc1;
    private final Linear logits;

    public SmallFusedNet(InputMode mode, int classes) {
        this.mode = mode;
        this.classes = classes;
        if (mode != InputMode.TABULAR) {
            for (int i = 0; i < FILTERS.length; i++) {
                convs.add(addChildBlock("conv" + (i + 1), Conv2d.builder().setKernelShape(new Shape(3, 3))
                        .optStride(new Shape(2, 2)).optPadding(new Shape(1, 1)).setFilters(FILTERS[i]).build()));
            }
        }
        fc1 = addChildBlock("fc1", Linear.builder().setUnits(HIDDEN).build());
        logits = addChildBlock("logits", Linear.builder().setUnits(classes).build());
    }

    public InputMode mode() {
        return mode;
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
                                     PairList<String, Object> params) {
        NDArray tabular = inputs.get(1);
        NDArray features;
        if (mode == InputMode.TABULAR) {
            features = tabular;
        } else {
            NDArray x = inputs.get(0);
            for (Conv2d conv : convs) {
                x = Activation.relu(conv.forward(ps, new NDList(x), training).singletonOrThrow());
            }
            // global average pool: PyTorch's mean takes one axis here, so flatten H·W first
            Shape shape = x.getShape();
            NDArray pooled = x.reshape(new Shape(shape.get(0), shape.get(1), -1)).mean(new int[] {2});
            features = mode == InputMode.IMAGE ? pooled : NDArrays.concat(new NDList(pooled, tabular), 1);
        }
        NDArray h = Activation.relu(fc1.forward(ps, new NDList(features), training).singletonOrThrow());
        return logits.forward(ps, new NDList(h), training);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), classes)};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape image = inputShapes[0];
        long batch = image.get(0);
        long width = inputShapes[1].get(1);
        Shape x = image;
        for (Conv2d conv : convs) {
            conv.initialize(manager, dataType, x);
            x = conv.getOutputShapes(new Shape[] {x})[0];
        }
        long fcIn = switch (mode) {
            case FUSED -> FILTERS[FILTERS.length - 1] + width;
            case IMAGE -> FILTERS[FILTERS.length - 1];
            case TABULAR -> width;
        };
        fc1.initialize(manager, dataType, new Shape(batch, fcIn));
        logits.initialize(manager, dataType, new Shape(batch, HIDDEN));
    }

    /**
     * The parameters as {@code <layer>.<weight|bias>} → row-major floats, in DJL's (= PyTorch's) layouts: conv
     * [out, in, k, k], linear [out, in]. Walks the layer objects, not DJL's positional parameter names.
     */
    public Map<String, float[]> weights() {
        // DJL prefixes child names with their position ("01conv1"), so walk our own references instead
        Map<String, Block> layers = new LinkedHashMap<>();
        for (int i = 0; i < convs.size(); i++) {
            layers.put("conv" + (i + 1), convs.get(i));
        }
        layers.put("fc1", fc1);
        layers.put("logits", logits);
        Map<String, float[]> out = new LinkedHashMap<>();
        layers.forEach((name, block) -> {
            for (Pair<String, Parameter> p : block.getParameters()) {
                out.put(name + "." + p.getValue().getName(), p.getValue().getArray().toFloatArray());
            }
        });
        return out;
    }
}
