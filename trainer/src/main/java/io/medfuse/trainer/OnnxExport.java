package io.medfuse.trainer;

import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.onnx.FusedCnnFactory;
import io.medfuse.model.onnx.Weights;
import io.medfuse.trainer.net.SmallFusedNet;

import java.util.HashMap;
import java.util.Map;

/**
 * Writes a trained {@link SmallFusedNet} through {@link FusedCnnFactory#small(ModelContract, Weights)}, the one
 * description of the architecture the worker serves. DJL's layouts are PyTorch's: conv [out, in, k, k] as ONNX
 * Conv wants, linear [out, in] which the factory writes as Gemm with transB=1 (FACTS.md).
 *
 * <p>Ablations keep the full two-input graph so the worker serves them unchanged: for {@link InputMode#IMAGE}
 * {@code fc1}'s tabular columns are zero; for {@link InputMode#TABULAR} the convolutions are zero (the pooled image
 * features are then 0) and so are {@code fc1}'s image columns. Either way the output depends on the one input only,
 * exactly as in the trained network.
 */
public final class OnnxExport {

    private OnnxExport() {
    }

    /**
     * @param weights {@link SmallFusedNet#weights()}
     * @return the ONNX file's bytes, with {@code contract} in its metadata
     */
    public static byte[] small(ModelContract contract, InputMode mode, Map<String, float[]> weights) {
        return FusedCnnFactory.small(contract, Weights.of(complete(contract, mode, weights)));
    }

    /** The trained tensors, with the zero tensors an ablation leaves out added, keyed as the factory asks. */
    static Map<String, float[]> complete(ModelContract contract, InputMode mode, Map<String, float[]> trained) {
        Map<String, float[]> all = new HashMap<>(trained);
        int[] filters = SmallFusedNet.FILTERS;
        int imageFeatures = filters[filters.length - 1];
        int width = contract.tabularWidth();
        int hidden = SmallFusedNet.HIDDEN;
        if (mode == InputMode.TABULAR) {
            int in = contract.image().channels();
            for (int i = 0; i < filters.length; i++) {
                all.put("conv" + (i + 1) + ".weight", new float[filters[i] * in * 9]);
                all.put("conv" + (i + 1) + ".bias", new float[filters[i]]);
                in = filters[i];
            }
        }
        if (mode != InputMode.FUSED) {
            float[] w = trained.get("fc1.weight");
            int trainedIn = mode == InputMode.IMAGE ? imageFeatures : width;
            int offset = mode == InputMode.IMAGE ? 0 : imageFeatures;
            int fusedIn = imageFeatures + width;
            if (w == null || w.length != hidden * trainedIn) {
                throw new TrainerException("fc1 of the " + mode.cli() + "-only network has "
                        + (w == null ? "no weights" : w.length + " weights") + ", expected " + hidden + "x" + trainedIn);
            }
            float[] fused = new float[hidden * fusedIn];
            for (int o = 0; o < hidden; o++) {
                System.arraycopy(w, o * trainedIn, fused, o * fusedIn + offset, trainedIn);
            }
            all.put("fc1.weight", fused);
        }
        return all;
    }
}
