package io.github.jsora.dit;

import io.github.jsora.tensor.Bf16Matrix;
import io.github.jsora.tensor.Ops;
import io.github.jsora.tensor.Parallel;
import io.github.jsora.tensor.Scratch;
import io.github.jsora.tensor.Tensor;

/**
 * Fused row kernels of the STDiT3 block loop. Each kernel moves a chunk of rows into a thread-local heap array with
 * one bulk copy, computes there and writes back with one bulk copy, parallel over independent work units (frames,
 * sequences, row chunks). Reductions (norm statistics) run on one thread in a fixed order, so results do not depend
 * on the thread count.
 *
 * <p>Token tensors are [B, T, S, C] in row-major order (frame-major, then patch row, then patch column), the
 * reference's token order. "Modulation rows" are rows of a flat table {@code mod} of {@code stride} floats each
 * (6·C for blocks, 2·C for the final layer); {@code frameRow[b·T + t]} names the row used by frame t of sample b
 * (the timestep row of sample b, or its t=0 row for conditioning frames of an {@code x_mask}).
 */
final class Kernels {

    /** Floats moved per bulk copy in row-chunked kernels. */
    private static final int CHUNK_FLOATS = 1 << 14;

    /**
     * Rows per bulk copy of the norm and residual kernels: the four rows whose statistics {@link #layerNormRows}
     * interleaves, and few enough that a chunk stays in the L1 cache (larger chunks measured slower).
     */
    private static final int NORM_ROWS = 4;

    private static final Scratch SCRATCH = new Scratch(4);

    private Kernels() {
    }

    static float[] scratch(int slot, int n) {
        return SCRATCH.get(slot, n);
    }

    static int rowsPerChunk(int width) {
        return Math.max(1, CHUNK_FLOATS / Math.max(width, 1));
    }

    // ------------------------------------------------------------------ norms and modulation

    /**
     * out[b,t,s,:] = LN(x[b,t,s,:])·onePlusScale + shift with the frame's modulation row; when {@code againRow} names
     * a row for a frame (the reference final layer's conditioning-frame path), the result is normalised and
     * modulated a second time with that row.
     *
     * @param params  modulation rows: params[row][k] is a [C] vector; slot {@code scaleK} holds 1 + scale
     * @param frames  B·T frames of S rows of C
     */
    static void modulatedLayerNorm(Tensor x, Tensor out, int frames, int s, int c, float[][][] params,
            int[] frameRow, int shiftK, int scaleK, int[] againRow) {
        modulatedLayerNorm(x, out, frames, s, c, params, frameRow, shiftK, scaleK, againRow, false);
    }

    private static void modulatedLayerNorm(Tensor x, Tensor out, int frames, int s, int c, float[][][] params,
            int[] frameRow, int shiftK, int scaleK, int[] againRow, boolean fast) {
        int rows = frames * s;
        int per = NORM_ROWS;
        Parallel.forRange((rows + per - 1) / per, (long) per * c * 8, (from, to) -> {
            float[] buf = scratch(0, per * c);
            for (int u = from; u < to; u++) {
                int r0 = u * per;
                int nr = Math.min(per, rows - r0);
                x.read((long) r0 * c, buf, 0, nr * c);
                normModulateRows(buf, r0, nr, s, c, params, frameRow, shiftK, scaleK, againRow, fast);
                out.write((long) r0 * c, buf, 0, nr * c);
            }
        });
    }

    /**
     * {@link #modulatedLayerNorm} with {@link Ops#layerNormRowFast} (float32 statistics, vectorised): a new
     * kernel for the block loop, within 2e-6 of the existing one per normalised value before modulation.
     */
    static void modulatedLayerNormFast(Tensor x, Tensor out, int frames, int s, int c, float[][][] params,
            int[] frameRow, int shiftK, int scaleK, int[] againRow) {
        modulatedLayerNorm(x, out, frames, s, c, params, frameRow, shiftK, scaleK, againRow, true);
    }

