package io.medfuse.trainer;

import ai.djl.engine.Engine;

import java.nio.file.Path;

/**
 * Loads DJL's PyTorch engine from the natives on the class path (FACTS.md): {@code pytorch-jni} and
 * {@code pytorch-native-cpu} (classifier linux-x86_64) jars, from which DJL extracts libtorch (~430 MB) into
 * {@code DJL_CACHE_DIR} (default {@code ~/.djl.ai}) on first use instead of downloading it.
 */
public final class DjlRuntime {

    /** The engine medfuse trains with. */
    public static final String ENGINE = "PyTorch";

    private DjlRuntime() {
    }

    /**
     * The PyTorch engine, loaded once per JVM.
     *
     * @throws TrainerException when the natives cannot be loaded, saying which jars and settings are involved
     */
    public static Engine pytorch() {
        try {
            Engine engine = Engine.getEngine(ENGINE);
            if (engine == null) {
                throw new IllegalStateException("DJL found no engine named " + ENGINE);
            }
            return engine;
        } catch (RuntimeException | UnsatisfiedLinkError | NoClassDefFoundError e) {
            throw new TrainerException("cannot load DJL's PyTorch engine (" + rootMessage(e) + "). The trainer needs "
                    + "ai.djl.pytorch:pytorch-jni:2.7.1-0.36.0 and ai.djl.pytorch:pytorch-native-cpu:2.7.1 "
                    + "(classifier linux-x86_64) on the class path; DJL extracts libtorch from that jar into "
                    + "DJL_CACHE_DIR (now " + cacheDir() + "), which must be writable with ~500 MB free. Run offline "
                    + "with DJL_OFFLINE=true (or -Dai.djl.offline=true) and OPT_OUT_TRACKING=true, and leave "
                    + "PYTORCH_VERSION / PYTORCH_FLAVOR unset (a mismatch makes DJL try to download)", e);
        }
    }

    /** Where DJL keeps extracted natives. */
    public static Path cacheDir() {
        String dir = System.getProperty("DJL_CACHE_DIR", System.getenv("DJL_CACHE_DIR"));
        return dir == null || dir.isBlank() ? Path.of(System.getProperty("user.home"), ".djl.ai") : Path.of(dir);
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }
}
