package io.github.jsora.dit;

import java.util.Locale;
import java.util.Random;

import io.github.jsora.tensor.Attention;
import io.github.jsora.tensor.Tensor;

/**
 * The STDiT3-XL block kernels outside the linear products, existing against new, alternating in one process, at
 * B=2, T=20, S=256 (10,240 tokens, 16 heads of 72): self-attention from the qkv rows to token rows (head split with
 * q/k norm (+ rotary for temporal), attention, head merge against heads in place) for spatial and temporal
 * sequences; the attention's score slab (whole budget against 4 MiB); the modulated LayerNorm (row at a time against
 * four interleaved rows). Prints the minimum and median wall ms of each over the rounds (minimum: the least disturbed
 * by the other processes of a shared machine) and the speed-up of the minima.
 *
 * <p>Usage: {@code java -cp ... io.github.jsora.dit.BlockKernelsAbRun [rounds] [name filter]} (default 7 rounds, after
 * one warm-up; only the comparisons whose name contains the filter).
 * In the {@code io.github.jsora.dit} package because the kernels are package-private.
 */
public final class BlockKernelsAbRun {

    private static final int B = 2;
    private static final int T = 20;
    private static final int S = 256;
    private static final int HEADS = 16;
    private static final int HD = 72;
    private static final int C = HEADS * HD;
    private static final int ROWS = B * T * S;

    /** Runs only the comparisons whose name contains this (second argument). */
    private static String only = "";

