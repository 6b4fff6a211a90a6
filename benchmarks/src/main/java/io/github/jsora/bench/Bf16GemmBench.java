package io.github.jsora.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.nd4j.linalg.api.blas.params.MMulTranspose;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
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

import io.github.jsora.tensor.Bf16Gemm;
import io.github.jsora.tensor.Gemm;
import io.github.jsora.tensor.PackedWeight;
import io.github.jsora.tensor.Tensor;

/**
 * A layer's product {@code x [M, K] · Wᵀ} ({@code W [N, K]}) at transformer shapes, by every route in the bundled
 * ND4J build, same run: {@code fp32Sgemm} (the project's {@link Gemm#linear}, OpenBLAS {@code cblas_sgemm}: the
 * float32 ceiling), {@code fp32Onednn} (ND4J's matmul op on float32, which libnd4j hands to oneDNN),
 * {@code bf16Ceiling} (the matmul op on operands already in bf16, bf16 output: the bf16 ceiling),
 * {@code bf16Native} ({@link Bf16Gemm#linear} on the native route: float32 in, activations rounded to bf16, float32
 * out) and {@code bf16Expand} (the fallback: bf16 weight expanded to float32, then sgemm). GFLOP/s = 2·M·K·N / time.
 * The bundled OpenBLAS 0.3.19 exports no {@code cblas_sbgemm} (checked with {@code nm -D}), and the JavaCPP oneDNN
 * bindings are not on the classpath, so the matmul op is the only native bf16 route. {@link Bf16GemmAbRun}
 * alternates the same variants round by round.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgs = {"-Xmx8g", "--add-modules=jdk.incubator.vector"})
public class Bf16GemmBench {

    /** "MxKxN": STDiT3-XL at B·T·S = 2·20·256 rows (attention 1152², MLP 1152↔4608), T5-XXL at 2·300 rows. */
    @Param({"10240x1152x1152", "10240x1152x4608", "10240x4608x1152", "600x4096x4096", "600x4096x10240",
            "600x10240x4096"})
    public String shape;

    int m;
    int k;
    int n;
    Tensor x;
    Tensor w;
    Tensor out;
    PackedWeight packed;
    Tensor scratch;
    INDArray xb;
    INDArray wb;
    INDArray ob;
    INDArray wf;

    @Setup(Level.Trial)
    public void setup() {
        String[] p = shape.split("x");
        m = Integer.parseInt(p[0]);
        k = Integer.parseInt(p[1]);
        n = Integer.parseInt(p[2]);
        Random rnd = new Random(1);
        x = GemmBench.random(rnd, 1f, m, k);
        w = GemmBench.random(rnd, 0.02f, n, k);
        out = Tensor.zeros(m, n);
        packed = PackedWeight.pack(w, PackedWeight.Format.BF16);
        scratch = Tensor.zeros(Math.toIntExact(Bf16Gemm.scratchFloats(m, packed)));
        xb = x.nd4j().castTo(DataType.BFLOAT16);
        wb = w.nd4j().castTo(DataType.BFLOAT16);
        ob = Nd4j.create(DataType.BFLOAT16, m, n);
        wf = w.nd4j();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        x.close();
        w.close();
        out.close();
        packed.close();
        scratch.close();
    }

    /** Floating-point operations of one product. */
    double flop() {
        return 2.0 * m * k * n;
    }

    @Benchmark
    public Tensor fp32Sgemm() {
        Gemm.linear(x, w, null, out);
        return out;
    }

    @Benchmark
    public Tensor fp32Onednn() {
        Nd4j.exec(new Mmul(x.nd4j(), wf, out.nd4j(), MMulTranspose.builder().transposeB(true).build()));
        return out;
    }

    @Benchmark
    public INDArray bf16Ceiling() {
        Nd4j.exec(new Mmul(xb, wb, ob, MMulTranspose.builder().transposeB(true).build()));
        return ob;
    }

    @Benchmark
    public Tensor bf16Native() {
        Bf16Gemm.linear(x, packed, null, out, scratch, Bf16Gemm.Route.NATIVE);
        return out;
    }

    @Benchmark
    public Tensor bf16Expand() {
        Bf16Gemm.linear(x, packed, null, out, scratch, Bf16Gemm.Route.EXPAND);
        return out;
    }
}
