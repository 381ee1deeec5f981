package io.medfuse.worker.pipeline;

import io.medfuse.events.ModelIdentity;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.worker.batch.BatchModel;

/** The model as the worker sees it: a batch model with a contract and an identity. Thread-safe. */
public interface Classifier extends BatchModel, AutoCloseable {

    /** The model's contract: preprocessing, features, labels. */
    ModelContract contract();

    /** Name, version, sha256 and execution provider, as published on every prediction. */
    ModelIdentity identity();

    /** Releases native resources; called once, after the batcher stopped. */
    @Override
    void close();
}
