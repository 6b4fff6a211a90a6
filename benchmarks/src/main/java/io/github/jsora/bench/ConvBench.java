package io.github.jsora.bench;

import java.util.Random;
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

import io.github.jsora.tensor.Conv;
import io.github.jsora.tensor.Tensor;

/**
 * {@link Conv} algorithms (ND4J/oneDNN native call vs im2col + Gemm) on the 3×3(×3), stride 1, pad 1 convolutions
 * of the VAE decoders, from toy sizes to the real widths. Shape "2d:I-O-H" is [1, I, H, H] → [1, O, H, H];
 * "3d:I-O-T-H" is a causal conv on a front-padded [1, I, T+2, H, H] → [1, O, T, H, H].
 * GFLOP/s = 2·I·O·k·outputs / time (k = 9 or 27).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgs = {"-Xmx8g", "--add-modules=jdk.incubator.vector"})
public class ConvBench {

    @Param({"2d:8-8-16", "2d:32-32-32", "2d:64-64-64", "2d:128-128-64", "2d:512-512-32", "2d:256-256-128",
        "3d:32-32-5-8", "3d:64-64-5-16", "3d:128-128-20-32", "3d:512-512-5-32"})
    public String shape;

    @Param({"NATIVE", "IM2COL"})
    public Conv.Algorithm algorithm;

    private Tensor x;
    private Tensor w;
    private Tensor b;
    private Tensor out;
    private int[] stride;
    private int[] pad;

    @Setup(Level.Trial)
    public void setup() {
        String[] kind = shape.split(":");
        String[] p = kind[1].split("-");
        int i = Integer.parseInt(p[0]);
        int o = Integer.parseInt(p[1]);
        Random rnd = new Random(3);
        if (kind[0].equals("2d")) {
            int h = Integer.parseInt(p[2]);
            x = GemmBench.random(rnd, 1, i, h, h);
            w = GemmBench.random(rnd, o, i, 3, 3);
            out = Tensor.zeros(1, o, h, h);
            stride = new int[] {1, 1};
            pad = new int[] {1, 1};
        } else {
            int t = Integer.parseInt(p[2]);
            int h = Integer.parseInt(p[3]);
            x = GemmBench.random(rnd, 1, i, t + 2, h, h);
            w = GemmBench.random(rnd, o, i, 3, 3, 3);
            out = Tensor.zeros(1, o, t, h, h);
            stride = new int[] {1, 1, 1};
            pad = new int[] {0, 1, 1};
        }
        b = GemmBench.random(rnd, o);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        x.close();
        w.close();
        b.close();
        out.close();
    }

    @Benchmark
    public Tensor conv() {
        Conv.conv(x, w, b, stride, pad, out, algorithm);
        return out;
    }
}
