package io.medfuse.worker.models;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.medfuse.events.ModelIdentity;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.model.tabular.TabularEncoder;
import io.medfuse.worker.metrics.WorkerMetrics;
import io.medfuse.worker.pipeline.Classifier;
import io.medfuse.worker.pipeline.ModelGeneration;
import io.medfuse.worker.pipeline.RequestPipeline;
import io.medfuse.worker.pipeline.RequestPipeline.Role;

/**
 * Applies model announcements to the running pipeline, off the request path (on the control thread): reads the
 * announced file (only under {@code model.control.dir}, at most {@code model.max.bytes}), checks its SHA-256,
 * loads it (ONNX Runtime checks the session against the contract), checks that its labels are the serving model's
 * and that recent requests supply its features, runs a warm-up batch, and only then puts it in its role between
 * two batches ({@link RequestPipeline#install}). Anything that fails refuses the model: the current one keeps
 * serving, and the refusal is logged, counted ({@code medfuse_model_refused_total{role,reason}}) and published as
 * a {@link ModelStatus}. An announcement of the model already in its role changes nothing (a canary's share
 * excepted), so every worker reading the compacted topic from the start ends in the same state.
 */
public final class ModelManager {

    private static final Logger LOG = LoggerFactory.getLogger(ModelManager.class);

    /** Loads a classifier from a model file's bytes. */
    @FunctionalInterface
    public interface Loader {
        Classifier load(byte[] bytes, String sourceName);
    }

    /**
     * @param allowedDir announced files must be inside it (after resolving links)
     * @param maxBytes largest model file read
     * @param shadowTopic where shadow predictions go; null: a shadow is refused
     */
    public record Settings(Path allowedDir, long maxBytes, String shadowTopic) {
    }

    private final RequestPipeline pipeline;
    private final Settings settings;
    private final Loader loader;
    private final WorkerMetrics metrics;
    private final String instance;

    public ModelManager(RequestPipeline pipeline, Settings settings, Loader loader, WorkerMetrics metrics,
                        String instance) {
        this.pipeline = pipeline;
        this.settings = settings;
        this.loader = loader;
        this.metrics = metrics;
        this.instance = instance;
    }

    /** A refusal, with its reason and an operator's sentence. */
    static final class Refused extends Exception {
        final RefusalReason reason;

        Refused(RefusalReason reason, String detail) {
            super(detail, null, false, false);
            this.reason = reason;
        }
    }

    /** A control record that is not a valid announcement: refused, nothing changes. */
    public ModelStatus invalid(String key, String detail) {
        Role role = null;
        try {
            role = ModelAnnouncement.role(key);
        } catch (RuntimeException e) {
            // no readable role
        }
        return refused(role, null, null, null, new Refused(RefusalReason.INVALID_ANNOUNCEMENT, detail));
    }

    /** Applies one announcement; returns what became of it (also logged and counted). */
    public ModelStatus apply(ModelAnnouncement a) {
        Role role = a.role();
        if (a.remove()) {
            boolean removed = pipeline.remove(role);
            LOG.info("model control: the {} model is {}", lower(role), removed ? "removed" : "absent already");
            return status("removed", role, null, null, null, null, null,
                    removed ? "removed; requests are answered by the primary alone" : "there was none");
        }
        String uri = a.uri().toString();
        if (role == Role.SHADOW && settings.shadowTopic() == null) {
            return refused(role, uri, a.sha256(), a.share(), new Refused(RefusalReason.ROLE_NOT_CONFIGURED,
                    "a shadow needs model.shadow.topic (where its predictions go)"));
        }
        ModelGeneration current = pipeline.model(role);
        if (current != null && current.identity().getSha256().equalsIgnoreCase(a.sha256())) {
            if (role == Role.CANARY && a.share() != pipeline.canaryShare()) {
                pipeline.canaryShare(a.share());
                LOG.info("model control: canary {} now answers a share of {}", current, a.share());
                return status("share", role, uri, a.sha256(), a.share(), current.identity(), null,
                        "the canary's share is now " + a.share());
            }
            return status("serving", role, uri, a.sha256(), a.share(), current.identity(), null,
                    "already serving in this role");
        }
        Classifier candidate = null;
        try {
            Path file = allowedFile(a.uri());
            byte[] bytes = read(file);
            String sha = OnnxModelFile.sha256(bytes);
            if (!sha.equalsIgnoreCase(a.sha256())) {
                throw new Refused(RefusalReason.SHA256_MISMATCH, "the file's SHA-256 is " + sha
                        + ", not the announced " + a.sha256());
            }
            try {
                candidate = loader.load(bytes, file.getFileName().toString());
            } catch (RuntimeException e) {
                throw new Refused(RefusalReason.CONTRACT_INVALID, "it cannot be loaded: " + e.getMessage());
            }
            check(candidate);
            warmUp(candidate);
            ModelIdentity id = candidate.identity();
            pipeline.install(role, candidate, a.share() == null ? 0 : a.share());
            candidate = null; // the pipeline owns it now
            metrics.modelInstalled(lower(role));
            LOG.info("model control: {} {} (sha256 {}) now serves as {}{}", id.getName(), id.getVersion(),
                    id.getSha256(), lower(role), role == Role.CANARY ? " for a share of " + a.share() : "");
            return status("serving", role, uri, a.sha256(), a.share(), id, null, "loaded, checked, warmed up and "
                    + "serving");
        } catch (Refused r) {
            return refused(role, uri, a.sha256(), a.share(), r);
        } finally {
            if (candidate != null) {
                candidate.close();
            }
        }
    }