    /** v = LN(v)·onePlusScale + shift (LayerNorm without affine, eps 1e-6; statistics in double). */
    static void normModulate(float[] v, int c, float[] onePlusScale, float[] shift) {
        Ops.layerNormRow(v, c, 1e-6);
        modulate(v, 0, c, onePlusScale, shift);
    }

    /**
     * {@link #normModulate} on the nr rows of buf [nr, C], which are token rows r0.. of frames of s rows (modulation
     * row {@code params[frameRow[frame]]}, second pass with {@code againRow} as in {@link #modulatedLayerNorm});
     * with {@code fast}, the LayerNorm of each row is {@link Ops#layerNormRowFast} (float32 statistics).
     */
    private static void normModulateRows(float[] buf, int r0, int nr, int s, int c, float[][][] params,
            int[] frameRow, int shiftK, int scaleK, int[] againRow, boolean fast) {
        if (!fast) {
            layerNormRows(buf, nr, c, 1e-6);
        }
        for (int r = 0; r < nr; r++) {
            int f = (r0 + r) / s;
            float[][] p = params[frameRow[f]];
            if (fast) {
                Ops.layerNormRowFast(buf, r * c, c, 1e-6f);
            }
            modulate(buf, r * c, c, p[scaleK], p[shiftK]);
            int again = againRow == null ? -1 : againRow[f];
            if (again >= 0) {
                float[][] q = params[again];
                if (fast) {
                    Ops.layerNormRowFast(buf, r * c, c, 1e-6f);
                } else {
                    layerNormRows(buf, r * c, 1, c, 1e-6);
                }
                modulate(buf, r * c, c, q[scaleK], q[shiftK]);
            }
        }
    }

    private static void modulate(float[] v, int off, int c, float[] onePlusScale, float[] shift) {
        for (int i = 0; i < c; i++) {
            v[off + i] = v[off + i] * onePlusScale[i] + shift[i];
        }
    }

    /** {@link #layerNormRows(float[], int, int, int, double)} on rows from 0. */
    private static void layerNormRows(float[] v, int nr, int c, double eps) {
        layerNormRows(v, 0, nr, c, eps);
    }

    /**
     * {@link Ops#layerNormRow} on nr rows v[off + r·c ..) in place, four rows at a time: the four rows' double sums
     * run as independent chains (each row's additions in the same order as in {@code layerNormRow}), so the results
     * are the same bits in less time than one row after the other.
     */
    static void layerNormRows(float[] v, int off, int nr, int c, double eps) {
        int r = 0;
        double[] sums = new double[4];
        for (; r + 4 <= nr; r += 4) {
            int o0 = off + r * c;
            Ops.sum4(v, o0, c, c, sums);
            float m0 = (float) (sums[0] / c);
            float m1 = (float) (sums[1] / c);
            float m2 = (float) (sums[2] / c);
            float m3 = (float) (sums[3] / c);
            Ops.squares4(v, o0, c, c, m0, m1, m2, m3, sums);
            center(v, o0, c, m0, (float) (1.0 / Math.sqrt(sums[0] / c + eps)));
            center(v, o0 + c, c, m1, (float) (1.0 / Math.sqrt(sums[1] / c + eps)));
            center(v, o0 + 2 * c, c, m2, (float) (1.0 / Math.sqrt(sums[2] / c + eps)));
            center(v, o0 + 3 * c, c, m3, (float) (1.0 / Math.sqrt(sums[3] / c + eps)));
        }
        for (; r < nr; r++) {
            int o = off + r * c;
            double sum = 0;
            for (int i = 0; i < c; i++) {
                sum += v[o + i];
            }
            float mean = (float) (sum / c);
            double sq = 0;
            for (int i = 0; i < c; i++) {
                float d = v[o + i] - mean;
                sq += d * d;
            }
            center(v, o, c, mean, (float) (1.0 / Math.sqrt(sq / c + eps)));
        }
    }

