package io.medfuse.model.engine;

import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.contract.ModelContractException;
import io.medfuse.model.onnx.FusedCnnFactory;
import io.medfuse.model.onnx.OnnxGraphBuilder;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.model.onnx.TestContracts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class OnnxClassifierTest {

    private static final EngineOptions CPU = EngineOptions.defaults().withDevice("cpu");
    private static final ModelContract CONTRACT = TestContracts.contract(3, 8, 2, 3);

    @TempDir
    Path dir;

    @Test
    void loadsFromFileAndReportsIdentity() throws Exception {
        byte[] bytes = FusedCnnFactory.small(CONTRACT, 3);
        Path file = dir.resolve("m.onnx");
        Files.write(file, bytes);

        try (OnnxClassifier classifier = OnnxClassifier.load(file, CPU)) {
            assertThat(classifier.contract()).isEqualTo(CONTRACT);
            assertThat(classifier.sha256()).isEqualTo(OnnxModelFile.sha256(bytes)).hasSize(64);
            assertThat(classifier.executionProvider()).isEqualTo("CPU");
            assertThat(classifier.maxBatchSize()).isEqualTo(32);
        }
    }

    @Test
    void autoDeviceFallsBackToCpuOnThisBuild() {
        try (OnnxClassifier classifier = OnnxClassifier.load(FusedCnnFactory.small(CONTRACT, 3), "auto",
                EngineOptions.defaults())) {
            assertThat(classifier.executionProvider()).isIn("CPU", "CUDA:0");
            assertThat(classifier.predict(new float[192], new float[2], 1)[0]).hasSize(3);
        }
    }

    @Test
    void explicitCudaFailsClearlyWithoutTheGpuBuild() {
        assertThatThrownBy(() -> OnnxClassifier.load(FusedCnnFactory.small(CONTRACT, 3), "m.onnx",
                CPU.withDevice("cuda:0")))
                .isInstanceOf(ModelInferenceException.class)
                .hasMessageContaining("device 'cuda:0'")
                .hasMessageContaining("m.onnx")
                .hasMessageContaining("CUDA 12")
                .hasMessageContaining("cuDNN 9");
    }

    @Test
    void refusesAGraphWhoseImageChannelsDifferFromTheContract() {
        // given a graph with a 1-channel image input carrying a 3-channel contract
        byte[] bytes = OnnxModelFile.attachContract(graph("image", 1, 8, "tabular", 2, 3), CONTRACT);

        assertThatThrownBy(() -> OnnxClassifier.load(bytes, "gray.onnx", CPU))
                .isInstanceOf(ModelContractException.class)
                .hasMessageContaining("gray.onnx")
                .hasMessageContaining("contract says image input 'image' is float [N,3,8,8]")
                .hasMessageContaining("the ONNX graph declares float [N,1,8,8]");
    }

    @Test
    void refusesAGraphWithOtherInputNamesNamingBoth() {
        byte[] bytes = OnnxModelFile.attachContract(graph("pixels", 3, 8, "tabular", 2, 3), CONTRACT);

        assertThatThrownBy(() -> OnnxClassifier.load(bytes, "renamed.onnx", CPU))
                .isInstanceOf(ModelContractException.class)
                .hasMessageContaining("contract says image input is 'image'")
                .hasMessageContaining("[pixels, tabular]");
    }

    @Test
    void refusesAGraphWithOtherTabularWidthOrClassCountReportingBoth() {
        byte[] bytes = OnnxModelFile.attachContract(graph("image", 3, 8, "tabular", 5, 4), CONTRACT);

        assertThatThrownBy(() -> OnnxClassifier.load(bytes, "wide.onnx", CPU))
                .isInstanceOf(ModelContractException.class)
                .hasMessageContaining("tabular input 'tabular' is float [N,2]")
                .hasMessageContaining("declares float [N,5]")
                .hasMessageContaining("output 'probabilities' is float [N,3]")
                .hasMessageContaining("declares float [N,4]");
    }

    @Test
    void refusesAModelWithoutContract() {
        byte[] bytes = graph("image", 3, 8, "tabular", 2, 3);

        assertThatThrownBy(() -> OnnxClassifier.load(bytes, "bare.onnx", CPU))
                .isInstanceOf(ModelContractException.class)
                .hasMessageContaining("bare.onnx carries no model contract")
                .hasMessageContaining(ModelContract.METADATA_KEY);
    }

    @Test
    void rejectsArraysThatDoNotMatchN() {
        try (OnnxClassifier classifier = OnnxClassifier.load(FusedCnnFactory.small(CONTRACT, 3), "m", CPU)) {
            assertThatThrownBy(() -> classifier.predict(new float[192], new float[2], 2))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("192 image floats")
                    .hasMessageContaining("n=2");
            assertThat(classifier.predict(new float[0], new float[0], 0)).isEmpty();
        }
    }

    @Test
    void refusesToPredictAfterClose() {
        OnnxClassifier classifier = OnnxClassifier.load(FusedCnnFactory.small(CONTRACT, 3), "m", CPU);
        classifier.close();
        classifier.close();

        assertThatThrownBy(() -> classifier.predict(new float[192], new float[2], 1))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void optionsAreValidatedAndNormalised() {
        EngineOptions o = new EngineOptions("CUDA:1", 2, 1, "Basic", List.of(8, 1, 8, 4));

        assertThat(o.device()).isEqualTo("cuda:1");
        assertThat(o.cudaDeviceId()).isEqualTo(1);
        assertThat(o.optimizationLevel()).isEqualTo("basic");
        assertThat(o.paddedBatchSizes()).containsExactly(1, 4, 8);
        assertThat(EngineOptions.defaults().paddedBatchSizes()).containsExactly(1, 2, 4, 8, 16, 32);
        assertThatThrownBy(() -> new EngineOptions("gpu", 1, 1, "all", List.of(1)))
                .hasMessageContaining("'gpu'");
        assertThatThrownBy(() -> new EngineOptions("cpu", 1, 1, "max", List.of(1)))
                .hasMessageContaining("'max'");
        assertThatThrownBy(() -> new EngineOptions("cpu", 1, 1, "all", List.of(0)))
                .hasMessageContaining("paddedBatchSizes");
    }

    @Test
    void everyOptimisationLevelLoads() {
        byte[] bytes = FusedCnnFactory.small(CONTRACT, 3);
        for (String level : List.of("none", "basic", "extended", "all")) {
            try (OnnxClassifier c = OnnxClassifier.load(bytes, level,
                    new EngineOptions("cpu", 1, 1, level, List.of(1, 4)))) {
                assertThat(c.predict(new float[192], new float[2], 1)[0]).hasSize(3);
            }
        }
    }

    @Test
    void concurrentPredictionsEqualSequentialOnes() throws Exception {
        float[] images = TestContracts.floats(3 * 192, 1);
        float[] tabular = TestContracts.floats(3 * 2, 2);
        try (OnnxClassifier classifier = OnnxClassifier.load(FusedCnnFactory.small(CONTRACT, 3), "m", CPU)) {
            float[][] expected = classifier.predict(images, tabular, 3);
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
            try {
                List<java.util.concurrent.Future<float[][]>> futures = new java.util.ArrayList<>();
                for (int i = 0; i < 16; i++) {
                    futures.add(pool.submit(() -> classifier.predict(images, tabular, 3)));
                }
                for (var f : futures) {
                    assertThat(f.get()).isDeepEqualTo(expected);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void aBatchAnswersTheSameWhateverTheBatchesBeforeItLeftInTheReusedInputBuffers() {
        // the input buffers are reused and their padding rows not cleared: rows from a larger batch before must
        // never change a smaller batch's answers
        float[] big = TestContracts.floats(8 * 192, 7);
        float[] bigTab = TestContracts.floats(8 * 2, 8);
        float[] three = TestContracts.floats(3 * 192, 1);
        float[] threeTab = TestContracts.floats(3 * 2, 2);
        float[][] alone;
        try (OnnxClassifier fresh = OnnxClassifier.load(FusedCnnFactory.small(CONTRACT, 3), "m", CPU)) {
            alone = fresh.predict(three, threeTab, 3);
        }
        try (OnnxClassifier classifier = OnnxClassifier.load(FusedCnnFactory.small(CONTRACT, 3), "m", CPU)) {
            classifier.predict(big, bigTab, 8);
            assertThat(classifier.predict(three, threeTab, 3)).isDeepEqualTo(alone);
            for (int i = 0; i < 3; i++) {
                float[][] one = classifier.predict(java.util.Arrays.copyOfRange(three, i * 192, (i + 1) * 192),
                        java.util.Arrays.copyOfRange(threeTab, i * 2, (i + 1) * 2), 1);
                assertThat(one[0]).as("row %d alone", i).containsExactly(alone[i],
                        org.assertj.core.api.Assertions.within(1e-6f));
            }
        }
    }

    @Test
    void rowsGivenOneArrayEachAnswerAsTheSameRowsConcatenated() {
        float[] images = TestContracts.floats(5 * 192, 3);
        float[] tabular = TestContracts.floats(5 * 2, 4);
        float[][] imageRows = new float[5][];
        float[][] tabularRows = new float[5][];
        for (int i = 0; i < 5; i++) {
            // rows 3 and 4 share one image array, as a request's influence rows share its image
            imageRows[i] = java.util.Arrays.copyOfRange(images, Math.min(i, 3) * 192, (Math.min(i, 3) + 1) * 192);
            tabularRows[i] = java.util.Arrays.copyOfRange(tabular, i * 2, (i + 1) * 2);
        }
        System.arraycopy(imageRows[3], 0, images, 4 * 192, 192);
        try (OnnxClassifier classifier = OnnxClassifier.load(FusedCnnFactory.small(CONTRACT, 3), "m", CPU)) {
            assertThat(classifier.predictRows(imageRows, tabularRows))
                    .isDeepEqualTo(classifier.predict(images, tabular, 5));
            assertThatThrownBy(() -> classifier.predictRows(new float[][] {new float[191]},
                    new float[][] {new float[2]})).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("row 0 has 191");
        }
    }

    /**
     * Image tensors written at batch time (as the worker's decoded images are): 40 rows over a largest padded batch
     * of 32, so the second chunk starts inside a run of rows sharing one image; 64 px images, so the distinct ones
     * are written by the caller and the common pool's helpers. Each distinct image is written once, a shared one is
     * copied within the buffers (from the first chunk into the second too), and the answers are those of the same
     * rows concatenated.
     */
    @Test
    void imageTensorsAreWrittenOnceAndRepeatedRowsCopiedWithinTheBuffers() {
        ModelContract contract = TestContracts.contract(3, 64, 2, 3);
        int size = contract.image().tensorSize();
        int n = 40;
        float[] images = new float[n * size];
        float[] tabular = TestContracts.floats(n * 2, 6);
        CountingTensor[] distinct = new CountingTensor[n];
        io.medfuse.model.image.ImageTensor[] rows = new io.medfuse.model.image.ImageTensor[n];
        float[][] tabularRows = new float[n][];
        for (int i = 0; i < n; i++) {
            // rows 30..35 share one image (a request and its five influence rows), across the chunk boundary at 32
            int source = i >= 30 && i <= 35 ? 30 : i;
            if (distinct[source] == null) {
                distinct[source] = new CountingTensor(TestContracts.floats(size, 100 + source));
            }
            rows[i] = distinct[source];
            System.arraycopy(distinct[source].values, 0, images, i * size, size);
            tabularRows[i] = java.util.Arrays.copyOfRange(tabular, i * 2, (i + 1) * 2);
        }
        try (OnnxClassifier classifier = OnnxClassifier.load(FusedCnnFactory.small(contract, 3), "m", CPU)) {
            float[][] expected = classifier.predict(images, tabular, n);

            float[][] got = classifier.predictRows(rows, tabularRows);

            for (int i = 0; i < n; i++) {
                assertThat(got[i]).as("row %d", i).containsExactly(expected[i],
                        org.assertj.core.api.Assertions.within(1e-6f));
            }
            for (int i = 0; i < n; i++) {
                if (distinct[i] != null) {
                    assertThat(distinct[i].writes.get()).as("writes of image %d", i).isEqualTo(1);
                }
            }
        }
    }

    @Test
    void aTensorThatFailsToWriteFailsItsRunAndLeavesTheBuffersUsable() {
        float[] image = TestContracts.floats(192, 1);
        float[] tab = TestContracts.floats(2, 2);
        io.medfuse.model.image.ImageTensor broken = new io.medfuse.model.image.ImageTensor() {
            @Override
            public int tensorSize() {
                return 192;
            }

            @Override
            public void writeTo(java.nio.FloatBuffer dst, int index) {
                throw new IllegalStateException("no pixels");
            }

            @Override
            public void writeTo(float[] dst, int offset) {
                throw new IllegalStateException("no pixels");
            }
        };
        try (OnnxClassifier classifier = OnnxClassifier.load(FusedCnnFactory.small(CONTRACT, 3), "m", CPU)) {
            float[][] alone = classifier.predict(image, tab, 1);
            assertThatThrownBy(() -> classifier.predictRows(
                    new io.medfuse.model.image.ImageTensor[] {io.medfuse.model.image.ImageTensor.of(image), broken},
                    new float[][] {tab, tab})).isInstanceOf(IllegalStateException.class).hasMessage("no pixels");
            assertThat(classifier.predictRows(new float[][] {image}, new float[][] {tab})).isDeepEqualTo(alone);
        }
    }

    /**
     * A staged batch takes its requests a few at a time (as a batcher adds them while the previous batch runs):
     * a request whose image fails to be written is left out and named, the others keep their order and rows, the
     * answers equal one flat run of the rows that were added, and the buffers serve the next batch.
     */
    @Test
    void aStagedBatchAddsRequestsAsTheyComeAndLeavesOutOneWhoseImageFails() {
        ModelContract contract = TestContracts.contract(3, 64, 2, 3);
        int size = contract.image().tensorSize();
        io.medfuse.model.image.ImageTensor broken = new CountingTensor(new float[size]) {
            @Override
            public void writeTo(java.nio.FloatBuffer dst, int index) {
                throw new IllegalStateException("released");
            }
        };
        // requests of 1, 3 (a request and two influence rows), 1, 1, 2 rows; request 2 fails to be written
        int[] rowsOf = {1, 3, 1, 1, 2};
        CountingTensor[] images = new CountingTensor[rowsOf.length];
        float[][][] tabular = new float[rowsOf.length][][];
        for (int k = 0; k < rowsOf.length; k++) {
            images[k] = new CountingTensor(TestContracts.floats(size, 40 + k));
            tabular[k] = new float[rowsOf[k]][];
            for (int v = 0; v < rowsOf[k]; v++) {
                tabular[k][v] = TestContracts.floats(2, 10 * k + v);
            }
        }
        try (OnnxClassifier classifier = OnnxClassifier.load(FusedCnnFactory.small(contract, 3), "m", CPU)) {
            int kept = 1 + 3 + 1 + 2;
            float[] flatImages = new float[kept * size];
            float[] flatTabular = new float[kept * 2];
            int row = 0;
            for (int k : new int[] {0, 1, 3, 4}) {
                for (float[] t : tabular[k]) {
                    System.arraycopy(images[k].values, 0, flatImages, row * size, size);
                    System.arraycopy(t, 0, flatTabular, row * 2, 2);
                    row++;
                }
            }
            float[][] expected = classifier.predict(flatImages, flatTabular, kept);

            float[][] got;
            try (OnnxClassifier.Staged batch = classifier.stage()) {
                assertThat(batch.add(new io.medfuse.model.image.ImageTensor[] {images[0], images[1]},
                        new float[][][] {tabular[0], tabular[1]})).containsOnlyNulls();
                RuntimeException[] failures = batch.add(
                        new io.medfuse.model.image.ImageTensor[] {broken, images[3], images[4]},
                        new float[][][] {tabular[2], tabular[3], tabular[4]});
                assertThat(failures[0]).isInstanceOf(IllegalStateException.class).hasMessage("released");
                assertThat(failures[1]).isNull();
                assertThat(failures[2]).isNull();
                assertThat(batch.rows()).isEqualTo(kept);
                got = batch.run();
                assertThatThrownBy(batch::run).isInstanceOf(IllegalStateException.class);
            }

            assertThat(got).hasNumberOfRows(kept);
            for (int r = 0; r < kept; r++) {
                assertThat(got[r]).as("row %d", r).containsExactly(expected[r],
                        org.assertj.core.api.Assertions.within(1e-6f));
            }
            // one write per image when nothing failed; the pass that failed wrote some of them before the retry
            assertThat(images[0].writes.get()).isEqualTo(1);
            assertThat(images[1].writes.get()).isEqualTo(1);
            // the pass that failed wrote the others too, before they were laid out again without the failing one
            assertThat(images[3].writes.get()).isEqualTo(2);
            assertThat(images[4].writes.get()).isEqualTo(2);
            // a closed, never-run batch gives its buffers back too, whatever they hold: the next runs answer as
            // before (the padding rows of a smaller batch only need finite numbers)
            try (OnnxClassifier.Staged abandoned = classifier.stage()) {
                assertThat(abandoned.add(new io.medfuse.model.image.ImageTensor[] {images[4]},
                        new float[][][] {tabular[4]})).containsOnlyNulls();
            }
            assertThat(classifier.predict(flatImages, flatTabular, kept)).isDeepEqualTo(expected);
        }
    }

    /** A computed tensor that counts how often it is written. */
    private static class CountingTensor implements io.medfuse.model.image.ImageTensor {
        final float[] values;
        final java.util.concurrent.atomic.AtomicInteger writes = new java.util.concurrent.atomic.AtomicInteger();

        CountingTensor(float[] values) {
            this.values = values;
        }

        @Override
        public int tensorSize() {
            return values.length;
        }

        @Override
        public void writeTo(java.nio.FloatBuffer dst, int index) {
            writes.incrementAndGet();
            dst.put(index, values, 0, values.length);
        }

        @Override
        public void writeTo(float[] dst, int offset) {
            writes.incrementAndGet();
            System.arraycopy(values, 0, dst, offset, values.length);
        }
    }

    /**
     * What {@link OnnxClassifier#inputBufferBytes()} says is what a staged batch takes: one pair of direct buffers
     * per largest padded batch of its rows, given back and reused by the next.
     */
    @Test
    void aStagedBatchTakesTheDirectMemoryTheClassifierSaysPerBufferOfRows() {
        ModelContract contract = TestContracts.contract(3, 64, 2, 3);
        int size = contract.image().tensorSize();
        EngineOptions options = CPU.withPaddedBatchSizes(java.util.List.of(1, 2, 4));
        try (OnnxClassifier classifier = OnnxClassifier.load(FusedCnnFactory.small(contract, 3), "m", options)) {
            assertThat(classifier.inputBufferBytes()).isEqualTo(4L * (size + 2) * Float.BYTES);
            io.medfuse.model.image.ImageTensor[] images = new io.medfuse.model.image.ImageTensor[9];
            float[][][] tabular = new float[9][][];
            for (int k = 0; k < 9; k++) {
                images[k] = new CountingTensor(TestContracts.floats(size, k));
                tabular[k] = new float[][] {TestContracts.floats(2, k)};
            }
            long before = directBytesUsed();
            try (OnnxClassifier.Staged batch = classifier.stage()) {
                assertThat(batch.add(images, tabular)).containsOnlyNulls();
                // 9 rows in buffers of 4: three pairs
                assertThat(directBytesUsed() - before).isEqualTo(3 * classifier.inputBufferBytes());
                batch.run();
            }
            try (OnnxClassifier.Staged batch = classifier.stage()) {
                batch.add(images, tabular);
                batch.run();
            }
            assertThat(directBytesUsed() - before).as("the second batch reuses the first one's buffers")
                    .isEqualTo(3 * classifier.inputBufferBytes());
        }
    }

    private static long directBytesUsed() {
        return java.lang.management.ManagementFactory.getPlatformMXBeans(java.lang.management.BufferPoolMXBean.class)
                .stream().filter(b -> b.getName().equals("direct")).mapToLong(
                        java.lang.management.BufferPoolMXBean::getMemoryUsed).sum();
    }

    /** image [N,c,size,size] → GAP → flatten ⊕ tabular [N,f] → Gemm(classes) → Softmax "probabilities". */
    private static byte[] graph(String imageName, int c, int size, String tabularName, int f, int classes) {
        OnnxGraphBuilder g = new OnnxGraphBuilder("probe");
        g.input(imageName, c, size, size).input(tabularName, f);
        String x = g.flatten("flat", g.globalAveragePool("gap", imageName));
        x = g.concat("fused", 1, x, tabularName);
        x = g.gemm("fc", x, new float[classes * (c + f)], new float[classes], classes, c + f);
        g.softmax("probabilities", x, 1);
        g.output("probabilities", classes);
        return g.toByteArray();
    }
}
