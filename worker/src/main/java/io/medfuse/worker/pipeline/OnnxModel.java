package io.medfuse.worker.pipeline;

import java.nio.file.Path;

import io.medfuse.events.ModelIdentity;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.engine.OnnxClassifier;
import io.medfuse.model.image.ImageTensor;

/** The production {@link Classifier}: an ONNX Runtime session owned by the model module's engine. */
public final class OnnxModel implements Classifier {

    private final OnnxClassifier engine;
    private final ModelIdentity identity;

    private OnnxModel(OnnxClassifier engine) {
        this.engine = engine;
        ModelContract c = engine.contract();
        this.identity = ModelIdentity.newBuilder().setName(c.name()).setVersion(c.version())
                .setSha256(engine.sha256()).setExecutionProvider(engine.executionProvider()).build();
    }

    /** Loads a model file; the engine checks the session against the contract. */
    public static OnnxModel load(Path file, EngineOptions options) {
        return new OnnxModel(OnnxClassifier.load(file, options));
    }

    /** Loads a model from bytes (the bundled model). */
    public static OnnxModel load(byte[] bytes, String sourceName, EngineOptions options) {
        return new OnnxModel(OnnxClassifier.load(bytes, sourceName, options));
    }

    @Override
    public float[][] predict(float[] images, float[] tabular, int n) {
        return engine.predict(images, tabular, n);
    }

    @Override
    public float[][] predictRows(ImageTensor[] images, float[][] tabular) {
        return engine.predictRows(images, tabular);
    }

    @Override
    public long inputBufferBytes() {
        return engine.inputBufferBytes();
    }

    @Override
    public int inputBufferRows() {
        return engine.maxBatchSize();
    }

    @Override
    public Staged stage() {
        OnnxClassifier.Staged batch = engine.stage();
        return new Staged() {
            @Override
            public RuntimeException[] add(ImageTensor[] images, float[][][] tabular) {
                return batch.add(images, tabular);
            }

            @Override
            public int rows() {
                return batch.rows();
            }

            @Override
            public float[][] run() {
                return batch.run();
            }

            @Override
            public void close() {
                batch.close();
            }
        };
    }

    @Override
    public int imageSize() {
        return engine.contract().image().tensorSize();
    }

    @Override
    public int tabularWidth() {
        return engine.contract().tabularWidth();
    }

    @Override
    public int paddedSize(int n) {
        return engine.paddedSize(n);
    }

    @Override
    public ModelContract contract() {
        return engine.contract();
    }

    @Override
    public ModelIdentity identity() {
        return identity;
    }

    @Override
    public void close() {
        engine.close();
    }
}
