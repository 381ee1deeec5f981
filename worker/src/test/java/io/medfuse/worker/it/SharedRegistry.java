package io.medfuse.worker.it;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.Assumptions;

import io.medfuse.testkit.ApicurioRegistryProcess;
import io.medfuse.testkit.JavaRuntimes;

/**
 * One Apicurio Registry process for every integration test in the JVM that needs a real registry: started on first
 * use (5-12 s here), stopped by a shutdown hook when the JVM exits. Tests stay apart by unique subjects.
 *
 * <p>Apicurio 3.3 needs Java 21+ (docs/adr/0008). When {@link JavaRuntimes} finds none, the tests that ask for the
 * registry are <b>skipped, loudly</b>: a banner on stderr and the skip reason in the report name where it looked
 * and how to fix it. {@code -Dmedfuse.registry.required=true} turns the skip into a failure. A missing
 * distribution ({@code -Dmedfuse.apicurio.home}, unpacked by the build) is always a failure: it is a build mistake,
 * not a machine without Java 21.
 */
final class SharedRegistry {

    private static ApicurioRegistryProcess registry;
    private static String unavailable;
    private static boolean bannerShown;

    private SharedRegistry() {
    }

    /** The Confluent-compatible base URL of the shared Apicurio, starting it on first use. */
    static synchronized URI url() {
        if (unavailable != null) {
            skipOrFail(unavailable);
        }
        if (registry == null) {
            start();
        }
        return registry.url();
    }

    /** How long the shared registry took to start (for the measurements the ITs print). */
    static synchronized Duration startupTime() {
        url();
        return registry.startupTime();
    }

    private static void start() {
        JavaRuntimes.Lookup java = JavaRuntimes.find(ApicurioRegistryProcess.MINIMUM_JAVA);
        if (java.java().isEmpty()) {
            unavailable = "Apicurio Registry " + System.getProperty("apicurio.version", "3.3")
                    + " needs Java " + ApicurioRegistryProcess.MINIMUM_JAVA + "+ and " + java.explain(
                            ApicurioRegistryProcess.MINIMUM_JAVA);
            skipOrFail(unavailable);
        }
        String home = System.getProperty("medfuse.apicurio.home");
        if (home == null || home.isBlank()) {
            throw new IllegalStateException("system property medfuse.apicurio.home is not set: run the registry ITs"
                    + " through Maven ('./mvnw verify -pl worker -am -Dit.test=RealRegistryIT'), which unpacks"
                    + " Apicurio and sets it");
        }
        Path work = Path.of(System.getProperty("medfuse.apicurio.work", home + "-work"));
        registry = ApicurioRegistryProcess.start(Path.of(home), java.java().get(), work, Duration.ofSeconds(180));
        System.out.printf("SharedRegistry: Apicurio ready at %s in %d ms (Java %d at %s)%n", registry.url(),
                registry.startupTime().toMillis(), java.feature(), java.java().get());
        ApicurioRegistryProcess started = registry;
        Runtime.getRuntime().addShutdownHook(new Thread(started::close, "shared-registry-shutdown"));
    }

    private static void skipOrFail(String why) {
        if (Boolean.getBoolean("medfuse.registry.required")) {
            throw new IllegalStateException(why + " (and -Dmedfuse.registry.required=true)");
        }
        if (!bannerShown) {
            bannerShown = true;
            System.err.println();
            System.err.println("*".repeat(100));
            System.err.println("* SKIPPING the tests against a real schema registry:");
            System.err.println("* " + why);
            System.err.println("*".repeat(100));
            System.err.println();
        }
        Assumptions.abort("SKIPPED (no real registry): " + why);
    }
}
