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

    /**
     * The bundled backbone composed with a trained {@link io.medfuse.trainer.net.HeadNet} as one graph (inputs
     * {@code image} and {@code tabular}). An empty {@code weights} map writes a He-initialised head (a check that the
     * composition loads before training).
     *
     * @param hp the inputs the head saw, its pooling and whether the features are averaged over flips
     * @param weights {@link io.medfuse.trainer.net.HeadNet#weights()}
     */
    public static byte[] mobilenet(ModelContract contract, HyperParameters hp, Map<String, float[]> weights) {
        int hidden = io.medfuse.trainer.net.HeadNet.HIDDEN;
        Weights w = weights.isEmpty() ? Weights.heNormal(0)
                : Weights.of(hp.metaBlock() ? foldMetaBlock(weights)
                : completeHead(contract, hp.inputs(), hp.featureWidth(), weights));
        return io.medfuse.model.onnx.BackboneGraph.compose(Backbone.bytes(), Backbone.FEATURE_MAP, Backbone.FEATURES,
                contract, new int[] {hidden}, w, "mobilenetv2", hp.layout(), hp.metaBlock());
    }

    /**
     * A MetaBlock head's weights with each trained batch normalisation folded into the linear layer before it, as
     * inference computes it: {@code W' = W · γ/√(var+ε)} row by row, {@code b' = (b − mean) · γ/√(var+ε) + β}.
     */
    static Map<String, float[]> foldMetaBlock(Map<String, float[]> trained) {
        Map<String, float[]> all = new HashMap<>(trained);
        for (String layer : new String[] {"meta_f", "meta_g"}) {
            float[] w = trained.get(layer + ".weight");
            float[] b = trained.get(layer + ".bias");
            float[] gamma = trained.get(layer + "_bn.gamma");
            float[] beta = trained.get(layer + "_bn.beta");
            float[] mean = trained.get(layer + "_bn.runningMean");
            float[] var = trained.get(layer + "_bn.runningVar");
            if (w == null || b == null || gamma == null || beta == null || mean == null || var == null) {
                throw new TrainerException("the MetaBlock head lacks " + layer + "'s weights or batch "
                        + "normalisation; it has " + new java.util.TreeSet<>(trained.keySet()));
            }
            int out = b.length;
            int in = w.length / out;
            float[] fw = new float[w.length];
            float[] fb = new float[out];
            for (int o = 0; o < out; o++) {
                double k = gamma[o] / Math.sqrt(var[o] + io.medfuse.trainer.net.HeadNet.BN_EPSILON);
                for (int i = 0; i < in; i++) {
                    fw[o * in + i] = (float) (w[o * in + i] * k);
                }
                fb[o] = (float) ((b[o] - mean[o]) * k + beta[o]);
            }
            all.put(layer + ".weight", fw);
            all.put(layer + ".bias", fb);
        }
        return all;
    }

    /**
     * A trained {@link io.medfuse.trainer.net.SeedFusedNet} through {@link FusedCnnFactory#seed(ModelContract,
     * Weights)}; ablations get zero tensors for the input they did not see, as for {@link #small}.
     */
    public static byte[] seed(ModelContract contract, InputMode mode, Map<String, float[]> weights) {
        Map<String, float[]> all = new HashMap<>(weights);
        int[] filters = FusedCnnFactory.SEED_FILTERS;
        int[] kernels = {4, 3, 3, 3};
        if (mode == InputMode.TABULAR) {
            int in = contract.image().channels();
            for (int i = 0; i < filters.length; i++) {
                all.put("conv" + (i + 1) + ".weight", new float[filters[i] * in * kernels[i] * kernels[i]]);
                all.put("conv" + (i + 1) + ".bias", new float[filters[i]]);
                in = filters[i];
            }
        }
        if (mode != InputMode.FUSED) {
            int imageFeatures = io.medfuse.trainer.net.SeedFusedNet.imageFeatures(contract.image().height(),
                    contract.image().width());
            all.put("fc1.weight", widen("fc1", mode, weights.get("fc1.weight"), FusedCnnFactory.SEED_DENSE[0],
                    imageFeatures, contract.tabularWidth()));
        }
        return FusedCnnFactory.seed(contract, Weights.of(all));
    }

    /** A head trained on one input only, with fc1's columns for the other input at zero. */
    static Map<String, float[]> completeHead(ModelContract contract, InputMode mode, int featureWidth,
                                             Map<String, float[]> trained) {
        Map<String, float[]> all = new HashMap<>(trained);
        if (mode != InputMode.FUSED) {
            all.put("fc1.weight", widen("fc1", mode, trained.get("fc1.weight"), io.medfuse.trainer.net.HeadNet.HIDDEN,
                    featureWidth, contract.tabularWidth()));
        }
        return all;
    }

    /** fc1 [hidden, trainedIn] → [hidden, imageFeatures + width] with the untrained input's columns at zero. */
    private static float[] widen(String layer, InputMode mode, float[] w, int hidden, int imageFeatures, int width) {
        int trainedIn = mode == InputMode.IMAGE ? imageFeatures : width;
        int offset = mode == InputMode.IMAGE ? 0 : imageFeatures;
        int fusedIn = imageFeatures + width;
        if (w == null || w.length != hidden * trainedIn) {
            throw new TrainerException(layer + " of the " + mode.cli() + "-only network has "
                    + (w == null ? "no weights" : w.length + " weights") + ", expected " + hidden + "x" + trainedIn);
        }
        float[] fused = new float[hidden * fusedIn];
        for (int o = 0; o < hidden; o++) {
            System.arraycopy(w, o * trainedIn, fused, o * fusedIn + offset, trainedIn);
        }
        return fused;
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
            all.put("fc1.weight", widen("fc1", mode, trained.get("fc1.weight"), hidden, imageFeatures, width));
        }
        return all;
    }
}
