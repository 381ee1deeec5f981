package io.medfuse.app.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

class CpuClockTest {

    @Test
    void readsUserAndSystemTicksPastANameWithSpacesAndParentheses() {
        // a thread's /proc stat line: pid (comm) state ppid ... utime stime ...; the name may hold ") "
        String stat = "4242 (C2 Compiler) x) S 1 4242 4242 0 -1 4194368 1529 0 0 0 1234 56 0 0 20 0 30 0 999";
        assertThat(CpuClock.ticks(stat)).isEqualTo(1234 + 56);
    }

    @Test
    void thisJvmsCompilerThreadsAreFoundAndArePartOfItsCpu() {
        Path tasks = Path.of("/proc", Long.toString(ProcessHandle.current().pid()), "task");
        assumeTrue(Files.isDirectory(tasks), "no /proc here");
        long compilers = CpuClock.ofCompilerThreads(ProcessHandle.current().pid()).getAsLong();
        long all = CpuClock.thisProcessNanos();
        // a test JVM has compiled its way here on C1 and C2 threads; their time is within the process's
        assertThat(compilers).isGreaterThanOrEqualTo(0).isLessThanOrEqualTo(all);
        assertThat(CpuClock.ofCompilerThreads(0).getAsLong()).isEqualTo(-1);
        assertThat(CpuClock.compilerThreadsNanos(Path.of("/proc", "no-such-process", "task"))).isEqualTo(-1);
    }
}
