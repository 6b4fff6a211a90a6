package io.github.jsora.dit;

import io.github.jsora.tensor.Ops;
import io.github.jsora.tensor.Parallel;
import io.github.jsora.tensor.Tensor;

/**
 * The head-major copies STDiT3 made before its attention read the heads in place ({@link Kernels#prepareHeads} and
 * the strided {@link io.github.jsora.tensor.Attention#sdpa}): split projected rows into [seq·heads, len, hd] and
 * merge them back. Kept as the twins the in-place path is checked against, bit for bit, and timed against.
 */
public final class HeadCopies {

    private HeadCopies() {
    }

    /**
     * Splits projected rows into head-major sequences: for every token row of {@code src} (width parts·C), adds the
     * bias and writes part i, head h into {@code dst[i]} at [seq·heads + h, pos, hd]. Parts 0 and 1 (q and k of a
     * self-attention) are RMS-normalised per head with {@code norms[i]} when given and rotated with the interleaved
     * rotary embedding at position {@code pos} when angle tables are given ({@code cos/sin[pos·hd/2 + i]}); part 0
     * is finally multiplied by {@code qScale} (the attention's 1/√hd, applied to q as the reference does).
     */
    public static void splitHeads(Tensor src, float[] bias, Kernels.Sequences seqs, int heads, int hd, Tensor[] dst,
            float[][] norms,
            float[] cos, float[] sin, float qScale) {
        int parts = dst.length;
        int c = heads * hd;
        int width = parts * c;
        int len = seqs.len();
        int per = Math.min(len, Kernels.rowsPerChunk(width));
        int chunksPerSeq = (len + per - 1) / per;
        Parallel.forRange(seqs.count() * chunksPerSeq, (long) per * width * 4, (from, to) -> {
            float[] row = Kernels.scratch(0, width);
            float[] out = Kernels.scratch(1, per * width);   // [parts·heads][np][hd]
            for (int u = from; u < to; u++) {
                int q = u / chunksPerSeq;
                int p0 = (u % chunksPerSeq) * per;
                int np = Math.min(per, len - p0);
                long base = seqs.base(q);
                for (int p = 0; p < np; p++) {
                    src.read((base + (long) (p0 + p) * seqs.rowStride()) * width, row, 0, width);
                    for (int i = 0; i < width; i++) {
                        row[i] += bias[i];
                    }
                    for (int ph = 0; ph < parts * heads; ph++) {
                        System.arraycopy(row, ph * hd, out, (ph * np + p) * hd, hd);
                    }
                }
                for (int part = 0; part < parts; part++) {
                    float[] norm = norms == null || part >= norms.length ? null : norms[part];
                    boolean rotate = cos != null && part < 2;
                    boolean scaled = part == 0 && qScale != 1f;
                    for (int h = 0; h < heads; h++) {
                        int blk = (part * heads + h) * np * hd;
                        if (norm != null || rotate || scaled) {
                            for (int p = 0; p < np; p++) {
                                int oo = blk + p * hd;
                                if (norm != null) {
                                    Ops.rmsNormRow(out, oo, hd, norm, 1e-6f);
                                }
                                if (rotate) {
                                    rotateInterleaved(out, oo, hd, cos, sin, (p0 + p) * (hd / 2));
                                }
                                if (scaled) {
                                    for (int i = 0; i < hd; i++) {
                                        out[oo + i] *= qScale;
                                    }
                                }
                            }
                        }
                        long d = (((long) q * heads + h) * len + p0) * hd;
                        dst[part].write(d, out, blk, np * hd);
                    }
                }
            }
        });
    }

    /** Inverse of the head split: head-major [seq·heads + h, pos, hd] back to token rows [rows, heads·hd]. */
    public static void mergeHeads(Tensor src, Kernels.Sequences seqs, int heads, int hd, Tensor dst) {
        int c = heads * hd;
        int len = seqs.len();
        int per = Math.min(len, Kernels.rowsPerChunk(c));
        int chunksPerSeq = (len + per - 1) / per;
        Parallel.forRange(seqs.count() * chunksPerSeq, (long) per * c * 2, (from, to) -> {
            float[] out = Kernels.scratch(0, per * c);
            float[] in = Kernels.scratch(1, per * hd);
            for (int u = from; u < to; u++) {
                int q = u / chunksPerSeq;
                int p0 = (u % chunksPerSeq) * per;
                int np = Math.min(per, len - p0);
                for (int h = 0; h < heads; h++) {
                    src.read((((long) q * heads + h) * len + p0) * hd, in, 0, np * hd);
                    for (int p = 0; p < np; p++) {
                        System.arraycopy(in, p * hd, out, p * c + h * hd, hd);
                    }
                }
                long base = seqs.base(q);
                if (seqs.rowStride() == 1) {
                    dst.write((base + p0) * c, out, 0, np * c);
                } else {
                    for (int p = 0; p < np; p++) {
                        dst.write((base + (long) (p0 + p) * seqs.rowStride()) * c, out, p * c, c);
                    }
                }
            }
        });
    }

    /** Rotary embedding on interleaved pairs (v[2i], v[2i+1]) with angle tables at {@code t0}. */
    private static void rotateInterleaved(float[] v, int off, int hd, float[] cos, float[] sin, int t0) {
        for (int i = 0; i < hd / 2; i++) {
            float a = v[off + 2 * i];
            float b = v[off + 2 * i + 1];
            float c = cos[t0 + i];
            float s = sin[t0 + i];
            v[off + 2 * i] = a * c - b * s;
            v[off + 2 * i + 1] = b * c + a * s;
        }
    }
}