    private BlockKernelsAbRun() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 7;
        only = args.length > 1 ? args[1] : "";
        String core = System.getenv("OPENBLAS_CORETYPE");
        System.out.printf(Locale.ROOT, "OPENBLAS_CORETYPE=%s, %d rounds%n", core == null ? "(unset)" : core, rounds);
        Random rnd = new Random(9);
        float[] qkvInit = randn(rnd, ROWS * 3 * C);
        float[] bias = randn(rnd, 3 * C);
        float[][] norms = {randn(rnd, HD), randn(rnd, HD)};
        float[] freqs = new float[HD / 2];
        for (int i = 0; i < freqs.length; i++) {
            freqs[i] = (float) Math.pow(10000, -2.0 * i / HD);
        }
        float[][] rope = Kernels.ropeTables(freqs, T);
        float scale = (float) (1 / Math.sqrt(HD));
        try (Tensor qkv = Tensor.zeros(ROWS, 3 * C); Tensor q = Tensor.zeros(ROWS * C); Tensor k = Tensor.zeros(ROWS * C);
                Tensor v = Tensor.zeros(ROWS * C); Tensor ao = Tensor.zeros(ROWS * C); Tensor out = Tensor.zeros(ROWS, C);
                Tensor scores = Tensor.zeros(48 * 1024 * 1024); Tensor x = Tensor.of(randn(rnd, ROWS * C), ROWS, C);
                Tensor xm = Tensor.zeros(ROWS, C)) {
            for (boolean temporal : new boolean[] {false, true}) {
                Kernels.Sequences seqs = temporal ? Kernels.Sequences.temporal(B, T, S)
                        : Kernels.Sequences.spatial(B, T, S);
                float[] cos = temporal ? rope[0] : null;
                float[] sin = temporal ? rope[1] : null;
                int nseq = seqs.count() * HEADS;
                int len = seqs.len();
                compare((temporal ? "temporal" : "spatial") + " self-attention (split, attend, merge)", rounds, () -> {
                    qkv.write(0, qkvInit, 0, qkvInit.length);
                    long t0 = System.nanoTime();
                    HeadCopies.splitHeads(qkv, bias, seqs, HEADS, HD, new Tensor[] {q, k, v}, norms, cos, sin, scale);
                    Attention.sdpa(q.view(0, nseq, len, HD), k.view(0, nseq, len, HD), v.view(0, nseq, len, HD), 1f,
                            null, null, scores, ao.view(0, nseq, len, HD));
                    HeadCopies.mergeHeads(ao, seqs, HEADS, HD, out);
                    return System.nanoTime() - t0;
                }, () -> {
                    qkv.write(0, qkvInit, 0, qkvInit.length);
                    long t0 = System.nanoTime();
                    Kernels.prepareHeads(qkv, bias, seqs, 3, HEADS, HD, norms, cos, sin, scale);
                    int ld = seqs.ld(3 * C);
                    Attention.sdpa(new Attention.Strided(qkv, seqs.headOffsets(HEADS, HD, 3 * C, 0), ld),
                            new Attention.Strided(qkv, seqs.headOffsets(HEADS, HD, 3 * C, C), ld),
                            new Attention.Strided(qkv, seqs.headOffsets(HEADS, HD, 3 * C, 2 * C), ld), len, len, HD,
                            HD, 1f, scores, new Attention.Strided(out, seqs.headOffsets(HEADS, HD, C, 0), seqs.ld(C)));
                    return System.nanoTime() - t0;
                });
            }
            for (boolean temporal : new boolean[] {false, true}) {
                Kernels.Sequences seqs = temporal ? Kernels.Sequences.temporal(B, T, S)
                        : Kernels.Sequences.spatial(B, T, S);
                int nseq = seqs.count() * HEADS;
                int len = seqs.len();
                String kind = temporal ? "temporal" : "spatial";
                compare(kind + " head preparation (copy to head-major vs in place)", rounds, () -> {
                    qkv.write(0, qkvInit, 0, qkvInit.length);
                    long t0 = System.nanoTime();
                    HeadCopies.splitHeads(qkv, bias, seqs, HEADS, HD, new Tensor[] {q, k, v}, norms,
                            temporal ? rope[0] : null, temporal ? rope[1] : null, scale);
                    return System.nanoTime() - t0;
                }, () -> {
                    qkv.write(0, qkvInit, 0, qkvInit.length);
                    long t0 = System.nanoTime();
                    Kernels.prepareHeads(qkv, bias, seqs, 3, HEADS, HD, norms, temporal ? rope[0] : null,
                            temporal ? rope[1] : null, scale);
                    return System.nanoTime() - t0;
                });
                compare(kind + " attention (head-major + merge vs heads in place)", rounds, () -> {
                    long t0 = System.nanoTime();
                    Attention.sdpa(q.view(0, nseq, len, HD), k.view(0, nseq, len, HD), v.view(0, nseq, len, HD), 1f,
                            null, null, scores, ao.view(0, nseq, len, HD));
                    HeadCopies.mergeHeads(ao, seqs, HEADS, HD, out);
                    return System.nanoTime() - t0;
                }, () -> {
                    long t0 = System.nanoTime();
                    int ld = seqs.ld(3 * C);
                    Attention.sdpa(new Attention.Strided(qkv, seqs.headOffsets(HEADS, HD, 3 * C, 0), ld),
                            new Attention.Strided(qkv, seqs.headOffsets(HEADS, HD, 3 * C, C), ld),
                            new Attention.Strided(qkv, seqs.headOffsets(HEADS, HD, 3 * C, 2 * C), ld), len, len, HD,
                            HD, 1f, scores, new Attention.Strided(out, seqs.headOffsets(HEADS, HD, C, 0), seqs.ld(C)));
                    return System.nanoTime() - t0;
                });
            }
            Kernels.Sequences sp = Kernels.Sequences.spatial(B, T, S);
            int nseq = sp.count() * HEADS;
            HeadCopies.splitHeads(qkv, bias, sp, HEADS, HD, new Tensor[] {q, k, v}, null, null, null, scale);
            compare("spatial attention products + softmax, score slab whole budget vs 4 MiB", rounds, () -> {
                long t0 = System.nanoTime();
                Attention.sdpa(q.view(0, nseq, S, HD), k.view(0, nseq, S, HD), v.view(0, nseq, S, HD), 1f, null,
                        null, scores, ao.view(0, nseq, S, HD));
                return System.nanoTime() - t0;
            }, () -> {
                long t0 = System.nanoTime();
                Attention.sdpa(q.view(0, nseq, S, HD), k.view(0, nseq, S, HD), v.view(0, nseq, S, HD), 1f, null,
                        null, scores.view(0, 1 << 20), ao.view(0, nseq, S, HD));
                return System.nanoTime() - t0;
            });
            float[][][] params = new float[2 * B][6][];
            for (float[][] p : params) {
                for (int i = 0; i < 6; i++) {
                    p[i] = randn(rnd, C);
                }
            }
            int[] frameRow = new int[B * T];
            for (int f = 0; f < frameRow.length; f++) {
                frameRow[f] = f / T;
            }
            float[] rb = randn(rnd, C);
            compare("gated residual (row at a time vs row chunks)", rounds, () -> {
                long t0 = System.nanoTime();
                io.github.jsora.tensor.Parallel.forRange(ROWS, (long) C * 4, (from, to) -> {
                    float[] xr = Kernels.scratch(0, C);
                    float[] sr = Kernels.scratch(1, C);
                    for (int r = from; r < to; r++) {
                        x.read((long) r * C, xr, 0, C);
                        xm.read((long) r * C, sr, 0, C);
                        float[] gate = params[frameRow[r / S]][2];
                        for (int i = 0; i < C; i++) {
                            xr[i] += gate[i] * (sr[i] + rb[i]);
                        }
                        x.write((long) r * C, xr, 0, C);
                    }
                });
                return System.nanoTime() - t0;
            }, () -> {
                long t0 = System.nanoTime();
                Kernels.gatedResidual(x, xm, rb, B, T, T, S, C, params, frameRow, 2);
                return System.nanoTime() - t0;
            });
            compare("gated residual + modulated LayerNorm (two kernels vs fused)", rounds, () -> {
                long t0 = System.nanoTime();
                Kernels.gatedResidual(x, out, rb, B, T, T, S, C, params, frameRow, 2);
                Kernels.modulatedLayerNorm(x, xm, B * T, S, C, params, frameRow, 0, 1, null);
                return System.nanoTime() - t0;
            }, () -> {
                long t0 = System.nanoTime();
                Kernels.gatedResidualNorm(x, out, rb, B, T, T, S, C, params, frameRow, 2, xm, 0, 1);
                return System.nanoTime() - t0;
            });
            compare("modulated LayerNorm (row at a time vs 4 interleaved rows)", rounds, () -> {
                long t0 = System.nanoTime();
                io.github.jsora.tensor.Parallel.forRange(ROWS, (long) C * 8, (from, to) -> {
                    float[] row = Kernels.scratch(0, C);
                    for (int r = from; r < to; r++) {
                        x.read((long) r * C, row, 0, C);
                        float[][] p = params[frameRow[r / S]];
                        Kernels.normModulate(row, C, p[1], p[0]);
                        xm.write((long) r * C, row, 0, C);
                    }
                });
                return System.nanoTime() - t0;
            }, () -> {
                long t0 = System.nanoTime();
                Kernels.modulatedLayerNorm(x, xm, B * T, S, C, params, frameRow, 0, 1, null);
                return System.nanoTime() - t0;
            });
        }
    }

    private static float[] randn(Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return v;
    }

    @FunctionalInterface
    private interface Timed {
        long run();
    }

    private static void compare(String name, int rounds, Timed old, Timed neu) {
        if (!name.contains(only)) {
            return;
        }
        double[][] ms = new double[2][rounds];
        for (int r = -1; r < rounds; r++) {
            for (int s = 0; s < 2; s++) {
                long ns = (s == 0 ? old : neu).run();
                if (r >= 0) {
                    ms[s][r] = ns / 1e6;
                }
            }
        }
        double[] a = stats(ms[0]);
        double[] b = stats(ms[1]);
        System.out.printf(Locale.ROOT, "%s: existing min %.1f / median %.1f ms, new min %.1f / median %.1f ms, "
                + "speed-up of minima %.2f%n", name, a[0], a[1], b[0], b[1], a[0] / b[0]);
    }

    private static double[] stats(double[] v) {
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        int n = s.length;
        return new double[] {s[0], n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2};
    }
}