    private static void center(float[] v, int off, int c, float mean, float inv) {
        for (int i = 0; i < c; i++) {
            v[off + i] = (v[off + i] - mean) * inv;
        }
    }

    // ------------------------------------------------------------------ token merging (TDTM)

    /**
     * Averages consecutive frame pairs: dst[b, j] = ½(src[b, 2j] + src[b, 2j+1]); with odd T the last frame forms a
     * group of its own and is copied. src [B, T, S·C] → dst [B, ⌈T/2⌉, S·C].
     */
    static void mergeFramePairs(Tensor src, Tensor dst, int b, int t, long frameFloats) {
        int tq = (t + 1) / 2;
        int per = (int) Math.min(frameFloats, CHUNK_FLOATS);
        int chunksPerFrame = (int) ((frameFloats + per - 1) / per);
        Parallel.forRange(b * tq * chunksPerFrame, (long) per * 2, (from, to) -> {
            float[] a = scratch(0, per);
            float[] bb = scratch(1, per);
            for (int u = from; u < to; u++) {
                int g = u / chunksPerFrame;          // merged frame index b·tq + j
                long e0 = (long) (u % chunksPerFrame) * per;
                int n = (int) Math.min(per, frameFloats - e0);
                int bi = g / tq;
                int j = g % tq;
                int f0 = 2 * j;
                src.read(((long) bi * t + f0) * frameFloats + e0, a, 0, n);
                if (f0 + 1 < t) {
                    src.read(((long) bi * t + f0 + 1) * frameFloats + e0, bb, 0, n);
                    for (int i = 0; i < n; i++) {
                        a[i] = (a[i] + bb[i]) * 0.5f;
                    }
                }
                dst.write((long) g * frameFloats + e0, a, 0, n);
            }
        });
    }

    /**
     * x[b,t,s,:] += gate ⊙ (src[b, g(t), s, :] + bias) where g(t) = t (no merging) or t/2 (merged pairs, the unmerge
     * copy of TDTM), gate is the frame's modulation vector {@code params[row][gateK]} or 1 when {@code gateK < 0}.
     *
     * @param tq frames of src (T or ⌈T/2⌉)
     */
    static void gatedResidual(Tensor x, Tensor src, float[] bias, int b, int t, int tq, int s, int c,
            float[][][] params, int[] frameRow, int gateK) {
        gatedResidualNorm(x, src, null, bias, b, t, tq, s, c, params, frameRow, gateK, null, 0, 0, false);
    }

    /**
     * {@link #gatedResidual(Tensor, Tensor, float[], int, int, int, int, int, float[][][], int[], int)} with the
     * rows of {@code bf16Src} (a bf16 product's result, widened as they are read) when it is not null, else of src.
     */
    static void gatedResidual(Tensor x, Tensor src, Bf16Matrix bf16Src, float[] bias, int b, int t, int tq, int s, int c,
            float[][][] params, int[] frameRow, int gateK) {
        gatedResidualNorm(x, src, bf16Src, bias, b, t, tq, s, c, params, frameRow, gateK, null, 0, 0, false);
    }

    /**
     * {@link #gatedResidual} followed by {@link #modulatedLayerNorm} of the new x into {@code out} (no second pass)
     * with modulation slots shiftK and scaleK, in one pass over x: the same float operations per value as the two
     * kernels one after the other. With {@code out == null} only the residual is applied.
     */
    static void gatedResidualNorm(Tensor x, Tensor src, float[] bias, int b, int t, int tq, int s, int c,
            float[][][] params, int[] frameRow, int gateK, Tensor out, int shiftK, int scaleK) {
        gatedResidualNorm(x, src, null, bias, b, t, tq, s, c, params, frameRow, gateK, out, shiftK, scaleK, false);
    }

