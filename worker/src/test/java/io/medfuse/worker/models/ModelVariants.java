package io.medfuse.worker.models;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.medfuse.model.contract.Calibration;
import io.medfuse.model.contract.ClassLabel;
import io.medfuse.model.contract.FeatureSource;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.worker.MedfuseWorker;

/**
 * Real model files that differ from the bundled one the way a new version does: the bundled network with another
 * contract attached (another version, a calibration that changes its probabilities, other labels, another source
 * for a feature). For the swap tests; written where a test says.
 */
public final class ModelVariants {

    private final byte[] bundled = MedfuseWorker.bundledModel();
    private final ModelContract contract = OnnxModelFile.readContract(bundled, "bundled");

    public byte[] bundled() {
        return bundled;
    }

    public ModelContract contract() {
        return contract;
    }

    /** The bundled network as version {@code version}, its logits divided by {@code temperature}. */
    public byte[] version(String version, double temperature) {
        return OnnxModelFile.attachContract(bundled, contract.withVersion(version).withCalibration(new Calibration(
                Calibration.TEMPERATURE, temperature, null, Map.of())));
    }

    /** Another version whose labels are named otherwise. */
    public byte[] otherLabels(String version) {
        List<ClassLabel> labels = contract.labels().stream()
                .map(l -> new ClassLabel(l.name() + "-x", l.frequency())).toList();
        return OnnxModelFile.attachContract(bundled, contract.withVersion(version).withLabels(labels));
    }

    /** Another version whose first numeric feature reads {@code clinical.<key>} only. */
    public byte[] firstNumericFrom(String version, String key) {
        List<FeatureSpec> features = new ArrayList<>();
        boolean done = false;
        for (FeatureSpec f : contract.tabular()) {
            if (!done && f instanceof FeatureSpec.Numeric n) {
                features.add(new FeatureSpec.Numeric(n.name(), List.of(new FeatureSource.Clinical(key)), n.center(),
                        n.scale(), n.min(), n.max(), n.impute(), n.missingIndicator()));
                done = true;
            } else {
                features.add(f);
            }
        }
        return OnnxModelFile.attachContract(bundled, contract.withVersion(version).withTabular(features));
    }

    /** Writes bytes to a file and returns its path. */
    public static Path write(Path dir, String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }
}
