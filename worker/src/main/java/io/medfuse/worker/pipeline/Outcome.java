package io.medfuse.worker.pipeline;

import java.util.List;

import io.medfuse.events.ClinicalInfluence;
import io.medfuse.events.FailureReason;
import io.medfuse.events.SourceRef;
import io.medfuse.worker.batch.BatchStats;

/** What became of one request inside the pipeline: a prediction or a failure. */
public sealed interface Outcome {

    /**
     * The model answered.
     *
     * @param probabilities in the contract's label order
     * @param flags input notes such as {@code age:imputed}
     * @param arrivalNanos when the stream thread took the request
     * @param preprocessNanos image checks, decoding and the tabular encoding (not the fetch, nor the tensor write)
     * @param source the request's source, with a DICOM image's UIDs where it gave none; may be null
     * @param patient the DICOM object's PatientID, only when the FHIR output names the patient; else null. Never
     *                on the Prediction event
     * @param influence how much the clinical data moved the prediction; null when not measured
     * @param model the model that answered (its identity, labels and referral threshold)
     */
    record Predicted(float[] probabilities, List<String> flags, BatchStats stats, long arrivalNanos,
                     long preprocessNanos, SourceRef source, PatientIdentifier patient,
                     ClinicalInfluence influence, ModelGeneration model) implements Outcome {
    }

    /** The request cannot be answered: it becomes a dead letter. */
    record Failed(FailureReason reason, String detail) implements Outcome {
    }
}
