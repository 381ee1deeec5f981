package io.medfuse.model.contract;

/**
 * The values a request (or a CSV row standing for one) supplies, by source. Each method returns a {@link Number},
 * text, a {@link Boolean}, or null when the value is absent; blank text counts as absent. One method per
 * {@link FeatureSource} kind, so a new kind of source makes the compiler name every view that must supply it.
 */
public interface SourceValues {

    /** {@code patient.ageYears}. */
    Object patientAgeYears();

    /** {@code patient.sex}. */
    Object patientSex();

    /** {@code clinical.<key>}. */
    Object clinical(String key);

    /**
     * {@code dicom.<keyword>}: null when the request's image is not DICOM or lacks the attribute; {@link #INVALID}
     * when the attribute is there but unreadable (a malformed PatientAge, say).
     */
    Object dicom(FeatureSource.DicomAttribute attribute);

    /** A value that is present but unreadable: resolved as absent, and flagged ({@code <feature>:dicom-invalid}). */
    Object INVALID = new Object() {
        @Override
        public String toString() {
            return "invalid";
        }
    };
}
