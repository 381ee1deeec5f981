package io.medfuse.model.image;

import java.util.Locale;
import java.util.Map;

/** The DICOM tags medfuse reads, as {@code (group << 16) | element}, and their keywords for messages. */
public final class DicomTags {

    public static final int TRANSFER_SYNTAX_UID = 0x0002_0010;
    public static final int SOP_INSTANCE_UID = 0x0008_0018;
    public static final int STUDY_DATE = 0x0008_0020;
    public static final int MODALITY = 0x0008_0060;
    public static final int CODE_VALUE = 0x0008_0100;
    public static final int CODING_SCHEME_DESIGNATOR = 0x0008_0102;
    public static final int CODE_MEANING = 0x0008_0104;
    public static final int ANATOMIC_REGION_SEQUENCE = 0x0008_2218;
    public static final int PATIENT_NAME = 0x0010_0010;
    public static final int PATIENT_ID = 0x0010_0020;
    public static final int PATIENT_BIRTH_DATE = 0x0010_0030;
    public static final int PATIENT_SEX = 0x0010_0040;
    public static final int PATIENT_AGE = 0x0010_1010;
    public static final int BODY_PART_EXAMINED = 0x0018_0015;
    public static final int STUDY_INSTANCE_UID = 0x0020_000D;
    public static final int SERIES_INSTANCE_UID = 0x0020_000E;
    public static final int SAMPLES_PER_PIXEL = 0x0028_0002;
    public static final int PHOTOMETRIC_INTERPRETATION = 0x0028_0004;
    public static final int PLANAR_CONFIGURATION = 0x0028_0006;
    public static final int NUMBER_OF_FRAMES = 0x0028_0008;
    public static final int ROWS = 0x0028_0010;
    public static final int COLUMNS = 0x0028_0011;
    public static final int BITS_ALLOCATED = 0x0028_0100;
    public static final int BITS_STORED = 0x0028_0101;
    public static final int HIGH_BIT = 0x0028_0102;
    public static final int PIXEL_REPRESENTATION = 0x0028_0103;
    public static final int WINDOW_CENTER = 0x0028_1050;
    public static final int WINDOW_WIDTH = 0x0028_1051;
    public static final int RESCALE_INTERCEPT = 0x0028_1052;
    public static final int RESCALE_SLOPE = 0x0028_1053;
    public static final int PIXEL_DATA = 0x7FE0_0010;

    static final int ITEM = 0xFFFE_E000;
    static final int ITEM_DELIMITATION = 0xFFFE_E00D;
    static final int SEQUENCE_DELIMITATION = 0xFFFE_E0DD;

    private static final Map<Integer, String> KEYWORDS = Map.ofEntries(
            Map.entry(TRANSFER_SYNTAX_UID, "TransferSyntaxUID"), Map.entry(SOP_INSTANCE_UID, "SOPInstanceUID"),
            Map.entry(STUDY_DATE, "StudyDate"), Map.entry(MODALITY, "Modality"),
            Map.entry(ANATOMIC_REGION_SEQUENCE, "AnatomicRegionSequence"),
            Map.entry(PATIENT_BIRTH_DATE, "PatientBirthDate"), Map.entry(PATIENT_SEX, "PatientSex"),
            Map.entry(PATIENT_AGE, "PatientAge"), Map.entry(BODY_PART_EXAMINED, "BodyPartExamined"),
            Map.entry(STUDY_INSTANCE_UID, "StudyInstanceUID"), Map.entry(SERIES_INSTANCE_UID, "SeriesInstanceUID"),
            Map.entry(SAMPLES_PER_PIXEL, "SamplesPerPixel"),
            Map.entry(PHOTOMETRIC_INTERPRETATION, "PhotometricInterpretation"),
            Map.entry(PLANAR_CONFIGURATION, "PlanarConfiguration"), Map.entry(NUMBER_OF_FRAMES, "NumberOfFrames"),
            Map.entry(ROWS, "Rows"), Map.entry(COLUMNS, "Columns"), Map.entry(BITS_ALLOCATED, "BitsAllocated"),
            Map.entry(BITS_STORED, "BitsStored"), Map.entry(HIGH_BIT, "HighBit"),
            Map.entry(PIXEL_REPRESENTATION, "PixelRepresentation"), Map.entry(WINDOW_CENTER, "WindowCenter"),
            Map.entry(WINDOW_WIDTH, "WindowWidth"), Map.entry(RESCALE_INTERCEPT, "RescaleIntercept"),
            Map.entry(RESCALE_SLOPE, "RescaleSlope"), Map.entry(PIXEL_DATA, "PixelData"));

    /**
     * Sequences medfuse may need to read into when the VR is implicit (any element of undefined length is read as a
     * sequence too, as PS3.5 7.5 requires).
     */
    private static final java.util.Set<Integer> IMPLICIT_SEQUENCES = java.util.Set.of(ANATOMIC_REGION_SEQUENCE);

    private DicomTags() {
    }

    /** {@code Rows (0028,0010)}, or just {@code (gggg,eeee)} for a tag medfuse has no keyword for. */
    public static String name(int tag) {
        String code = String.format(Locale.ROOT, "(%04X,%04X)", tag >>> 16, tag & 0xFFFF);
        String keyword = KEYWORDS.get(tag);
        return keyword == null ? code : keyword + " " + code;
    }

    static boolean implicitSequence(int tag) {
        return IMPLICIT_SEQUENCES.contains(tag);
    }
}
