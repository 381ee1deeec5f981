package io.medfuse.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The identity a worker keeps across restarts: slot, lock, process id, local state after a crash. */
class InstanceSlotTest {

    @TempDir
    Path root;

    @Test
    void instancesOnOneHostTakeTheLowestFreeSlotAndARestartFindsItsOwnAgain() {
        String first;
        try (InstanceSlot b = holdTwoSlotsAndReleaseTheFirst()) {
            first = b.instanceId().replaceAll("-1$", "-0");
            try (InstanceSlot again = InstanceSlot.claim(root.toString(), "", "app", true)) {
                assertThat(again.instanceId()).as("the freed slot, not a new one").isEqualTo(first);
            }
        }
    }

    /** Two instances take slots 0 and 1; the first dies (its lock is released); the second stays. */
    private InstanceSlot holdTwoSlotsAndReleaseTheFirst() {
        InstanceSlot b;
        try (InstanceSlot a = InstanceSlot.claim(root.toString(), "", "app", true)) {
            b = InstanceSlot.claim(root.toString(), "", "app", true);
            assertThat(a.instanceId()).endsWith("-0");
            assertThat(b.instanceId()).endsWith("-1");
            assertThat(a.stateDir()).isNotEqualTo(b.stateDir());
        }
        return b;
    }

    @Test
    @SuppressWarnings("try") // the slot is held while the try runs
    void writesTheSameKafkaStreamsProcessIdForTheSameIdentityEveryTime() throws Exception {
        Path processFile;
        try (InstanceSlot s = InstanceSlot.claim(root.toString(), "pod-7", "app", true)) {
            processFile = s.stateDir().resolve("app").resolve("kafka-streams-process-metadata");
            assertThat(Files.readString(processFile)).contains(InstanceSlot.processId("app", "pod-7").toString());
        }
        Files.delete(processFile); // a restart that lost its disk
        try (InstanceSlot s = InstanceSlot.claim(root.toString(), "pod-7", "app", true)) {
            assertThat(Files.readString(processFile)).contains(InstanceSlot.processId("app", "pod-7").toString());
        }
        assertThat(InstanceSlot.processId("app", "pod-7")).isNotEqualTo(InstanceSlot.processId("app", "pod-8"))
                .isNotEqualTo(InstanceSlot.processId("other-app", "pod-7"));
    }

    @Test
    @SuppressWarnings("try") // the slot is held while the try runs
    void refusesASecondInstanceWithTheSameConfiguredIdentity() {
        try (InstanceSlot a = InstanceSlot.claim(root.toString(), "pod-7", "app", true)) {
            assertThatThrownBy(() -> InstanceSlot.claim(root.toString(), "pod-7", "app", true))
                    .isInstanceOf(WorkerStartException.class).hasMessageContaining("already used");
        }
    }

    @Test
    @SuppressWarnings("try") // the slot is held while the try runs
    void dropsLocalTaskStateAfterAProcessDiedButKeepsItAfterACleanStop() throws Exception {
        Path task;
        try (InstanceSlot s = InstanceSlot.claim(root.toString(), "pod-1", "app", true)) {
            task = Files.createDirectories(s.stateDir().resolve("app").resolve("0_3"));
            Files.writeString(task.resolve("data"), "x");
            s.markStoppedCleanly();
        }
        try (InstanceSlot s = InstanceSlot.claim(root.toString(), "pod-1", "app", true)) {
            assertThat(task).as("kept after a clean stop").exists();
            // this process dies: no mark
        }
        try (InstanceSlot s = InstanceSlot.claim(root.toString(), "pod-1", "app", true)) {
            assertThat(task).as("dropped after a crash under exactly-once").doesNotExist();
            assertThat(s.stateDir().resolve("app").resolve("kafka-streams-process-metadata")).exists();
        }
    }
}
