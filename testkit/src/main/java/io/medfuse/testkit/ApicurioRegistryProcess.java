package io.medfuse.testkit;

import java.io.IOException;
import java.net.ConnectException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real schema registry, Apicurio Registry, as a separate process on 127.0.0.1 with free ports, for integration
 * tests that must not trust our own {@link InProcessSchemaRegistry} alone. In-memory storage (H2), no
 * authentication; forgotten when the process ends.
 *
 * <p>The distribution is Apicurio's Quarkus fast-jar ({@code quarkus-run.jar} and its {@code lib/}), unpacked by the
 * build from the Maven artifact {@code io.apicurio:apicurio-registry-app:<version>:tar.gz:all} (docs/adr/0008). It
 * needs Java 21+; {@link JavaRuntimes} finds one. Start-up is kept short with C1 only, the serial collector, a
 * small heap and an application class-data-sharing archive in {@code workDir} that the first run writes on exit
 * and later runs map (measured here: ~12 s cold, ~5 s warm on a quiet machine).
 *
 * <p>Nothing it does reaches beyond 127.0.0.1: OpenTelemetry's SDK and usage telemetry are off, there is no
 * OIDC tenant, no Kafka storage or event sink, Elasticsearch indexing is off (its default), and snapshots and
 * imports go to {@code workDir}.
 *
 * <p>The caller owns the process: {@link #close()} stops it with SIGTERM, then SIGKILL after 30 s (the grace
 * lets the JVM finish writing the archive). Its log is {@code workDir/apicurio-<port>.log}.
 */
public final class ApicurioRegistryProcess implements AutoCloseable {

    /** Apicurio 3.3 is built for Java 21. */
    public static final int MINIMUM_JAVA = 21;
    /** The Confluent-compatible API's path under the registry's root. */
    public static final String CCOMPAT_PATH = "/apis/ccompat/v7";

    private static final Logger LOG = LoggerFactory.getLogger(ApicurioRegistryProcess.class);
    private static final int LOG_TAIL_LINES = 40;

    private final Process process;
    private final int port;
    private final Path log;
    /** Set once ready. */
    private volatile Duration startup;

