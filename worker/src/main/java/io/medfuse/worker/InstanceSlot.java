package io.medfuse.worker;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Locale;
import java.util.UUID;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This instance's identity and state folder, kept across restarts so that a restarted instance is, for Kafka, the
 * one that died: the same {@code group.instance.id} (static membership: it takes its partitions back without
 * waiting for the dead member's session to expire) and the same Kafka Streams process id (so the same
 * transactional ids: its first transaction fences the dead instance's open one at once, instead of waiting for
 * the broker to time it out). See ADR 0006.
 *
 * <p>The identity is {@code instance.id} when configured; otherwise {@code <host name>-<n>} for the lowest slot
 * {@code n} under the state root that no running instance holds, so instances on one host (or restarts of one
 * container) find their slot again. A slot is held by a file lock for the life of the process: the operating
 * system releases it when the process dies, even by SIGKILL.
 *
 * <p>The process id is derived from the application id and the identity and written where Kafka Streams keeps it
 * ({@code <slot>/<application.id>/kafka-streams-process-metadata}, read because the topology has a persistent
 * store), so a restart that lost its disk still gets it back.
 */
final class InstanceSlot implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(InstanceSlot.class);
    private static final String PROCESS_FILE = "kafka-streams-process-metadata";
    /** Written when the worker stopped cleanly; its absence at start means the last process in the slot died. */
    private static final String CLEAN_MARK = "stopped-cleanly";
    private static final int MAX_SLOTS = 1000;

    private final String instanceId;
    private final Path stateDir;
    private final FileChannel channel;
    private final FileLock lock;

    private InstanceSlot(String instanceId, Path stateDir, FileChannel channel, FileLock lock) {
        this.instanceId = instanceId;
        this.stateDir = stateDir;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Claims this instance's slot.
     *
     * @param root {@code state.dir}, or empty for {@code medfuse-state} under {@code java.io.tmpdir}
     * @param configuredId {@code instance.id}, or empty to take host name + first free slot
     * @param exactlyOnce true under exactly_once_v2: local state left by a process that died is dropped at once
     * @throws WorkerStartException when the slot is held by another running instance or cannot be created
     */
    static InstanceSlot claim(String root, String configuredId, String applicationId, boolean exactlyOnce) {
        Path base = root.isEmpty() ? Path.of(System.getProperty("java.io.tmpdir"), "medfuse-state") : Path.of(root);
        Path appDir = base.resolve(safe(applicationId));
        try {
            if (!configuredId.isEmpty()) {
                Path dir = appDir.resolve(safe(configuredId));
                InstanceSlot slot = tryLock(configuredId, dir);
                if (slot == null) {
                    throw new WorkerStartException("instance.id " + configuredId + " is already used by a worker "
                            + "running on this host (its state folder " + dir + " is locked); give every instance "
                            + "its own instance.id");
                }
                return prepared(slot, applicationId, exactlyOnce);
            }
            String host = hostName();
            for (int n = 0; n < MAX_SLOTS; n++) {
                InstanceSlot slot = tryLock(host + "-" + n, appDir.resolve("slot-" + n));
                if (slot != null) {
                    return prepared(slot, applicationId, exactlyOnce);
                }
            }
        } catch (IOException e) {
            throw new WorkerStartException("cannot create the state folder under " + appDir + " (" + e.getMessage()
                    + "); set state.dir to a writable folder", e);
        }
        throw new WorkerStartException("all " + MAX_SLOTS + " state slots under " + appDir + " are held by running "
                + "workers");
    }

    /** The slot ready for Kafka Streams, or released again when getting it ready failed. */
    private static InstanceSlot prepared(InstanceSlot slot, String applicationId, boolean exactlyOnce)
            throws IOException {
        try {
            return slot.prepare(applicationId, exactlyOnce);
        } catch (IOException | RuntimeException e) {
            slot.close();
            throw e;
        }
    }

    private static InstanceSlot tryLock(String id, Path dir) throws IOException {
        Files.createDirectories(dir);
        FileChannel channel = FileChannel.open(dir.resolve("medfuse.lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null; // held by another worker in this JVM (tests, the demo)
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        if (lock == null) {
            channel.close();
            return null;
        }
        return new InstanceSlot(id, dir, channel, lock);
    }

    /**
     * Writes the process id and, after a process that died under exactly_once_v2, drops the local task state: Kafka
     * Streams would find it without a checkpoint, call the tasks corrupted, close them, wipe and re-create them
     * before restoring from the changelogs; dropping it first goes straight to the restore (about a second less on a
     * restart, ADR 0006). After a clean stop the state and its checkpoints are kept.
     */
    private InstanceSlot prepare(String applicationId, boolean exactlyOnce) throws IOException {
        UUID processId = processId(applicationId, instanceId);
        Path appState = stateDir.resolve(applicationId);
        Files.createDirectories(appState);
        boolean clean = Files.deleteIfExists(stateDir.resolve(CLEAN_MARK));
        if (!clean && exactlyOnce) {
            try (var tasks = Files.list(appState)) {
                List<Path> dirs = tasks.filter(p -> Files.isDirectory(p) && p.getFileName().toString()
                        .matches("\\d+_\\d+")).toList();
                if (!dirs.isEmpty()) {
                    LOG.info("instance {}: the last process in this slot did not stop cleanly; dropping the local "
                            + "state of {} task(s), to be restored from the changelogs", instanceId, dirs.size());
                }
                for (Path d : dirs) {
                    deleteTree(d);
                }
            }
        }
        Files.writeString(appState.resolve(PROCESS_FILE), "{\"processId\":\"" + processId + "\"}",
                StandardCharsets.UTF_8);
        LOG.info("instance {}: state in {}, Kafka Streams process id {}", instanceId, stateDir, processId);
        return this;
    }

    /** The process id an instance of this application with this identity always has. */
    static UUID processId(String applicationId, String instanceId) {
        return UUID.nameUUIDFromBytes(("medfuse\u0000" + applicationId + "\u0000" + instanceId)
                .getBytes(StandardCharsets.UTF_8));
    }

    /** The worker stopped cleanly: the next start keeps the local state (and its checkpoints). */
    void markStoppedCleanly() {
        try {
            Files.writeString(stateDir.resolve(CLEAN_MARK), java.time.Instant.now().toString());
        } catch (IOException e) {
            LOG.debug("cannot mark the state slot {} as stopped cleanly: {}", stateDir, e.toString());
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** The identity: {@code group.instance.id}. */
    String instanceId() {
        return instanceId;
    }

    /** Kafka Streams' {@code state.dir} for this instance. */
    Path stateDir() {
        return stateDir;
    }

    private static String hostName() {
        String env = System.getenv("HOSTNAME");
        String name = env;
        if (name == null || name.isBlank()) {
            try {
                name = InetAddress.getLocalHost().getHostName();
            } catch (IOException e) {
                name = "localhost";
            }
        }
        return safe(name.toLowerCase(Locale.ROOT));
    }

    private static String safe(String s) {
        String cleaned = s.replaceAll("[^A-Za-z0-9._-]", "_");
        return cleaned.length() <= 100 ? cleaned : cleaned.substring(0, 100);
    }

    /** Releases the slot (the state stays for the next start). */
    @Override
    public void close() {
        try {
            lock.release();
            channel.close();
        } catch (IOException e) {
            LOG.debug("releasing the state slot {}: {}", stateDir, e.toString());
        }
    }
}
