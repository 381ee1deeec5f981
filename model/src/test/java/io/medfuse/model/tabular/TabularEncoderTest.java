package io.medfuse.model.tabular;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.ModelContractException;
import java.math.BigDecimal;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TabularEncoderTest {

    private static final FeatureSpec AGE = FeatureSpec.numeric("age", 50.0, 20.0, 0.0, 120.0, 45.0, true);
    private static final FeatureSpec BMI = FeatureSpec.numeric("bmi", 25.0, 5.0, null, null, 25.0, false);
    private static final FeatureSpec SEX = FeatureSpec.categorical("sex", List.of("male", "female"));
    private static final FeatureSpec SITE = FeatureSpec.categorical("localization",
            List.of("back", "face", "Lower Extremity"));

    private static Map<String, Object> values(Object... keyValues) {
        Map<String, Object> map = new HashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            map.put((String) keyValues[i], keyValues[i + 1]);
        }
        return map;
    }

    @Test
    void scalesNumericValuesByCenterAndScale() {
        TabularEncoder encoder = new TabularEncoder(List.of(BMI));

        EncodedRow row = encoder.encode(values("bmi", 32.5));

        assertThat(row.values()).containsExactly((float) ((32.5 - 25.0) / 5.0));
        assertThat(row.flags()).isEmpty();
    }

    @Test
    void acceptsAnyNumberType() {
        TabularEncoder encoder = new TabularEncoder(List.of(AGE));

        for (Object sixty : List.of(60, 60L, 60.0, 60.0f, (short) 60, new BigDecimal("60.00"))) {
            assertThat(encoder.encode(values("age", sixty)).values()).as("%s", sixty.getClass())
                    .containsExactly(0.5f, 0f);
        }
    }

    @Test
    void presentValueWritesZeroInTheMissingIndicator() {
        EncodedRow row = new TabularEncoder(List.of(AGE)).encode(values("age", 30));

        assertThat(row.values()).containsExactly(-1f, 0f);
        assertThat(row.flags()).isEmpty();
    }

    @Test
    void missingNumericWithIndicatorIsImputedAndMarked() {
        TabularEncoder encoder = new TabularEncoder(List.of(AGE));

        EncodedRow absent = encoder.encode(Map.of());
        EncodedRow nullValue = encoder.encode(values("age", null));
        EncodedRow blank = encoder.encode(values("age", "  "));

        for (EncodedRow row : List.of(absent, nullValue, blank)) {
            assertThat(row.values()).containsExactly((float) ((45.0 - 50.0) / 20.0), 1f);
            assertThat(row.flags()).containsExactly("age:imputed");
        }
    }

    @Test
    void missingNumericWithoutIndicatorIsImputedInOneColumn() {
        EncodedRow row = new TabularEncoder(List.of(FeatureSpec.numeric("bmi", 25.0, 5.0, null, null, 30.0, false)))
                .encode(Map.of());

        assertThat(row.values()).containsExactly(1f);
        assertThat(row.flags()).containsExactly("bmi:imputed");
    }

    @Test
    void numericTextIsParsed() {
        TabularEncoder encoder = new TabularEncoder(List.of(AGE));

        assertThat(encoder.encode(values("age", " 70 ")).values()).containsExactly(1f, 0f);
        assertThat(encoder.encode(values("age", "7e1")).values()).containsExactly(1f, 0f);
        assertThat(encoder.encode(values("age", new StringBuilder("40.0"))).values()).containsExactly(-0.5f, 0f);
    }

    @ParameterizedTest
    @ValueSource(strings = {"seventy", "NaN", "Infinity", "70 years", "0x46", "70d"})
    void nonNumericTextIsInvalidAndNotEchoed(String text) {
        TabularEncoder encoder = new TabularEncoder(List.of(AGE));

        assertThatThrownBy(() -> encoder.encode(values("age", text)))
                .isInstanceOf(InvalidFeatureException.class)
                .hasMessageContaining("feature 'age' must be a number")
                .hasMessageContaining("(0 to 120)")
                .hasMessageNotContaining(text)
                .extracting(e -> ((InvalidFeatureException) e).feature()).isEqualTo("age");
    }

    @Test
    void booleanIsInvalidForANumericFeature() {
        assertThatThrownBy(() -> new TabularEncoder(List.of(AGE)).encode(values("age", true)))
                .isInstanceOf(InvalidFeatureException.class)
                .hasMessageContaining("feature 'age' must be a number, got a boolean");
    }

    @Test
    void valuesOutsideTheRangeAreInvalid() {
        TabularEncoder encoder = new TabularEncoder(List.of(AGE));

        assertThatThrownBy(() -> encoder.encode(values("age", 130)))
                .isInstanceOf(InvalidFeatureException.class)
                .hasMessage("feature 'age' is above its valid range (0 to 120);"
                        + " correct the value, or widen min/max in the model contract")
                .message().doesNotContain("130");
        assertThatThrownBy(() -> encoder.encode(values("age", -0.5)))
                .isInstanceOf(InvalidFeatureException.class)
                .hasMessageContaining("is below its valid range (0 to 120)");
        assertThat(encoder.encode(values("age", 0)).values()[0]).isEqualTo(-2.5f);
        assertThat(encoder.encode(values("age", 120)).values()[0]).isEqualTo(3.5f);
    }

    @Test
    void oneSidedRangeIsReported() {
        TabularEncoder encoder = new TabularEncoder(List.of(FeatureSpec.numeric("dose", 0, 1, 0.0, null, 0, false)));

        assertThatThrownBy(() -> encoder.encode(values("dose", -1)))
                .isInstanceOf(InvalidFeatureException.class)
                .hasMessageContaining("(at least 0)");
        assertThat(encoder.encode(values("dose", 1e12)).values()).containsExactly(1e12f);
    }

    @Test
    void nanAndInfinityAreInvalidEvenWithoutBounds() {
        TabularEncoder encoder = new TabularEncoder(List.of(BMI));

        for (Object bad : List.of(Double.NaN, Double.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY)) {
            assertThatThrownBy(() -> encoder.encode(values("bmi", bad)))
                    .isInstanceOf(InvalidFeatureException.class)
                    .hasMessageContaining("feature 'bmi' must be a finite number");
        }
    }

    @Test
    void categoricalKnownValueIsOneHot() {
        EncodedRow row = new TabularEncoder(List.of(SEX)).encode(values("sex", "female"));

        assertThat(row.values()).containsExactly(0f, 1f, 0f);
        assertThat(row.flags()).isEmpty();
    }

    @Test
    void categoricalMatchIgnoresCaseAndSurroundingSpace() {
        TabularEncoder encoder = new TabularEncoder(List.of(SITE));

        assertThat(encoder.encode(values("localization", "  LOWER extremity ")).values())
                .containsExactly(0f, 0f, 1f, 0f);
        assertThat(encoder.encode(values("localization", "Face")).values()).containsExactly(0f, 1f, 0f, 0f);
    }

    @Test
    void categoricalUnknownValueSetsTheUnknownSlotAndIsFlagged() {
        EncodedRow row = new TabularEncoder(List.of(SITE)).encode(values("localization", "scalp"));

        assertThat(row.values()).containsExactly(0f, 0f, 0f, 1f);
        assertThat(row.flags()).containsExactly("localization:unknown");
    }

    @Test
    void categoricalMissingValueSetsTheUnknownSlotAndIsFlaggedImputed() {
        TabularEncoder encoder = new TabularEncoder(List.of(SEX));

        for (Map<String, ?> missing : List.of(Map.<String, Object>of(), values("sex", null), values("sex", ""))) {
            EncodedRow row = encoder.encode(missing);
            assertThat(row.values()).containsExactly(0f, 0f, 1f);
            assertThat(row.flags()).containsExactly("sex:imputed");
        }
    }

    @Test
    void categoricalBooleansAndNumbersMatchByTheirStringForm() {
        TabularEncoder encoder = new TabularEncoder(List.of(
                FeatureSpec.categorical("smoker", List.of("false", "true")),
                FeatureSpec.categorical("grade", List.of("1", "2", "3"))));

        assertThat(encoder.encode(values("smoker", true, "grade", 2)).values())
                .containsExactly(0f, 1f, 0f, 0f, 1f, 0f, 0f);
        assertThat(encoder.encode(values("smoker", Boolean.FALSE, "grade", 3.0)).values())
                .containsExactly(1f, 0f, 0f, 0f, 0f, 1f, 0f);
        EncodedRow unknown = encoder.encode(values("smoker", "yes", "grade", 2.5));
        assertThat(unknown.values()).containsExactly(0f, 0f, 1f, 0f, 0f, 0f, 1f);
        assertThat(unknown.flags()).containsExactly("smoker:unknown", "grade:unknown");
    }

    @Test
    void columnsFollowFeatureOrderWithFlagsInFeatureOrder() {
        TabularEncoder encoder = new TabularEncoder(List.of(AGE, SEX, SITE, BMI));

        EncodedRow row = encoder.encode(values("sex", "Male", "localization", "elbow", "bmi", 20, "ignored", "x"));

        assertThat(encoder.width()).isEqualTo(2 + 3 + 4 + 1);
        assertThat(row.values()).containsExactly(
                -0.25f, 1f,          // age: imputed 45, indicator
                1f, 0f, 0f,          // sex: male
                0f, 0f, 0f, 1f,      // localization: unknown
                -1f);                // bmi
        assertThat(row.flags()).containsExactly("age:imputed", "localization:unknown");
    }

    @Test
    void nullMapMeansEverythingMissing() {
        EncodedRow row = new TabularEncoder(List.of(AGE, SEX)).encode(null);

        assertThat(row.values()).containsExactly(-0.25f, 1f, 0f, 0f, 1f);
        assertThat(row.flags()).containsExactly("age:imputed", "sex:imputed");
    }

    @Test
    void encodeIntoWritesOnlyItsSliceAndOverwritesStaleValues() {
        TabularEncoder encoder = new TabularEncoder(List.of(AGE, SEX));
        float[] batch = new float[3 + encoder.width() + 2];
        Arrays.fill(batch, 9f);

        List<String> flags = encoder.encodeInto(values("age", 70, "sex", "other"), batch, 3);

        assertThat(batch).containsExactly(9f, 9f, 9f, 1f, 0f, 0f, 0f, 1f, 9f, 9f);
        assertThat(flags).containsExactly("sex:unknown");
        assertThatThrownBy(() -> encoder.encodeInto(Map.of(), new float[5], 1))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void widthIsTheSumOfFeatureWidths() {
        assertThat(new TabularEncoder(List.of(BMI)).width()).isEqualTo(1);
        assertThat(new TabularEncoder(List.of(AGE)).width()).isEqualTo(2);
        assertThat(new TabularEncoder(List.of(AGE, BMI, SEX, SITE)).width()).isEqualTo(2 + 1 + 3 + 4);
    }

    @Test
    void refusesFeaturesItCannotEncodeListingEveryProblem() {
        FeatureSpec noScale = new FeatureSpec.Numeric("a", null, 0.0, 0.0, null, null, 0.0, false);
        FeatureSpec emptyVocabulary = FeatureSpec.categorical("b", List.of());

        assertThatThrownBy(() -> new TabularEncoder(List.of(noScale, emptyVocabulary, SEX, SEX)))
                .isInstanceOf(ModelContractException.class)
                .hasMessageContaining("tabular[0] (a): scale must be a finite number > 0")
                .hasMessageContaining("tabular[1] (b): a CATEGORICAL feature needs a non-empty vocabulary")
                .hasMessageContaining("tabular[3] (sex): feature name appears twice");
    }

    @Test
    void eachRowIsFreshAndItsFlagsImmutable() {
        TabularEncoder encoder = new TabularEncoder(List.of(SEX));

        EncodedRow first = encoder.encode(Map.of());
        EncodedRow second = encoder.encode(Map.of("sex", "male"));

        assertThat(first.values()).isNotSameAs(second.values()).containsExactly(0f, 0f, 1f);
        assertThatThrownBy(() -> first.flags().add("x")).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void rowsCompareByValueAndDoNotPrintPatientValues() {
        TabularEncoder encoder = new TabularEncoder(List.of(AGE, SEX));

        EncodedRow row = encoder.encode(values("age", 73, "sex", "female"));

        assertThat(row).isEqualTo(encoder.encode(values("age", 73.0, "sex", "FEMALE")))
                .hasSameHashCodeAs(encoder.encode(values("age", "73", "sex", "female")))
                .isNotEqualTo(encoder.encode(values("age", 74, "sex", "female")));
        assertThat(row.toString()).isEqualTo("EncodedRow[width=5, flags=[]]");
    }
}
