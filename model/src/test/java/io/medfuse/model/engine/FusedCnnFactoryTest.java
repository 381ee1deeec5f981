package io.medfuse.model.engine;

import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.contract.ModelContractException;
import io.medfuse.model.onnx.FusedCnnFactory;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.model.onnx.TestContracts;
import io.medfuse.model.onnx.proto.OnnxProtos.TensorProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static io.medfuse.model.onnx.TestContracts.floats;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class FusedCnnFactoryTest {

    private static final EngineOptions CPU = EngineOptions.defaults().withDevice("cpu");
    private static final ModelContract SMALL = TestContracts.contract(3, 16, 4, 3);

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 5, 40})
    void smallModelGivesOneProbabilityRowPerRequestForAnyBatch(int n) {
        try (OnnxClassifier classifier = OnnxClassifier.load(FusedCnnFactory.small(SMALL, 1), "small", CPU)) {
            float[][] p = classifier.predict(floats(n * 3 * 16 * 16, n), floats(n * 4, -n), n);

            assertThat(p).hasNumberOfRows(n);
            for (float[] row : p) {
                assertThat(row).hasSize(3);
                assertThat(sum(row)).isCloseTo(1.0, within(1e-5));
                for (float v : row) {
                    assertThat(v).isBetween(0f, 1f);
                }
            }
        }
    }

    @Test
    void paddedAndChunkedBatchesGiveTheSameRowsAsSingleRequests() {
        int n = 40; // 32 + 8: one full chunk, then 8 padded to 8; and 5 padded to 8 below
        float[] images = floats(n * 3 * 16 * 16, 11);
        float[] tabular = floats(n * 4, 12);
        byte[] model = FusedCnnFactory.small(SMALL, 1);
        try (OnnxClassifier padded = OnnxClassifier.load(model, "padded", CPU);
             OnnxClassifier single = OnnxClassifier.load(model, "single", CPU.withPaddedBatchSizes(List.of(1)))) {
            assertThat(padded.paddedSize(5)).isEqualTo(8);
            assertThat(padded.paddedSize(40)).isEqualTo(32);
            assertThat(padded.maxBatchSize()).isEqualTo(32);

            float[][] batched = padded.predict(images, tabular, n);
            float[][] five = padded.predict(java.util.Arrays.copyOf(images, 5 * 768),
                    java.util.Arrays.copyOf(tabular, 5 * 4), 5);
            float[][] oneByOne = single.predict(images, tabular, n);

            for (int i = 0; i < n; i++) {
                assertThat(batched[i]).as("row %d", i).containsExactly(oneByOne[i], within(1e-5f));
            }
            for (int i = 0; i < 5; i++) {
                assertThat(five[i]).as("row %d of 5", i).containsExactly(oneByOne[i], within(1e-5f));
            }
        }
    }

    @Test
    void sameSeedGivesSameBytesAndDifferentSeedsDiffer() {
        byte[] a = FusedCnnFactory.small(SMALL, 7);
        byte[] b = FusedCnnFactory.small(SMALL, 7);
        byte[] c = FusedCnnFactory.small(SMALL, 8);
        float[] images = floats(2 * 768, 3);
        float[] tabular = floats(2 * 4, 4);

        assertThat(a).isEqualTo(b);
        assertThat(OnnxModelFile.sha256(a)).isNotEqualTo(OnnxModelFile.sha256(c));
        try (OnnxClassifier ca = OnnxClassifier.load(a, "a", CPU);
             OnnxClassifier cb = OnnxClassifier.load(b, "b", CPU);
             OnnxClassifier cc = OnnxClassifier.load(c, "c", CPU)) {
            float[][] pa = ca.predict(images, tabular, 2);
            assertThat(cb.predict(images, tabular, 2)).isDeepEqualTo(pa);
            assertThat(cc.predict(images, tabular, 2)[0]).isNotEqualTo(pa[0]);
        }
    }

    @Test
    void smallModelCarriesItsContractAndArchitecture() {
        byte[] model = FusedCnnFactory.small(SMALL, 1);

        assertThat(OnnxModelFile.readContract(model, "small")).isEqualTo(SMALL);
        assertThat(OnnxModelFile.readMetadata(model)).containsEntry(FusedCnnFactory.ARCHITECTURE_KEY, "small");
    }

    @Test
    void seedModelAt512FlattensTo4608PlusTabularAndRuns() {
        ModelContract contract = TestContracts.contract(3, 512, 2, 4);
        byte[] model = FusedCnnFactory.seed(contract, 42);

        TensorProto fc1 = OnnxModelFile.parse(model, "seed").getGraph().getInitializerList().stream()
                .filter(t -> t.getName().equals("fc1.weight")).findFirst().orElseThrow();
        assertThat(fc1.getDimsList()).containsExactly(2048L, 512L * 3 * 3 + 2);
        assertThat(OnnxModelFile.readMetadata(model)).containsEntry(FusedCnnFactory.ARCHITECTURE_KEY, "seed");
        try (OnnxClassifier classifier = OnnxClassifier.load(model, "seed", CPU)) {
            float[][] p = classifier.predict(floats(2 * 3 * 512 * 512, 5), floats(4, 6), 2);

            assertThat(p).hasNumberOfRows(2);
            assertThat(sum(p[0])).isCloseTo(1.0, within(1e-5));
            assertThat(sum(p[1])).isCloseTo(1.0, within(1e-5));
            assertThat(p[0]).hasSize(4);
        }
    }

    @Test
    void seedModelIsDeterministicPerSeedAndWorksOnOtherSizes() {
        ModelContract contract = TestContracts.contract(1, 240, 256, 3, 2, ModelContract.OutputKind.PROBABILITIES);
        byte[] a = FusedCnnFactory.seed(contract, 1);
        byte[] c = FusedCnnFactory.seed(contract, 2);
        float[] images = floats(240 * 256, 9);
        float[] tabular = floats(3, 10);

        assertThat(FusedCnnFactory.seed(contract, 1)).isEqualTo(a);
        try (OnnxClassifier ca = OnnxClassifier.load(a, "a", CPU); OnnxClassifier cc = OnnxClassifier.load(c, "c", CPU)) {
            float[] pa = ca.predict(images, tabular, 1)[0];
            assertThat(sum(pa)).isCloseTo(1.0, within(1e-5));
            assertThat(cc.predict(images, tabular, 1)[0]).isNotEqualTo(pa);
        }
    }

    @Test
    void seedModelRefusesImagesTooSmallForItsStrides() {
        assertThatThrownBy(() -> FusedCnnFactory.seed(TestContracts.contract(3, 231, 2, 2), 1))
                .isInstanceOf(ModelContractException.class)
                .hasMessageContaining("at least 232x232")
                .hasMessageContaining("231x231");
    }

    @Test
    void logitsContractsAreRefusedBecauseTheGraphEndsInSoftmax() {
        ModelContract logits = TestContracts.contract(3, 8, 8, 2, 2, ModelContract.OutputKind.LOGITS);

        assertThatThrownBy(() -> FusedCnnFactory.small(logits, 1))
                .isInstanceOf(ModelContractException.class)
                .hasMessageContaining("PROBABILITIES");
    }

    private static double sum(float[] row) {
        double s = 0;
        for (float v : row) {
            s += v;
        }
        return s;
    }
}