    private Path allowedFile(URI uri) throws Refused {
        if (!"file".equalsIgnoreCase(uri.getScheme()) || uri.getPath() == null || uri.getRawQuery() != null
                || uri.getRawFragment() != null || uri.getAuthority() != null && !uri.getAuthority().isEmpty()) {
            throw new Refused(RefusalReason.URI_NOT_ALLOWED, "only file: URIs of local files are loaded");
        }
        try {
            Path dir = settings.allowedDir().toRealPath();
            Path file = Path.of(uri).toRealPath();
            if (!file.startsWith(dir)) {
                throw new Refused(RefusalReason.URI_NOT_ALLOWED, "the file is not inside model.control.dir ("
                        + dir + ")");
            }
            if (!Files.isRegularFile(file)) {
                throw new Refused(RefusalReason.UNREADABLE, "it is not a regular file");
            }
            return file;
        } catch (NoSuchFileException e) {
            throw new Refused(RefusalReason.UNREADABLE, "there is no such file");
        } catch (IOException | RuntimeException e) {
            throw new Refused(RefusalReason.UNREADABLE, "the file cannot be read (" + e.getClass().getSimpleName()
                    + ")");
        }
    }

    private byte[] read(Path file) throws Refused {
        try {
            long size = Files.size(file);
            if (size > settings.maxBytes()) {
                throw new Refused(RefusalReason.UNREADABLE, "the file has " + size + " bytes, more than "
                        + "model.max.bytes = " + settings.maxBytes());
            }
            try (InputStream in = Files.newInputStream(file)) {
                // the size again while reading: the file may grow after it was measured
                byte[] bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, settings.maxBytes() + 1));
                if (bytes.length > settings.maxBytes()) {
                    throw new Refused(RefusalReason.UNREADABLE, "the file grew past model.max.bytes while it was "
                            + "read");
                }
                return bytes;
            }
        } catch (IOException e) {
            throw new Refused(RefusalReason.UNREADABLE, "the file cannot be read (" + e.getClass().getSimpleName()
                    + ")");
        }
    }

    /** Labels as the serving primary's; features the recent requests supply. */
    private void check(Classifier candidate) throws Refused {
        ModelContract c = candidate.contract();
        List<String> serving = pipeline.model(Role.PRIMARY).labelNames();
        if (!new HashSet<>(c.labelNames()).equals(new HashSet<>(serving))) {
            throw new Refused(RefusalReason.LABELS_DIFFER, "its labels " + c.labelNames() + " are not the serving "
                    + "model's " + serving);
        }
        List<String> unsupplied = pipeline.unsuppliedFeatures(c);
        if (!unsupplied.isEmpty()) {
            throw new Refused(RefusalReason.FEATURES_NOT_SUPPLIED, "none of the last " + pipeline.recentRequests()
                    + " requests supplies " + unsupplied + " (through the sources its contract names): every one "
                    + "would be imputed");
        }
    }

    /**
     * One run with the largest batch the worker forms (so ONNX Runtime plans its memory now, not on the first real
     * batch) of blank images and the masked row, and a run of one: every row must be a probability distribution
     * over the labels.
     */
    private void warmUp(Classifier candidate) throws Refused {
        ModelContract c = candidate.contract();
        float[] masked = new TabularEncoder(c.tabular()).encode(Map.of()).values();
        int labels = c.labelNames().size();
        for (int n : new int[] {pipeline.maxBatchSize(), 1}) {
            float[] images = new float[n * candidate.imageSize()];
            float[] tabular = new float[n * candidate.tabularWidth()];
            for (int i = 0; i < n; i++) {
                System.arraycopy(masked, 0, tabular, i * masked.length, masked.length);
            }
            float[][] out;
            try {
                out = candidate.predict(images, tabular, n);
            } catch (RuntimeException e) {
                throw new Refused(RefusalReason.WARM_UP_FAILED, "its warm-up run of " + n + " failed: "
                        + e.getMessage());
            }
            if (out == null || out.length < n) {
                throw new Refused(RefusalReason.WARM_UP_FAILED, "its warm-up run of " + n + " returned "
                        + (out == null ? "nothing" : out.length + " rows"));
            }
            for (int i = 0; i < n; i++) {
                float[] row = out[i];
                double sum = 0;
                boolean valid = row != null && row.length == labels;
                for (int k = 0; valid && k < row.length; k++) {
                    valid = Float.isFinite(row[k]) && row[k] >= 0 && row[k] <= 1;
                    sum += row[k];
                }
                if (!valid || Math.abs(sum - 1) > 1e-3) {
                    throw new Refused(RefusalReason.WARM_UP_FAILED, "its warm-up run returned a row that is not "
                            + "a probability distribution over its " + labels + " labels");
                }
            }
        }
    }

    private ModelStatus refused(Role role, String uri, String sha, Double share, Refused r) {
        metrics.modelRefused(role == null ? "unknown" : lower(role), r.reason.id());
        ModelGeneration keeps = role == null ? null : pipeline.model(role);
        LOG.warn("model control: the {} model {} is refused ({}): {}; {}", role == null ? "announced" : lower(role),
                uri == null ? "" : uri, r.reason.id(), r.getMessage(), keeps == null ? "nothing changes"
                        : keeps + " keeps serving");
        return status("refused", role, uri, sha, share, keeps == null ? null : keeps.identity(), r.reason,
                r.getMessage());
    }

    private ModelStatus status(String state, Role role, String uri, String sha, Double share, ModelIdentity model,
                               RefusalReason reason, String detail) {
        return new ModelStatus(instance, state, role, uri, sha, share, model, reason, detail, Instant.now());
    }

    private static String lower(Role role) {
        return role.name().toLowerCase(Locale.ROOT);
    }
}
