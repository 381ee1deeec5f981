package io.medfuse.model.onnx;

import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.contract.ModelContractException;
import io.medfuse.model.contract.ModelContractJson;
import io.medfuse.model.onnx.proto.OnnxProtos.ModelProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class OnnxModelFileTest {

    private static final ModelContract CONTRACT = TestContracts.contract(3, 8, 2, 3);

    @TempDir
    Path dir;

    @Test
    void metadataRoundTripsAndReplacesOnlyTheGivenKeys() {
        byte[] model = tinyGraph().metadata("a", "1").metadata("b", "2").metadata("c", "3").toByteArray();

        Map<String, String> update = new LinkedHashMap<>();
        update.put("b", "two");
        update.put("d", "4");
        byte[] updated = OnnxModelFile.withMetadata(model, update);

        assertThat(OnnxModelFile.readMetadata(model)).containsExactly(
                Map.entry("a", "1"), Map.entry("b", "2"), Map.entry("c", "3"));
        assertThat(OnnxModelFile.readMetadata(updated)).containsExactly(
                Map.entry("a", "1"), Map.entry("b", "two"), Map.entry("c", "3"), Map.entry("d", "4"));
        assertThat(parse(updated).getGraph()).isEqualTo(parse(model).getGraph());
    }

    @Test
    void attachedContractReadsBackFromFile() throws Exception {
        Path file = dir.resolve("m.onnx");
        Files.write(file, OnnxModelFile.attachContract(tinyGraph().toByteArray(), CONTRACT));

        assertThat(OnnxModelFile.readContract(file)).isEqualTo(CONTRACT);
    }

    @Test
    void missingContractIsAnErrorNamingTheFile() throws Exception {
        Path file = dir.resolve("no-contract.onnx");
        Files.write(file, tinyGraph().toByteArray());

        assertThatThrownBy(() -> OnnxModelFile.readContract(file))
                .isInstanceOf(ModelContractException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining(ModelContract.METADATA_KEY);
    }

    @Test
    void invalidContractIsAnErrorNamingTheFileAndTheProblem() throws Exception {
        Path file = dir.resolve("bad-contract.onnx");
        String json = ModelContractJson.write(CONTRACT).replace("\"channels\":3", "\"channels\":5");
        Files.write(file, OnnxModelFile.withMetadata(tinyGraph().toByteArray(),
                Map.of(ModelContract.METADATA_KEY, json)));

        assertThatThrownBy(() -> OnnxModelFile.readContract(file))
                .isInstanceOf(ModelContractException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("image.channels must be 1 or 3, got 5");
    }

    @Test
    void bytesThatAreNotOnnxAreRejected() throws Exception {
        Path file = dir.resolve("not.onnx");
        Files.writeString(file, "hello, I am not a model");

        assertThatThrownBy(() -> OnnxModelFile.readContract(file))
                .isInstanceOf(OnnxFormatException.class)
                .hasMessageContaining(file.toString());
        assertThatThrownBy(() -> OnnxModelFile.readContract(dir.resolve("absent.onnx")))
                .isInstanceOf(OnnxFormatException.class)
                .hasMessageContaining("absent.onnx");
    }

    @Test
    void sha256IsLowerCaseHex() {
        assertThat(OnnxModelFile.sha256("abc".getBytes(StandardCharsets.US_ASCII)))
                .isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    @Test
    void attachingAContractToAThirdPartyModelKeepsItsGraph() throws Exception {
        var mobilenet = TestContracts.shared("models/pretrained/mobilenetv2-12-int8.onnx");
        assumeTrue(mobilenet.isPresent(), "../shared/models/pretrained/mobilenetv2-12-int8.onnx is absent "
                + "(development data, not shipped): skipping the third-party round trip");
        byte[] original = Files.readAllBytes(mobilenet.get());
        ModelProto before = parse(original);

        byte[] withContract = OnnxModelFile.attachContract(original, CONTRACT);
        ModelProto after = parse(withContract);

        assertThat(after.getGraph().getNodeCount()).isEqualTo(before.getGraph().getNodeCount()).isPositive();
        assertThat(after.getGraph().getInitializerCount()).isEqualTo(before.getGraph().getInitializerCount())
                .isPositive();
        assertThat(after.getGraph()).isEqualTo(before.getGraph());
        assertThat(after.getOpsetImportList()).isEqualTo(before.getOpsetImportList());
        assertThat(after.toBuilder().clearMetadataProps().build().toByteArray())
                .as("everything but metadata_props, unknown fields included, is byte-for-byte the same")
                .isEqualTo(before.toBuilder().clearMetadataProps().build().toByteArray());
        int contractBytes = ModelContractJson.write(CONTRACT).getBytes(StandardCharsets.UTF_8).length;
        assertThat(withContract.length - original.length).isBetween(contractBytes, contractBytes + 64);
        assertThat(OnnxModelFile.readContract(withContract, "mobilenet")).isEqualTo(CONTRACT);
        // and a second attach replaces rather than appends
        byte[] twice = OnnxModelFile.attachContract(withContract, CONTRACT);
        assertThat(twice).isEqualTo(withContract);
        assertThat(OnnxModelFile.readMetadata(twice).keySet()).containsOnlyOnce(ModelContract.METADATA_KEY);
    }

    @Test
    void theSameContractAndSeedWriteTheSameBytes() {
        byte[] first = FusedCnnFactory.small(RandomWeightContracts.demoShaped(), RandomWeightContracts.DEMO_SEED);
        byte[] second = FusedCnnFactory.small(RandomWeightContracts.demoShaped(), RandomWeightContracts.DEMO_SEED);

        assertThat(first).isEqualTo(second);
        assertThat(first.length).isLessThan(200_000);
        assertThat(OnnxModelFile.readMetadata(first))
                .containsEntry(FusedCnnFactory.ARCHITECTURE_KEY, "small");
        assertThat(OnnxModelFile.readContract(first, "demo").tabularWidth()).isEqualTo(2 + 3 + 15);
    }

    private static OnnxGraphBuilder tinyGraph() {
        OnnxGraphBuilder g = new OnnxGraphBuilder("tiny");
        g.input("x", 2);
        g.output(g.relu("y", "x"), 2);
        return g;
    }

    private static ModelProto parse(byte[] bytes) {
        return OnnxModelFile.parse(bytes, "test");
    }
}
