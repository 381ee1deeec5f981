package io.medfuse.app.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Memory over the run: heap in use right after a full GC at the end of each stage (flat = no leak) and the process's
 * peak resident set (VmHWM from /proc/self/status: heap, native ONNX Runtime buffers and the embedded broker).
 */
final class MemoryProbe {

    private final Map<String, Double> heapAfterGcMiB = new LinkedHashMap<>();

    /** Collects and records the live heap after {@code stage}. */
    void afterStage(String stage) {
        System.gc();
        long used = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        heapAfterGcMiB.put(stage, used / (1024.0 * 1024.0));
    }

    Map<String, Double> heapAfterGcMiB() {
        return heapAfterGcMiB;
    }

    /** Peak resident set of this process in MiB, or -1 where /proc is not there. */
    static double maxRssMiB() {
        return procStatus("VmHWM:");
    }

    static double rssMiB() {
        return procStatus("VmRSS:");
    }

    private static double procStatus(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.substring(key.length()).trim().split("\\s+")[0]) / 1024.0;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    static double maxHeapMiB() {
        return Runtime.getRuntime().maxMemory() / (1024.0 * 1024.0);
    }
}
