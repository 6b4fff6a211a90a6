package io.github.jsora.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

import io.github.jsora.tensor.Conv;
import io.github.jsora.tensor.Parallel;
import io.github.jsora.tensor.Tensor;

import org.nd4j.linalg.api.blas.params.MMulTranspose;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Would a bf16 VAE pay on this stack? ND4J does not hand a bf16 {@code conv2d} to oneDNN (see
 * {@code VaeBench.ConvPrecision}), so this times the other route a bf16 convolution could take: im2col in Java
 * (float32 columns [C·9, H·W]), the columns rounded to bf16 (ND4J cast), one bf16 product {@code w [O, C·9] · cols}
 * (oneDNN, AMX where {@code Amx} requested it; bf16 output), widened to float32. Alternated per round with the
 * float32 native convolution jsora's VAE runs ({@link Conv#conv2d}); prints per shape the median of each part and
 * the bf16 route's relative L2 error against float32.
 *
 * <p>Usage: {@code java -cp ... io.github.jsora.bench.ConvBf16AbRun [rounds] [CxHW ...]} (default 5 rounds after
 * one warm-up round; 3×3 convolutions C → C at HW×HW, default the VAE decoder's three widths 512x64, 256x128,
 * 128x256).
 */
public final class ConvBf16AbRun {

    private ConvBf16AbRun() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        String[] shapes = args.length > 1 ? Arrays.copyOfRange(args, 1, args.length)
                : new String[] {"512x64", "256x128", "128x256"};
        System.out.printf(Locale.ROOT, "3x3 convolutions, batch 1, %d rounds (medians)%n", rounds);
        for (String shape : shapes) {
            String[] p = shape.split("x");
            run(Integer.parseInt(p[0]), Integer.parseInt(p[1]), rounds);
        }
    }

    private static void run(int c, int hw, int rounds) {
        int k = 9 * c;
        int s = hw * hw;
        double gflop = 2.0 * c * k * s / 1e9;
        SplittableRandom rnd = new SplittableRandom(1);
        float[] xv = new float[c * s];
        for (int i = 0; i < xv.length; i++) {
            xv[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        float[] wv = new float[c * k];
        for (int i = 0; i < wv.length; i++) {
            wv[i] = (float) ((rnd.nextDouble() * 2 - 1) / Math.sqrt(k));
        }
        String[] parts = {"fp32 native conv", "bf16 route", "im2col", "cast", "bf16 product", "widen"};
        double[][] ms = new double[parts.length][rounds];
        try (Tensor x = Tensor.of(xv, 1, c, hw, hw); Tensor w = Tensor.of(wv, c, c, 3, 3);
                Tensor ref = Tensor.zeros(1, c, hw, hw); Tensor out = Tensor.zeros(1, c, hw, hw);
                Tensor cols = Tensor.zeros(k, s);
                INDArray colsBf16 = Nd4j.create(DataType.BFLOAT16, k, s);
                INDArray wBf16 = w.reshape(c, k).nd4j().castTo(DataType.BFLOAT16);
                INDArray outBf16 = Nd4j.create(DataType.BFLOAT16, c, s)) {
            for (int r = -1; r < rounds; r++) {
                long t0 = System.nanoTime();
                Conv.conv2d(x, w, null, 1, 1, ref);
                long t1 = System.nanoTime();
                im2col3x3(x, c, hw, cols);
                long t2 = System.nanoTime();
                colsBf16.assign(cols.nd4j());
                long t3 = System.nanoTime();
                Nd4j.exec(new Mmul(wBf16, colsBf16, outBf16, MMulTranspose.builder().build()));
                long t4 = System.nanoTime();
                out.reshape(c, s).nd4j().assign(outBf16);
                long t5 = System.nanoTime();
                if (r >= 0) {
                    long[] t = {t0, t1, t2, t3, t4, t5};
                    ms[0][r] = (t1 - t0) / 1e6;
                    ms[1][r] = (t5 - t1) / 1e6;
                    for (int i = 2; i < parts.length; i++) {
                        ms[i][r] = (t[i] - t[i - 1]) / 1e6;
                    }
                }
            }
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%d -> %d at %dx%d (%.2f GFLOP):", c, c,
                    hw, hw, gflop));
            for (int i = 0; i < parts.length; i++) {
                double m = Medians.of(ms[i]);
                line.append(String.format(Locale.ROOT, " %s %.1f ms", parts[i], m));
                if (i == 0 || i == 1 || i == 4) {
                    line.append(String.format(Locale.ROOT, " (%.0f GFLOP/s)", gflop / m * 1e3));
                }
                line.append(';');
            }
            line.append(String.format(Locale.ROOT, " bf16 route / fp32 %.2f; relative L2 error %.2e",
                    Medians.of(ms[1]) / Medians.of(ms[0]), relativeL2(out.toArray(), ref.toArray())));
            System.out.println(line);
        }
    }

    /** cols [C·9, HW·HW]: row (ch·3 + dy)·3 + dx is channel ch shifted by (dy − 1, dx − 1), zeros outside. */
    private static void im2col3x3(Tensor x, int c, int hw, Tensor cols) {
        int s = hw * hw;
        Parallel.forRange(c, 9L * s, (from, to) -> {
            float[] src = new float[s];
            float[] row = new float[s];
            for (int ch = from; ch < to; ch++) {
                x.read((long) ch * s, src, 0, s);
                for (int dy = 0; dy < 3; dy++) {
                    for (int dx = 0; dx < 3; dx++) {
                        int p = 0;
                        for (int y = 0; y < hw; y++) {
                            int iy = y - 1 + dy;
                            for (int xx = 0; xx < hw; xx++) {
                                int ix = xx - 1 + dx;
                                row[p++] = iy < 0 || iy >= hw || ix < 0 || ix >= hw ? 0f : src[iy * hw + ix];
                            }
                        }
                        cols.write((long) ((ch * 3 + dy) * 3 + dx) * s, row, 0, s);
                    }
                }
            }
        });
    }


    private static double relativeL2(float[] a, float[] ref) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            double d = a[i] - ref[i];
            num += d * d;
            den += (double) ref[i] * ref[i];
        }
        return Math.sqrt(num / den);
    }
}
