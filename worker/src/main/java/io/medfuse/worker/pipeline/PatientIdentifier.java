package io.medfuse.worker.pipeline;

import java.util.List;
import java.util.Optional;

import io.medfuse.model.image.DicomDataset;

/**
 * A DICOM object's PatientID (0010,0020), read only when the FHIR output is configured to name the patient
 * ({@code output.fhir.patient.identifier.system}). It is patient data: it goes into the FHIR document and nowhere
 * else, and {@link #toString()} does not show it, so it cannot reach a log line by accident.
 *
 * @param value 1 to 64 characters (the LO value representation), none of them a control character or a backslash
 */
public record PatientIdentifier(String value) {

    /** Longest PatientID a DICOM object can hold (VR LO). */
    public static final int MAX_LENGTH = 64;

    /** Flag on a prediction whose object's PatientID was present but not a single, well-formed LO value. */
    public static final String INVALID_FLAG = "patient-id:dicom-invalid";

    public PatientIdentifier {
        if (!isValid(value)) {
            throw new IllegalArgumentException("not a DICOM PatientID");
        }
    }

    /**
     * The object's PatientID; empty when it has none. A malformed one is {@link #INVALID}.
     */
    static Optional<PatientIdentifier> of(DicomDataset d) {
        List<String> values = d.strings(PATIENT_ID);
        if (values.isEmpty() || values.size() == 1 && values.get(0).isEmpty()) {
            return Optional.empty();
        }
        // a backslash makes several values: PatientID has one (VM 1)
        return Optional.of(values.size() == 1 && isValid(values.get(0)) ? new PatientIdentifier(values.get(0))
                : INVALID);
    }

    private static final int PATIENT_ID = 0x0010_0020;

    /** Stands for a PatientID that was there but malformed: it is not copied anywhere. */
    static final PatientIdentifier INVALID = new PatientIdentifier("-");

    /** Whether this is a real identifier (not {@link #INVALID}). */
    public boolean isValid() {
        return this != INVALID;
    }

    private static boolean isValid(String v) {
        if (v == null || v.isEmpty() || v.length() > MAX_LENGTH) {
            return false;
        }
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c < 0x20 || c == 0x7F || c == '\\') {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        return "PatientIdentifier[not shown]";
    }
}
