package io.github.jsora.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
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

import io.github.jsora.tensor.Gemm;
import io.github.jsora.tensor.Tensor;

/**
 * The project's matrix product ({@link Gemm#matmul}) against a raw {@code Nd4j.gemm} on plain ND4J arrays, same
 * shapes, same run. GFLOP/s = 2·M·K·N / time; JMH reports ms/op, divide 2·M·K·N·1e-6 by it.
 * Shapes "MxKxN": A [M,K] · B [K,N].
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"-Xmx8g", "--add-modules=jdk.incubator.vector"})
public class GemmBench {

    @Param({"1024x1152x1152", "4096x1152x1152", "256x1152x4608"})
    public String shape;

    private Tensor a;
    private Tensor b;
    private Tensor c;
    private Tensor bt; // B stored transposed, [N, K]: the layout of nn.Linear weights
    private INDArray ra;
    private INDArray rb;
    private INDArray rc;

    @Setup(Level.Trial)
    public void setup() {
        String[] p = shape.split("x");
        int m = Integer.parseInt(p[0]), k = Integer.parseInt(p[1]), n = Integer.parseInt(p[2]);
        Random rnd = new Random(1);
        a = random(rnd, m, k);
        b = random(rnd, k, n);
        c = Tensor.zeros(m, n);
        bt = random(rnd, n, k);
        ra = Nd4j.rand(DataType.FLOAT, m, k);
        rb = Nd4j.rand(DataType.FLOAT, k, n);
        rc = Nd4j.create(DataType.FLOAT, m, n);
    }

    /** A tensor of N(0, 0.05²) values. */
    static Tensor random(RandomGenerator rnd, int... shape) {
        return random(rnd, 0.05f, shape);
    }

    /** A tensor of N(0, std²) values drawn from {@code rnd}. */
    static Tensor random(RandomGenerator rnd, float std, int... shape) {
        Tensor t = Tensor.zeros(shape);
        float[] buf = new float[(int) Math.min(t.size(), 1 << 20)];
        for (long off = 0; off < t.size(); off += buf.length) {
            int n = (int) Math.min(buf.length, t.size() - off);
            for (int i = 0; i < n; i++) {
                buf[i] = (float) rnd.nextGaussian() * std;
            }
            t.write(off, buf, 0, n);
        }
        return t;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        a.close();
        b.close();
        c.close();
        bt.close();
    }

    @Benchmark
    public Tensor jsoraMatmul() {
        Gemm.matmul(a, false, b, false, c, 1f, 0f);
        return c;
    }

    /** The path every model layer takes: x·Wᵀ with W in [out, in] layout. */
    @Benchmark
    public Tensor jsoraMatmulTransposedB() {
        Gemm.matmul(a, false, bt, true, c, 1f, 0f);
        return c;
    }

    @Benchmark
    public INDArray rawNd4jGemm() {
        return Nd4j.gemm(ra, rb, rc, false, false, 1.0, 0.0);
    }
}
