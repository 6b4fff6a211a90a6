package io.github.jsora.vae;

import io.github.jsora.tensor.ExactExp;
import io.github.jsora.tensor.Ops;
import io.github.jsora.tensor.Parallel;
import io.github.jsora.tensor.Scratch;
import io.github.jsora.tensor.Tensor;

/**
 * The VAE's non-convolution kernels in plain Java: GroupNorm fused with SiLU writing into a (possibly time-padded)
 * destination, depth-to-time rearrangement, nearest 2× upsampling, bottom/right zero padding, per-row bias, the
 * posterior's clamp and sample. Each moves contiguous runs
 * between native memory and thread-local heap arrays with bulk copies; work is split by channel or by group, and
 * every reduction runs on one thread in a fixed order (results do not depend on the thread count).
 */
final class VaeKernels {

    /** Elements per bulk copy. */
    private static final int CHUNK = 1 << 14;

    private static final Scratch SCRATCH = new Scratch(2);

    private VaeKernels() {
    }

    private static float[] scratch(int slot, int n) {
        return SCRATCH.get(slot, n);
    }

    /**
     * GroupNorm over x viewed as [n, c, spatial] (statistics per sample and group of c/groups channels over all
     * their positions, in double), then {@code ·weight[ch] + bias[ch]}, then SiLU when asked. Sample i, channel ch
     * is written to {@code out} at {@code i·outSampleStride + ch·outChannelStride + outOffset} (spatial elements
     * contiguous), so the result can land inside a time-padded buffer. {@code out} may be {@code x} when the
     * layout is the same.
     */
    static void groupNorm(Tensor x, int n, int c, long spatial, int groups, float eps, float[] weight, float[] bias,
            boolean silu, Tensor out, long outSampleStride, long outChannelStride, long outOffset) {
        if (x.size() != (long) n * c * spatial) {
            throw new IllegalArgumentException("groupNorm: " + x.shapeString() + " is not [" + n + ", " + c + ", "
                    + spatial + "]");
        }
        if (c % groups != 0 || weight.length != c || bias.length != c) {
            throw new IllegalArgumentException("groupNorm: " + c + " channels, " + groups + " groups, weight "
                    + weight.length + ", bias " + bias.length);
        }
        int cg = c / groups;
        long groupSize = cg * spatial;
        double[] mean = new double[n * groups];
        double[] inv = new double[n * groups];
        Ops.groupStatistics(x, n * groups, groupSize, eps, mean, inv);
        Parallel.forRange(n * c, 4 * spatial, (from, to) -> {
            float[] v = scratch(0, CHUNK);
            for (int r = from; r < to; r++) {
                int i = r / c;
                int ch = r % c;
                int g = i * groups + ch / cg;
                float a = (float) (inv[g] * weight[ch]);
                float b0 = (float) (bias[ch] - mean[g] * inv[g] * weight[ch]);
                long src = (long) r * spatial;
                long dst = i * outSampleStride + ch * outChannelStride + outOffset;
                for (long p = 0; p < spatial; p += CHUNK) {
                    int len = (int) Math.min(CHUNK, spatial - p);
                    x.read(src + p, v, 0, len);
                    for (int k = 0; k < len; k++) {
                        v[k] = v[k] * a + b0;
                    }
                    if (silu) {
                        ExactExp.silu(v, 0, len); // y·σ(y) with the scalar expression's bits
                    }
                    out.write(dst + p, v, 0, len);
                }
            }
        });
    }

