package io.medfuse.worker;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.common.config.ConfigException;

import org.slf4j.LoggerFactory;

import io.medfuse.model.ModelException;
import io.medfuse.worker.config.WorkerConfig;

/**
 * The worker's own thin main, for the container image and for tests that run a worker as a separate process:
 * {@code java -cp ... io.medfuse.worker.WorkerMain [worker.properties]}. Settings from the file, then
 * {@code MEDFUSE_*} environment variables. The full command line ({@code bin/medfuse serve}) does the same with
 * options.
 */
public final class WorkerMain {

    private WorkerMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        Properties file = new Properties();
        if (args.length > 0) {
            try (Reader r = Files.newBufferedReader(Path.of(args[0]))) {
                file.load(r);
            } catch (IOException e) {
                System.err.println("medfuse worker: cannot read " + args[0] + ": " + e.getMessage());
                System.exit(2);
            }
        }
        MedfuseWorker worker;
        try {
            worker = MedfuseWorker.start(WorkerConfig.load(file, System.getenv(), Map.of()));
        } catch (ConfigException | WorkerStartException | ModelException e) {
            System.err.println("medfuse worker: " + e.getMessage());
            System.exit(2);
            return;
        } catch (RuntimeException | Error e) {
            LoggerFactory.getLogger(WorkerMain.class).error("unexpected error at start-up", e);
            System.err.println("medfuse worker: unexpected error at start-up: " + e);
            System.exit(1);
            return;
        }
        int status = runUntilStopped(worker);
        if (status != 0) {
            System.exit(status);
        }
    }

    /**
     * Runs until SIGTERM/SIGINT (a clean stop: returns 128 + the signal, as {@link StopSignals} exits) or until the worker
     * stops by itself (Kafka Streams in ERROR: returns 1 after closing, for a supervisor to restart it).
     */
    public static int runUntilStopped(MedfuseWorker worker) throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        AtomicBoolean closed = new AtomicBoolean();
        Runnable closeOnce = () -> {
            if (closed.compareAndSet(false, true)) {
                worker.close();
                stopped.countDown();
            }
        };
        // the signal first, so the worker stops before ONNX Runtime's own shutdown hook releases its environment
        StopSignals.install(closeOnce);
        Runtime.getRuntime().addShutdownHook(new Thread(closeOnce, "medfuse-shutdown"));
        AtomicBoolean failed = new AtomicBoolean();
        worker.stoppedByItself().thenAccept(reason -> {
            System.err.println("medfuse worker: " + reason + "; exiting");
            failed.set(true);
            new Thread(closeOnce, "medfuse-stop-after-error").start();
        });
        stopped.await();
        // after a signal, its status: the handler's System.exit and the end of main race, and main must not win with 0
        return failed.get() ? 1 : StopSignals.signalledStatus();
    }
}
