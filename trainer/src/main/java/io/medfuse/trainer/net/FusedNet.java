package io.medfuse.trainer.net;

import ai.djl.nn.AbstractBlock;

import java.util.Map;

/**
 * A trainable two-input network ({@code NDList(image or features, tabular)} → logits) whose parameters can be written
 * to ONNX by name.
 */
public abstract class FusedNet extends AbstractBlock {

    /** The parameters as {@code <layer>.<weight|bias>} → row-major floats in PyTorch layouts. */
    public abstract Map<String, float[]> weights();
}
