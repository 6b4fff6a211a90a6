package io.github.jsora.bench;

import java.util.Arrays;
import java.util.Locale;

/**
 * Alternating timing of the {@link Bf16GemmBench} variants: each round runs every variant once per shape, so the
 * drift of a shared machine hits all alike; prints, per shape, the median GFLOP/s of each variant and its ratio to
 * the same-run float32 sgemm ceiling and to the bf16 ceiling. Records the {@code OPENBLAS_CORETYPE} of the run.
 *
 * <p>Usage: {@code java -cp ... io.github.jsora.bench.Bf16GemmAbRun [rounds] [MxKxN ...]} (default 5 rounds after
 * one warm-up round, the bench's shapes).
 */
public final class Bf16GemmAbRun {

    private static final String[] VARIANTS = {"fp32Sgemm", "fp32Onednn", "bf16Ceiling", "bf16Native", "bf16Expand"};

    private Bf16GemmAbRun() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        String[] shapes = args.length > 1 ? Arrays.copyOfRange(args, 1, args.length)
                : new String[] {"10240x1152x1152", "10240x1152x4608", "10240x4608x1152", "600x4096x4096",
                    "600x4096x10240", "600x10240x4096"};
        String core = System.getenv("OPENBLAS_CORETYPE");
        System.out.printf(Locale.ROOT, "OPENBLAS_CORETYPE=%s, %d rounds%n", core == null ? "(unset)" : core, rounds);
        for (String shape : shapes) {
            Bf16GemmBench b = new Bf16GemmBench();
            b.shape = shape;
            b.setup();
            double[][] secs = new double[VARIANTS.length][rounds];
            for (int r = -1; r < rounds; r++) {
                for (int v = 0; v < VARIANTS.length; v++) {
                    long t0 = System.nanoTime();
                    run(b, v);
                    double s = (System.nanoTime() - t0) / 1e9;
                    if (r >= 0) {
                        secs[v][r] = s;
                    }
                }
            }
            double[] med = new double[VARIANTS.length];
            for (int v = 0; v < VARIANTS.length; v++) {
                med[v] = Medians.of(secs[v]);
            }
            StringBuilder line = new StringBuilder(shape + ":");
            for (int v = 0; v < VARIANTS.length; v++) {
                line.append(String.format(Locale.ROOT, " %s %.1f ms %.0f GFLOP/s (%.2f fp32, %.2f bf16);",
                        VARIANTS[v], med[v] * 1e3, b.flop() / med[v] / 1e9, med[0] / med[v], med[2] / med[v]));
            }
            System.out.println(line);
            b.tearDown();
        }
    }

    private static void run(Bf16GemmBench b, int v) {
        switch (v) {
            case 0 -> b.fp32Sgemm();
            case 1 -> b.fp32Onednn();
            case 2 -> b.bf16Ceiling();
            case 3 -> b.bf16Native();
            default -> b.bf16Expand();
        }
    }
}
