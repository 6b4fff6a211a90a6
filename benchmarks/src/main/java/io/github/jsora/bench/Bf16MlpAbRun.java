package io.github.jsora.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

import io.github.jsora.tensor.Bf16Gemm;
import io.github.jsora.tensor.Bf16Matrix;
import io.github.jsora.tensor.Ops;
import io.github.jsora.tensor.PackedWeight;
import io.github.jsora.tensor.Parallel;
import io.github.jsora.tensor.Tensor;

/**
 * STDiT3-XL's MLP in bf16 compute at the XL pair's token count (B=2, T=20, 256²: 10240 rows, 1152 → 4608 → 1152),
 * two ways alternated round by round in one process, with the same bits checked:
 * <ul>
 * <li><b>widened</b>: {@link Bf16Gemm#linear} for fc1 into a float32 hidden layer, the bias and GELU in float32, and
 * {@link Bf16Gemm#linear} for fc2 (each product rounds its input to bf16 and widens its output);</li>
 * <li><b>bf16 hidden</b>: the hidden layer stays bf16 ({@link Bf16Gemm#product}), the bias and GELU in one
 * {@link Bf16Matrix#transformRows} pass.</li>
 * </ul>
 * Prints each round's milliseconds and the medians. Usage: {@code java -cp ... io.github.jsora.bench.Bf16MlpAbRun
 * [rounds=8] [rows=10240]}. The native route is forced.
 */
public final class Bf16MlpAbRun {

    private static final int C = 1152;
    private static final int MLP = 4608;

    private Bf16MlpAbRun() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        int rows = args.length > 1 ? Integer.parseInt(args[1]) : 10240;
        Bf16Gemm.setRoute(Bf16Gemm.Route.NATIVE);
        SplittableRandom rnd = new SplittableRandom(7);
        try (Tensor x = random(rnd, 1f, rows, C);
                Tensor w1f = random(rnd, 0.03f, MLP, C);
                Tensor w2f = random(rnd, 0.015f, C, MLP);
                PackedWeight w1 = PackedWeight.pack(w1f, PackedWeight.Format.BF16);
                PackedWeight w2 = PackedWeight.pack(w2f, PackedWeight.Format.BF16);
                Tensor hidden = Tensor.zeros(rows, MLP);
                Tensor outA = Tensor.zeros(rows, C);
                Tensor outB = Tensor.zeros(rows, C);
                Tensor scratch = Tensor.zeros(Math.toIntExact(Bf16Matrix.floats(rows, C)
                        + Bf16Matrix.floats(rows, MLP)))) {
            float[] bias = new float[MLP];
            for (int i = 0; i < MLP; i++) {
                bias[i] = (float) (rnd.nextGaussian() * 0.1);
            }
            double[] a = new double[rounds];
            double[] b = new double[rounds];
            for (int r = -1; r < rounds; r++) {
                long t0 = System.nanoTime();
                Bf16Gemm.linear(x, w1, null, hidden, scratch);
                geluRows(hidden, bias);
                Bf16Gemm.linear(hidden, w2, null, outA, scratch);
                long t1 = System.nanoTime();
                Bf16Matrix in = Bf16Matrix.in(scratch, 0, rows, C);
                Bf16Matrix h = Bf16Matrix.in(scratch, Bf16Matrix.floats(rows, C), rows, MLP);
                in.roundFrom(x);
                Bf16Gemm.product(in, w1, h);
                h.transformRows((row, v) -> {
                    for (int i = 0; i < MLP; i++) {
                        v[i] = Ops.geluTanh(v[i] + bias[i]);
                    }
                }, 16);
                Bf16Matrix out = Bf16Matrix.in(scratch, 0, rows, C);
                Bf16Gemm.product(h, w2, out);
                out.widenInto(outB);
                long t2 = System.nanoTime();
                boolean same = Arrays.equals(outA.toArray(), outB.toArray());
                System.out.printf(Locale.ROOT, "%s: widened %.1f ms, bf16 hidden %.1f ms, same bits %s%n",
                        r < 0 ? "warm-up" : "round " + r, (t1 - t0) / 1e6, (t2 - t1) / 1e6, same);
                if (!same) {
                    throw new IllegalStateException("the two MLPs differ");
                }
                if (r >= 0) {
                    a[r] = (t1 - t0) / 1e6;
                    b[r] = (t2 - t1) / 1e6;
                }
            }
            System.out.printf(Locale.ROOT, "medians over %d rounds (%d rows): widened %.1f ms, bf16 hidden %.1f ms, "
                    + "ratio %.3f%n", rounds, rows, Medians.of(a), Medians.of(b), Medians.of(a) / Medians.of(b));
        }
    }

    /** hidden = GELU(hidden + bias), float32, rows over the compute threads (as the block's {@code biasGelu}). */
    private static void geluRows(Tensor hidden, float[] bias) {
        Parallel.forRange(hidden.dim(0), (long) MLP * 16, (from, to) -> {
            float[] row = new float[MLP];
            for (int r = from; r < to; r++) {
                hidden.read((long) r * MLP, row, 0, MLP);
                for (int i = 0; i < MLP; i++) {
                    row[i] = Ops.geluTanh(row[i] + bias[i]);
                }
                hidden.write((long) r * MLP, row, 0, MLP);
            }
        });
    }

    private static Tensor random(SplittableRandom rnd, float scale, int... shape) {
        Tensor t = Tensor.zeros(shape);
        float[] v = new float[Math.toIntExact(t.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextGaussian() * scale);
        }
        t.write(0, v, 0, v.length);
        return t;
    }
}
