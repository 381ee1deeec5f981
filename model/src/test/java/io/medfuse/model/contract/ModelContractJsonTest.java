package io.medfuse.model.contract;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.medfuse.model.contract.ImageSpec.ResizeMode;
import io.medfuse.model.contract.ModelContract.OutputKind;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ModelContractJsonTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    static ModelContract contract() {
        return new ModelContract(1, "skin-fusion", "2.1.0", "dermatoscopy + age/sex/site",
                "image", "tabular", "probs", OutputKind.PROBABILITIES,
                new ImageSpec(224, 224, 3, "NCHW", ResizeMode.CENTER_CROP,
                        List.of(0.485, 0.456, 0.406), List.of(0.229, 0.224, 0.225)),
                List.of(FeatureSpec.numeric("age", 50, 20, 0.0, 120.0, 45, true),
                        FeatureSpec.categorical("sex", List.of("male", "female")),
                        FeatureSpec.categorical("localization", List.of("back", "face", "trunk"))),
                List.of(new ClassLabel("nv", 0.67), new ClassLabel("mel", 0.11), new ClassLabel("bkl", null)),
                1, true,
                Map.of("seed", 42, "learningRate", 0.001, "dataset", Map.of("sha256", "ab12", "rows", 2808),
                        "metrics", List.of(0.81, 0.77)));
    }

    private static ObjectNode tree(ModelContract contract) throws Exception {
        return (ObjectNode) JSON.readTree(ModelContractJson.write(contract));
    }

    private static String parseProblem(Consumer<ObjectNode> edit) throws Exception {
        ObjectNode node = tree(contract());
        edit.accept(node);
        String json = JSON.writeValueAsString(node);
        try {
            ModelContractJson.parse(json);
        } catch (ModelContractException e) {
            return e.getMessage();
        }
        throw new AssertionError("expected the contract to be refused: " + json);
    }

    @Test
    void writesEachFeaturesSourcesAndReadsThemBackInOrder() throws Exception {
        ModelContract c = contract();
        List<FeatureSpec> tabular = new java.util.ArrayList<>(c.tabular());
        tabular.set(0, tabular.get(0).withSources(List.of(new FeatureSource.Clinical("age_years"),
                FeatureSource.PATIENT_AGE)));
        ModelContract withSources = new ModelContract(c.contractVersion(), c.name(), c.version(), c.description(),
                c.imageInput(), c.tabularInput(), c.output(), c.outputKind(), c.image(), tabular, c.labels(),
                c.preprocessingVersion(), c.trained(), c.provenance());

        ObjectNode written = tree(withSources);
        ModelContract parsed = ModelContractJson.parse(ModelContractJson.write(withSources));

        assertThat(written.get("tabular").get(0).get("sources").toString())
                .isEqualTo("[\"clinical.age_years\",\"patient.ageYears\"]");
        assertThat(written.get("tabular").get(2).get("sources").toString()).isEqualTo("[\"clinical.localization\"]");
        assertThat(written.get("tabular").get(0).get("type").asText()).isEqualTo("NUMERIC");
        assertThat(parsed).isEqualTo(withSources);
        assertThat(parsed.tabular().get(0).sources()).containsExactly(new FeatureSource.Clinical("age_years"),
                FeatureSource.PATIENT_AGE);
    }

    @Test
    void roundTripsThroughJson() {
        ModelContract original = contract();

        ModelContract parsed = ModelContractJson.parse(ModelContractJson.write(original));

        assertThat(parsed).isEqualTo(original);
        assertThat(parsed.provenance()).containsEntry("dataset", Map.of("sha256", "ab12", "rows", 2808));
    }

    @Test
    void recordsTheDecoderAModelWasTrainedWithAndReadsOlderContractsWithout() throws Exception {
        ModelContract c = contract();
        ModelContract withDecoder = new ModelContract(c.contractVersion(), c.name(), c.version(), c.description(),
                c.imageInput(), c.tabularInput(), c.output(), c.outputKind(), c.image().withDecoder("opencv"),
                c.tabular(), c.labels(), c.preprocessingVersion(), c.trained(), c.provenance());
        String json = ModelContractJson.write(withDecoder);
        assertThat(tree(withDecoder).get("image").get("decoder").asText()).isEqualTo("opencv");
        assertThat(ModelContractJson.parse(json).image().decoder()).isEqualTo("opencv");
        // a contract written before the decoder was recorded: no field, read as null (ImageIO)
        assertThat(tree(c).get("image").has("decoder")).isFalse();
        assertThat(ModelContractJson.parse(ModelContractJson.write(c)).image().decoder()).isNull();
        assertThat(parseProblem(n -> ((ObjectNode) n.get("image")).put("decoder", "stb_image")))
                .contains("image.decoder must be one of [imageio, opencv], got 'stb_image'");
    }

    @Test
    void prettyFormRoundTripsToo() {
        String pretty = ModelContractJson.writePretty(contract());

        assertThat(pretty).contains("\n");
        assertThat(ModelContractJson.parse(pretty)).isEqualTo(contract());
    }

    @Test
    void writesTheSameBytesForTheSameContractWithSortedMapKeys() {
        String json = ModelContractJson.write(contract());

        assertThat(ModelContractJson.write(ModelContractJson.parse(json))).isEqualTo(json);
        assertThat(json.indexOf("\"dataset\"")).isLessThan(json.indexOf("\"learningRate\""));
        assertThat(json.indexOf("\"learningRate\"")).isLessThan(json.indexOf("\"metrics\""));
        assertThat(json).doesNotContain("null");
    }

    @Test
    void parsesAHandWrittenDocument() {
        String json = """
                {"contractVersion":1,"name":"m","version":"1","imageInput":"img","tabularInput":"tab",
                 "output":"out","outputKind":"LOGITS",
                 "image":{"width":32,"height":16,"channels":1,"layout":"NCHW","resize":"STRETCH",
                          "mean":[0.5],"std":[0.25]},
                 "tabular":[{"name":"age","type":"NUMERIC","center":50,"scale":10,"impute":50},
                            {"name":"sex","type":"CATEGORICAL","vocabulary":["male","female"]}],
                 "labels":[{"name":"benign"},{"name":"malignant","frequency":0.2}],
                 "preprocessingVersion":1}
                """;

        ModelContract c = ModelContractJson.parse(json);

        assertThat(c.outputKind()).isEqualTo(OutputKind.LOGITS);
        assertThat(c.image()).isEqualTo(new ImageSpec(32, 16, 1, "NCHW", ResizeMode.STRETCH, List.of(0.5),
                List.of(0.25)));
        assertThat(c.tabular().get(0).kind()).isEqualTo(FeatureSpec.Kind.NUMERIC);
        assertThat(((FeatureSpec.Numeric) c.tabular().get(0)).missingIndicator()).isNull();
        assertThat(c.tabular().get(0).sources()).as("a contract without sources reads the rule of earlier versions, "
                + "with the DICOM tag of the same fact after the request's field")
                .containsExactly(FeatureSource.PATIENT_AGE, FeatureSource.DICOM_PATIENT_AGE);
        assertThat(c.tabular().get(1).sources()).containsExactly(FeatureSource.PATIENT_SEX,
                FeatureSource.DICOM_PATIENT_SEX);
        assertThat(c.tabularWidth()).isEqualTo(1 + 3);
        assertThat(c.labelNames()).containsExactly("benign", "malignant");
        assertThat(c.labels().get(0).frequency()).isNull();
        assertThat(c.trained()).isFalse();
        assertThat(c.provenance()).isEmpty();
        assertThat(c.description()).isNull();
    }

    @Test
    void ignoresUnknownFieldsAtEveryLevel() throws Exception {
        ObjectNode node = tree(contract());
        node.put("addedInAFutureVersion", "x");
        ((ObjectNode) node.get("image")).put("interpolation", "bicubic");
        ((ObjectNode) node.get("tabular").get(0)).putObject("histogram").put("bins", 10);
        ((ObjectNode) node.get("labels").get(1)).put("colour", "red");

        assertThat(ModelContractJson.parse(JSON.writeValueAsString(node))).isEqualTo(contract());
    }

    static Stream<Arguments> problems() {
        return Stream.of(
                Arguments.of("future contract version", (Consumer<ObjectNode>) n -> n.put("contractVersion", 2),
                        "contractVersion 2 is not supported (this medfuse reads 1)"),
                Arguments.of("future preprocessing", (Consumer<ObjectNode>) n -> n.put("preprocessingVersion", 9),
                        "preprocessingVersion 9 is not supported (this medfuse implements 1)"),
                Arguments.of("no name", (Consumer<ObjectNode>) n -> n.remove("name"), "name is missing"),
                Arguments.of("blank version", (Consumer<ObjectNode>) n -> n.put("version", " "),
                        "version is missing"),
                Arguments.of("no output", (Consumer<ObjectNode>) n -> n.remove("output"), "output is missing"),
                Arguments.of("same input twice", (Consumer<ObjectNode>) n -> n.put("tabularInput", "image"),
                        "imageInput and tabularInput must differ, both are 'image'"),
                Arguments.of("no output kind", (Consumer<ObjectNode>) n -> n.remove("outputKind"),
                        "outputKind is missing (PROBABILITIES or LOGITS)"),
                Arguments.of("no image", (Consumer<ObjectNode>) n -> n.remove("image"), "image is missing"),
                Arguments.of("two channels", (Consumer<ObjectNode>) n -> image(n).put("channels", 2),
                        "image.channels must be 1 or 3, got 2"),
                Arguments.of("zero width", (Consumer<ObjectNode>) n -> image(n).put("width", 0),
                        "image.width and image.height must be > 0, got 0x224"),
                Arguments.of("NHWC", (Consumer<ObjectNode>) n -> image(n).put("layout", "NHWC"),
                        "image.layout must be NCHW, got NHWC"),
                Arguments.of("no resize", (Consumer<ObjectNode>) n -> image(n).remove("resize"),
                        "image.resize is missing (STRETCH or CENTER_CROP)"),
                Arguments.of("short mean", (Consumer<ObjectNode>) n -> image(n).putArray("mean").add(0.5),
                        "image.mean must have one value per channel (3), got [0.5]"),
                Arguments.of("zero std", (Consumer<ObjectNode>) n -> ((ArrayNode) image(n).get("std")).set(1, 0.0),
                        "image.std values must all be > 0"),
                Arguments.of("no features", (Consumer<ObjectNode>) n -> n.putArray("tabular"),
                        "tabular must list at least one feature"),
                Arguments.of("zero scale", (Consumer<ObjectNode>) n -> feature(n, 0).put("scale", 0),
                        "tabular[0] (age): scale must be a finite number > 0, got 0.0"),
                Arguments.of("no impute", (Consumer<ObjectNode>) n -> feature(n, 0).remove("impute"),
                        "tabular[0] (age): impute must be a finite number"),
                Arguments.of("min above max", (Consumer<ObjectNode>) n -> feature(n, 0).put("min", 200),
                        "tabular[0] (age): min 200.0 is above max 120.0"),
                Arguments.of("no type", (Consumer<ObjectNode>) n -> feature(n, 1).remove("type"),
                        "tabular[1] (sex): type is missing (NUMERIC or CATEGORICAL)"),
                Arguments.of("unknown type", (Consumer<ObjectNode>) n -> feature(n, 1).put("type", "ORDINAL"),
                        "tabular[1] (sex): type must be NUMERIC or CATEGORICAL"),
                Arguments.of("unknown source", (Consumer<ObjectNode>) n -> feature(n, 0).putArray("sources")
                                .add("dicom.PatientWeight"),
                        "tabular[0] (age): unknown feature source 'dicom.PatientWeight'; a source is "
                                + "patient.ageYears, patient.sex, clinical.<key> or dicom.<PatientAge|PatientSex|"
                                + "BodyPartExamined|AnatomicRegionSequence>"),
                Arguments.of("a DICOM text tag into a number", (Consumer<ObjectNode>) n -> feature(n, 0)
                                .putArray("sources").add("dicom.PatientSex"),
                        "tabular[0] (age)"),
                Arguments.of("dicomValues outside the vocabulary", (Consumer<ObjectNode>) n -> feature(n, 2)
                                .putObject("dicomValues").put("BACK", "lower back"),
                        "tabular[2] (localization): dicomValues maps 'BACK' to 'lower back', which is not in the "
                                + "vocabulary"),
                Arguments.of("no sources", (Consumer<ObjectNode>) n -> feature(n, 0).putArray("sources"),
                        "tabular[0] (age): sources is empty"),
                Arguments.of("text into a number", (Consumer<ObjectNode>) n -> feature(n, 0).putArray("sources")
                                .add("patient.sex"),
                        "tabular[0] (age): a NUMERIC feature cannot read patient.sex, which is text"),
                Arguments.of("number into a category", (Consumer<ObjectNode>) n -> feature(n, 1).putArray("sources")
                                .add("clinical.sex").add("patient.ageYears"),
                        "tabular[1] (sex): a CATEGORICAL feature cannot read patient.ageYears, which is a number"),
                Arguments.of("source twice", (Consumer<ObjectNode>) n -> feature(n, 2).putArray("sources")
                                .add("clinical.site").add("clinical.site"),
                        "tabular[2] (localization): source clinical.site is listed twice"),
                Arguments.of("empty vocabulary", (Consumer<ObjectNode>) n -> feature(n, 1).putArray("vocabulary"),
                        "tabular[1] (sex): a CATEGORICAL feature needs a non-empty vocabulary"),
                Arguments.of("vocabulary differs only in case",
                        (Consumer<ObjectNode>) n -> feature(n, 1).putArray("vocabulary").add("Male").add("male "),
                        "tabular[1] (sex): vocabulary values must be non-null and distinct ignoring case"),
                Arguments.of("feature twice", (Consumer<ObjectNode>) n -> feature(n, 2).put("name", "sex"),
                        "tabular[2]: feature name 'sex' appears twice"),
                Arguments.of("one label", (Consumer<ObjectNode>) n -> n.putArray("labels").addObject().put("name", "nv"),
                        "labels must list at least two classes"),
                Arguments.of("label twice", (Consumer<ObjectNode>) n -> label(n, 2).put("name", "nv"),
                        "labels[2]: 'nv' appears twice"),
                Arguments.of("frequency above 1", (Consumer<ObjectNode>) n -> label(n, 1).put("frequency", 1.5),
                        "labels[1] (mel): frequency must be in [0,1], got 1.5"),
                Arguments.of("nameless label", (Consumer<ObjectNode>) n -> label(n, 0).remove("name"),
                        "labels[0] has no name"));
    }

    private static ObjectNode image(ObjectNode n) {
        return (ObjectNode) n.get("image");
    }

    private static ObjectNode feature(ObjectNode n, int i) {
        return (ObjectNode) n.get("tabular").get(i);
    }

    private static ObjectNode label(ObjectNode n, int i) {
        return (ObjectNode) n.get("labels").get(i);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("problems")
    void reportsEachProblemClearly(String what, Consumer<ObjectNode> edit, String expected) throws Exception {
        String message = parseProblem(edit);

        assertThat(message).startsWith("invalid model contract").contains(expected);
    }

    @Test
    void reportsEveryProblemAtOnce() throws Exception {
        String message = parseProblem(n -> {
            n.put("contractVersion", 7);
            n.remove("version");
            image(n).put("channels", 4);
            feature(n, 0).put("scale", -1);
            label(n, 1).put("frequency", -0.1);
        });

        assertThat(message)
                .startsWith("invalid model contract for model 'skin-fusion': ")
                .contains("contractVersion 7 is not supported", "version is missing",
                        "image.channels must be 1 or 3, got 4", "tabular[0] (age): scale must be",
                        "labels[1] (mel): frequency must be in [0,1]");
        assertThat(message.split("; ")).hasSizeGreaterThanOrEqualTo(5);
    }

    @Test
    void refusesAMissingContractWithAHint() {
        for (String empty : new String[] {null, "", "  "}) {
            assertThatThrownBy(() -> ModelContractJson.parse(empty))
                    .isInstanceOf(ModelContractException.class)
                    .hasMessageContaining("carries no contract")
                    .hasMessageContaining(ModelContract.METADATA_KEY);
        }
    }

    @Test
    void refusesMalformedJsonAndWrongTypes() {
        assertThatThrownBy(() -> ModelContractJson.parse("{\"name\": "))
                .isInstanceOf(ModelContractException.class)
                .hasMessageStartingWith("the model contract is not valid JSON for this medfuse version");
        assertThatThrownBy(() -> ModelContractJson.parse(
                ModelContractJson.write(contract()).replace("\"PROBABILITIES\"", "\"SOFTMAX\"")))
                .isInstanceOf(ModelContractException.class)
                .hasMessageContaining("not valid JSON")
                .hasMessageContaining("SOFTMAX");
    }

    @Test
    void refusesANullVocabularyEntryAsAContractProblem() {
        String json = ModelContractJson.write(contract()).replace("[\"male\",\"female\"]", "[\"male\",null]");

        assertThatThrownBy(() -> ModelContractJson.parse(json)).isInstanceOf(ModelContractException.class);
    }

    @Test
    void refusesToWriteAnInvalidContract() {
        ModelContract c = contract();
        ModelContract invalid = new ModelContract(c.contractVersion(), c.name(), c.version(), c.description(),
                c.imageInput(), c.tabularInput(), c.output(), c.outputKind(), c.image(), c.tabular(),
                List.of(new ClassLabel("only", null)), c.preprocessingVersion(), c.trained(), c.provenance());

        assertThatThrownBy(() -> ModelContractJson.write(invalid))
                .isInstanceOf(ModelContractException.class)
                .hasMessageContaining("labels must list at least two classes");
    }

    @Test
    void derivedValuesFollowTheFeatures() throws Exception {
        ModelContract c = contract();

        assertThat(c.tabularWidth()).isEqualTo(2 + 3 + 4);
        assertThat(c.image().tensorSize()).isEqualTo(3 * 224 * 224);
        assertThat(c.labelNames()).containsExactly("nv", "mel", "bkl");
        JsonNode written = tree(c);
        assertThat(written.has("tabularWidth")).as("derived values are not written").isFalse();
        assertThat(written.get("tabular").get(0).has("width")).isFalse();
    }
}
