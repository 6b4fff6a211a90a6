package io.github.jsora.bench;

import java.util.Locale;
import java.util.SplittableRandom;

import io.github.jsora.tensor.Ops;

/**
 * The attention softmax alone, on one thread: {@link Ops#softmaxRowsFast} (bf16 compute) and {@link Ops#softmaxRows}
 * (float32, exact exp) over blocks of score rows of length n, about 44 M elements a round, alternated; prints ns per
 * element for each round. Rows of 256 are STDiT3-XL's spatial attention, 300 its cross-attention, 20 the temporal.
 *
 * <p>Usage: {@code java -cp ... io.github.jsora.bench.SoftmaxRowsRun [n=256] [rounds=3] [block|row]}; run two
 * builds as alternating processes to compare them. {@code row} calls {@link Ops#softmaxRowFast} and
 * {@link Ops#softmaxRow} row by row instead (the few-keys cross-attention, and T5's masked rows do), where a row's
 * tail is not part of a longer run.
 */
public final class SoftmaxRowsRun {

    private static final long ELEMENTS = 42L << 20;

    private SoftmaxRowsRun() {
    }

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 256;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        boolean byRow = args.length > 2 && args[2].equals("row");
        int rows = Math.max(1, 65536 / n);                        // a block of scores as one attention item holds
        float[] src = new float[rows * n];
        SplittableRandom rnd = new SplittableRandom(1);
        for (int i = 0; i < src.length; i++) {
            src[i] = (float) (rnd.nextGaussian() * 3);
        }
        float[] v = new float[src.length];
        int reps = (int) (ELEMENTS / src.length);
        double total = (double) reps * src.length;
        for (int r = -1; r < rounds; r++) {
            long fast = 0;
            long exact = 0;
            for (int k = 0; k < reps; k++) {
                System.arraycopy(src, 0, v, 0, v.length);
                long t0 = System.nanoTime();
                if (byRow) {
                    for (int row = 0; row < rows; row++) {
                        Ops.softmaxRowFast(v, row * n, n, 0.117f, null);
                    }
                } else {
                    Ops.softmaxRowsFast(v, 0, rows, n, 0.117f);
                }
                long t1 = System.nanoTime();
                System.arraycopy(src, 0, v, 0, v.length);
                long t2 = System.nanoTime();
                if (byRow) {
                    for (int row = 0; row < rows; row++) {
                        Ops.softmaxRow(v, row * n, n, 0.117f, null);
                    }
                } else {
                    Ops.softmaxRows(v, 0, rows, n, 0.117f);
                }
                long t3 = System.nanoTime();
                fast += t1 - t0;
                exact += t3 - t2;
            }
            System.out.printf(Locale.ROOT, "%s n=%d%s: fast %.2f ns an element, exact %.2f%n",
                    r < 0 ? "warm-up" : "round " + r, n, byRow ? " by row" : "", fast / total, exact / total);
        }
    }
}
