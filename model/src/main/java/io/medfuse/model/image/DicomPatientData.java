package io.medfuse.model.image;

import java.time.DateTimeException;
import java.time.LocalDate;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Optional;

import io.medfuse.model.contract.FeatureSource.DicomAttribute;
import io.medfuse.model.contract.SourceValues;

/**
 * The patient facts a DICOM object's tags carry, converted to what a request's fields would say (see
 * {@link DicomAttribute}). A malformed tag is {@link SourceValues#INVALID}: the feature is then imputed (or read
 * from its next source) and flagged, never a dead letter, since the modality wrote it, not the producer. Values
 * are returned to the caller only, never put into a message.
 */
public final class DicomPatientData {

    /** Oldest age read from tags, in years: {@code 999Y} is well formed but no patient's age. */
    public static final double MAX_AGE_YEARS = 150;

    private static final double DAYS_PER_YEAR = 365.25;

    private DicomPatientData() {
    }

    /** The attribute's value: a Double (age), text, null when absent, or {@link SourceValues#INVALID}. */
    public static Object value(DicomDataset d, DicomAttribute attribute) {
        return switch (attribute) {
            case PatientAge -> age(d);
            case PatientSex -> sex(d);
            case BodyPartExamined -> d.string(DicomTags.BODY_PART_EXAMINED).map(DicomPatientData::code)
                    .orElse(null);
            case AnatomicRegionSequence -> anatomicRegion(d);
        };
    }

    /**
     * PatientAge ({@code nnnD}, {@code nnnW}, {@code nnnM}, {@code nnnY}); when absent, the years from
     * PatientBirthDate to StudyDate (both {@code YYYYMMDD}).
     */
    static Object age(DicomDataset d) {
        Optional<String> as = d.string(DicomTags.PATIENT_AGE);
        if (as.isPresent()) {
            String v = as.get();
            if (!v.matches("[0-9]{3}[DWMY]")) {
                return SourceValues.INVALID;
            }
            int n = Integer.parseInt(v.substring(0, 3));
            double years = switch (v.charAt(3)) {
                case 'D' -> n / DAYS_PER_YEAR;
                case 'W' -> n * 7 / DAYS_PER_YEAR;
                case 'M' -> n / 12.0;
                default -> n;
            };
            return years <= MAX_AGE_YEARS ? (Object) years : SourceValues.INVALID;
        }
        Optional<String> birth = d.string(DicomTags.PATIENT_BIRTH_DATE);
        Optional<String> study = d.string(DicomTags.STUDY_DATE);
        if (birth.isEmpty() || study.isEmpty()) {
            return null;
        }
        LocalDate b = date(birth.get());
        LocalDate s = date(study.get());
        if (b == null || s == null || s.isBefore(b)) {
            return SourceValues.INVALID;
        }
        double years = ChronoUnit.DAYS.between(b, s) / DAYS_PER_YEAR;
        return years <= MAX_AGE_YEARS ? (Object) years : SourceValues.INVALID;
    }

    /** M, F, O as male, female, other; another code as it is (the model's unknown slot then flags it). */
    static Object sex(DicomDataset d) {
        Optional<String> v = d.string(DicomTags.PATIENT_SEX);
        if (v.isEmpty()) {
            return null;
        }
        return switch (v.get().toUpperCase(java.util.Locale.ROOT)) {
            case "M" -> "male";
            case "F" -> "female";
            case "O" -> "other";
            default -> code(v.get());
        };
    }

    /** The first AnatomicRegionSequence item's code as {@code SCHEME:VALUE}. */
    static Object anatomicRegion(DicomDataset d) {
        List<DicomDataset> items = d.items(DicomTags.ANATOMIC_REGION_SEQUENCE);
        if (items.isEmpty()) {
            return null;
        }
        Optional<String> value = items.get(0).string(DicomTags.CODE_VALUE);
        Optional<String> scheme = items.get(0).string(DicomTags.CODING_SCHEME_DESIGNATOR);
        if (value.isEmpty() || scheme.isEmpty()) {
            return SourceValues.INVALID;
        }
        return code(scheme.get()) + ":" + code(value.get());
    }

    /** A code string as DICOM defines them (CS: 16 characters, upper case, digits, space, underscore). */
    private static Object code(String v) {
        return v.length() <= 64 && v.matches("[A-Za-z0-9 _.^-]+") ? v.toUpperCase(java.util.Locale.ROOT)
                : SourceValues.INVALID;
    }

    private static LocalDate date(String da) {
        if (!da.matches("[0-9]{8}")) {
            return null;
        }
        try {
            return LocalDate.of(Integer.parseInt(da.substring(0, 4)), Integer.parseInt(da.substring(4, 6)),
                    Integer.parseInt(da.substring(6, 8)));
        } catch (DateTimeException e) {
            return null;
        }
    }
}