    /**
     * Depth to time: x [C·ts, T, P] → out [C, T·ts, P] with channel c·ts + s going to frame t·ts + s (einops
     * "(C ts) T ... -> C (T ts) ...").
     */
    static void depthToTime(Tensor x, int c, int ts, int t, long plane, Tensor out) {
        if (x.size() != (long) c * ts * t * plane || out.size() != x.size()) {
            throw new IllegalArgumentException("depthToTime: " + x.shapeString() + " → " + out.shapeString()
                    + " is not [" + c * ts + ", " + t + ", " + plane + "] → [" + c + ", " + t * ts + ", " + plane
                    + "]");
        }
        Parallel.forRange(c * ts * t, plane, (from, to) -> {
            float[] v = scratch(0, CHUNK);
            for (int r = from; r < to; r++) {
                // source row r = (cc·ts + s)·t + tt
                int tt = r % t;
                int cs = r / t;
                int s = cs % ts;
                int cc = cs / ts;
                long src = (long) r * plane;
                long dst = ((long) cc * t * ts + (long) tt * ts + s) * plane;
                for (long p = 0; p < plane; p += CHUNK) {
                    int len = (int) Math.min(CHUNK, plane - p);
                    x.read(src + p, v, 0, len);
                    out.write(dst + p, v, 0, len);
                }
            }
        });
    }

    /** Nearest-neighbour 2× upsampling of planes: x [planes, H, W] → out [planes, 2H, 2W]. */
    static void upsampleNearest2x(Tensor x, int planes, int h, int w, Tensor out) {
        if (x.size() != (long) planes * h * w || out.size() != 4L * planes * h * w) {
            throw new IllegalArgumentException("upsample: " + x.shapeString() + " → " + out.shapeString());
        }
        int w2 = 2 * w;
        Parallel.forRange(planes * h, 4L * w, (from, to) -> {
            float[] src = scratch(0, w);
            float[] dst = scratch(1, w2);
            for (int r = from; r < to; r++) {
                x.read((long) r * w, src, 0, w);
                for (int i = 0; i < w; i++) {
                    dst[2 * i] = src[i];
                    dst[2 * i + 1] = src[i];
                }
                int pl = r / h;
                int y = r % h;
                long o = ((long) pl * 2 * h + 2L * y) * w2;
                out.write(o, dst, 0, w2);
                out.write(o + w2, dst, 0, w2);
            }
        });
    }

    /** Zero padding of planes at the bottom and the right: x [planes, H, W] → out [planes, H + 1, W + 1]. */
    static void padBottomRight(Tensor x, int planes, int h, int w, Tensor out) {
        if (x.size() != (long) planes * h * w || out.size() != (long) planes * (h + 1) * (w + 1)) {
            throw new IllegalArgumentException("padBottomRight: " + x.shapeString() + " → " + out.shapeString());
        }
        int w1 = w + 1;
        Parallel.forRange(planes, 2L * h * w, (from, to) -> {
            float[] row = scratch(0, w1);
            for (int pl = from; pl < to; pl++) {
                long src = (long) pl * h * w;
                long dst = (long) pl * (h + 1) * w1;
                row[w] = 0f;
                for (int y = 0; y < h; y++) {
                    x.read(src + (long) y * w, row, 0, w);
                    out.write(dst + (long) y * w1, row, 0, w1);
                }
                java.util.Arrays.fill(row, 0f);
                out.write(dst + (long) h * w1, row, 0, w1);
            }
        });
    }

    /** t[off + i] = min(max(t[off + i], lo), hi) for i &lt; len (NaN stays NaN, like {@code torch.clamp}). */
    static void clamp(Tensor t, long off, long len, float lo, float hi) {
        float[] buf = scratch(0, CHUNK);
        for (long p = 0; p < len; p += CHUNK) {
            int n = (int) Math.min(CHUNK, len - p);
            t.read(off + p, buf, 0, n);
            for (int i = 0; i < n; i++) {
                buf[i] = Math.min(Math.max(buf[i], lo), hi);
            }
            t.write(off + p, buf, 0, n);
        }
    }

