package io.github.jsora.bench;

import java.util.Locale;
import java.util.Random;

import io.github.jsora.tensor.Attention;
import io.github.jsora.tensor.Gemm;
import io.github.jsora.tensor.Tensor;

/**
 * Alternating timing of STDiT3-XL attention at B=2, T=20, S=256 (16 heads of 72): per round, the two batched
 * products alone ({@code products}: q·kᵀ and p·v, the attention's own ceiling), {@link Attention#sdpa} with the
 * existing softmax ({@code EXACT}) and with {@link Attention.Softmax#FAST}; spatial (640 sequences of 256) and
 * temporal (8192 sequences of 20). Prints medians, the time outside the products and the speed-up.
 *
 * <p>Usage: {@code java -cp ... io.github.jsora.bench.AttentionAbRun [rounds]} (default 7 after one warm-up).
 */
public final class AttentionAbRun {

    private AttentionAbRun() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 7;
        String core = System.getenv("OPENBLAS_CORETYPE");
        System.out.printf(Locale.ROOT, "OPENBLAS_CORETYPE=%s, %d rounds%n", core == null ? "(unset)" : core, rounds);
        run("spatial", 2 * 20 * 16, 256, 72, rounds);
        run("temporal", 2 * 256 * 16, 20, 72, rounds);
    }

    private static void run(String name, int bt, int len, int hd, int rounds) {
        Random rnd = new Random(3);
        try (Tensor q = GemmBench.random(rnd, 0.3f, bt, len, hd); Tensor k = GemmBench.random(rnd, 0.3f, bt, len, hd);
                Tensor v = GemmBench.random(rnd, 1f, bt, len, hd); Tensor out = Tensor.zeros(bt, len, hd);
                Tensor scores = Tensor.zeros(Math.toIntExact(Attention.scoreFloats(bt, (long) len * len)))) {
            int slab = (int) (scores.size() / ((long) len * len));
            double[][] t = new double[3][rounds];
            for (int r = -1; r < rounds; r++) {
                long t0 = System.nanoTime();
                for (int b0 = 0; b0 < bt; b0 += slab) {
                    int nb = Math.min(slab, bt - b0);
                    Tensor s = scores.view(0, nb, len, len);
                    Gemm.batchedMatmul(q.slice(b0, b0 + nb), false, k.slice(b0, b0 + nb), true, s, 1f, 0f);
                    Gemm.batchedMatmul(s, false, v.slice(b0, b0 + nb), false, out.slice(b0, b0 + nb), 1f, 0f);
                }
                long t1 = System.nanoTime();
                Attention.sdpa(q, k, v, 1f, null, null, scores, out, Attention.Softmax.EXACT);
                long t2 = System.nanoTime();
                Attention.sdpa(q, k, v, 1f, null, null, scores, out, Attention.Softmax.FAST);
                long t3 = System.nanoTime();
                if (r >= 0) {
                    t[0][r] = (t1 - t0) / 1e6;
                    t[1][r] = (t2 - t1) / 1e6;
                    t[2][r] = (t3 - t2) / 1e6;
                }
            }
            double p = Medians.of(t[0]);
            double e = Medians.of(t[1]);
            double f = Medians.of(t[2]);
            String outside = e > p && f > p ? String.format(Locale.ROOT, "%.2f", (e - p) / (f - p))
                    : "n/a (the products alone timed slower than the whole attention: noise)";
            System.out.printf(Locale.ROOT, "%s [%d, %d, %d]: products %.1f ms; EXACT %.1f ms (%.1f outside products);"
                    + " FAST %.1f ms (%.1f outside); attention speed-up %.2f, outside-products speed-up %s%n",
                    name, bt, len, hd, p, e, e - p, f, f - p, e / f, outside);
        }
    }

}