    /**
     * {@link #gatedResidualNorm}, its LayerNorm from {@link #modulatedLayerNormFast} when {@code fast}, the source
     * rows from {@code bf16Src} (bf16, widened as they are read) when it is not null, else from src.
     */
    static void gatedResidualNorm(Tensor x, Tensor src, Bf16Matrix bf16Src, float[] bias, int b, int t, int tq, int s,
            int c, float[][][] params, int[] frameRow, int gateK, Tensor out, int shiftK, int scaleK, boolean fast) {
        boolean paired = tq != t;
        int rows = b * t * s;
        int per = out == null ? 1 : NORM_ROWS;
        Parallel.forRange((rows + per - 1) / per, (long) per * c * (out == null ? 4 : 12), (from, to) -> {
            float[] xr = scratch(0, c);
            float[] sr = scratch(1, c);
            float[] normed = out == null ? null : scratch(2, per * c);
            for (int u = from; u < to; u++) {
                int r0 = u * per;
                int nr = Math.min(per, rows - r0);
                for (int k = 0; k < nr; k++) {
                    // row at a time: measured twice as fast as the same loop on chunks of rows
                    int r = r0 + k;
                    int f = r / s;
                    int bi = f / t;
                    int ti = f % t;
                    int g = bi * tq + (paired ? ti >> 1 : ti);
                    long ox = (long) r * c;
                    long os = ((long) g * s + r % s) * c;
                    x.read(ox, xr, 0, c);
                    if (bf16Src != null) {
                        bf16Src.readRow(g * s + r % s, sr);
                    } else {
                        src.read(os, sr, 0, c);
                    }
                    if (gateK >= 0) {
                        float[] gate = params[frameRow[f]][gateK];
                        for (int i = 0; i < c; i++) {
                            xr[i] += gate[i] * (sr[i] + bias[i]);
                        }
                    } else {
                        for (int i = 0; i < c; i++) {
                            xr[i] += sr[i] + bias[i];
                        }
                    }
                    x.write(ox, xr, 0, c);
                    if (normed != null) {
                        System.arraycopy(xr, 0, normed, k * c, c);
                    }
                }
                if (normed != null) {
                    normModulateRows(normed, r0, nr, s, c, params, frameRow, shiftK, scaleK, null, fast);
                    out.write((long) r0 * c, normed, 0, nr * c);
                }
            }
        });
    }

    // ------------------------------------------------------------------ elementwise

    /** t[r, :] = GELU_tanh(t[r, :] + bias) over rows of width {@code w} (bias[0..w)), in place. */
    static void biasGelu(Tensor t, float[] bias, int w) {
        int rows = Math.toIntExact(t.size() / w);
        Parallel.forRange(rows, (long) w * 16, (from, to) -> {
            float[] row = scratch(0, w);
            for (int r = from; r < to; r++) {
                long o = (long) r * w;
                t.read(o, row, 0, w);
                for (int i = 0; i < w; i++) {
                    row[i] = Ops.geluTanh(row[i] + bias[i]);
                }
                t.write(o, row, 0, w);
            }
        });
    }

    /**
     * h = bf16(GELU(h + bias)) over the rows of a bf16 matrix, in one pass: the values {@link #biasGelu(Tensor,
     * float[], int)} gives on h widened to float32, rounded to bf16 (as the next native product rounds its input).
     */
    static void biasGelu(Bf16Matrix h, float[] bias) {
        int w = h.cols();
        h.transformRows((r, row) -> {
            for (int i = 0; i < w; i++) {
                row[i] = Ops.geluTanh(row[i] + bias[i]);
            }
        }, 16);
    }

