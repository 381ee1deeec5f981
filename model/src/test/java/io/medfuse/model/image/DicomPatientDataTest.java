package io.medfuse.model.image;

import static io.medfuse.model.image.DicomIndependentFilesTest.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;


import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import io.medfuse.model.contract.FeatureSource.DicomAttribute;
import io.medfuse.model.contract.SourceValues;

class DicomPatientDataTest {

    private static DicomDataset file(String name) {
        return DicomParser.parse(resource("/dicom/independent/" + name + ".dcm"), ImageLimits.defaults()).dataset();
    }

    @Test
    void readsTheTagsDcmtkWrote() {
        DicomDataset d = file("rgb8-tags");
        assertThat(DicomPatientData.value(d, DicomAttribute.PatientAge)).isEqualTo(45.0);
        assertThat(DicomPatientData.value(d, DicomAttribute.PatientSex)).isEqualTo("female");
        assertThat(DicomPatientData.value(d, DicomAttribute.BodyPartExamined)).isEqualTo("BACK");
        assertThat(DicomPatientData.value(d, DicomAttribute.AnatomicRegionSequence)).isNull();
    }

    @Test
    void derivesTheAgeFromBirthAndStudyDatesWhenPatientAgeIsAbsent() {
        DicomDataset d = file("rgb8-tags-birthdate");
        assertThat((Double) DicomPatientData.value(d, DicomAttribute.PatientAge)).isCloseTo(68.0, within(0.01));
        assertThat(DicomPatientData.value(d, DicomAttribute.PatientSex)).isEqualTo("male");
    }

    @Test
    void aMalformedAgeIsInvalidAndAnUnknownSexCodeIsPassedOn() {
        DicomDataset d = file("rgb8-tags-invalid");
        assertThat(DicomPatientData.value(d, DicomAttribute.PatientAge)).isSameAs(SourceValues.INVALID);
        assertThat(DicomPatientData.value(d, DicomAttribute.PatientSex)).isEqualTo("X");
        assertThat(DicomPatientData.value(file("rgb8-explicit"), DicomAttribute.PatientAge)).isNull();
    }

    /**
     * Tags in public sample objects (pydicom's test files; see DicomIndependentFilesTest): CT_small comes from a
     * NEMA CT, JPGExtended has an empty PatientAge and an empty PatientBirthDate, liver_1frame is a segmentation
     * whose pixels medfuse does not read but whose tags it does.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource(nullValues = "-", value = {
            "CT_small, 0, other, -",
            "SC_rgb_rle, 24, female, -",
            "JPGExtended, -, male, WHOLE BODY",
            "liver_1frame, 60, male, -",
    })
    void readsTheTagsOfPublicSamples(String name, Double age, String sex, String bodyPart) {
        DicomDataset d = DicomParser.parse(resource("/dicom/public/" + name + ".dcm"), ImageLimits.defaults())
                .dataset();
        assertThat(DicomPatientData.value(d, DicomAttribute.PatientAge)).isEqualTo(age);
        assertThat(DicomPatientData.value(d, DicomAttribute.PatientSex)).isEqualTo(sex);
        assertThat(DicomPatientData.value(d, DicomAttribute.BodyPartExamined)).isEqualTo(bodyPart);
    }

    @ParameterizedTest
    @CsvSource({"045Y, 45.0", "006M, 0.5", "010W, 0.19165", "003D, 0.00821", "120Y, 120.0", "000D, 0.0",
            "150Y, 150.0"})
    void readsEveryAgeStringForm(String as, double years) {
        assertThat((Double) DicomPatientData.age(dataset(0x0010_1010, "AS", as))).isCloseTo(years, within(1e-4));
    }

    @ParameterizedTest
    @CsvSource({"45", "999Y", "-3Y", "45Y", "045y", "045X", "04 5Y", "0045Y"})
    void refusesMalformedOrImplausibleAgeStrings(String as) {
        assertThat(DicomPatientData.age(dataset(0x0010_1010, "AS", as))).isSameAs(SourceValues.INVALID);
    }

    @Test
    void readsTheFirstAnatomicRegionCode() {
        DicomBytes item = new DicomBytes().element(0x0008_0100, "SH", "39937001").element(0x0008_0102, "SH", "SCT")
                .element(0x0008_0104, "LO", "Skin of back");
        DicomBytes b = part10().tag(0x0008_2218).ascii("SQ").u16(0).u32(0xFFFF_FFFFL)
                .tag(0xFFFE_E000).u32(item.bytes().length).raw(item.bytes()).tag(0xFFFE_E0DD).u32(0);
        DicomDataset d = DicomParser.parse(b.bytes(), ImageLimits.defaults()).dataset();
        assertThat(DicomPatientData.value(d, DicomAttribute.AnatomicRegionSequence)).isEqualTo("SCT:39937001");
    }

    private static DicomDataset dataset(int tag, String vr, String value) {
        return DicomParser.parse(part10().element(tag, vr, value).bytes(), ImageLimits.defaults()).dataset();
    }

    private static DicomBytes part10() {
        return new DicomBytes().raw(new byte[128]).ascii("DICM").element(0x0002_0010, "UI", "1.2.840.10008.1.2.1\0");
    }
}
