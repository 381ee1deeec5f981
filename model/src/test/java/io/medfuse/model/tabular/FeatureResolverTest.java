package io.medfuse.model.tabular;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.medfuse.model.contract.FeatureBinding;
import io.medfuse.model.contract.FeatureSource;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.SourceValues;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FeatureResolverTest {

    /** A request's values, as the worker's view of an ImagingRequest supplies them. */
    /** A request whose DICOM image supplies tag values (null: not DICOM). */
    private record Tagged(Double age, Map<FeatureSource.DicomAttribute, Object> tags) implements SourceValues {
        @Override
        public Object patientAgeYears() {
            return age;
        }

        @Override
        public Object patientSex() {
            return null;
        }

        @Override
        public Object clinical(String key) {
            return null;
        }

        @Override
        public Object dicom(FeatureSource.DicomAttribute attribute) {
            return tags.get(attribute);
        }
    }

    private static final FeatureBinding DICOM_AGE = new FeatureBinding("age", FeatureSpec.Kind.NUMERIC,
            FeatureSource.withDicomFallbacks(List.of(FeatureSource.PATIENT_AGE)));
    private static final FeatureBinding DICOM_SITE = new FeatureBinding("site", FeatureSpec.Kind.CATEGORICAL,
            List.of(new FeatureSource.Clinical("site"),
                    new FeatureSource.Dicom(FeatureSource.DicomAttribute.BodyPartExamined)),
            Map.of("BACK", "back", "CHEST", "chest"));

    @Test
    void requestFieldsWinOverTagsAndTagsFillInWithAFlagAndTheContractsMap() {
        FeatureResolver r = new FeatureResolver(List.of(DICOM_AGE, DICOM_SITE));
        Map<FeatureSource.DicomAttribute, Object> tags = Map.of(FeatureSource.DicomAttribute.PatientAge, 45.0,
                FeatureSource.DicomAttribute.BodyPartExamined, "BACK");

        FeatureResolver.Resolution explicit = r.resolveWithFlags(new Tagged(60.0, tags));
        assertThat(explicit.values()).containsEntry("age", 60.0).containsEntry("site", "back");
        assertThat(explicit.flags()).containsExactly("site:from-dicom");

        FeatureResolver.Resolution fromTags = r.resolveWithFlags(new Tagged(null, tags));
        assertThat(fromTags.values()).containsEntry("age", 45.0);
        assertThat(fromTags.flags()).containsExactly("age:from-dicom", "site:from-dicom");

        FeatureResolver.Resolution unmapped = r.resolveWithFlags(new Tagged(null,
                Map.of(FeatureSource.DicomAttribute.BodyPartExamined, "KNEE")));
        assertThat(unmapped.values()).as("a code the map lacks is passed on (the unknown slot)")
                .containsEntry("site", "KNEE").containsEntry("age", null);
    }

    @Test
    void anUnreadableTagIsAbsentAndFlagged() {
        FeatureResolver r = new FeatureResolver(List.of(DICOM_AGE));
        FeatureResolver.Resolution res = r.resolveWithFlags(new Tagged(null,
                Map.of(FeatureSource.DicomAttribute.PatientAge, SourceValues.INVALID)));
        assertThat(res.values()).containsEntry("age", null);
        assertThat(res.flags()).containsExactly("age:dicom-invalid");
        assertThat(FeatureResolver.missing(SourceValues.INVALID)).isTrue();
    }

    private record Request(Double age, String sex, Map<String, Object> clinical) implements SourceValues {
        @Override
        public Object patientAgeYears() {
            return age;
        }

        @Override
        public Object patientSex() {
            return sex;
        }

        @Override
        public Object clinical(String key) {
            return clinical.get(key);
        }

        @Override
        public Object dicom(FeatureSource.DicomAttribute attribute) {
            return null;
        }
    }

    private static final FeatureBinding AGE = new FeatureBinding("age_years", FeatureSpec.Kind.NUMERIC,
            List.of(FeatureSource.PATIENT_AGE, new FeatureSource.Clinical("age")));
    private static final FeatureBinding SITE = new FeatureBinding("site", FeatureSpec.Kind.CATEGORICAL,
            List.of(new FeatureSource.Clinical("site")));

    @Test
    void readsEachFeatureFromItsFirstSourceThatHasAValue() {
        FeatureResolver resolver = new FeatureResolver(List.of(AGE, SITE));
        Map<String, Object> clinical = new HashMap<>();
        clinical.put("age", 70.0);
        clinical.put("site", "back");

        assertThat(resolver.resolve(new Request(63.0, null, clinical)))
                .containsEntry("age_years", 63.0).containsEntry("site", "back");
        assertThat(resolver.resolve(new Request(null, null, clinical))).as("the second source when the first is absent")
                .containsEntry("age_years", 70.0);
        clinical.put("site", "  ");
        assertThat(resolver.resolve(new Request(null, null, Map.of())))
                .containsEntry("age_years", null).containsEntry("site", null).hasSize(2);
        assertThat(FeatureResolver.origin(AGE, new Request(null, null, Map.of("age", 5.0))))
                .isEqualTo(new FeatureSource.Clinical("age"));
        assertThat(FeatureResolver.origin(SITE, new Request(null, null, clinical))).as("blank text is absent").isNull();
    }

    @Test
    void aFeatureNamedAfterARequestFieldIsNotReadFromItUnlessItsSourceSaysSo() {
        // the trap of earlier versions: a model trained on column age_years was served from clinical["age_years"]
        FeatureResolver byDefault = FeatureResolver.of(List.of(FeatureSpec.numeric("age_years", 50, 20, 0.0, 120.0,
                50, false)));
        FeatureResolver mapped = FeatureResolver.of(List.of(FeatureSpec.numeric("age_years", 50, 20, 0.0, 120.0,
                50, false).withSources(List.of(FeatureSource.PATIENT_AGE))));
        Request request = new Request(63.0, "female", Map.of());

        assertThat(byDefault.resolve(request)).containsEntry("age_years", null);
        assertThat(mapped.resolve(request)).containsEntry("age_years", 63.0);
    }

    @Test
    void aCsvRowIsReadThroughTheSameSourcesAsARequest() {
        List<String> header = List.of("image", "age_years", "gender", "site");
        CsvSourceValues csv = CsvSourceValues.bind(header, List.of(AGE, SITE,
                        new FeatureBinding("sex", FeatureSpec.Kind.CATEGORICAL, List.of(FeatureSource.PATIENT_SEX))),
                Map.of(FeatureSource.PATIENT_AGE, "age_years", FeatureSource.PATIENT_SEX, "gender"));
        FeatureResolver resolver = new FeatureResolver(List.of(AGE, SITE));

        Map<String, Object> row = resolver.resolve(csv.row(List.of("a.png", " 63 ", "female", "back")));

        assertThat(row).containsEntry("age_years", "63").containsEntry("site", "back");
        assertThat(csv.unbound()).isEmpty();
        assertThat(csv.columnOf(FeatureSource.PATIENT_SEX)).isEqualTo("gender");
        assertThat(csv.columnOf(new FeatureSource.Clinical("site"))).as("a feature's first source defaults to the "
                + "column named as the feature").isEqualTo("site");
    }

    @Test
    void namesFeaturesNoColumnFeedsAndRefusesAMappedColumnThatIsNotThere() {
        List<String> header = List.of("image", "site");

        assertThat(CsvSourceValues.bind(header, List.of(AGE, SITE), Map.of()).unbound()).containsExactly(AGE);
        assertThatThrownBy(() -> CsvSourceValues.bind(header, List.of(AGE), Map.of(FeatureSource.PATIENT_AGE, "age")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("column 'age' (mapped to patient.ageYears) is not in the header; the columns are "
                        + "[image, site]");
    }

    @Test
    void parsesEverySourceFormAndRefusesOthersWithoutEchoingLongText() {
        assertThat(FeatureSource.parse("patient.ageYears")).isEqualTo(FeatureSource.PATIENT_AGE);
        assertThat(FeatureSource.parse(" patient.sex ")).isEqualTo(FeatureSource.PATIENT_SEX);
        assertThat(FeatureSource.parse("clinical.lesion diameter")).isEqualTo(
                new FeatureSource.Clinical("lesion diameter"));
        assertThat(FeatureSource.defaultFor("age")).isEqualTo(FeatureSource.PATIENT_AGE);
        assertThat(FeatureSource.defaultFor("Age")).as("exactly the names earlier versions served")
                .isEqualTo(new FeatureSource.Clinical("Age"));
        assertThatThrownBy(() -> FeatureSource.parse("clinical.")).hasMessageContaining("unknown feature source");
        assertThatThrownBy(() -> FeatureSource.parse("patient.age" + "x".repeat(200)))
                .hasMessageEndingWith("...'; a source is " + FeatureSource.FORMS);
        assertThat(FeatureSource.parse("dicom.BodyPartExamined")).isEqualTo(
                new FeatureSource.Dicom(FeatureSource.DicomAttribute.BodyPartExamined));
        assertThatThrownBy(() -> FeatureSource.parse("dicom.PatientName")).hasMessageContaining(
                "unknown feature source 'dicom.PatientName'");
        assertThatThrownBy(() -> FeatureSource.parse("clinical." + "k".repeat(300)))
                .hasMessageContaining("1 to 256 characters");
    }
}
