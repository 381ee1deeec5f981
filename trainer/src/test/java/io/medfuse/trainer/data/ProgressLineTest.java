package io.medfuse.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Progress lines on a clock the test moves: at most one per interval, with rate and time left, and a last one. */
class ProgressLineTest {

    @Test
    void printsRateAndTimeLeftAtMostOncePerIntervalThenTheTotal() {
        AtomicLong now = new AtomicLong();
        List<String> lines = new ArrayList<>();
        ProgressLine p = new ProgressLine("extracting features", 1000, lines::add, 5_000_000_000L, now::get);
        for (int i = 0; i < 1000; i++) {
            now.addAndGet(20_000_000L); // 20 ms per item: 50 per s
            p.step();
        }
        p.done();
        // 20 s in all: a line at 5, 10 and 15 s, and the closing one
        assertThat(lines).hasSize(4);
        assertThat(lines.get(0)).isEqualTo("extracting features: 250 of 1,000 (25 %), 50 per s, about 15 s left");
        assertThat(lines.get(2)).isEqualTo("extracting features: 750 of 1,000 (75 %), 50 per s, about 5 s left");
        assertThat(lines.get(3)).isEqualTo("extracting features: 1,000 done in 20 s (50.0 per s)");
    }

    @Test
    void longDurationsReadAsMinutesAndHours() {
        assertThat(ProgressLine.duration(52)).isEqualTo("52 s");
        assertThat(ProgressLine.duration(185)).isEqualTo("3 min 05 s");
        assertThat(ProgressLine.duration(3720)).isEqualTo("1 h 02 min");
    }
}
