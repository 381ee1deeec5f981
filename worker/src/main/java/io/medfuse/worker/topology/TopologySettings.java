package io.medfuse.worker.topology;

/**
 * The topology's names and limits, built once from configuration.
 *
 * @param requestsTopic where ImagingRequest events come from
 * @param predictionsTopic where Prediction events go
 * @param deadLettersTopic where FailedRequest events go
 * @param forwardIntervalMs how often each task forwards finished results
 * @param deadLetterMaxOriginalBytes dead letters carry the original value up to this size; 0: never
 * @param predictionsMaxBytes largest Prediction value the predictions topic takes (larger: ANSWER_TOO_LARGE)
 * @param deadLettersMaxBytes largest FailedRequest value the dead-letter topic takes (larger: sent without the
 *     original)
 * @param requestIdWindowMs how long a request id is remembered
 * @param fhirTopic where a FHIR document per prediction goes, or null: no FHIR output
 * @param fhirPatientIdentifierSystem the identifier system a DICOM object's PatientID is written under as the FHIR
 *     documents' subject, or null: no patient identifier in them
 */
public record TopologySettings(String requestsTopic, String predictionsTopic, String deadLettersTopic,
                               long forwardIntervalMs, int deadLetterMaxOriginalBytes, int predictionsMaxBytes,
                               int deadLettersMaxBytes, long requestIdWindowMs, String fhirTopic,
                               String fhirPatientIdentifierSystem) {

    public TopologySettings(String requestsTopic, String predictionsTopic, String deadLettersTopic,
                            long forwardIntervalMs, int deadLetterMaxOriginalBytes, int predictionsMaxBytes,
                            int deadLettersMaxBytes, long requestIdWindowMs) {
        this(requestsTopic, predictionsTopic, deadLettersTopic, forwardIntervalMs, deadLetterMaxOriginalBytes,
                predictionsMaxBytes, deadLettersMaxBytes, requestIdWindowMs, null, null);
    }

    /** Kafka's default message size limit less room for the key, headers and batch overhead. */
    public static final int DEFAULT_MAX_VALUE_BYTES = 1_048_588 - 16 * 1024;

    /** Settings with the default size limits and a one-hour request id window (tests, benchmarks). */
    public static TopologySettings of(String requestsTopic, String predictionsTopic, String deadLettersTopic,
                                      long forwardIntervalMs, int deadLetterMaxOriginalBytes) {
        return new TopologySettings(requestsTopic, predictionsTopic, deadLettersTopic, forwardIntervalMs,
                deadLetterMaxOriginalBytes, DEFAULT_MAX_VALUE_BYTES, DEFAULT_MAX_VALUE_BYTES, 3_600_000L);
    }

    public TopologySettings withRequestIdWindowMs(long ms) {
        return new TopologySettings(requestsTopic, predictionsTopic, deadLettersTopic, forwardIntervalMs,
                deadLetterMaxOriginalBytes, predictionsMaxBytes, deadLettersMaxBytes, ms, fhirTopic,
                fhirPatientIdentifierSystem);
    }

    public TopologySettings withMaxValueBytes(int predictions, int deadLetters) {
        return new TopologySettings(requestsTopic, predictionsTopic, deadLettersTopic, forwardIntervalMs,
                deadLetterMaxOriginalBytes, predictions, deadLetters, requestIdWindowMs, fhirTopic,
                fhirPatientIdentifierSystem);
    }

    /** These settings with a FHIR output topic (null: none). */
    public TopologySettings withFhirTopic(String topic) {
        return new TopologySettings(requestsTopic, predictionsTopic, deadLettersTopic, forwardIntervalMs,
                deadLetterMaxOriginalBytes, predictionsMaxBytes, deadLettersMaxBytes, requestIdWindowMs, topic,
                fhirPatientIdentifierSystem);
    }

    /** These settings with the system a PatientID is written under in the FHIR documents (null: none). */
    public TopologySettings withFhirPatientIdentifierSystem(String system) {
        return new TopologySettings(requestsTopic, predictionsTopic, deadLettersTopic, forwardIntervalMs,
                deadLetterMaxOriginalBytes, predictionsMaxBytes, deadLettersMaxBytes, requestIdWindowMs, fhirTopic,
                system);
    }
}
