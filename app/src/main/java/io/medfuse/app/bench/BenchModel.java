package io.medfuse.app.bench;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;

import io.medfuse.events.ImagePayload;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Patient;
import io.medfuse.events.SourceRef;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.onnx.FusedCnnFactory;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.model.onnx.RandomWeightContracts;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.testkit.SampleRequests;

/**
 * One model under test with its request images: the ONNX bytes, where the worker finds them ({@code model.path},
 * empty for the bundled model), and a fixed set of encoded images that requests cycle through.
 *
 * @param modelPath the worker's model.path: "" for the bundled model, else a temporary file this run wrote
 */
record BenchModel(String name, byte[] onnx, ModelContract contract, String modelPath, String mediaType,
                  List<byte[]> images, String imageDescription) {

    /** Distinct images per model: enough that no cache anywhere sees the same bytes twice in a row. */
    static final int IMAGE_COUNT = 32;

    /** The bundled demo model (64×64 input) with PNG images of 96–224 px, as a dermatoscope export might send. */
    static BenchModel bundled() {
        int[] sides = {96, 128, 160, 192, 224};
        List<byte[]> images = new ArrayList<>();
        for (int i = 0; i < IMAGE_COUNT; i++) {
            images.add(SampleRequests.noisyImage(1000 + i, sides[i % sides.length], "image/png", 6));
        }
        return withBundledModel("bundled", "image/png", images, "PNG 96-224 px");
    }

    /**
     * The bundled demo model with 224×224 JPEG images (a camera's or a viewer's export, resized to 64×64 by the
     * worker): the request kind of issue 13's profiles, where decoding a JPEG, not a PNG, is the floor.
     */
    static BenchModel bundledJpeg() {
        List<byte[]> images = new ArrayList<>();
        for (int i = 0; i < IMAGE_COUNT; i++) {
            images.add(SampleRequests.noisyImage(3000 + i, 224, "image/jpeg", 26));
        }
        return withBundledModel("bundled-jpeg", "image/jpeg", images, "JPEG 224x224");
    }

    private static BenchModel withBundledModel(String name, String mediaType, List<byte[]> images, String described) {
        byte[] onnx = MedfuseWorker.bundledModel();
        ModelContract contract = OnnxModelFile.readContract(onnx, "bundled model");
        return new BenchModel(name, onnx, contract, "", mediaType, images, described);
    }

    /**
     * The seed-size model (512×512×3 + 2 numeric values, random weights), written to {@code dir} now, with 512×512
     * JPEG images.
     */
    static BenchModel seed(Path dir) throws java.io.IOException {
        ModelContract contract = RandomWeightContracts.benchSeed();
        byte[] onnx = FusedCnnFactory.seed(contract, RandomWeightContracts.BENCH_SEED);
        Path file = dir.resolve("medfuse-bench-seed.onnx");
        Files.write(file, onnx);
        List<byte[]> images = new ArrayList<>();
        for (int i = 0; i < IMAGE_COUNT; i++) {
            images.add(SampleRequests.noisyImage(2000 + i, 512, "image/jpeg", 26));
        }
        return new BenchModel("seed", onnx, contract, file.toString(), "image/jpeg", images, "JPEG 512x512");
    }

    /** Mean encoded image size, in bytes. */
    double meanImageBytes() {
        return images.stream().mapToInt(b -> b.length).average().orElse(0);
    }

    /** Images in a shuffled order (for the preprocessing stage). */
    List<byte[]> shuffledImages(long seed) {
        List<byte[]> copy = new ArrayList<>(images);
        Collections.shuffle(copy, new Random(seed));
        return copy;
    }

    /** Request number {@code i}, with its image, patient fields and {@code requestedAt}. */
    ImagingRequest request(String id, int i, long requestedAtMillis) {
        double age = 5 * (3 + (i * 7) % 16);
        Map<String, Object> clinical = name.equals("seed")
                ? Map.of("lesion_diameter_mm", 2.0 + (i % 13))
                : Map.of("localization", SampleRequests.SITES.get(i % SampleRequests.SITES.size()));
        return ImagingRequest.newBuilder()
                .setRequestId(id)
                .setRequestedAt(Instant.ofEpochMilli(requestedAtMillis))
                .setSource(SourceRef.newBuilder().setSystem("medfuse-bench").build())
                .setPatient(Patient.newBuilder().setAgeYears(age).setSex(i % 2 == 0 ? "female" : "male").build())
                .setClinical(clinical)
                .setImage(ImagePayload.newBuilder().setMediaType(mediaType)
                        .setData(ByteBuffer.wrap(images.get(i % images.size()))).build())
                .build();
    }
}