    private ApicurioRegistryProcess(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /**
     * Starts Apicurio from an unpacked distribution and waits until its Confluent API answers
     * {@code GET /subjects} with 200.
     *
     * @param distribution the folder holding {@code quarkus-run.jar}
     * @param java the {@code java} executable to run it with (Java {@value #MINIMUM_JAVA}+)
     * @param workDir where the log, the class-data archive and snapshots go; created if absent
     * @param timeout how long to wait for readiness
     * @throws RegistryProcessException when the distribution is missing, the process cannot start, exits, or is
     *     not ready in time (the message ends with the tail of its log)
     */
    public static ApicurioRegistryProcess start(Path distribution, Path java, Path workDir, Duration timeout) {
        Objects.requireNonNull(java, "java");
        Path runner = distribution.resolve("quarkus-run.jar");
        if (!Files.isRegularFile(runner)) {
            throw new RegistryProcessException("no Apicurio distribution at " + distribution.toAbsolutePath()
                    + " (quarkus-run.jar missing): the worker module's build unpacks it in pre-integration-test"
                    + " (run the ITs through './mvnw verify -pl worker -am')");
        }
        long started = System.nanoTime();
        int port;
        int managementPort;
        Path log;
        List<String> command = new ArrayList<>();
        try {
            Files.createDirectories(workDir);
            port = freePort();
            managementPort = freePort();
            log = workDir.resolve("apicurio-" + port + ".log");
            command.add(java.toString());
            // start-up time, not peak throughput, is what a test pays for (FACTS.md: 28-45 s -> 13 s)
            command.add("-XX:TieredStopAtLevel=1");
            command.add("-XX:+UseSerialGC");
            command.add("-Xmx256m");
            command.add("-XX:+AutoCreateSharedArchive");
            command.add("-XX:SharedArchiveFile=" + workDir.resolve("apicurio-registry.jsa").toAbsolutePath());
            command.add("-Xlog:cds=off");
            command.add("-Xlog:cds+dynamic=off");
            command.add("-Dquarkus.http.host=127.0.0.1");
            command.add("-Dquarkus.http.port=" + port);
            command.add("-Dquarkus.management.host=127.0.0.1");
            command.add("-Dquarkus.management.port=" + managementPort);
            // nothing may leave the machine: the OTLP exporter points at localhost:4317 when the SDK is on
            command.add("-Dquarkus.otel.sdk.disabled=true");
            command.add("-Dapicurio.usage.telemetry.enabled=false");
            command.add("-Dapicurio.events.ksink=");
            command.add("-Dquarkus.http.cors.enabled=false");
            command.add("-Dapicurio.storage.snapshot.location=" + workDir.toAbsolutePath());
            command.add("-Dapicurio.import.work-dir=" + workDir.toAbsolutePath());
            // 20 pooled H2 connections by default; two serve a test
            command.add("-Dapicurio.datasource.jdbc.initial-size=2");
            command.add("-Dapicurio.datasource.jdbc.min-size=2");
            command.add("-jar");
            command.add(runner.toAbsolutePath().toString());
        } catch (IOException e) {
            throw new RegistryProcessException("cannot prepare " + workDir + " for Apicurio: " + e, e);
        }
        Process process;
        try {
            process = new ProcessBuilder(command).directory(distribution.toFile()).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        } catch (IOException e) {
            throw new RegistryProcessException("cannot start Apicurio with " + java + ": " + e, e);
        }
        ApicurioRegistryProcess registry = new ApicurioRegistryProcess(process, port, log);
        try {
            registry.awaitReady(timeout);
        } catch (RuntimeException e) {
            registry.close();
            throw e;
        }
        registry.startup = Duration.ofNanos(System.nanoTime() - started);
        LOG.info("Apicurio Registry (pid {}) ready at {} in {} ms; log {}", process.pid(), registry.url(),
                registry.startup.toMillis(), log);
        return registry;
    }

    private void awaitReady(Duration timeout) {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest probe = HttpRequest.newBuilder(URI.create(url() + "/subjects")).timeout(Duration.ofSeconds(5))
                .GET().build();
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "no answer yet";
        try {
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) {
                    throw new RegistryProcessException("Apicurio exited with " + process.exitValue()
                            + " during start-up; " + tail());
                }
                try {
                    HttpResponse<String> r = http.send(probe, HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() == 200) {
                        return;
                    }
                    last = "HTTP " + r.statusCode();
                } catch (ConnectException e) {
                    last = "connection refused";
                } catch (IOException e) {
                    last = e.toString();
                }
                TimeUnit.MILLISECONDS.sleep(200);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RegistryProcessException("interrupted while waiting for Apicurio at " + url(), e);
        }
        throw new RegistryProcessException("Apicurio did not answer GET " + url() + "/subjects with 200 within "
                + timeout.toSeconds() + " s (last: " + last + "); " + tail());
    }

    /** The Confluent-compatible base URL, {@code http://127.0.0.1:P/apis/ccompat/v7}; give it to a registry client. */
    public URI url() {
        return URI.create("http://127.0.0.1:" + port + CCOMPAT_PATH);
    }

    /** How long {@link #start} took until the first 200. */
    public Duration startupTime() {
        return startup;
    }

    /** The process's stdout and stderr. */
    public Path log() {
        return log;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** The last lines of the log, for messages: {@code "last N lines of <log>:\n..."}. */
    public String tail() {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            List<String> last = lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size());
            return "last " + last.size() + " lines of " + log + ":\n  " + String.join("\n  ", last);
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e.getMessage() + ")";
        }
    }

    /** SIGTERM, then SIGKILL after 30 s. Idempotent. */
    @Override
    public void close() {
        if (!process.isAlive()) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                LOG.warn("Apicurio (pid {}) did not stop within 30 s of SIGTERM; killing it", process.pid());
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        }
    }
}
