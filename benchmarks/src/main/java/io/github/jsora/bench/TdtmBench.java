package io.github.jsora.bench;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import io.github.jsora.tensor.Tensor;

/**
 * Temporal Dimension Token Merging on and off, same run: the XL-width block pair of {@link Stdit3Bench}
 * ({@code xl32}: B = 2, T = 20, 32×32 latent) and the whole tiny-configuration forward ({@code tiny}, T = 5, so the
 * odd-T rule is in the measurement). Speed-up = time(merge=false) / time(merge=true) of the same shape.
 * Because the machine is shared, each measurement iteration is followed (in its teardown, outside the score) by
 * one forward of the other mode; the printed line "paired" gives both wall times from the same minute and the
 * speed-up plain / merged. Merged FLOPs (formula of {@link Stdit3Bench}): xl32 614.1 of 784.8 GFLOP, so the FLOP-bound speed-up is 1.28× (the
 * MLP, 16 of the 28·C² FLOPs per token of the linear layers, is not merged).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgs = {"-Xmx8g", "--add-modules=jdk.incubator.vector"})
public class TdtmBench {

    @Param({"xl32", "tiny"})
    public String shape;

    @Param({"false", "true"})
    public boolean merge;

    private final Stdit3Bench inner = new Stdit3Bench();

    @Setup(Level.Trial)
    public void setUp() {
        inner.shape = shape;
        inner.merge = merge;
        inner.setUp();
    }

    @TearDown(Level.Iteration)
    public void report() {
        inner.report();
        long thisMode = inner.timeOne(merge);
        long other = inner.timeOne(!merge);
        long plain = merge ? other : thisMode;
        long merged = merge ? thisMode : other;
        System.out.printf("paired %s: plain %.0f ms, merged %.0f ms, speed-up %.3f%n", shape, plain / 1e6,
                merged / 1e6, (double) plain / merged);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        inner.tearDown();
    }

    @Benchmark
    public Tensor forward() {
        return inner.forward();
    }
}
