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
     * CPU time this JVM's JIT compilers have spent so far, in nanoseconds: their threads' CPU where /proc has it (as
     * for the broker, {@link #ofCompilerThreads}), else the compilation time the JVM reports (the elapsed time summed
     * over its compiler threads, which on busy cores is more than their CPU); -1 when neither is known. Part of
     * {@link #thisProcessNanos}: a worker that is still compiling is not in its steady state.
     */
    static long thisJitNanos() {
        long threads = ofCompilerThreads(ProcessHandle.current().pid()).getAsLong();
        if (threads >= 0) {
            return threads;
        }
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

    /**
     * The CPU time so far of process {@code pid}'s JIT compiler threads (HotSpot's "C1 CompilerThread…" and
     * "C2 CompilerThread…", read from /proc in clock ticks of 10 ms); -1 when it cannot be read (not Linux, not a
     * HotSpot JVM, no such process). Part of {@link #ofProcess}: a broker that is still compiling its request paths
     * is not in the steady state a broker that has run for days is in. A compiler thread the JVM stops (it adds and
     * removes them with the load) takes its time with it, so on a machine with many cores this is a lower bound.
     */
    static LongSupplier ofCompilerThreads(long pid) {
        if (pid <= 0) {
            return UNKNOWN;
        }
        java.nio.file.Path tasks = java.nio.file.Path.of("/proc", Long.toString(pid), "task");
        return () -> compilerThreadsNanos(tasks);
    }

    /** Nanoseconds per clock tick of /proc's times (USER_HZ, 100 on every Linux this runs on). */
    private static final long NANOS_PER_TICK = 10_000_000L;

    static long compilerThreadsNanos(java.nio.file.Path tasks) {
        long ticks = 0;
        boolean any = false;
        try (java.util.stream.Stream<java.nio.file.Path> threads = java.nio.file.Files.list(tasks)) {
            for (java.nio.file.Path t : (Iterable<java.nio.file.Path>) threads::iterator) {
                try {
                    String comm = java.nio.file.Files.readString(t.resolve("comm")).strip();
                    if (!comm.startsWith("C1 CompilerThre") && !comm.startsWith("C2 CompilerThre")) {
                        continue;
                    }
                    ticks += ticks(java.nio.file.Files.readString(t.resolve("stat")));
                    any = true;
                } catch (java.io.IOException | RuntimeException e) {
                    // the thread ended between the listing and the read: its time is gone with it
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
        return any ? ticks * NANOS_PER_TICK : -1;
    }

    /** utime + stime of a /proc/…/stat line (fields 14 and 15; the name in parentheses may hold spaces). */
    static long ticks(String stat) {
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" +");
        // f[0] is field 3 (the state)
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    /** Milliseconds of CPU per item between two readings; NaN when either is unknown or no item was counted. */
    static double msPer(long before, long after, long items) {
        if (before < 0 || after < 0 || items <= 0) {
            return Double.NaN;
        }
        return (after - before) / 1e6 / items;
    }
}
