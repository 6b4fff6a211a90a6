package io.github.jsora.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

import io.github.jsora.tensor.Attention;
import io.github.jsora.tensor.Tensor;

/**
 * Alternating timing of the two {@link Attention.Schedule}s on STDiT3-XL's attention layouts at B=2, T=20, S=256
 * (16 heads of 72, read in place from token rows as the block does): spatial (640 sequences of 256 over the
 * [B·T·S, 3C] qkv rows), temporal (8192 sequences of 20) and cross (per sample, 5120 queries over 300 caption
 * tokens). Per round: {@code SHARED} then {@code PER_THREAD}, same inputs, same softmax. Prints medians, the
 * speed-up and whether the outputs are bit-identical (they are when OpenBLAS gives a product the same bits on one
 * thread as on all).
 *
 * <p>Usage: {@code java -cp ... io.github.jsora.bench.AttentionScheduleAbRun [rounds] [exact|fast]} (default 7 after
 * one warm-up, fast: the bf16 compute softmax).
 */
public final class AttentionScheduleAbRun {

    private static final int B = 2;
    private static final int T = 20;
    private static final int S = 256;
    private static final int HEADS = 16;
    private static final int HD = 72;
    private static final int C = HEADS * HD;
    private static final int CAPTION = 300;

    private AttentionScheduleAbRun() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 7;
        Attention.Softmax softmax = args.length > 1 && args[1].equals("exact") ? Attention.Softmax.EXACT
                : Attention.Softmax.FAST;
        String core = System.getenv("OPENBLAS_CORETYPE");
        System.out.printf(Locale.ROOT, "OPENBLAS_CORETYPE=%s, %d rounds, softmax %s%n",
                core == null ? "(unset)" : core, rounds, softmax);
        Random rnd = new Random(5);
        int rows = B * T * S;
        try (Tensor qkv = GemmBench.random(rnd, 0.3f, rows, 3 * C); Tensor kv = GemmBench.random(rnd, 0.3f,
                B * CAPTION, 2 * C); Tensor outA = Tensor.zeros(rows, C); Tensor outB = Tensor.zeros(rows, C);
                Tensor scores = Tensor.zeros(16 * 1024 * 1024)) {
            // spatial: sequence (b, t) is rows (b·T + t)·S .. + S; temporal: sequence (b, s) is rows b·T·S + s,
            // stride S rows
            Case spatial = new Case("spatial", S, S, (seq, h, w, start) -> ((long) seq * S * w) + start + h * HD,
                    B * T, 3 * C);
            Case temporal = new Case("temporal", T, T, (seq, h, w, start) -> ((long) (seq / S) * T * S + seq % S)
                    * w + start + h * HD, B * S, 3 * C * S);
            for (Case cs : new Case[] {spatial, temporal}) {
                int n = cs.sequences * HEADS;
                Attention.Strided q = cs.strided(qkv, 3 * C, 0, cs.ldIn);
                Attention.Strided k = cs.strided(qkv, 3 * C, C, cs.ldIn);
                Attention.Strided v = cs.strided(qkv, 3 * C, 2 * C, cs.ldIn);
                Attention.Strided oa = cs.strided(outA, C, 0, cs.ldIn / 3);
                Attention.Strided ob = cs.strided(outB, C, 0, cs.ldIn / 3);
                ab(cs.name + " [" + n + ", " + cs.m + ", " + HD + "]", rounds, outA, outB,
                        () -> Attention.sdpa(q, k, v, cs.m, cs.n, HD, HD, (float) (1 / Math.sqrt(HD)), scores, oa,
                                softmax, Attention.Schedule.SHARED),
                        () -> Attention.sdpa(q, k, v, cs.m, cs.n, HD, HD, (float) (1 / Math.sqrt(HD)), scores, ob,
                                softmax, Attention.Schedule.PER_THREAD));
            }
            int perSample = T * S;
            Runnable[] cross = new Runnable[2];
            for (int which = 0; which < 2; which++) {
                Tensor out = which == 0 ? outA : outB;
                Attention.Schedule schedule = which == 0 ? Attention.Schedule.SHARED : Attention.Schedule.PER_THREAD;
                cross[which] = () -> {
                    for (int i = 0; i < B; i++) {
                        long qo = (long) i * perSample * 3 * C;
                        long ko = (long) i * CAPTION * 2 * C;
                        long oo = (long) i * perSample * C;
                        Attention.sdpa(heads(qkv, qo, 3 * C), heads(kv, ko, 2 * C), heads(kv, ko + C, 2 * C),
                                perSample, CAPTION, HD, HD, (float) (1 / Math.sqrt(HD)), scores, heads(out, oo, C),
                                softmax, schedule);
                    }
                };
            }
            ab("cross [" + B * HEADS + ", " + perSample + "x" + CAPTION + ", " + HD + "]", rounds, outA, outB,
                    cross[0], cross[1]);
        }
    }

    /** The HEADS head matrices of one sequence whose rows are contiguous with row stride ld. */
    private static Attention.Strided heads(Tensor t, long start, int ld) {
        long[] off = new long[HEADS];
        for (int h = 0; h < HEADS; h++) {
            off[h] = start + (long) h * HD;
        }
        return new Attention.Strided(t, off, ld);
    }

    @FunctionalInterface
    private interface Offset {
        long of(int seq, int head, int width, long start);
    }

    private record Case(String name, int m, int n, Offset offset, int sequences, int ldIn) {
        Attention.Strided strided(Tensor t, int width, long start, int ld) {
            long[] off = new long[sequences * HEADS];
            for (int sq = 0; sq < sequences; sq++) {
                for (int h = 0; h < HEADS; h++) {
                    off[sq * HEADS + h] = offset.of(sq, h, width, start);
                }
            }
            return new Attention.Strided(t, off, ld);
        }
    }

    private static void ab(String name, int rounds, Tensor outA, Tensor outB, Runnable a, Runnable b) {
        double[] ta = new double[rounds];
        double[] tb = new double[rounds];
        for (int r = -1; r < rounds; r++) {
            long t0 = System.nanoTime();
            a.run();
            long t1 = System.nanoTime();
            b.run();
            long t2 = System.nanoTime();
            if (r >= 0) {
                ta[r] = (t1 - t0) / 1e6;
                tb[r] = (t2 - t1) / 1e6;
            }
        }
        boolean same = Arrays.equals(outA.toArray(), outB.toArray());
        double ma = Medians.of(ta);
        double mb = Medians.of(tb);
        System.out.printf(Locale.ROOT, "%s: SHARED %.1f ms, PER_THREAD %.1f ms, speed-up %.2f, same bits %s%n", name,
                ma, mb, ma / mb, same);
    }
}
