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

import io.medfuse.events.ImagingRequest;
import io.medfuse.events.serde.ConfluentAvroCodec;

/**
 * The Confluent-wire-format Avro serde of an ImagingRequest carrying an inline image: decode runs on the stream
 * thread for every request; encode is the producer's side. The registry is an in-memory map (its answers are cached
 * by the codec in production too), so this measures the codec alone.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class AvroSerdeBenchmark {

    private static final String TOPIC = "medfuse.requests";

    /** Inline image size: a small PNG and a 512 px JPEG. */
    @Param({"png224", "jpeg512"})
    public String image;

    private ConfluentAvroCodec<ImagingRequest> codec;
    private ImagingRequest request;
    private byte[] wire;

    @Setup
    public void setUp() {
        codec = new ConfluentAvroCodec<>(new Fixtures.MemoryRegistry(), ImagingRequest.class, true);
        boolean png = image.startsWith("png");
        String mediaType = png ? "image/png" : "image/jpeg";
        request = Fixtures.request(Fixtures.image(png ? 224 : 512, mediaType), mediaType);
        wire = codec.encode(TOPIC, request);
    }

    @Benchmark
    public ImagingRequest decode() {
        return codec.decode(wire);
    }

    @Benchmark
    public byte[] encode() {
        return codec.encode(TOPIC, request);
    }
}
