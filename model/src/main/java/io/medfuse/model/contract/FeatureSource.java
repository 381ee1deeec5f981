package io.medfuse.model.contract;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.List;

/**
 * Where a feature's value is read from: a request field, or the CSV column that stands for it in training and
 * evaluation. Written in the contract as text: {@code patient.ageYears}, {@code patient.sex} or
 * {@code clinical.<key>} (the request's {@code clinical} map).
 *
 * <p>A new kind of source (a DICOM tag, say) is a new record here and a new method in {@link SourceValues}: the
 * compiler then names every place that reads sources (the worker's request view, the CSV view).
 */
public sealed interface FeatureSource {

    /** Longest {@code clinical.<key>} key, in characters (the worker refuses longer keys in requests too). */
    int MAX_KEY_LENGTH = 256;

    /** The text form, as written in the contract. */
    @JsonValue
    String id();

    /** Whether this source supplies numbers (NUMERIC features), text (CATEGORICAL), or either. */
    ValueKind valueKind();

    /** This source's value in {@code values}: a {@link Number}, text, {@link Boolean}, or null when absent. */
    Object readFrom(SourceValues values);

    /** What a source supplies. */
    enum ValueKind { NUMBER, TEXT, ANY }

    /** The request's {@code patient.ageYears}. */
    record PatientAge() implements FeatureSource {
        @Override
        public String id() {
            return "patient.ageYears";
        }

        @Override
        public ValueKind valueKind() {
            return ValueKind.NUMBER;
        }

        @Override
        public Object readFrom(SourceValues values) {
            return values.patientAgeYears();
        }

        @Override
        public String toString() {
            return id();
        }
    }

    /** The request's {@code patient.sex}. */
    record PatientSex() implements FeatureSource {
        @Override
        public String id() {
            return "patient.sex";
        }

        @Override
        public ValueKind valueKind() {
            return ValueKind.TEXT;
        }

        @Override
        public Object readFrom(SourceValues values) {
            return values.patientSex();
        }

        @Override
        public String toString() {
            return id();
        }
    }

    /** One entry of the request's {@code clinical} map. */
    record Clinical(String key) implements FeatureSource {
        public Clinical {
            if (key == null || key.isEmpty() || key.length() > MAX_KEY_LENGTH
                    || key.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
                throw new IllegalArgumentException("a clinical key must be 1 to " + MAX_KEY_LENGTH
                        + " characters without control characters");
            }
        }

        @Override
        public String id() {
            return "clinical." + key;
        }

        @Override
        public ValueKind valueKind() {
            return ValueKind.ANY;
        }

        @Override
        public Object readFrom(SourceValues values) {
            return values.clinical(key);
        }

        @Override
        public String toString() {
            return id();
        }
    }

    FeatureSource PATIENT_AGE = new PatientAge();
    FeatureSource PATIENT_SEX = new PatientSex();

    /** The forms {@link #parse} accepts, for messages. */
    String FORMS = "patient.ageYears, patient.sex or clinical.<key>";

    /**
     * Parses the text form.
     *
     * @throws IllegalArgumentException naming the accepted forms
     */
    @JsonCreator
    static FeatureSource parse(String text) {
        if (text != null) {
            String t = text.trim();
            if (t.equals("patient.ageYears")) {
                return PATIENT_AGE;
            }
            if (t.equals("patient.sex")) {
                return PATIENT_SEX;
            }
            if (t.startsWith("clinical.") && t.length() > "clinical.".length()) {
                return new Clinical(t.substring("clinical.".length()));
            }
        }
        String shown = text == null ? "null" : text.length() > 60 ? text.substring(0, 60) + "..." : text;
        throw new IllegalArgumentException("unknown feature source '" + shown + "'; a source is " + FORMS);
    }

    /**
     * The source earlier versions used for a feature of this name (contracts written before sources existed):
     * {@code age} is the patient's age, {@code sex} the patient's sex (exactly these names), any other name the clinical
     * entry of that name.
     * The trainer uses the same rule for a column nobody mapped.
     */
    static FeatureSource defaultFor(String name) {
        return switch (name) {
            case "age" -> PATIENT_AGE;
            case "sex" -> PATIENT_SEX;
            default -> new Clinical(name);
        };
    }

    /** {@link #defaultFor} as the one-element source list of a feature. */
    static List<FeatureSource> defaultsFor(String name) {
        return List.of(defaultFor(name));
    }
}
