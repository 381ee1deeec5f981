package io.medfuse.worker.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

class StallDetectorTest {

    /** Signals set by hand: the detector only reads. */
    static final class Fixed implements StallDetector.Signals {
        int outstanding;
        long sinceProgress;
        long modelRunning;
        int failedRuns;
        int answersWaiting;
        long withoutForwarding;
        Optional<String> paused = Optional.empty();

        @Override
        public int outstanding() {
            return outstanding;
        }

        @Override
        public long nanosSinceProgress() {
            return sinceProgress;
        }

        @Override
        public long modelRunningForNanos() {
            return modelRunning;
        }

        @Override
        public int consecutiveFailedRuns() {
            return failedRuns;
        }

        @Override
        public int answersWaiting() {
            return answersWaiting;
        }

        @Override
        public long nanosWithoutForwarding() {
            return withoutForwarding;
        }

        @Override
        public Optional<String> pausedBecause() {
            return paused;
        }
    }

    private static long s(long seconds) {
        return TimeUnit.SECONDS.toNanos(seconds);
    }

    private final Fixed signals = new Fixed();
    private final StallDetector detector = new StallDetector(signals, Duration.ofSeconds(30), Duration.ofSeconds(120));

    @Test
    void anIdleWorkerIsNotStalled() {
        signals.sinceProgress = s(3600); // nothing to do for an hour is not a stall
        assertThat(detector.notReady()).isEmpty();
        assertThat(detector.notLive()).isEmpty();
    }

    @Test
    void workWaitingWithoutProgressTurnsReadinessThenLivenessDown() {
        signals.outstanding = 2;
        signals.sinceProgress = s(40);
        assertThat(detector.notReady()).get().asString().contains("no progress for 40 s", "2 request(s)");
        assertThat(detector.notLive()).isEmpty();
        signals.sinceProgress = s(130);
        assertThat(detector.notLive()).get().asString().startsWith("stalled: no progress for 130 s");
    }

    @Test
    void aModelRunThatDoesNotReturnAndAnswersNotWrittenAreStallsToo() {
        signals.modelRunning = s(31);
        assertThat(detector.notReady()).get().asString().contains("model run has taken 31 s");
        signals.modelRunning = 0;
        signals.answersWaiting = 5;
        signals.withoutForwarding = s(125);
        assertThat(detector.notLive()).get().asString().contains("5 answer(s) have waited 125 s");
    }

    @Test
    void aRegistryOutageShowsOnReadinessButNeverFailsLiveness() {
        signals.outstanding = 3;
        signals.sinceProgress = s(600);
        signals.paused = Optional.of("the schema registry has been unreachable for 600 s");
        assertThat(detector.notReady()).get().asString().contains("schema registry");
        assertThat(detector.notLive()).isEmpty();
    }

    @Test
    void aModelFailingRunAfterRunIsNotReady() {
        signals.failedRuns = 25;
        assertThat(detector.notReady()).get().asString().contains("failed its last 25 runs");
        assertThat(detector.notLive()).isEmpty();
    }
}
