package io.medfuse.testkit;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Starts a Java main class in a separate JVM with this JVM's class path, for tests and the soak that need real
 * processes (a broker, worker instances) they can SIGKILL or SIGTERM.
 *
 * <p>The class path is passed in the short {@code dir/*} form: jars are linked into one folder and named by a
 * wildcard, directories are kept as they are. A ~7,000-character explicit class path once made ONNX Runtime crash
 * (docs/adr/0004); the short form also keeps {@code ps} readable.
 */
public final class ChildJvm {

    private static Path linkedJars;

    private ChildJvm() {
    }

    /**
     * This JVM's class path in short form: class directories, then one {@code folder/*} with links to every jar.
     *
     * @throws EmbeddedKafkaException when the link folder cannot be written
     */
    public static synchronized String classpath() {
        List<String> dirs = new ArrayList<>();
        List<Path> jars = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (entry.isBlank()) {
                continue;
            }
            Path p = Path.of(entry).toAbsolutePath();
            if (Files.isDirectory(p)) {
                dirs.add(p.toString());
            } else if (Files.isRegularFile(p)) {
                jars.add(p);
            }
        }
        try {
            if (linkedJars == null) {
                linkedJars = Files.createTempDirectory("medfuse-child-cp-");
                int i = 0;
                for (Path jar : jars) {
                    // numbered, so two jars with one file name cannot collide
                    Files.createSymbolicLink(linkedJars.resolve(String.format("%03d-%s", i++, jar.getFileName())),
                            jar);
                }
                linkedJars.toFile().deleteOnExit();
            }
        } catch (IOException e) {
            throw new EmbeddedKafkaException("cannot link the class path jars for a child JVM: " + e, e);
        }
        dirs.add(linkedJars.resolve("*").toString());
        return String.join(File.pathSeparator, dirs);
    }

    /**
     * Starts {@code mainClass} in a new JVM; stdout and stderr go to {@code log}.
     *
     * @param jvmOptions e.g. {@code -Xmx512m}
     * @param env extra environment variables
     * @throws EmbeddedKafkaException when the process cannot be started
     */
    public static Process start(String mainClass, List<String> args, List<String> jvmOptions, Map<String, String> env,
                                Path log) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.add("-cp");
        command.add(classpath());
        command.add(mainClass);
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().putAll(env);
        try {
            return pb.start();
        } catch (IOException e) {
            throw new EmbeddedKafkaException("cannot start " + mainClass + " in a new JVM: " + e, e);
        }
    }
}
