package io.medfuse.app.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

class ArrivalsTest {

    @Test
    void cpuPerAnswerIsTakenOverTheSteadySpanWhenItLastsASecond() {
        AtomicLong cpu = new AtomicLong(1_000_000_000L);
        Arrivals arrivals = new Arrivals(100, cpu::get);
        long t = System.nanoTime();
        for (int i = 0; i < 100; i++) {
            // 2 ms of CPU before each answer, 20 ms apart: the span from the 10th to the 89th answer is 1.58 s
            cpu.addAndGet(2_000_000L);
            arrivals.add(t + i * 20_000_000L);
        }
        assertThat(arrivals.cpuMsPerAnswer(0)).isEqualTo(2.0);
    }

    @Test
    void aSpanOfOneInstantFallsBackToTheWholeStage() {
        // a short stage answered in one transaction: every answer is read at the same moment
        AtomicLong cpu = new AtomicLong(1_000_000_000L);
        Arrivals arrivals = new Arrivals(100, cpu::get);
        cpu.addAndGet(300_000_000L); // start-up and the work, before the first answer arrives
        long t = System.nanoTime();
        for (int i = 0; i < 100; i++) {
            arrivals.add(t);
        }
        assertThat(arrivals.cpuMsPerAnswer(0)).as("not 0 from a span of one instant").isEqualTo(3.0);
    }

    @Test
    void unknownWhenNotEveryAnswerCame() {
        AtomicLong cpu = new AtomicLong();
        Arrivals arrivals = new Arrivals(100, cpu::get);
        arrivals.add(System.nanoTime());
        assertThat(arrivals.cpuMsPerAnswer(0)).isNaN();
    }
}
