package io.github.jsora.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;
import java.util.Random;

import io.github.jsora.tensor.Ops;

/**
 * Single-thread row kernels, existing against new, alternating, timed in thread CPU time (so that the other
 * processes of a shared machine do not enter the figure): softmax rows of 256 (spatial attention) and of 20
 * (temporal, the new kernel taking a block of rows at once), LayerNorm rows of 1152 (STDiT3-XL) and 4096 (T5-XXL).
 * Prints ns an element, medians of the rounds, and the speed-up.
 *
 * <p>Usage: {@code java -cp ... io.github.jsora.bench.RowKernelsAbRun [rounds]} (default 9, after a warm-up).
 */
public final class RowKernelsAbRun {

    private static final int ELEMENTS = 1 << 16;

    private RowKernelsAbRun() {
    }

    @FunctionalInterface
    private interface Kernel {
        void run(float[] v);
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 9;
        compare("softmax n=256", 256, v -> {
            for (int o = 0; o < v.length; o += 256) {
                Ops.softmaxRow(v, o, 256, 0.12f, null);
            }
        }, v -> {
            for (int o = 0; o < v.length; o += 256) {
                Ops.softmaxRowFast(v, o, 256, 0.12f, null);
            }
        }, rounds);
        compare("softmax n=20", 20, v -> {
            for (int o = 0; o + 20 <= v.length; o += 20) {
                Ops.softmaxRow(v, o, 20, 0.12f, null);
            }
        }, v -> {
            int per = 204; // Attention's block: 4096 / 20 rows
            for (int o = 0; o + 20 <= v.length; o += per * 20) {
                Ops.softmaxRowsFast(v, o, Math.min(per, (v.length - o) / 20), 20, 0.12f);
            }
        }, rounds);
        for (int c : new int[] {1152, 4096}) {
            compare("layerNorm c=" + c, c, v -> {
                float[] row = new float[c];
                for (int o = 0; o + c <= v.length; o += c) {
                    System.arraycopy(v, o, row, 0, c);
                    Ops.layerNormRow(row, c, 1e-6);
                    System.arraycopy(row, 0, v, o, c);
                }
            }, v -> {
                float[] row = new float[c];
                for (int o = 0; o + c <= v.length; o += c) {
                    System.arraycopy(v, o, row, 0, c);
                    Ops.layerNormRowFast(row, 0, c, 1e-6f);
                    System.arraycopy(row, 0, v, o, c);
                }
            }, rounds);
        }
    }

    private static void compare(String name, int n, Kernel old, Kernel neu, int rounds) {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        Random rnd = new Random(5);
        float[] base = new float[ELEMENTS];
        for (int i = 0; i < base.length; i++) {
            base[i] = (float) (rnd.nextGaussian() * 4);
        }
        float[] v = new float[ELEMENTS];
        int reps = 50;
        double[][] ns = new double[2][rounds];
        for (int r = -3; r < rounds; r++) {
            for (int k = 0; k < 2; k++) {
                long t0 = mx.getCurrentThreadCpuTime();
                for (int rep = 0; rep < reps; rep++) {
                    System.arraycopy(base, 0, v, 0, v.length);
                    (k == 0 ? old : neu).run(v);
                }
                long t1 = mx.getCurrentThreadCpuTime();
                if (r >= 0) {
                    ns[k][r] = (t1 - t0) / ((double) reps * ELEMENTS);
                }
            }
        }
        double a = Medians.of(ns[0]);
        double b = Medians.of(ns[1]);
        System.out.printf(Locale.ROOT, "%s: existing %.2f ns/element, new %.2f ns/element, speed-up %.2f%n", name, a,
                b, a / b);
    }

}
