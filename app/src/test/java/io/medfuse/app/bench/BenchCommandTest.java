package io.medfuse.app.bench;

import static org.assertj.core.api.Assertions.assertThat;


import org.junit.jupiter.api.Test;

import io.medfuse.app.CliRun;

/** 'medfuse bench' options: help, and bad values refused before anything starts. */
class BenchCommandTest {

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void helpNamesEveryOption() {
        CliRun r = run("bench", "--help");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("--duration", "--requests", "--model", "--only", "--bootstrap", "--registry",
                "--out", "--set");
    }

    @Test
    void refusesAnUnknownStage() {
        CliRun r = run("bench", "--only", "compute,warp");
        assertThat(r.exit()).isNotZero();
        assertThat(r.err()).contains("unknown stage 'warp'");
    }

    @Test
    void refusesAnUnknownModel() {
        CliRun r = run("bench", "--model", "huge");
        assertThat(r.exit()).isNotZero();
        assertThat(r.err()).contains("--model must be bundled, seed, all or bundled-jpeg");
    }

    @Test
    void refusesBootstrapWithoutRegistry() {
        CliRun r = run("bench", "--bootstrap", "localhost:9092");
        assertThat(r.exit()).isNotZero();
        assertThat(r.err()).contains("--bootstrap and --registry go together");
    }
}
