package io.medfuse.worker;

import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Stops a worker on SIGTERM and SIGINT <em>before</em> the JVM's shutdown hooks run, then exits with 128 + the
 * signal number. Why not only a shutdown hook: ONNX Runtime registers its own hook that releases its native
 * environment, and the JVM runs all hooks at once, so a worker closed from a hook could still be running a batch
 * when the environment goes: the JVM died with SIGSEGV in {@code libonnxruntime.so} on SIGTERM
 * ({@code GracefulShutdownIT}). Handling the signal first stops Kafka Streams (committing what was answered), the
 * batcher and the session while ONNX Runtime is intact.
 */
public final class StopSignals {

    private static final Map<String, Integer> EXIT_STATUS = Map.of("TERM", 143, "INT", 130);
    /** The exit status of the signal that stopped the worker; 0 while none has. */
    private static final java.util.concurrent.atomic.AtomicInteger SIGNALLED =
            new java.util.concurrent.atomic.AtomicInteger();

    /**
     * 128 + the signal that stopped the worker, or 0. The main thread returns it too: once the stop has run it may
     * reach the end of {@code main} before the handler's {@code System.exit}, and a JVM that ends that way exits 0.
     */
    public static int signalledStatus() {
        return SIGNALLED.get();
    }

    private StopSignals() {
    }

    /**
     * Runs {@code stop} on the first SIGTERM or SIGINT, then exits; a second signal while stopping halts at once.
     *
     * @return false when the JVM offers no signal API (then only a shutdown hook can stop the worker)
     */
    public static boolean install(Runnable stop) {
        AtomicBoolean stopping = new AtomicBoolean();
        boolean all = true;
        for (var e : EXIT_STATUS.entrySet()) {
            all &= handle(e.getKey(), () -> {
                if (!stopping.compareAndSet(false, true)) {
                    Runtime.getRuntime().halt(e.getValue());
                }
                SIGNALLED.compareAndSet(0, e.getValue());
                try {
                    stop.run();
                } finally {
                    System.exit(e.getValue());
                }
            });
        }
        return all;
    }

    /**
     * {@code sun.misc.Signal.handle(new Signal(name), handler)} through reflection: the JDK exports it
     * (jdk.unsupported) but javac warns about it as an internal API, and the build treats warnings as errors. The
     * handler runs on a thread of its own, so it may block.
     */
    private static boolean handle(String name, Runnable action) {
        try {
            Class<?> signalClass = Class.forName("sun.misc.Signal");
            Class<?> handlerClass = Class.forName("sun.misc.SignalHandler");
            Object signal = signalClass.getConstructor(String.class).newInstance(name);
            Object handler = java.lang.reflect.Proxy.newProxyInstance(StopSignals.class.getClassLoader(),
                    new Class<?>[] {handlerClass}, (proxy, method, args) -> {
                        if ("handle".equals(method.getName())) {
                            action.run();
                            return null;
                        }
                        return switch (method.getName()) {
                            case "hashCode" -> System.identityHashCode(proxy);
                            case "equals" -> proxy == args[0];
                            default -> "medfuse stop handler for SIG" + name;
                        };
                    });
            signalClass.getMethod("handle", signalClass, handlerClass).invoke(null, signal, handler);
            return true;
        } catch (ReflectiveOperationException | IllegalArgumentException | SecurityException e) {
            return false; // e.g. SIGINT ignored in a background job: the default behaviour stays
        }
    }
}
