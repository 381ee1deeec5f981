package io.medfuse.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Finds a Java runtime of at least a given feature version on this machine, for a child process that needs a newer
 * Java than the build (Apicurio Registry 3.3 needs 21; the build and the worker run on 17).
 *
 * <p>Looks, in this order, and takes the first that is new enough:
 * <ol>
 *   <li>an explicit choice: the system property {@value #PROPERTY} or the environment variable {@value #ENV}
 *       (a JDK/JRE home or its {@code bin/java}); when set, nothing else is tried, so a wrong setting is reported
 *       instead of being papered over;</li>
 *   <li>the JVM running this code;</li>
 *   <li>{@code JAVA_HOME};</li>
 *   <li>the newest runtime under {@code /usr/lib/jvm}, {@code /opt/java}, {@code /opt}, {@code ~/.sdkman/candidates/java},
 *       {@code ~/.jdks} and {@code /Library/Java/JavaVirtualMachines/}{@code *}{@code /Contents/Home}.</li>
 * </ol>
 * A runtime's version is read from its {@code release} file ({@code JAVA_VERSION="25.0.1"}); nothing is executed.
 */
public final class JavaRuntimes {

    /** System property naming the runtime to use. */
    public static final String PROPERTY = "medfuse.registry.java";
    /** Environment variable naming the runtime to use (the property wins). */
    public static final String ENV = "MEDFUSE_REGISTRY_JAVA";

    private static final Pattern JAVA_VERSION = Pattern.compile("(?m)^JAVA_VERSION=\"?(\\d+)");

    /**
     * What a lookup found: the {@code java} executable, or none, and every place looked at with what was there
     * (for a message that tells the user how to fix it).
     */
    public record Lookup(Optional<Path> java, int feature, List<String> looked) {

        /** One line: where it looked and how to point the tests at a runtime. */
        public String explain(int minimum) {
            return "no Java " + minimum + "+ runtime found (looked at: " + String.join("; ", looked) + "); install one"
                    + " or point -D" + PROPERTY + " / " + ENV + " at its home";
        }
    }

    private JavaRuntimes() {
    }

    /** Looks for a runtime of at least {@code minimumFeature} (e.g. 21) as described above. */
    public static Lookup find(int minimumFeature) {
        return find(minimumFeature, System.getProperty(PROPERTY), System.getenv());
    }

    static Lookup find(int minimumFeature, String property, Map<String, String> env) {
        List<String> looked = new ArrayList<>();
        String explicit = property != null && !property.isBlank() ? property : env.get(ENV);
        if (explicit != null && !explicit.isBlank()) {
            Path home = homeOf(Path.of(explicit.trim()));
            int feature = feature(home);
            looked.add((property != null && !property.isBlank() ? "-D" + PROPERTY : ENV) + "=" + explicit + " ("
                    + describe(feature) + ")");
            return feature >= minimumFeature ? new Lookup(Optional.of(javaIn(home)), feature, looked)
                    : new Lookup(Optional.empty(), feature, looked);
        }
        int running = Runtime.version().feature();
        looked.add("this JVM " + System.getProperty("java.home") + " (" + running + ")");
        if (running >= minimumFeature) {
            return new Lookup(Optional.of(javaIn(Path.of(System.getProperty("java.home")))), running, looked);
        }
        String javaHome = env.get("JAVA_HOME");
        if (javaHome != null && !javaHome.isBlank()) {
            Path home = Path.of(javaHome);
            int feature = feature(home);
            looked.add("JAVA_HOME " + javaHome + " (" + describe(feature) + ")");
            if (feature >= minimumFeature) {
                return new Lookup(Optional.of(javaIn(home)), feature, looked);
            }
        }
        String userHome = System.getProperty("user.home", "");
        List<Path> parents = List.of(Path.of("/usr/lib/jvm"), Path.of("/opt/java"), Path.of("/opt"),
                Path.of(userHome, ".sdkman", "candidates", "java"), Path.of(userHome, ".jdks"),
                Path.of("/Library/Java/JavaVirtualMachines"));
        Path best = null;
        int bestFeature = -1;
        for (Path parent : parents) {
            if (!Files.isDirectory(parent)) {
                continue;
            }
            List<String> seen = new ArrayList<>();
            try (Stream<Path> children = Files.list(parent)) {
                for (Path child : children.sorted(Comparator.naturalOrder()).toList()) {
                    Path home = Files.isDirectory(child.resolve("Contents/Home")) ? child.resolve("Contents/Home") : child;
                    int feature = feature(home);
                    if (feature < 0) {
                        continue;
                    }
                    seen.add(child.getFileName() + "=" + feature);
                    if (feature > bestFeature) {
                        best = home;
                        bestFeature = feature;
                    }
                }
            } catch (IOException e) {
                seen.add("unreadable: " + e.getMessage());
            }
            looked.add(parent + " " + seen);
        }
        if (best != null && bestFeature >= minimumFeature) {
            return new Lookup(Optional.of(javaIn(best)), bestFeature, looked);
        }
        return new Lookup(Optional.empty(), bestFeature, looked);
    }

    /** A home given as {@code .../bin/java} becomes {@code ...}. */
    private static Path homeOf(Path given) {
        Path p = given.toAbsolutePath().normalize();
        if (p.getFileName() != null && p.getFileName().toString().equals("java") && p.getParent() != null
                && p.getParent().getFileName() != null && p.getParent().getFileName().toString().equals("bin")) {
            return p.getParent().getParent();
        }
        return p;
    }

    private static Path javaIn(Path home) {
        return home.resolve("bin").resolve("java");
    }

    /** The feature version from {@code home/release}, or -1 when it is not a Java home with an executable java. */
    private static int feature(Path home) {
        if (!Files.isExecutable(javaIn(home))) {
            return -1;
        }
        try {
            Matcher m = JAVA_VERSION.matcher(Files.readString(home.resolve("release"), StandardCharsets.UTF_8));
            if (!m.find()) {
                return -1;
            }
            int major = Integer.parseInt(m.group(1));
            return major == 1 ? 8 : major; // "1.8.0_x" is Java 8; older ones do not matter here
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    private static String describe(int feature) {
        return feature < 0 ? "not a Java home with a release file" : "Java " + feature;
    }
}
