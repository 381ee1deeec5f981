package io.medfuse.app.bench;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * CPU time of a process, in nanoseconds: this JVM's (every thread: the worker, and the bench's own producer and
 * reader, which are small next to it), or another process's by pid (the broker in its own process), read from the
 * operating system (on Linux, /proc, in clock ticks of 10 ms). -1 where it is not known.
 */
final class CpuClock {

    /** Not known (an embedded or external broker, a JVM that does not say). */
    static final LongSupplier UNKNOWN = () -> -1;

    private CpuClock() {
    }

    /** This JVM's CPU time so far, all threads. */
    static long thisProcessNanos() {
        java.lang.management.OperatingSystemMXBean os =
                java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
            return sun.getProcessCpuTime();
        }
        return -1;
    }

    /**
     * Time this JVM's JIT compilers have spent so far (the sum over its compiler threads, as the JVM reports it), in
     * nanoseconds; -1 when the JVM does not say. Part of {@link #thisProcessNanos}: a worker that is still compiling
     * is not in its steady state.
     */
    static long thisJitNanos() {
        java.lang.management.CompilationMXBean jit = java.lang.management.ManagementFactory.getCompilationMXBean();
        if (jit == null || !jit.isCompilationTimeMonitoringSupported()) {
            return -1;
        }
        return jit.getTotalCompilationTime() * 1_000_000L;
    }

    /** The CPU time of process {@code pid} so far; -1 when it cannot be read. */
    static LongSupplier ofProcess(long pid) {
        if (pid <= 0) {
            return UNKNOWN;
        }
        return () -> ProcessHandle.of(pid).flatMap(h -> h.info().totalCpuDuration()).map(Duration::toNanos)
                .orElse(-1L);
    }

    /** Milliseconds of CPU per item between two readings; NaN when either is unknown or no item was counted. */
    static double msPer(long before, long after, long items) {
        if (before < 0 || after < 0 || items <= 0) {
            return Double.NaN;
        }
        return (after - before) / 1e6 / items;
    }
}
