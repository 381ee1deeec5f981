package io.medfuse.app.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import io.medfuse.app.Medfuse;

/** 'medfuse bench' options: help, and bad values refused before anything starts. */
class BenchCommandTest {

    private record Run(int exit, String out, String err) {
    }

    private static Run run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            int exit = Medfuse.run(args);
            return new Run(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void helpNamesEveryOption() {
        Run r = run("bench", "--help");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("--duration", "--requests", "--model", "--only", "--bootstrap", "--registry",
                "--out", "--set");
    }

    @Test
    void refusesAnUnknownStage() {
        Run r = run("bench", "--only", "compute,warp");
        assertThat(r.exit()).isNotZero();
        assertThat(r.err()).contains("unknown stage 'warp'");
    }

    @Test
    void refusesAnUnknownModel() {
        Run r = run("bench", "--model", "huge");
        assertThat(r.exit()).isNotZero();
        assertThat(r.err()).contains("--model must be bundled, seed or all");
    }

    @Test
    void refusesBootstrapWithoutRegistry() {
        Run r = run("bench", "--bootstrap", "localhost:9092");
        assertThat(r.exit()).isNotZero();
        assertThat(r.err()).contains("--bootstrap and --registry go together");
    }
}
