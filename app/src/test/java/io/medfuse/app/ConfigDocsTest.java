package io.medfuse.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

import io.medfuse.worker.config.WorkerConfig;

/** The configuration reference in README.md and docs/configuration.md is the one the code defines. */
class ConfigDocsTest {

    static Path root() {
        Path here = Path.of("").toAbsolutePath();
        return Files.exists(here.resolve("README.md")) ? here : here.getParent();
    }

    @Test
    void readmeAndReferencePageCarryTheCurrentConfigurationTable() throws IOException {
        String table = WorkerConfig.markdownTable();
        assertThat(Files.readString(root().resolve("README.md")))
                .as("README.md: regenerate with bin/medfuse serve --print-config-keys").contains(table);
        assertThat(Files.readString(root().resolve("docs/configuration.md")))
                .as("docs/configuration.md: regenerate with bin/medfuse serve --print-config-keys").contains(table);
    }
}
