package io.github.jsora.bench;

import java.util.Locale;

import org.nd4j.linalg.api.blas.params.MMulTranspose;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
import org.nd4j.linalg.factory.Nd4j;

import io.github.jsora.tensor.Tensor;

/**
 * What ND4J's matmul op offers for attention-sized products in bf16, next to float32: the score product of STDiT3-XL's
 * spatial attention ({@code batch} matrices [n, d]·[n, d]ᵀ, by default 640 = B·T·heads of 256 × 72) as one batched
 * (rank-3) call and as one 2-D call per matrix, each in bf16 (bf16 output) and in float32; then whether a bf16 × bf16
 * product may write a float32 output. Prints per round the time and GFLOP/s of each, and the op's answer to the mixed
 * output. Nothing here is used by the library: it records why its attention products stay float32 in bf16 compute.
 *
 * <p>Usage: {@code java -cp ... io.github.jsora.bench.Bf16AttentionRoutesRun [rounds=3] [batch=640] [n=256] [d=72]}.
 */
public final class Bf16AttentionRoutesRun {

    private Bf16AttentionRoutesRun() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 640;
        int n = args.length > 2 ? Integer.parseInt(args[2]) : 256;
        int d = args.length > 3 ? Integer.parseInt(args[3]) : 72;
        Tensor.zeros(1).close(); // jsora's native set-up first: it requests AMX before ND4J loads
        Nd4j.getRandom().setSeed(1);
        INDArray q = Nd4j.randn(DataType.FLOAT, batch, n, d);
        INDArray k = Nd4j.randn(DataType.FLOAT, batch, n, d);
        INDArray qb = q.castTo(DataType.BFLOAT16);
        INDArray kb = k.castTo(DataType.BFLOAT16);
        INDArray sb = Nd4j.create(DataType.BFLOAT16, batch, n, n);
        INDArray sf = Nd4j.create(DataType.FLOAT, batch, n, n);
        MMulTranspose t = MMulTranspose.builder().transposeB(true).build();
        double gflop = 2.0 * batch * n * n * d / 1e9;
        System.out.printf(Locale.ROOT, "%d score products [%d, %d]·[%d, %d]ᵀ, %.2f GFLOP%n", batch, n, d, n, d, gflop);
        for (int r = 0; r < rounds; r++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < batch; i++) {
                Nd4j.exec(new Mmul(qb.slice(i), kb.slice(i), sb.slice(i), t));
            }
            long t1 = System.nanoTime();
            for (int i = 0; i < batch; i++) {
                Nd4j.exec(new Mmul(q.slice(i), k.slice(i), sf.slice(i), t));
            }
            long t2 = System.nanoTime();
            Nd4j.exec(new Mmul(q, k, sf, t));
            long t3 = System.nanoTime();
            System.out.printf(Locale.ROOT, "round %d: per-matrix calls bf16 %.1f ms (%.1f GFLOP/s, %.3f ms a call), "
                    + "float32 %.1f ms (%.1f GFLOP/s); one batched call float32 %.1f ms (%.1f GFLOP/s)%n", r,
                    ms(t0, t1), gflop / sec(t0, t1), ms(t0, t1) / batch, ms(t1, t2), gflop / sec(t1, t2), ms(t2, t3),
                    gflop / sec(t2, t3));
        }
        // the batched bf16 call last, on a tenth of the batch: it takes seconds
        int few = Math.max(1, batch / 10);
        INDArray qf = qb.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, few)).dup();
        INDArray kf = kb.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, few)).dup();
        INDArray sfew = Nd4j.create(DataType.BFLOAT16, few, n, n);
        long t0 = System.nanoTime();
        Nd4j.exec(new Mmul(qf, kf, sfew, t));
        long t1 = System.nanoTime();
        System.out.printf(Locale.ROOT, "one batched call bf16 on %d matrices: %.1f ms (%.2f GFLOP/s)%n", few,
                ms(t0, t1), gflop * few / batch / sec(t0, t1));
        INDArray mixed = Nd4j.create(DataType.FLOAT, n, n);
        try {
            Nd4j.exec(new Mmul(qb.slice(0), kb.slice(0), mixed, t));
            System.out.println("bf16 × bf16 → float32 output: accepted");
        } catch (RuntimeException e) {
            Throwable c = e;
            while (c.getCause() != null) {
                c = c.getCause();
            }
            System.out.println("bf16 × bf16 → float32 output: refused: " + c.getMessage());
        }
    }

    private static double ms(long a, long b) {
        return (b - a) / 1e6;
    }

    private static double sec(long a, long b) {
        return (b - a) / 1e9;
    }
}
