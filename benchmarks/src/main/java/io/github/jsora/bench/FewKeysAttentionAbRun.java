package io.github.jsora.bench;

import java.util.Locale;
import java.util.SplittableRandom;

import io.github.jsora.tensor.Attention;
import io.github.jsora.tensor.Tensor;

/**
 * {@link Attention.Schedule#PER_THREAD} (BLAS products) against {@link Attention.Schedule#PER_THREAD_SIMD} (the
 * few-keys SIMD products) on STDiT3-XL's cross-attention (B=2 samples of 5120 queries over {@code caption} valid
 * tokens, 16 heads of 72 read in place from the token rows) and its temporal attention (8192 sequences of 20), with
 * the bf16-compute softmax, alternated round by round in one process; prints each round and the medians.
 *
 * <p>Usage: {@code java -cp ... io.github.jsora.bench.FewKeysAttentionAbRun [caption=20] [rounds=10]}.
 */
public final class FewKeysAttentionAbRun {

    private static final int B = 2;
    private static final int T = 20;
    private static final int S = 256;
    private static final int HEADS = 16;
    private static final int HD = 72;
    private static final int C = HEADS * HD;

    private FewKeysAttentionAbRun() {
    }

    public static void main(String[] args) {
        int caption = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        SplittableRandom rnd = new SplittableRandom(1);
        int rows = B * T * S;
        Attention.Schedule[] schedules = {Attention.Schedule.PER_THREAD, Attention.Schedule.PER_THREAD_SIMD};
        double[][] cross = new double[2][rounds];
        double[][] temporal = new double[2][rounds];
        try (Tensor qkv = random(rnd, rows, 3 * C); Tensor kv = random(rnd, B * caption, 2 * C);
                Tensor out = Tensor.zeros(rows, C); Tensor scratch = Tensor.zeros(4 << 20)) {
            for (int r = -1; r < rounds; r++) {
                StringBuilder line = new StringBuilder(r < 0 ? "warm-up" : "round " + r);
                for (int k = 0; k < 2; k++) {
                    long t0 = System.nanoTime();
                    for (int b = 0; b < B; b++) {
                        long[] qo = new long[HEADS];
                        long[] ko = new long[HEADS];
                        long[] vo = new long[HEADS];
                        long[] oo = new long[HEADS];
                        for (int h = 0; h < HEADS; h++) {
                            qo[h] = (long) b * T * S * 3 * C + h * HD;
                            ko[h] = (long) b * caption * 2 * C + h * HD;
                            vo[h] = ko[h] + C;
                            oo[h] = (long) b * T * S * C + h * HD;
                        }
                        Attention.sdpa(new Attention.Strided(qkv, qo, 3 * C), new Attention.Strided(kv, ko, 2 * C),
                                new Attention.Strided(kv, vo, 2 * C), T * S, caption, HD, HD, 0.117f, scratch,
                                new Attention.Strided(out, oo, C), Attention.Softmax.FAST, schedules[k]);
                    }
                    long t1 = System.nanoTime();
                    int seqs = B * S;
                    long[] qo = new long[seqs * HEADS];
                    long[] ko = new long[seqs * HEADS];
                    long[] vo = new long[seqs * HEADS];
                    long[] oo = new long[seqs * HEADS];
                    for (int q = 0; q < seqs; q++) {
                        long base = (long) (q / S) * T * S + q % S;          // patch q % S of sample q / S
                        for (int h = 0; h < HEADS; h++) {
                            int e = q * HEADS + h;
                            qo[e] = base * 3 * C + h * HD;
                            ko[e] = qo[e] + C;
                            vo[e] = qo[e] + 2 * C;
                            oo[e] = base * C + h * HD;
                        }
                    }
                    Attention.sdpa(new Attention.Strided(qkv, qo, 3 * C * S), new Attention.Strided(qkv, ko, 3 * C * S),
                            new Attention.Strided(qkv, vo, 3 * C * S), T, T, HD, HD, 0.117f, scratch,
                            new Attention.Strided(out, oo, C * S), Attention.Softmax.FAST, schedules[k]);
                    long t2 = System.nanoTime();
                    line.append(String.format(Locale.ROOT, "  %s: cross %.1f ms, temporal %.1f ms", schedules[k],
                            (t1 - t0) / 1e6, (t2 - t1) / 1e6));
                    if (r >= 0) {
                        cross[k][r] = (t1 - t0) / 1e6;
                        temporal[k][r] = (t2 - t1) / 1e6;
                    }
                }
                System.out.println(line);
            }
        }
        System.out.printf(Locale.ROOT, "medians over %d rounds, %d caption tokens: cross %.1f ms (BLAS) vs %.1f ms "
                + "(SIMD); temporal %.1f vs %.1f ms (SIMD takes no temporal sequence: under %d queries)%n", rounds,
                caption, Medians.of(cross[0]), Medians.of(cross[1]), Medians.of(temporal[0]),
                Medians.of(temporal[1]), 64);
    }

    private static Tensor random(SplittableRandom rnd, int... shape) {
        Tensor t = Tensor.zeros(shape);
        float[] v = new float[Math.toIntExact(t.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        t.write(0, v, 0, v.length);
        return t;
    }
}
