package io.medfuse.trainer.net;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import io.medfuse.model.onnx.FusedCnnFactory;
import io.medfuse.trainer.InputMode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The "seed" architecture of {@code FusedCnnFactory#seed} as a DJL block, layer for layer and with the same names:
 * {@code conv1} (64, k4 s4) → max-pool 2 → {@code conv2} (128, k3 s2) → max-pool 2 → {@code conv3} (256, k3 s2) →
 * {@code conv4} (512, k3 s2), all ReLU, no padding, floor mode → flatten (NCHW) ⊕ tabular → {@code fc1..fc3} (2048,
 * 1024, 512, ReLU) → {@code logits}. Ablations as in {@link SmallFusedNet}.
 */
public final class SeedFusedNet extends FusedNet {

    private static final int[] KERNELS = {4, 3, 3, 3};
    private static final int[] STRIDES = {4, 2, 2, 2};

    private final InputMode mode;
    private final int classes;
    private final List<Conv2d> convs = new ArrayList<>();
    private final List<Linear> dense = new ArrayList<>();
    private final Linear logits;

    public SeedFusedNet(InputMode mode, int classes) {
        this.mode = mode;
        this.classes = classes;
        if (mode != InputMode.TABULAR) {
            for (int i = 0; i < KERNELS.length; i++) {
                convs.add(addChildBlock("conv" + (i + 1), Conv2d.builder()
                        .setKernelShape(new Shape(KERNELS[i], KERNELS[i])).optStride(new Shape(STRIDES[i], STRIDES[i]))
                        .setFilters(FusedCnnFactory.SEED_FILTERS[i]).build()));
            }
        }
        for (int i = 0; i < FusedCnnFactory.SEED_DENSE.length; i++) {
            dense.add(addChildBlock("fc" + (i + 1), Linear.builder().setUnits(FusedCnnFactory.SEED_DENSE[i]).build()));
        }
        logits = addChildBlock("logits", Linear.builder().setUnits(classes).build());
    }

    private NDArray image(ParameterStore ps, NDArray x, boolean training) {
        for (int i = 0; i < convs.size(); i++) {
            x = Activation.relu(convs.get(i).forward(ps, new NDList(x), training).singletonOrThrow());
            if (i < 2) {
                x = Pool.maxPool2d(x, new Shape(2, 2), new Shape(2, 2), new Shape(0, 0), false);
            }
        }
        return x.reshape(new Shape(x.getShape().get(0), -1));
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
                                     PairList<String, Object> params) {
        NDArray tabular = inputs.get(1);
        NDArray x = switch (mode) {
            case TABULAR -> tabular;
            case IMAGE -> image(ps, inputs.get(0), training);
            case FUSED -> NDArrays.concat(new NDList(image(ps, inputs.get(0), training), tabular), 1);
        };
        for (Linear fc : dense) {
            x = Activation.relu(fc.forward(ps, new NDList(x), training).singletonOrThrow());
        }
        return logits.forward(ps, new NDList(x), training);
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
        for (int i = 0; i < convs.size(); i++) {
            convs.get(i).initialize(manager, dataType, x);
            x = convs.get(i).getOutputShapes(new Shape[] {x})[0];
        }
        long imageFeatures = imageFeatures((int) image.get(2), (int) image.get(3));
        long in = switch (mode) {
            case FUSED -> imageFeatures + width;
            case IMAGE -> imageFeatures;
            case TABULAR -> width;
        };
        for (Linear fc : dense) {
            fc.initialize(manager, dataType, new Shape(batch, in));
            in = fc.getOutputShapes(new Shape[] {new Shape(batch, in)})[0].get(1);
        }
        logits.initialize(manager, dataType, new Shape(batch, in));
    }

    /** Width of the flattened image features for an H×W input, as FusedCnnFactory computes it. */
    public static int imageFeatures(int height, int width) {
        return FusedCnnFactory.SEED_FILTERS[FusedCnnFactory.SEED_FILTERS.length - 1]
                * FusedCnnFactory.seedFeatureSide(height) * FusedCnnFactory.seedFeatureSide(width);
    }

    @Override
    public Map<String, float[]> weights() {
        Map<String, Block> layers = new LinkedHashMap<>();
        for (int i = 0; i < convs.size(); i++) {
            layers.put("conv" + (i + 1), convs.get(i));
        }
        for (int i = 0; i < dense.size(); i++) {
            layers.put("fc" + (i + 1), dense.get(i));
        }
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
