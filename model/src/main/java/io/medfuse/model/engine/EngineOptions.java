package io.medfuse.model.engine;

import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How {@link OnnxClassifier} runs a model.
 *
 * @param device "cpu"; "cuda" or "cuda:N" (GPU N, fail when CUDA cannot be used); or "auto" (CUDA device 0 when
 *               the GPU build of ONNX Runtime and a working CUDA 12 + cuDNN 9 are present, else CPU, saying why in
 *               the log). Case-insensitive; stored lower-case.
 * @param intraOpThreads threads ONNX Runtime uses inside one operator; 0 = ONNX Runtime's own default
 * @param interOpThreads threads running independent operators in parallel; 0 = ONNX Runtime's own default
 * @param optimizationLevel graph optimisation: "all", "extended", "basic" or "none"
 * @param paddedBatchSizes batch sizes ONNX Runtime sees: a batch of n runs padded (with zeros) to the smallest
 *                         size ≥ n, so ONNX Runtime plans memory for a few shapes instead of one per n; larger
 *                         batches run in chunks of the largest size. Stored sorted and distinct; each ≥ 1.
 */
public record EngineOptions(String device, int intraOpThreads, int interOpThreads, String optimizationLevel,
                            List<Integer> paddedBatchSizes) {

    private static final Pattern DEVICE = Pattern.compile("cpu|auto|cuda(?::(\\d+))?");
    private static final List<String> LEVELS = List.of("all", "extended", "basic", "none");

    /**
     * @throws IllegalArgumentException naming the bad value and the accepted ones
     */
    public EngineOptions {
        if (device == null || !DEVICE.matcher(device.trim().toLowerCase(Locale.ROOT)).matches()) {
            throw new IllegalArgumentException("device must be cpu, auto, cuda or cuda:N, got '" + device + "'");
        }
        device = device.trim().toLowerCase(Locale.ROOT);
        if (intraOpThreads < 0 || interOpThreads < 0) {
            throw new IllegalArgumentException("thread counts must be >= 0 (0 = ONNX Runtime's default), got intraOp "
                    + intraOpThreads + ", interOp " + interOpThreads);
        }
        if (optimizationLevel == null
                || !LEVELS.contains(optimizationLevel.trim().toLowerCase(Locale.ROOT))) {
            throw new IllegalArgumentException("optimizationLevel must be one of " + LEVELS + ", got '"
                    + optimizationLevel + "'");
        }
        optimizationLevel = optimizationLevel.trim().toLowerCase(Locale.ROOT);
        if (paddedBatchSizes == null || paddedBatchSizes.isEmpty()
                || paddedBatchSizes.stream().anyMatch(s -> s == null || s < 1)) {
            throw new IllegalArgumentException("paddedBatchSizes must list at least one size >= 1, got "
                    + paddedBatchSizes);
        }
        paddedBatchSizes = List.copyOf(new TreeSet<>(paddedBatchSizes));
    }

    /** device "auto", intra-op threads = available processors, inter-op 1, "all", padded sizes 1,2,4,8,16,32. */
    public static EngineOptions defaults() {
        return new EngineOptions("auto", Runtime.getRuntime().availableProcessors(), 1, "all",
                List.of(1, 2, 4, 8, 16, 32));
    }

    /** A copy with another device. */
    public EngineOptions withDevice(String newDevice) {
        return new EngineOptions(newDevice, intraOpThreads, interOpThreads, optimizationLevel, paddedBatchSizes);
    }

    /** A copy with other padded batch sizes. */
    public EngineOptions withPaddedBatchSizes(List<Integer> sizes) {
        return new EngineOptions(device, intraOpThreads, interOpThreads, optimizationLevel, sizes);
    }

    /** The CUDA device id for "cuda"/"cuda:N"/"auto" (0 unless given), or -1 for "cpu". */
    int cudaDeviceId() {
        if ("cpu".equals(device)) {
            return -1;
        }
        Matcher m = DEVICE.matcher(device);
        if (m.matches() && m.group(1) != null) {
            return Integer.parseInt(m.group(1));
        }
        return 0;
    }
}
