package io.medfuse.worker.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarFile;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * What the worker's container image copies ({@code target/medfuse-worker-*.jar} and {@code target/lib/}) holds
 * production code only: no test kit, no in-process registry, no sample requests, no broker, no DJL, no CLI. Runs
 * after {@code package}, on the jar the build really made.
 */
class WorkerJarContentsIT {

    private static final Path TARGET = Path.of("target");

    @Test
    void theWorkerJarHoldsOnlyTheWorkersOwnClassesAndTheBundledModel() throws IOException {
        Path jar;
        try (Stream<Path> files = Files.list(TARGET)) {
            jar = files.filter(p -> p.getFileName().toString().matches("medfuse-worker-.*\\.jar"))
                    .filter(p -> !p.getFileName().toString().endsWith("-tests.jar")).findFirst()
                    .orElseThrow(() -> new AssertionError("no worker jar under " + TARGET.toAbsolutePath()));
        }
        List<String> classes = new ArrayList<>();
        List<String> outside = new ArrayList<>();
        try (JarFile jf = new JarFile(jar.toFile())) {
            jf.stream().map(e -> e.getName()).filter(n -> !n.endsWith("/")).forEach(name -> {
                if (name.endsWith(".class")) {
                    classes.add(name);
                }
                if (!name.startsWith("io/medfuse/worker/") && !name.startsWith("META-INF/")) {
                    outside.add(name);
                }
            });
        }
        assertThat(outside).as("entries outside io/medfuse/worker and META-INF").isEmpty();
        assertThat(classes).as("the worker's classes").contains("io/medfuse/worker/MedfuseWorker.class",
                "io/medfuse/worker/WorkerMain.class");
        assertThat(classes).as("no test support in the production jar").noneMatch(n -> n.contains("InProcessSchemaRegistry")
                || n.contains("/sample/") || n.contains("SampleRequests") || n.contains("OutcomeConsumer")
                || n.contains("EmbeddedKafka") || n.endsWith("Test.class") || n.endsWith("IT.class"));
    }

    @Test
    void theRuntimeLibrariesCarryNeitherTheTestKitNorABrokerNorDjlNorTheCommandLine() throws IOException {
        List<String> libs;
        try (Stream<Path> files = Files.list(TARGET.resolve("lib"))) {
            libs = files.map(p -> p.getFileName().toString()).sorted().toList();
        }
        assertThat(libs).as("runtime libraries").contains("medfuse-events-" + version() + ".jar",
                "medfuse-model-" + version() + ".jar");
        assertThat(libs).as("nothing that only tests, the demo or training need").noneMatch(n -> n.startsWith("medfuse-testkit")
                || n.startsWith("medfuse-app") || n.startsWith("medfuse-trainer") || n.startsWith("kafka_2.")
                || n.startsWith("kafka-server") || n.startsWith("scala-") || n.startsWith("api-0.") /* DJL */
                || n.startsWith("pytorch") || n.startsWith("picocli") || n.startsWith("junit")
                || n.startsWith("assertj") || n.startsWith("testcontainers"));
    }

    private static String version() {
        String v = System.getProperty("project.version");
        if (v != null) {
            return v;
        }
        try (Stream<Path> files = Files.list(TARGET)) {
            String jar = files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("medfuse-worker-"))
                    .findFirst().orElseThrow();
            return jar.substring("medfuse-worker-".length(), jar.length() - ".jar".length());
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