    /**
     * A latent from a diagonal Gaussian posterior, then an affine map, in the reference's float32 order:
     * {@code v = mean + exp(0.5·logvar)·draw} (just {@code mean} when {@code draw} is null, the mode), then
     * {@code v·mul}, then {@code (v − sub) / div}, for {@code len} elements: mean at {@code moments[meanOff..]},
     * the (clamped) log-variance at {@code moments[logvarOff..]}, the draws at {@code draw[drawOff..]}, the result
     * to {@code dst[dstOff..]}. (mul 1, sub 0, div 1 are exact no-ops.)
     */
    static void posteriorLatent(Tensor moments, long meanOff, long logvarOff, long len, float[] draw, int drawOff,
            float mul, float sub, float div, Tensor dst, long dstOff) {
        float[] mean = scratch(0, CHUNK);
        float[] logvar = scratch(1, CHUNK);
        for (long p = 0; p < len; p += CHUNK) {
            int n = (int) Math.min(CHUNK, len - p);
            moments.read(meanOff + p, mean, 0, n);
            if (draw != null) {
                moments.read(logvarOff + p, logvar, 0, n);
                for (int i = 0; i < n; i++) {
                    float std = (float) Math.exp(0.5f * logvar[i]);
                    mean[i] = mean[i] + std * draw[drawOff + (int) p + i];
                }
            }
            for (int i = 0; i < n; i++) {
                mean[i] = (mean[i] * mul - sub) / div;
            }
            dst.write(dstOff + p, mean, 0, n);
        }
    }

    /** t [rows, cols] += v[row] on every column. */
    static void addPerRow(Tensor t, float[] v, int rows, long cols) {
        if (t.size() != rows * cols || v.length != rows) {
            throw new IllegalArgumentException("addPerRow: " + t.shapeString() + " with " + v.length + " rows");
        }
        Parallel.forRange(rows, cols, (from, to) -> {
            float[] buf = scratch(0, CHUNK);
            for (int r = from; r < to; r++) {
                float add = v[r];
                long base = r * cols;
                for (long p = 0; p < cols; p += CHUNK) {
                    int len = (int) Math.min(CHUNK, cols - p);
                    t.read(base + p, buf, 0, len);
                    for (int i = 0; i < len; i++) {
                        buf[i] += add;
                    }
                    t.write(base + p, buf, 0, len);
                }
            }
        });
    }

    /** dst[dstOff + i] = src[srcOff + i]·mul + add for i &lt; len (two float roundings, like a multiply then an add). */
    static void copyScaleShift(Tensor src, long srcOff, Tensor dst, long dstOff, long len, float mul, float add) {
        float[] buf = scratch(0, CHUNK);
        for (long p = 0; p < len; p += CHUNK) {
            int n = (int) Math.min(CHUNK, len - p);
            src.read(srcOff + p, buf, 0, n);
            for (int i = 0; i < n; i++) {
                buf[i] = buf[i] * mul + add;
            }
            dst.write(dstOff + p, buf, 0, n);
        }
    }

    /** dst[dstOff + i] = src[srcOff + i] / div for i &lt; len. */
    static void copyDivide(Tensor src, long srcOff, Tensor dst, long dstOff, long len, float div) {
        float[] buf = scratch(0, CHUNK);
        for (long p = 0; p < len; p += CHUNK) {
            int n = (int) Math.min(CHUNK, len - p);
            src.read(srcOff + p, buf, 0, n);
            for (int i = 0; i < n; i++) {
                buf[i] = buf[i] / div;
            }
            dst.write(dstOff + p, buf, 0, n);
        }
    }

    /** dst[dstOff + i] = src[srcOff + i] for i &lt; len. */
    static void copy(Tensor src, long srcOff, Tensor dst, long dstOff, long len) {
        float[] buf = scratch(0, CHUNK);
        for (long p = 0; p < len; p += CHUNK) {
            int n = (int) Math.min(CHUNK, len - p);
            src.read(srcOff + p, buf, 0, n);
            dst.write(dstOff + p, buf, 0, n);
        }
    }
}