    /** x[f, :] += v over frames of {@code frameFloats} = v.length floats, in place. */
    static void addFrameVector(Tensor x, float[] v, int frames, long frameFloats) {
        int n = Math.toIntExact(frameFloats);
        int per = Math.min(n, CHUNK_FLOATS);
        int chunksPerFrame = (n + per - 1) / per;
        Parallel.forRange(frames * chunksPerFrame, per, (from, to) -> {
            float[] buf = scratch(0, per);
            for (int u = from; u < to; u++) {
                int f = u / chunksPerFrame;
                int e0 = (u % chunksPerFrame) * per;
                int len = Math.min(per, n - e0);
                long o = (long) f * n + e0;
                x.read(o, buf, 0, len);
                for (int i = 0; i < len; i++) {
                    buf[i] += v[e0 + i];
                }
                x.write(o, buf, 0, len);
            }
        });
    }

    // ------------------------------------------------------------------ head split / merge

    /**
     * How token rows group into attention sequences: a sequence {@code q} of length {@code len} holds the rows
     * {@code base(q) + p·stride}, p = 0..len-1.
     */
    record Sequences(int count, int len, int rowStride, Mode mode, int s, int tq) {

        enum Mode { SPATIAL, TEMPORAL, SAMPLE }

        /** One sequence per frame (b, t) over its S patches. */
        static Sequences spatial(int b, int tq, int s) {
            return new Sequences(b * tq, s, 1, Mode.SPATIAL, s, tq);
        }

        /** One sequence per patch (b, s) over its T frames. */
        static Sequences temporal(int b, int tq, int s) {
            return new Sequences(b * s, tq, s, Mode.TEMPORAL, s, tq);
        }

        /** One sequence per sample over all its T·S tokens (cross-attention queries). */
        static Sequences sample(int b, int tq, int s) {
            return new Sequences(b, tq * s, 1, Mode.SAMPLE, s, tq);
        }

        long base(int q) {
            return switch (mode) {
                case SPATIAL -> (long) q * s;
                case TEMPORAL -> (long) (q / s) * tq * s + q % s;
                case SAMPLE -> (long) q * tq * s;
            };
        }

        long tokens() {
            return (long) count * len;
        }

        /** Position of token row {@code row} inside its sequence. */
        int position(long row) {
            return (int) switch (mode) {
                case SPATIAL -> row % s;
                case TEMPORAL -> row / s % tq;
                case SAMPLE -> row % ((long) tq * s);
            };
        }

        /**
         * Element offsets of the head matrices [len, hd] of every sequence inside token rows of {@code width}
         * floats, in the order [seq·heads + h]; {@code start} is the offset of the part's first column (e.g. C for
         * the k of a qkv row). Their row stride is {@link #ld}.
         */
        long[] headOffsets(int heads, int hd, int width, long start) {
            long[] off = new long[count * heads];
            for (int q = 0; q < count; q++) {
                long row = base(q) * width + start;
                for (int h = 0; h < heads; h++) {
                    off[q * heads + h] = row + (long) h * hd;
                }
            }
            return off;
        }

        /** Row stride of a sequence's head matrices inside token rows of {@code width} floats. */
        int ld(int width) {
            return Math.multiplyExact(width, rowStride);
        }
    }

    /**
     * {@code HeadCopies.splitHeads} (the test twin) in place: every token row of {@code src} [rows, parts·C] gets the
     * bias, and its parts 0 and 1 the per-head RMS norm ({@code norms[i]}) and the rotary embedding at the row's
     * position in its sequence of {@code seqs} (when angle tables are given); part 0 is multiplied by {@code qScale}.
     * Each value gets the same bits as in {@code HeadCopies.splitHeads}: the same float operations in the same order,
     * except that the rotary a·c − b·s is computed as a·c + b·(−s) ({@link Ops#rotatePairs}, exactly equal). The
     * attention then reads the heads where they are ({@link Sequences#headOffsets}).
     *
     * @param seqs the sequences the rows form (only their positions are used, for the rotary embedding)
     */
    static void prepareHeads(Tensor src, float[] bias, Sequences seqs, int parts, int heads, int hd, float[][] norms,
            float[] cos, float[] sin, float qScale) {
        prepareHeads(src, null, bias, seqs, parts, heads, hd, norms, cos, sin, qScale);
    }

