package io.medfuse.model.contract;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.List;

/**
 * Where a feature's value is read from: a request field, a tag of the request's DICOM image, or the CSV column that
 * stands for it in training and evaluation. Written in the contract as text: {@code patient.ageYears},
 * {@code patient.sex}, {@code clinical.<key>} (the request's {@code clinical} map) or {@code dicom.<keyword>}
 * ({@link DicomAttribute}).
 *
 * <p>A new kind of source is a new record here and a new method in {@link SourceValues}: the compiler then names
 * every place that reads sources (the worker's request view, the CSV view).
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

    /**
     * The DICOM attributes a feature may read, each converted to what a request field would carry (PS3.3 C.7.1.1,
     * C.7.3.1, C.7.5.1):
     * <ul>
     *   <li>{@code PatientAge}: age in years from PatientAge (0010,1010), {@code nnnD/W/M/Y}; when it is absent, from
     *       PatientBirthDate (0010,0030) and StudyDate (0008,0020);</li>
     *   <li>{@code PatientSex}: PatientSex (0010,0040) {@code M}, {@code F}, {@code O} as {@code male},
     *       {@code female}, {@code other}; another code is passed on as it is (the model's unknown slot);</li>
     *   <li>{@code BodyPartExamined}: BodyPartExamined (0018,0015), upper case as DICOM writes it;</li>
     *   <li>{@code AnatomicRegionSequence}: the first item's code, {@code SCHEME:VALUE} (e.g. {@code SCT:39937001}).</li>
     * </ul>
     * A text value reaches a CATEGORICAL feature through the feature's {@code dicomValues} map when it has one.
     */
    enum DicomAttribute {
        PatientAge(ValueKind.NUMBER), PatientSex(ValueKind.TEXT), BodyPartExamined(ValueKind.TEXT),
        AnatomicRegionSequence(ValueKind.TEXT);

        private final ValueKind kind;

        DicomAttribute(ValueKind kind) {
            this.kind = kind;
        }

        public ValueKind kind() {
            return kind;
        }
    }

    /** An attribute of the request's DICOM image (absent when the image is not DICOM). */
    record Dicom(DicomAttribute attribute) implements FeatureSource {
        public Dicom {
            java.util.Objects.requireNonNull(attribute, "attribute");
        }

        @Override
        public String id() {
            return "dicom." + attribute.name();
        }

        @Override
        public ValueKind valueKind() {
            return attribute.kind();
        }

        @Override
        public Object readFrom(SourceValues values) {
            return values.dicom(attribute);
        }

        @Override
        public String toString() {
            return id();
        }
    }

    FeatureSource PATIENT_AGE = new PatientAge();
    FeatureSource PATIENT_SEX = new PatientSex();
    FeatureSource DICOM_PATIENT_AGE = new Dicom(DicomAttribute.PatientAge);
    FeatureSource DICOM_PATIENT_SEX = new Dicom(DicomAttribute.PatientSex);

    /** The forms {@link #parse} accepts, for messages. */
    String FORMS = "patient.ageYears, patient.sex, clinical.<key> or dicom.<PatientAge|PatientSex|BodyPartExamined|"
            + "AnatomicRegionSequence>";

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
            if (t.startsWith("dicom.")) {
                for (DicomAttribute a : DicomAttribute.values()) {
                    if (t.equals("dicom." + a.name())) {
                        return new Dicom(a);
                    }
                }
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

    /**
     * The sources of a feature named {@code name} in a contract that names none: {@link #defaultFor}, then, for the
     * patient's age and sex, the DICOM tag that carries the same fact ({@link #withDicomFallbacks}).
     */
    static List<FeatureSource> defaultsFor(String name) {
        return withDicomFallbacks(List.of(defaultFor(name)));
    }

    /**
     * {@code sources} with {@code dicom.PatientAge} after {@code patient.ageYears} and {@code dicom.PatientSex} after
     * {@code patient.sex}, where they are not listed already: a request's own fields win, the image's tags fill in.
     */
    static List<FeatureSource> withDicomFallbacks(List<FeatureSource> sources) {
        List<FeatureSource> out = new java.util.ArrayList<>();
        for (FeatureSource s : sources) {
            out.add(s);
            FeatureSource fallback = s.equals(PATIENT_AGE) ? DICOM_PATIENT_AGE
                    : s.equals(PATIENT_SEX) ? DICOM_PATIENT_SEX : null;
            if (fallback != null && !sources.contains(fallback)) {
                out.add(fallback);
            }
        }
        return List.copyOf(out);
    }
}
