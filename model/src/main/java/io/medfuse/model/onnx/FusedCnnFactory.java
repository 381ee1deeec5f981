package io.medfuse.model.onnx;

import io.medfuse.model.contract.ImageSpec;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.contract.ModelContractException;
import io.medfuse.model.contract.ModelContractJson;

import java.util.Random;

/**
 * The fused image + tabular architectures medfuse writes, as ONNX files with weights drawn from a seeded RNG
 * (He-normal: N(0, 2/fan_in), biases 0), so the same contract and seed always give the same bytes.
 *
 * <p>Input and output names, image size, channels, tabular width and class count all come from the contract,
 * which is validated and written into {@code metadata_props} together with {@value #ARCHITECTURE_KEY}. The output
 * holds probabilities (Softmax in the graph): the contract's {@code outputKind} must be PROBABILITIES.
 *
 * <p>Weights come from {@link Random#nextGaussian()}, whose algorithm the JDK specifies, so they are the same on
 * every JVM.
 */
public final class FusedCnnFactory {

    /** metadata_props key naming the architecture ("small" or "seed"). */
    public static final String ARCHITECTURE_KEY = "medfuse.architecture";

    private FusedCnnFactory() {
    }

    /**
     * "small": image [N,C,H,W] → Conv3x3(16, s2, p1)+ReLU → Conv3x3(32, s2, p1)+ReLU → Conv3x3(64, s2, p1)+ReLU →
     * GlobalAveragePool → Flatten (64) ⊕ tabular [N,F] → Gemm(64)+ReLU → Gemm(classes) → Softmax. Any image size
     * ≥ 1×1 works (padding keeps every stage ≥ 1).
     *
     * @throws ModelContractException when the contract is invalid or its output kind is not PROBABILITIES
     */
    public static byte[] small(ModelContract contract, long seed) {
        return small(contract, Weights.heNormal(seed));
    }

    /**
     * The "small" architecture with the given weights, e.g. a trained network's: {@code conv1..conv3} [out, in, 3,
     * 3], {@code fc1} [64, 64 + tabular width] (image features first, then the tabular columns, as concatenated),
     * {@code logits} [classes, 64], each with a bias. A network trained on one input only is written with that input's
     * counterpart weights at zero, so the file still has both inputs and the worker serves it unchanged.
     *
     * @throws ModelContractException when the contract is invalid or its output kind is not PROBABILITIES
     * @throws IllegalArgumentException when {@code weights} lacks a tensor or has one of another size
     */
    public static byte[] small(ModelContract contract, Weights weights) {
        check(contract);
        ImageSpec img = contract.image();
        int c = img.channels();
        int features = contract.tabularWidth();
        int classes = contract.labels().size();
        OnnxGraphBuilder g = new OnnxGraphBuilder(contract.name() + "-small");
        g.input(contract.imageInput(), c, img.height(), img.width());
        g.input(contract.tabularInput(), features);

        String x = contract.imageInput();
        int in = c;
        int[] widths = {16, 32, 64};
        for (int i = 0; i < widths.length; i++) {
            int out = widths[i];
            String name = "conv" + (i + 1);
            x = g.conv(name, x, weights.get(name + ".weight", out, in, 3, 3), weights.get(name + ".bias", out),
                    out, in, 3, 2, 1);
            x = g.relu("relu" + (i + 1), x);
            in = out;
        }
        x = g.globalAveragePool("gap", x);
        x = g.flatten("image_features", x);
        x = g.concat("fused", 1, x, contract.tabularInput());
        int fused = in + features;
        x = g.gemm("fc1", x, weights.get("fc1.weight", 64, fused), weights.get("fc1.bias", 64), 64, fused);
        x = g.relu("fc1_relu", x);
        x = g.gemm("logits", x, weights.get("logits.weight", classes, 64), weights.get("logits.bias", classes),
                classes, 64);
        g.softmax(contract.output(), x, 1);
        g.output(contract.output(), classes);
        return finish(g, contract, "small");
    }