    /**
     * {@link #prepareHeads(Tensor, float[], Sequences, int, int, int, float[][], float[], float[], float)} on the
     * rows of {@code bf16Src} (a bf16 product's result, widened as they are read) when it is not null, written into
     * {@code src}: the values the float32 call gives on {@code bf16Src} widened into {@code src} first.
     */
    static void prepareHeads(Tensor src, Bf16Matrix bf16Src, float[] bias, Sequences seqs, int parts, int heads, int hd,
            float[][] norms, float[] cos, float[] sin, float qScale) {
        int c = heads * hd;
        int width = parts * c;
        int rows = Math.toIntExact(src.size() / width);
        int per = rowsPerChunk(width);
        int chunks = (rows + per - 1) / per;
        float[][] pairs = cos == null ? null : pairTables(cos, sin, heads, hd);   // [positions, C] each
        Parallel.forRange(chunks, (long) per * width * 4, (from, to) -> {
            float[] buf = scratch(0, per * width);
            for (int u = from; u < to; u++) {
                int r0 = u * per;
                int nr = Math.min(per, rows - r0);
                long o = (long) r0 * width;
                if (bf16Src != null) {
                    bf16Src.readRows(r0, nr, buf, 0);
                } else {
                    src.read(o, buf, 0, nr * width);
                }
                for (int r = 0; r < nr; r++) {
                    int ro = r * width;
                    Ops.addRow(buf, ro, bias, width);
                    int pos = cos == null ? 0 : seqs.position(r0 + r);
                    for (int part = 0; part < parts; part++) {
                        int po = ro + part * c;
                        float[] norm = norms == null || part >= norms.length ? null : norms[part];
                        if (norm != null) {
                            Ops.rmsNormHeads(buf, po, heads, hd, norm, 1e-6f);
                        }
                        if (pairs != null && part < 2) {
                            Ops.rotatePairs(buf, po, c, pairs[0], pairs[1], pos * c);
                        }
                        if (part == 0 && qScale != 1f) {
                            Ops.scaleRow(buf, po, c, qScale);
                        }
                    }
                }
                src.write(o, buf, 0, nr * width);
            }
        });
    }

    /**
     * The rotary angle tables ({@link #ropeTables}: [positions, hd/2]) in the pair layout of {@link Ops#rotatePairs}
     * over a whole part row of {@code heads} heads: {cos, signed sin}, each [positions, heads·hd], every head with the
     * same angles.
     */
    static float[][] pairTables(float[] cos, float[] sin, int heads, int hd) {
        if (hd % 2 != 0) {
            throw new IllegalArgumentException("rotary embedding: head dim " + hd + " is odd, it needs pairs");
        }
        int half = hd / 2;
        int c = heads * hd;
        int positions = cos.length / half;
        float[] cp = new float[positions * c];
        float[] sp = new float[positions * c];
        for (int p = 0; p < positions; p++) {
            for (int h = 0; h < heads; h++) {
                int o = p * c + h * hd;
                for (int i = 0; i < half; i++) {
                    float cv = cos[p * half + i];
                    float sv = sin[p * half + i];
                    cp[o + 2 * i] = cv;
                    cp[o + 2 * i + 1] = cv;
                    sp[o + 2 * i] = -sv;
                    sp[o + 2 * i + 1] = sv;
                }
            }
        }
        return new float[][] {cp, sp};
    }

    /** Angle tables of the interleaved rotary embedding: cos/sin of pos·freqs[i] for pos &lt; len (float32 like the reference). */
    static float[][] ropeTables(float[] freqs, int len) {
        int half = freqs.length;
        float[] cos = new float[len * half];
        float[] sin = new float[len * half];
        for (int p = 0; p < len; p++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) p * freqs[i];
                cos[p * half + i] = (float) Math.cos(angle);
                sin[p * half + i] = (float) Math.sin(angle);
            }
        }
        return new float[][] {cos, sin};
    }
}
