package io.medfuse.app;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

import io.medfuse.app.soak.Soak;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code medfuse soak}: the fault soak with real processes; exit 1 when any request was lost or duplicated. */
@Command(name = "soak", mixinStandardHelpOptions = true,
        description = {
            "Fault soak with real processes: a Kafka broker process, worker JVMs with default settings, a "
                    + "producer of requests. While the requests stream in: SIGKILL a worker and restart it (--kills times), "
                    + "scale 1 -> 3, SIGKILL one of the three for good, scale back to 1, restart the broker, stop the "
                    + "schema registry for --registry-outage seconds. Then checks, under read_committed, that every request "
                    + "has exactly one prediction or dead letter, prints the counts and each fault's recovery time against "
                    + "its bound (kill + restart 10 s, takeover 15 s, registry back 10 s), and exits 1 on any loss, "
                    + "duplicate or bound exceeded."
        })
final class SoakCommand implements Callable<Integer> {

    @Option(names = "--requests", paramLabel = "N", defaultValue = "10000", description = "Requests (default 10000).")
    int requests;

    @Option(names = "--rate", paramLabel = "R", defaultValue = "60",
            description = "Requests per second (default 60; 0 = as fast as possible).")
    double rate;

    @Option(names = "--partitions", paramLabel = "N", defaultValue = "6", description = "Partitions (default 6).")
    int partitions;

    @Option(names = "--kills", paramLabel = "N", defaultValue = "5", description = "SIGKILL + restart (default 5).")
    int kills;

    @Option(names = "--no-scale", description = "Skip scaling 1 -> 3 -> 1.")
    boolean noScale;

    @Option(names = "--no-broker-restart", description = "Skip the broker restart.")
    boolean noBrokerRestart;

    @Option(names = "--registry-outage", paramLabel = "SECONDS", defaultValue = "20",
            description = "Stop the schema registry this long; 0: skip (default 20).")
    int registryOutage;

    @Option(names = "--bad-every", paramLabel = "N", defaultValue = "100",
            description = "Every N-th request has an undecodable image (a dead letter); 0: none (default 100).")
    int badEvery;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "300",
            description = "Longest wait for the answers after a fault or at the end (default 300).")
    int timeout;

    @Option(names = "--broker-setting", paramLabel = "KEY=VALUE",
            description = "A server.properties entry for the broker process, repeatable (default: Kafka's defaults). "
                    + "E.g. transaction.abort.timed.out.transaction.cleanup.interval.ms=2000 takes the broker's "
                    + "10-s check for expired transactions off a takeover's time (ADR 0006).")
    java.util.Map<String, String> brokerSettings = new java.util.LinkedHashMap<>();

    @Option(names = "--work-dir", paramLabel = "DIR",
            description = "Where the worker logs go (default: a new temporary folder).")
    Path workDir;

    @Override
    public Integer call() throws Exception {
        Path dir = workDir != null ? workDir : Files.createTempDirectory("medfuse-soak-");
        System.out.println("soak: worker logs in " + dir);
        Soak.Report report = Soak.run(new Soak.Settings(requests, rate, partitions, kills, !noScale,
                !noBrokerRestart, Duration.ofSeconds(registryOutage), badEvery, Duration.ofSeconds(timeout), dir,
                System.out, brokerSettings));
        return report.ok() ? 0 : 1;
    }
}
