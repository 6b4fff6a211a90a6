package io.github.jsora.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.DType;
import io.github.jsora.weights.RandomModel;
import io.github.jsora.weights.SafetensorsFile;

/**
 * Reading a 1 GiB BF16 safetensors file (made by the benchmark in a temp dir: 16 tensors of 32 M elements):
 * mapping plus conversion to float32 into native tensors. GB/s = 1.0737 GB (file bytes) / (s/op). The file stays
 * in the page cache after the first iteration, so this measures mapping + conversion, not the disk.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgs = {"-Xmx4g", "--add-modules=jdk.incubator.vector"})
public class WeightsBench {

    private static final int TENSORS = 16;
    private static final int ELEMENTS = 32 * 1024 * 1024; // 64 MiB of BF16 each → 1 GiB

    private Path dir;
    private Path file;
    private Tensor[] targets;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        dir = Files.createTempDirectory("jsora-weights-bench");
        file = dir.resolve("bf16.safetensors");
        BlockLayout.Builder layout = BlockLayout.builder().block("all");
        for (int i = 0; i < TENSORS; i++) {
            layout.tensor("w." + i, ELEMENTS);
        }
        RandomModel.seeded(3).write(file, layout.build(), RandomModel.Format.of(DType.BF16));
        targets = new Tensor[TENSORS];
        for (int i = 0; i < TENSORS; i++) {
            targets[i] = Tensor.zeros(ELEMENTS);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        for (Tensor t : targets) {
            t.close();
        }
        Files.deleteIfExists(file);
        Files.deleteIfExists(dir);
    }

    @Benchmark
    public Tensor mapAndConvertBf16() {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (int i = 0; i < TENSORS; i++) {
                f.loadInto("w." + i, targets[i]);
            }
        }
        return targets[0];
    }
}
