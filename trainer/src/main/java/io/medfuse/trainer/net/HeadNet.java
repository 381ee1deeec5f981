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
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import io.medfuse.trainer.InputMode;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The fusion head trained on a frozen backbone's pooled features: {@code NDList(features [N, D], tabular [N, F])} →
 * dropout (training only) → {@code fc1} ({@link #HIDDEN}, ReLU) → {@code logits}. Layer names and layouts are those
 * {@code BackboneGraph.compose} asks for with hidden = {HIDDEN}. Ablations as in {@link SmallFusedNet}: the unused
 * input is read but not registered, and the exporter writes zero columns for it.
 */
public final class HeadNet extends FusedNet {

    /** Units of fc1. */
    public static final int HIDDEN = 128;
    /** Dropout on the head's input during training. */
    public static final float DROPOUT = 0.3f;

    /** Epsilon of the MetaBlock's batch normalisations (the exporter folds them with it). */
    public static final float BN_EPSILON = 1e-5f;

    private final InputMode mode;
    private final int classes;
    private final int featureWidth;
    private final boolean metaBlock;
    private final Dropout dropout;
    private final Linear fc1;
    private final Linear logits;
    private Linear metaF;
    private BatchNorm metaFNorm;
    private Linear metaG;
    private BatchNorm metaGNorm;

    public HeadNet(InputMode mode, int classes, int featureWidth) {
        this(mode, classes, featureWidth, false);
    }

    /**
     * @param metaBlock for the fused network: the tabular row gates the image features instead of joining them,
     *                  {@code sigmoid(tanh(f ⊙ bn(W_f·t + b_f)) + bn(W_g·t + b_g))} (MetaBlock, Pacheco &amp; Krohling
     *                  2021), and fc1 reads the gated features
     */
    public HeadNet(InputMode mode, int classes, int featureWidth, boolean metaBlock) {
        this.mode = mode;
        this.classes = classes;
        this.featureWidth = featureWidth;
        this.metaBlock = metaBlock && mode == InputMode.FUSED;
        if (this.metaBlock) {
            metaF = addChildBlock("meta_f", Linear.builder().setUnits(featureWidth).build());
            metaFNorm = addChildBlock("meta_f_bn", BatchNorm.builder().optEpsilon(BN_EPSILON).build());
            metaG = addChildBlock("meta_g", Linear.builder().setUnits(featureWidth).build());
            metaGNorm = addChildBlock("meta_g_bn", BatchNorm.builder().optEpsilon(BN_EPSILON).build());
        }
        dropout = addChildBlock("dropout", Dropout.builder().optRate(DROPOUT).build());
        fc1 = addChildBlock("fc1", Linear.builder().setUnits(HIDDEN).build());
        logits = addChildBlock("logits", Linear.builder().setUnits(classes).build());
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
                                     PairList<String, Object> params) {
        NDArray features;
        if (metaBlock) {
            NDArray t = inputs.get(1);
            NDArray scale = metaFNorm.forward(ps, metaF.forward(ps, new NDList(t), training), training)
                    .singletonOrThrow();
            NDArray shift = metaGNorm.forward(ps, metaG.forward(ps, new NDList(t), training), training)
                    .singletonOrThrow();
            features = Activation.sigmoid(inputs.get(0).mul(scale).tanh().add(shift));
        } else {
            features = switch (mode) {
                case FUSED -> NDArrays.concat(new NDList(inputs.get(0), inputs.get(1)), 1);
                case IMAGE -> inputs.get(0);
                case TABULAR -> inputs.get(1);
            };
        }
        NDArray x = dropout.forward(ps, new NDList(features), training).singletonOrThrow();
        NDArray h = Activation.relu(fc1.forward(ps, new NDList(x), training).singletonOrThrow());
        return logits.forward(ps, new NDList(h), training);
    }

    /** Whether training needs at least two rows per step (batch normalisation in training mode). */
    public boolean needsTwoRows() {
        return metaBlock;
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), classes)};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        long batch = inputShapes[0].get(0);
        long width = inputShapes[1].get(1);
        long in = switch (mode) {
            case FUSED -> metaBlock ? featureWidth : featureWidth + width;
            case IMAGE -> featureWidth;
            case TABULAR -> width;
        };
        if (metaBlock) {
            metaF.initialize(manager, dataType, new Shape(batch, width));
            metaFNorm.initialize(manager, dataType, new Shape(batch, featureWidth));
            metaG.initialize(manager, dataType, new Shape(batch, width));
            metaGNorm.initialize(manager, dataType, new Shape(batch, featureWidth));
        }
        dropout.initialize(manager, dataType, new Shape(batch, in));
        fc1.initialize(manager, dataType, new Shape(batch, in));
        logits.initialize(manager, dataType, new Shape(batch, HIDDEN));
    }

    @Override
    public Map<String, float[]> weights() {
        Map<String, Block> layers = new LinkedHashMap<>();
        if (metaBlock) {
            layers.put("meta_f", metaF);
            layers.put("meta_f_bn", metaFNorm);
            layers.put("meta_g", metaG);
            layers.put("meta_g_bn", metaGNorm);
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
