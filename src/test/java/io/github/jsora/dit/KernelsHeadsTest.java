package io.github.jsora.dit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import io.github.jsora.tensor.Attention;
import io.github.jsora.tensor.Bf16Matrix;
import io.github.jsora.tensor.Naive;
import io.github.jsora.tensor.Tensor;

/**
 * The in-place head preparation ({@link Kernels#prepareHeads}) read through {@link Kernels.Sequences#headOffsets}
 * against the head-major copy of {@link Kernels#splitHeads}, and the attention on heads in place written to token
 * rows against {@code splitHeads} + {@link Attention#sdpa} + {@link Kernels#mergeHeads}: bit for bit, for spatial,
 * temporal and per-sample sequences, with and without q/k norm, rotary angles and q scale.
 */
class KernelsHeadsTest {

    /**
     * prepareHeads reading a bf16 product's result ({@link Bf16Matrix}) gives, bit for bit, what it gives on those
     * values widened into the float32 rows first.
     */
    private static void bf16SourceGivesTheWidenedSourcesResult(float[] src, int rows, int width, float[] bias,
            Kernels.Sequences seqs, int parts, int heads, int hd, float[][] norms, float[] cos, float[] sin,
            float qScale) {
        try (Tensor f32 = Tensor.of(src.clone(), rows, width);
                Tensor mem = Tensor.zeros(Math.toIntExact(Bf16Matrix.floats(rows, width)));
                Tensor viaBf16 = Tensor.zeros(rows, width)) {
            Bf16Matrix m = Bf16Matrix.in(mem, 0, rows, width);
            m.roundFrom(f32);
            m.widenInto(f32);                                             // f32 = the widened bf16 values
            Kernels.prepareHeads(f32, bias, seqs, parts, heads, hd, norms, cos, sin, qScale);
            Kernels.prepareHeads(viaBf16, m, bias, seqs, parts, heads, hd, norms, cos, sin, qScale);
            assertArrayEquals(f32.toArray(), viaBf16.toArray(), seqs.mode() + " from bf16");
        }
    }

    @ParameterizedTest
    @CsvSource({"SPATIAL, 3, true, true, 3, 8", "TEMPORAL, 3, true, true, 3, 8", "TEMPORAL, 3, false, true, 3, 8",
            "SPATIAL, 3, true, false, 3, 8", "SAMPLE, 1, false, false, 3, 8", "SAMPLE, 2, false, false, 3, 8",
            "TEMPORAL, 3, true, true, 16, 72", "SPATIAL, 3, true, true, 9, 10", "SAMPLE, 1, false, false, 16, 72"})
    void headsInPlaceMatchTheHeadMajorCopy(Kernels.Sequences.Mode mode, int parts, boolean norm, boolean rope,
            int heads, int hd) {
        int b = 2, tq = 3, s = 5;
        int c = heads * hd;
        int width = parts * c;
        Kernels.Sequences seqs = switch (mode) {
            case SPATIAL -> Kernels.Sequences.spatial(b, tq, s);
            case TEMPORAL -> Kernels.Sequences.temporal(b, tq, s);
            case SAMPLE -> Kernels.Sequences.sample(b, tq, s);
        };
        int rows = b * tq * s;
        int len = seqs.len();
        Random rnd = new Random(mode.ordinal() * 10 + parts);
        float[] src = Naive.randn(rnd, rows * width);
        float[] bias = Naive.randn(rnd, width);
        float[][] norms = norm ? new float[][] {Naive.randn(rnd, hd), Naive.randn(rnd, hd)} : null;
        float[] freqs = new float[hd / 2];
        for (int i = 0; i < freqs.length; i++) {
            freqs[i] = (float) Math.pow(10000, -2.0 * i / hd);
        }
        float[][] angles = rope ? Kernels.ropeTables(freqs, len) : null;
        float[] cos = angles == null ? null : angles[0];
        float[] sin = angles == null ? null : angles[1];
        float qScale = parts == 2 ? 1f : 0.35f;
        int nseq = seqs.count() * heads;
        Tensor[] dst = new Tensor[parts];
        try (Tensor copy = Tensor.of(src.clone(), rows, width); Tensor inPlace = Tensor.of(src.clone(), rows, width)) {
            for (int i = 0; i < parts; i++) {
                dst[i] = Tensor.zeros(nseq, len, hd);
            }
            HeadCopies.splitHeads(copy, bias, seqs, heads, hd, dst, norms, cos, sin, qScale);
            Kernels.prepareHeads(inPlace, bias, seqs, parts, heads, hd, norms, cos, sin, qScale);
            float[] got = inPlace.toArray();
            bf16SourceGivesTheWidenedSourcesResult(src, rows, width, bias, seqs, parts, heads, hd, norms, cos, sin,
                    qScale);
            int ld = seqs.ld(width);
            for (int i = 0; i < parts; i++) {
                long[] off = seqs.headOffsets(heads, hd, width, (long) i * c);
                float[] gathered = new float[nseq * len * hd];
                for (int e = 0; e < nseq; e++) {
                    for (int p = 0; p < len; p++) {
                        System.arraycopy(got, (int) (off[e] + (long) p * ld), gathered, (e * len + p) * hd, hd);
                    }
                }
                assertArrayEquals(dst[i].toArray(), gathered, mode + " part " + i);
            }
            if (parts == 3) {
                attentionInPlaceMatchesSplitAttendMerge(seqs, heads, hd, dst, inPlace, rows);
            }
        } finally {
            for (Tensor t : dst) {
                if (t != null) {
                    t.close();
                }
            }
        }
    }

    private static void attentionInPlaceMatchesSplitAttendMerge(Kernels.Sequences seqs, int heads, int hd,
            Tensor[] qkvHeads, Tensor qkv, int rows) {
        int c = heads * hd;
        int len = seqs.len();
        int nseq = seqs.count() * heads;
        try (Tensor ao = Tensor.zeros(nseq, len, hd); Tensor merged = Tensor.zeros(rows, c);
                Tensor direct = Tensor.zeros(rows, c); Tensor scores = Tensor.zeros(3 * len * len)) {
            Attention.sdpa(qkvHeads[0], qkvHeads[1], qkvHeads[2], 1f, null, null, scores, ao);
            HeadCopies.mergeHeads(ao, seqs, heads, hd, merged);
            int ld = seqs.ld(3 * c);
            Attention.sdpa(new Attention.Strided(qkv, seqs.headOffsets(heads, hd, 3 * c, 0), ld),
                    new Attention.Strided(qkv, seqs.headOffsets(heads, hd, 3 * c, c), ld),
                    new Attention.Strided(qkv, seqs.headOffsets(heads, hd, 3 * c, 2 * c), ld), len, len, hd, hd, 1f,
                    scores, new Attention.Strided(direct, seqs.headOffsets(heads, hd, c, 0), seqs.ld(c)));
            assertArrayEquals(merged.toArray(), direct.toArray(), "attention on heads in place, " + seqs.mode());
        }
    }
}