    /**
     * "seed": the classic network for 512×512×3: Conv 64 k4 s4 → ReLU → MaxPool 2 → Conv 128 k3 s2 → ReLU →
     * MaxPool 2 → Conv 256 k3 s2 → ReLU → Conv 512 k3 s2 → ReLU → Flatten ⊕ tabular → Gemm 2048 → ReLU → 1024 →
     * ReLU → 512 → ReLU → classes → Softmax. No padding, floor mode; the flatten width follows from the contract's
     * image size (512×512 → 512·3·3 = 4608). At 512×512 the file holds about 13.5 M weights (~54 MB).
     *
     * @throws ModelContractException when the contract is invalid, its output kind is not PROBABILITIES, or its
     *                                image is too small for this network (it needs at least 232×232)
     */
    public static byte[] seed(ModelContract contract, long seed) {
        check(contract);
        ImageSpec img = contract.image();
        int h = seedFeatureSide(img.height());
        int w = seedFeatureSide(img.width());
        if (h < 1 || w < 1) {
            throw new ModelContractException("architecture 'seed' needs images of at least 232x232 (four strided "
                    + "convolutions and two poolings without padding); contract '" + contract.name() + "' has "
                    + img.width() + "x" + img.height() + "; use 'small' for small images");
        }
        int c = img.channels();
        int features = contract.tabularWidth();
        int classes = contract.labels().size();
        Random rng = new Random(seed);
        OnnxGraphBuilder g = new OnnxGraphBuilder(contract.name() + "-seed");
        g.input(contract.imageInput(), c, img.height(), img.width());
        g.input(contract.tabularInput(), features);

        String x = contract.imageInput();
        x = g.relu("relu1", g.conv("conv1", x, he(rng, 64 * c * 16, c * 16), new float[64], 64, c, 4, 4, 0));
        x = g.maxPool("pool1", x, 2, 2);
        x = g.relu("relu2", g.conv("conv2", x, he(rng, 128 * 64 * 9, 64 * 9), new float[128], 128, 64, 3, 2, 0));
        x = g.maxPool("pool2", x, 2, 2);
        x = g.relu("relu3", g.conv("conv3", x, he(rng, 256 * 128 * 9, 128 * 9), new float[256], 256, 128, 3, 2, 0));
        x = g.relu("relu4", g.conv("conv4", x, he(rng, 512 * 256 * 9, 256 * 9), new float[512], 512, 256, 3, 2, 0));
        x = g.flatten("image_features", x);
        x = g.concat("fused", 1, x, contract.tabularInput());

        int in = 512 * h * w + features;
        int[] widths = {2048, 1024, 512};
        for (int i = 0; i < widths.length; i++) {
            int out = widths[i];
            x = g.relu("fc" + (i + 1) + "_relu",
                    g.gemm("fc" + (i + 1), x, he(rng, out * in, in), new float[out], out, in));
            in = out;
        }
        x = g.gemm("logits", x, he(rng, classes * in, in), new float[classes], classes, in);
        g.softmax(contract.output(), x, 1);
        g.output(contract.output(), classes);
        return finish(g, contract, "seed");
    }

    /** Spatial side after the seed network's convolutions and poolings, or ≤ 0 when the image is too small. */
    static int seedFeatureSide(int side) {
        int s = conv(side, 4, 4);
        s = conv(s, 2, 2);
        s = conv(s, 3, 2);
        s = conv(s, 2, 2);
        s = conv(s, 3, 2);
        return conv(s, 3, 2);
    }

    private static int conv(int side, int kernel, int stride) {
        return side < kernel ? 0 : (side - kernel) / stride + 1;
    }

    private static void check(ModelContract contract) {
        contract.validate();
        if (contract.outputKind() != ModelContract.OutputKind.PROBABILITIES) {
            throw new ModelContractException("medfuse's architectures end in Softmax, so contract '"
                    + contract.name() + "' must say outputKind PROBABILITIES, not " + contract.outputKind());
        }
    }

    private static byte[] finish(OnnxGraphBuilder g, ModelContract contract, String architecture) {
        return g.metadata(ModelContract.METADATA_KEY, ModelContractJson.write(contract))
                .metadata(ARCHITECTURE_KEY, architecture)
                .docString("medfuse '" + architecture + "' fused image + tabular classifier: " + contract.name()
                        + " " + contract.version())
                .toByteArray();
    }

    /** He-normal weights: N(0, 2 / fanIn). */
    private static float[] he(Random rng, int count, int fanIn) {
        double std = Math.sqrt(2.0 / fanIn);
        float[] w = new float[count];
        for (int i = 0; i < count; i++) {
            w[i] = (float) (rng.nextGaussian() * std);
        }
        return w;
    }
}
