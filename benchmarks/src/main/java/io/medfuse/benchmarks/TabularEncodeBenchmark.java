package io.medfuse.benchmarks;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.tabular.EncodedRow;
import io.medfuse.model.tabular.TabularEncoder;

/** Tabular encoding of one request (the bundled contract: age, sex, anatomical site), on the stream thread. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class TabularEncodeBenchmark {

    private TabularEncoder encoder;
    private Map<String, Object> complete;
    private Map<String, Object> missing;

    @Setup
    public void setUp() {
        encoder = new TabularEncoder(List.of(
                FeatureSpec.numeric("age", 50, 20, 0.0, 120.0, 50, true),
                FeatureSpec.categorical("sex", List.of("male", "female")),
                FeatureSpec.categorical("localization", List.of("back", "lower extremity", "trunk",
                        "upper extremity", "abdomen", "face", "chest", "foot", "scalp", "neck", "hand", "ear",
                        "genital", "acral"))));
        complete = new HashMap<>();
        complete.put("age", 45.0);
        complete.put("sex", "female");
        complete.put("localization", "trunk");
        missing = new HashMap<>();
        missing.put("age", null);
        missing.put("sex", null);
        missing.put("localization", "nowhere known");
    }

    @Benchmark
    public EncodedRow allPresent() {
        return encoder.encode(complete);
    }

    /** Imputation, unknown slots and flags. */
    @Benchmark
    public EncodedRow imputedAndUnknown() {
        return encoder.encode(missing);
    }
}
