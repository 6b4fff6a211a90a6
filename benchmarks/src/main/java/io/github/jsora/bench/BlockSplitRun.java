package io.github.jsora.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import io.github.jsora.dit.ForwardStats;

/**
 * Where an STDiT3-XL block pair's time goes: the {@link Stdit3Bench} forward of one shape, run several times, each
 * forward followed by the same-run fp32 sgemm ceiling ([N, 1152]·[1152, 4608], best of two). Prints per forward and
 * as medians over the forwards (and the SHA-256 of the first counted output, to check that two builds agree bit for bit): every stage lap of {@link ForwardStats} in ms, the split "linear products"
 * ({@code gemm}) / "attention" (its products and softmax) / "rest" (every other lap), the forward's GFLOP/s, the
 * ceiling's and their ratio.
 *
 * <p>Made for A/B comparisons of two builds run as alternating processes (the machine is shared):
 * {@code java -cp ... io.github.jsora.bench.BlockSplitRun [shape=xl32] [forwards=4] [label] [fp32|bf16]}; the first
 * forward is a warm-up and not counted. Set {@code OPENBLAS_CORETYPE} for the process to pick another OpenBLAS kernel.
 */
public final class BlockSplitRun {

    private BlockSplitRun() {
    }

    public static void main(String[] args) {
        String shape = args.length > 0 ? args[0] : "xl32";
        int forwards = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        String label = args.length > 2 ? args[2] : "";
        String precision = args.length > 3 ? args[3] : "fp32";
        String core = System.getenv("OPENBLAS_CORETYPE");
        Stdit3Bench bench = new Stdit3Bench();
        bench.shape = shape;
        bench.precision = precision;
        bench.setUp();
        double gflop = Stdit3Bench.flops(Stdit3Bench.geometry(shape), false) / 1e9;
        Map<String, double[]> laps = new LinkedHashMap<>();
        double[] total = new double[forwards];
        double[] ceiling = new double[forwards];
        try {
            bench.timeOne(false);
            for (int f = 0; f < forwards; f++) {
                bench.timeOne(false);
                ForwardStats st = bench.lastStats();
                total[f] = st.totalNanos() / 1e6;
                for (Map.Entry<String, Long> e : st.stageNanos().entrySet()) {
                    laps.computeIfAbsent(e.getKey(), k -> new double[forwards])[f] = e.getValue() / 1e6;
                }
                if (f == 0) {
                    System.out.printf("output sha-256 %s%n", sha256(bench.output().toArray()));
                }
                ceiling[f] = bench.ceiling();
                System.out.printf(Locale.ROOT, "forward %d: %.0f ms, %.1f GFLOP/s, ceiling %.1f GFLOP/s, ratio %.3f%n",
                        f, total[f], gflop * 1e3 / total[f], ceiling[f], gflop * 1e3 / total[f] / ceiling[f]);
            }
        } finally {
            bench.tearDown();
        }
        double linear = 0;
        double attention = 0;
        double rest = 0;
        StringBuilder stages = new StringBuilder();
        for (Map.Entry<String, double[]> e : laps.entrySet()) {
            double m = Medians.of(e.getValue());
            stages.append(String.format(Locale.ROOT, " %s=%.0f", e.getKey(), m));
            if (e.getKey().equals("gemm")) {
                linear += m;
            } else if (e.getKey().startsWith("attention")) {
                attention += m;
            } else {
                rest += m;
            }
        }
        double t = Medians.of(total);
        double gfs = gflop * 1e3 / t;
        double ceil = Medians.of(ceiling);
        System.out.printf(Locale.ROOT, "split %s %s %s OPENBLAS_CORETYPE=%s: %.0f ms (median of %d) = linear %.0f + "
                + "attention %.0f + rest %.0f; %.1f GFLOP/s, ceiling %.1f GFLOP/s, ratio %.3f; stages ms:%s%n", label,
                shape, precision, core == null ? "(unset)" : core, t, forwards, linear, attention, rest, gfs, ceil,
                gfs / ceil, stages);
    }

    /** SHA-256 of the floats' bits (little-endian), to check that two builds give identical outputs. */
    static String sha256(float[] v) {
        ByteBuffer buf = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(v);
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(buf.array()));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

}
