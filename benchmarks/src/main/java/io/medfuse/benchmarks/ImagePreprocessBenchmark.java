package io.medfuse.benchmarks;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import io.medfuse.model.contract.ImageSpec;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.model.image.ImagePreprocessor;

/**
 * Decode + resize + normalise of one request image into the model's CHW float tensor: the preprocessing pool's
 * whole job. Cases: the bundled model (64×64) fed PNG at 224 px, and the seed-size model (512×512) fed JPEG at 512
 * px (no resize) — the two request kinds 'medfuse bench' uses.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ImagePreprocessBenchmark {

    @Param({"png224-to-64", "jpeg512-to-512"})
    public String input;

    private ImagePreprocessor preprocessor;
    private byte[] encoded;
    private String mediaType;
    private float[] tensor;

    @Setup
    public void setUp() {
        boolean png = input.startsWith("png");
        int target = png ? 64 : 512;
        mediaType = png ? "image/png" : "image/jpeg";
        encoded = Fixtures.image(png ? 224 : 512, mediaType);
        ImageSpec spec = new ImageSpec(target, target, 3, "NCHW", ImageSpec.ResizeMode.STRETCH,
                java.util.List.of(0.5, 0.5, 0.5), java.util.List.of(0.25, 0.25, 0.25));
        preprocessor = new ImagePreprocessor(spec, ImageLimits.defaults());
        tensor = new float[spec.tensorSize()];
    }

    /** Into a reused buffer, as a batch buffer would be filled. */
    @Benchmark
    public float[] preprocessInto() {
        preprocessor.preprocessInto(encoded, mediaType, tensor, 0);
        return tensor;
    }

    /** With a fresh tensor per image, as the worker's pipeline does today. */
    @Benchmark
    public float[] preprocessNewTensor() {
        return preprocessor.preprocess(encoded, mediaType);
    }
}
