package io.medfuse.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line's help and its answers to bad input: one clear line, a non-zero exit, no stack trace. */
class CommandLineTest {

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void topLevelHelpListsEveryCommand() {
        CliRun r = run("--help");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("demo", "serve", "produce", "bench");
    }

    @Test
    void eachCommandExplainsItsOptions() {
        assertThat(run("demo", "--help").out()).contains("--count", "--rate", "--keep-running", "--registry",
                "Apicurio");
        assertThat(run("serve", "--help").out()).contains("--config", "MEDFUSE_");
        assertThat(run("produce", "--help").out()).contains("--bootstrap", "--registry", "--images", "--metadata");
        assertThat(run("watch", "--help").out()).contains("--bootstrap", "--json", "--drift-threshold", "--model");
    }

    @Test
    void everyCommandsHelpReadsAsSentencesWithoutAPicocliWarning() {
        picocli.CommandLine cli = new picocli.CommandLine(new Medfuse());
        assertThat(cli.getSubcommands()).hasSizeGreaterThanOrEqualTo(11);
        cli.getSubcommands().forEach((name, sub) -> {
            if (name.equals("help")) {
                return;
            }
            CliRun r = run(name, "--help");
            assertThat(r.exit()).as(name).isZero();
            assertThat(r.err()).as(name + " --help on stderr").doesNotContain("picocli WARN");
            // each description element is a paragraph: picocli starts a new line at every element, so an element
            // that stops mid-sentence shows as a broken line
            for (String paragraph : sub.getCommandSpec().usageMessage().description()) {
                if (paragraph.isBlank() || paragraph.startsWith("  ")) {
                    continue; // blank separator or an example command line
                }
                assertThat(paragraph).as(name + " description paragraph").matches("(?s).*[.:)]$");
            }
        });
    }

    @Test
    void demoWithAnUnreachableRegistryStopsAtOnceWithOneLine() throws Exception {
        int closed;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        long start = System.nanoTime();

        CliRun r = run("demo", "--registry", "http://127.0.0.1:" + closed + "/apis/ccompat/v7");

        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err().strip()).startsWith("medfuse demo: the schema registry at http://127.0.0.1:" + closed
                + "/apis/ccompat/v7 is unreachable").doesNotContain("\n").doesNotContain("\tat ");
        assertThat(r.out()).as("no broker was started").doesNotContain("starting an embedded Kafka broker");
        assertThat(System.nanoTime() - start).as("fails fast").isLessThan(10_000_000_000L);
    }

    @Test
    void demoWithARegistryUrlMissingItsApiPathSaysSo() {
        try (var registry = io.medfuse.testkit.InProcessSchemaRegistry.builder().pathPrefix("/apis/ccompat/v7")
                .start()) {
            String root = "http://127.0.0.1:" + registry.url().getPort();

            CliRun r = run("demo", "--registry", root);

            assertThat(r.exit()).isEqualTo(2);
            assertThat(r.err()).contains("answered GET /subjects with HTTP 404", ".../apis/ccompat/v7");
        }
    }

    @Test
    void serveWithoutRequiredSettingsNamesThemInOneLine() {
        CliRun r = run("serve");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("bootstrap.servers").contains("schema.registry.url")
                .doesNotContain("\tat ");
    }

    @Test
    void serveRejectsAMissingConfigFile(@TempDir Path dir) {
        CliRun r = run("serve", "--config", dir.resolve("nope.properties").toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("nope.properties").contains("no such file");
    }

    @Test
    void producePointsAtTheCsvLineOfAMissingImage(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("images"));
        Path csv = dir.resolve("meta.csv");
        Files.writeString(csv, "image,age,sex,localization\nmissing.png,40,male,back\n");
        CliRun r = run("produce", "--bootstrap", "localhost:1", "--registry", "http://127.0.0.1:1", "--images",
                dir.resolve("images").toString(), "--metadata", csv.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("meta.csv:2").contains("missing.png").doesNotContain("\tat ");
    }

    @Test
    void produceNamesAMissingColumn(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("images"));
        Path csv = dir.resolve("meta.csv");
        Files.writeString(csv, "file,age\na.png,40\n");
        CliRun r = run("produce", "--bootstrap", "localhost:1", "--registry", "http://127.0.0.1:1", "--images",
                dir.resolve("images").toString(), "--metadata", csv.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("meta.csv:1", "'image'", "--image-column", "[file, age]").doesNotContain("\tat ");
    }

    @Test
    void configKeysCanBePrintedForTheDocs() {
        CliRun r = run("serve", "--print-config-keys");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("`batch.max.size`", "MEDFUSE_BATCH_MAX_SIZE");
    }
}
