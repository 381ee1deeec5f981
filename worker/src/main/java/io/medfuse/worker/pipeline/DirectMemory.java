package io.medfuse.worker.pipeline;

import java.lang.management.ManagementFactory;

import com.sun.management.HotSpotDiagnosticMXBean;

/** The JVM's limit on direct buffer memory, as {@code java.nio} applies it. */
final class DirectMemory {

    private DirectMemory() {
    }

    /**
     * {@code -XX:MaxDirectMemorySize} where it is set, else the heap's maximum (the JDK's default for direct memory);
     * -1 when the JVM does not say.
     */
    static long limitBytes() {
        try {
            HotSpotDiagnosticMXBean hotspot = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            long set = hotspot == null ? 0 : Long.parseLong(hotspot.getVMOption("MaxDirectMemorySize").getValue());
            return set > 0 ? set : Runtime.getRuntime().maxMemory();
        } catch (RuntimeException e) {
            return -1;
        }
    }
}
