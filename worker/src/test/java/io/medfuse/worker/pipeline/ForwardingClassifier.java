package io.medfuse.worker.pipeline;

import io.medfuse.events.ModelIdentity;
import io.medfuse.model.contract.ModelContract;

/** A real classifier behind another: tests override what they change (a slow, failing or odd model run). */
public class ForwardingClassifier implements Classifier {

    protected final Classifier model;

    public ForwardingClassifier(Classifier model) {
        this.model = model;
    }

    @Override
    public float[][] predict(float[] images, float[] tabular, int n) {
        return model.predict(images, tabular, n);
    }

    @Override
    public int imageSize() {
        return model.imageSize();
    }

    @Override
    public int tabularWidth() {
        return model.tabularWidth();
    }

    @Override
    public int paddedSize(int n) {
        return model.paddedSize(n);
    }

    @Override
    public ModelContract contract() {
        return model.contract();
    }

    @Override
    public ModelIdentity identity() {
        return model.identity();
    }

    @Override
    public void close() {
        model.close();
    }
}
