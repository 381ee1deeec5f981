package io.medfuse.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JavaRuntimesTest {

    @TempDir
    Path dir;

    @Test
    void anExplicitHomeNewEnoughIsTakenAndItsJavaReturned() throws Exception {
        Path home = fakeHome("jdk-25", "25.0.1");

        JavaRuntimes.Lookup found = JavaRuntimes.find(21, home.toString(), Map.of());

        assertThat(found.java()).contains(home.resolve("bin/java"));
        assertThat(found.feature()).isEqualTo(25);
    }

    @Test
    void anExplicitJavaExecutableTooOldIsReportedNotReplacedByAnotherRuntime() throws Exception {
        Path home = fakeHome("jdk-17", "17.0.15");

        JavaRuntimes.Lookup found = JavaRuntimes.find(21, null,
                Map.of(JavaRuntimes.ENV, home.resolve("bin/java").toString()));

        assertThat(found.java()).isEmpty();
        assertThat(found.explain(21)).contains("no Java 21+ runtime found", JavaRuntimes.ENV, "Java 17",
                "-D" + JavaRuntimes.PROPERTY);
    }

    @Test
    void aFolderThatIsNotAJavaHomeIsSaidToBeNone() {
        JavaRuntimes.Lookup found = JavaRuntimes.find(21, dir.toString(), Map.of());

        assertThat(found.java()).isEmpty();
        assertThat(found.looked()).singleElement().asString().contains("not a Java home");
    }

    private Path fakeHome(String name, String version) throws Exception {
        Path home = Files.createDirectories(dir.resolve(name));
        Files.createDirectories(home.resolve("bin"));
        Files.writeString(home.resolve("bin/java"), "#!/bin/sh\n");
        Files.setPosixFilePermissions(home.resolve("bin/java"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(home.resolve("release"), "IMPLEMENTOR=\"test\"\nJAVA_VERSION=\"" + version + "\"\n");
        return home;
    }
}
