package io.github.jsora.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;

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
 * Attention-shaped batched products, 16 heads, head dim 72: scores = Q·Kᵀ ([16,N,72]·[16,N,72]ᵀ → [16,N,N]) and
 * out = P·V ([16,N,N]·[16,N,72] → [16,N,72]), the project's {@link Gemm#batchedMatmul} against a raw rank-3
 * {@code Nd4j.matmul} in the same run. FLOPs per product = 2·16·N·N·72.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"-Xmx8g", "--add-modules=jdk.incubator.vector"})
public class GemmBatchedBench {

    private static final int HEADS = 16;
    private static final int D = 72;

    @Param({"256", "1024", "4096"})
    public int n;

    private Tensor q;
    private Tensor k;
    private Tensor v;
    private Tensor s;
    private Tensor o;
    private INDArray rq;
    private INDArray rk;
    private INDArray rv;
    private INDArray rs;
    private INDArray ro;

    @Setup(Level.Trial)
    public void setup() {
        Random rnd = new Random(2);
        q = GemmBench.random(rnd, HEADS, n, D);
        k = GemmBench.random(rnd, HEADS, n, D);
        v = GemmBench.random(rnd, HEADS, n, D);
        s = Tensor.zeros(HEADS, n, n);
        o = Tensor.zeros(HEADS, n, D);
        rq = Nd4j.rand(DataType.FLOAT, HEADS, n, D);
        rk = Nd4j.rand(DataType.FLOAT, HEADS, n, D);
        rv = Nd4j.rand(DataType.FLOAT, HEADS, n, D);
        rs = Nd4j.create(DataType.FLOAT, HEADS, n, n);
        ro = Nd4j.create(DataType.FLOAT, HEADS, n, D);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        q.close();
        k.close();
        v.close();
        s.close();
        o.close();
    }

    @Benchmark
    public Tensor jsoraScoresQKt() {
        Gemm.batchedMatmul(q, false, k, true, s, 1f, 0f);
        return s;
    }

    @Benchmark
    public Tensor jsoraProbsTimesV() {
        Gemm.batchedMatmul(s, false, v, false, o, 1f, 0f);
        return o;
    }

    @Benchmark
    public INDArray rawNd4jScoresQKt() {
        return Nd4j.matmul(rq, rk, rs, false, true, false);
    }

    @Benchmark
    public INDArray rawNd4jProbsTimesV() {
        return Nd4j.matmul(rs, rv, ro, false, false, false);
    }
}
