package io.github.jsora.dit;

import java.util.ArrayList;
import java.util.List;

import io.github.jsora.weights.Block;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.Checkpoint;

/**
 * A slow, literal STDiT3 forward in double precision: one loop per formula of SPEC §5.3, every attention sequence
 * and head computed on its own, TDTM as the paper states it (average frame pairs, attend, copy back). The oracle
 * the fast {@link Stdit3} is compared with on shapes the golden cases do not cover.
 */
final class Stdit3Naive {

    private final Stdit3Config cfg;
    private final java.util.Map<String, double[]> weights = new java.util.HashMap<>();

    /** Copies every tensor of a checkpoint. */
    Stdit3Naive(Stdit3Config cfg, Checkpoint ckpt) {
        this.cfg = cfg;
        for (String n : ckpt.names()) {
            try (var t = ckpt.load(n)) {
                weights.put(n, toDouble(t.toArray()));
            }
        }
    }

    /** Copies every tensor of a block source. */
    Stdit3Naive(Stdit3Config cfg, BlockSource src) {
        this.cfg = cfg;
        for (BlockLayout.BlockSpec spec : src.layout().blocks()) {
            Block b = src.acquire(spec.name());
            try {
                b.tensors().forEach((n, t) -> weights.put(n, toDouble(t.toArray())));
            } finally {
                src.release(b);
            }
        }
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    private double[] w(String name) {
        double[] d = weights.get(name);
        if (d == null) {
            throw new IllegalArgumentException("no weight " + name);
        }
        return d;
    }

    /** y = W·x + b for one vector (W [out, in]). */
    private static double[] lin(double[] x, double[] wt, double[] b, int in, int out) {
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = b == null ? 0 : b[o];
            for (int i = 0; i < in; i++) {
                s += wt[o * in + i] * x[i];
            }
            y[o] = s;
        }
        return y;
    }

    private static double silu(double v) {
        return v / (1 + Math.exp(-v));
    }

    private static double gelu(double v) {
        return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
    }

    private static double[] layerNorm(double[] x) {
        double m = 0;
        for (double v : x) {
            m += v;
        }
        m /= x.length;
        double var = 0;
        for (double v : x) {
            var += (v - m) * (v - m);
        }
        var /= x.length;
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = (x[i] - m) / Math.sqrt(var + 1e-6);
        }
        return y;
    }

    private static double[] sinusoid(double t) {
        double[] e = new double[256];
        for (int k = 0; k < 128; k++) {
            double f = Math.exp(-Math.log(10000) * k / 128);
            e[k] = Math.cos(t * f);
            e[128 + k] = Math.sin(t * f);
        }
        return e;
    }

    private double[] embedder(String p, double v) {
        int c = cfg.hiddenSize();
        double[] h = lin(sinusoid(v), w(p + ".mlp.0.weight"), w(p + ".mlp.0.bias"), 256, c);
        for (int i = 0; i < c; i++) {
            h[i] = silu(h[i]);
        }
        return lin(h, w(p + ".mlp.2.weight"), w(p + ".mlp.2.bias"), c, c);
    }

    /**
     * @param x      [B, Cin, T, H, W]
     * @param y      [B, L, Cc]
     * @param mask   [mb, L], tiled to B
     * @param xMask  [B, Tp] or null
     * @return [B, out, T, H, W]
     */
    float[] forward(float[] x, int bsz, int t, int h, int wd, float[] timestep, float[] y, int l, float[] mask, int mb,
            float[] xMask, float[] fps, double height, double width, boolean merge) {
        int c = cfg.hiddenSize();
        int heads = cfg.numHeads();
        int hd = cfg.headDim();
        int cin = cfg.inChannels();
        int pt = cfg.patchT();
        int ph = cfg.patchH();
        int pw = cfg.patchW();
        int tp = (t + pt - 1) / pt;
        int hp = (h + ph - 1) / ph;
        int wp = (wd + pw - 1) / pw;
        int s = hp * wp;
        int n = tp * s;

        // --- conditioning vectors
        double[][] tv = new double[bsz][];
        double[][] t0v = new double[bsz][];
        double[][] tm = new double[bsz][];
        double[][] t0m = new double[bsz][];
        double[] tbw = w("t_block.1.weight");
        double[] tbb = w("t_block.1.bias");
        for (int b = 0; b < bsz; b++) {
            double[] f = embedder("fps_embedder", fps.length == 1 ? fps[0] : fps[b]);
            double[] te = embedder("t_embedder", timestep[b]);
            double[] t0 = embedder("t_embedder", 0);
            tv[b] = new double[c];
            t0v[b] = new double[c];
            double[] a = new double[c];
            double[] a0 = new double[c];
            for (int i = 0; i < c; i++) {
                tv[b][i] = te[i] + f[i];
                t0v[b][i] = t0[i] + f[i];
                a[i] = silu(tv[b][i]);
                a0[i] = silu(t0v[b][i]);
            }
            tm[b] = lin(a, tbw, tbb, c, 6 * c);
            t0m[b] = lin(a0, tbw, tbb, c, 6 * c);
        }

        // --- captions: project every token, keep the masked ones per sample
        int cc = cfg.captionChannels();
        List<List<double[]>> caps = new ArrayList<>();
        double[] f1 = w("y_embedder.y_proj.fc1.weight");
        double[] b1 = w("y_embedder.y_proj.fc1.bias");
        double[] f2 = w("y_embedder.y_proj.fc2.weight");
        double[] b2 = w("y_embedder.y_proj.fc2.bias");
        for (int b = 0; b < bsz; b++) {
            List<double[]> toks = new ArrayList<>();
            for (int j = 0; j < l; j++) {
                if (mask[(b % mb) * l + j] == 0) {
                    continue;
                }
                double[] v = new double[cc];
                for (int i = 0; i < cc; i++) {
                    v[i] = y[(b * l + j) * cc + i];
                }
                double[] hdn = lin(v, f1, b1, cc, c);
                for (int i = 0; i < c; i++) {
                    hdn[i] = gelu(hdn[i]);
                }
                toks.add(lin(hdn, f2, b2, c, c));
            }
            caps.add(toks);
        }

        // --- patch embedding with zero padding + position embedding
        double[] pew = w("x_embedder.proj.weight");
        double[] peb = w("x_embedder.proj.bias");
        double[][][] tok = new double[bsz][n][];
        int base = (int) Math.round(Math.sqrt(s));
        double scale = Math.sqrt(height * width) / cfg.inputSqSize();
        for (int b = 0; b < bsz; b++) {
            for (int ti = 0; ti < tp; ti++) {
                for (int r = 0; r < hp; r++) {
                    for (int q = 0; q < wp; q++) {
                        double[] v = new double[c];
                        for (int o = 0; o < c; o++) {
                            double sum = peb[o];
                            for (int ci = 0; ci < cin; ci++) {
                                for (int a = 0; a < pt; a++) {
                                    for (int bb = 0; bb < ph; bb++) {
                                        for (int d = 0; d < pw; d++) {
                                            int tt = ti * pt + a;
                                            int hh = r * ph + bb;
                                            int ww = q * pw + d;
                                            if (tt >= t || hh >= h || ww >= wd) {
                                                continue;
                                            }
                                            double xv = x[(((b * cin + ci) * t + tt) * h + hh) * wd + ww];
                                            sum += pew[(((o * cin + ci) * pt + a) * ph + bb) * pw + d] * xv;
                                        }
                                    }
                                }
                            }
                            v[o] = sum;
                        }
                        double rowC = r / scale * base / hp;
                        double colC = q / scale * base / wp;
                        int quarter = c / 4;
                        for (int k = 0; k < quarter; k++) {
                            double f = Math.pow(10000, -2.0 * k / (c / 2));
                            v[k] += Math.sin(colC * f);
                            v[quarter + k] += Math.cos(colC * f);
                            v[2 * quarter + k] += Math.sin(rowC * f);
                            v[3 * quarter + k] += Math.cos(rowC * f);
                        }
                        tok[b][(ti * hp + r) * wp + q] = v;
                    }
                }
            }
        }

        double[] freqs = new double[hd / 2];
        if (weights.containsKey(Stdit3.ROPE_FREQS)) {
            freqs = w(Stdit3.ROPE_FREQS);
        } else {
            for (int i = 0; i < hd / 2; i++) {
                freqs[i] = Math.pow(10000, -2.0 * i / hd);
            }
        }

        for (int i = 0; i < cfg.depth(); i++) {
            block(tok, "spatial_blocks." + i + ".", false, bsz, tp, s, tm, t0m, xMask, caps, null, merge);
            block(tok, "temporal_blocks." + i + ".", true, bsz, tp, s, tm, t0m, xMask, caps, freqs, merge);
        }

        // --- final layer and unpatchify
        double[] fst = w("final_layer.scale_shift_table");
        double[] flw = w("final_layer.linear.weight");
        double[] flb = w("final_layer.linear.bias");
        int co = cfg.outChannels();
        int outW = pt * ph * pw * co;
        float[] out = new float[bsz * co * t * h * wd];
        for (int b = 0; b < bsz; b++) {
            for (int ti = 0; ti < tp; ti++) {
                boolean cond = xMask != null && xMask[b * tp + ti] == 0;
                for (int si = 0; si < s; si++) {
                    double[] v = layerNorm(tok[b][ti * s + si]);
                    for (int k = 0; k < c; k++) {
                        v[k] = v[k] * (1 + fst[c + k] + tv[b][k]) + fst[k] + tv[b][k];
                    }
                    if (cond) {
                        v = layerNorm(v);
                        for (int k = 0; k < c; k++) {
                            v[k] = v[k] * (1 + fst[c + k] + t0v[b][k]) + fst[k] + t0v[b][k];
                        }
                    }
                    double[] o = lin(v, flw, flb, c, outW);
                    int r = si / wp;
                    int q = si % wp;
                    for (int a = 0; a < pt; a++) {
                        for (int bb = 0; bb < ph; bb++) {
                            for (int d = 0; d < pw; d++) {
                                int tt = ti * pt + a;
                                int hh = r * ph + bb;
                                int ww = q * pw + d;
                                if (tt >= t || hh >= h || ww >= wd) {
                                    continue;
                                }
                                for (int ch = 0; ch < co; ch++) {
                                    out[(((b * co + ch) * t + tt) * h + hh) * wd + ww] =
                                            (float) o[((a * ph + bb) * pw + d) * co + ch];
                                }
                            }
                        }
                    }
                }
            }
        }
        return out;
    }

    /** Frames of merged group j: {2j, 2j+1} ∩ [0, T) when merging, else {j}. */
    private static int[] members(int j, int t, boolean merge) {
        if (!merge) {
            return new int[] {j};
        }
        return 2 * j + 1 < t ? new int[] {2 * j, 2 * j + 1} : new int[] {2 * j};
    }

    private void block(double[][][] tok, String p, boolean temporal, int bsz, int t, int s, double[][] tm,
            double[][] t0m, float[] xMask, List<List<double[]>> caps, double[] freqs, boolean merge) {
        int c = cfg.hiddenSize();
        int heads = cfg.numHeads();
        int hd = cfg.headDim();
        int groups = merge ? (t + 1) / 2 : t;
        double[] sst = w(p + "scale_shift_table");
        double[] qkvW = w(p + "attn.qkv.weight");
        double[] qkvB = w(p + "attn.qkv.bias");
        double[] qn = cfg.qkNorm() ? w(p + "attn.q_norm.weight") : null;
        double[] kn = cfg.qkNorm() ? w(p + "attn.k_norm.weight") : null;
        double[] projW = w(p + "attn.proj.weight");
        double[] projB = w(p + "attn.proj.bias");

        for (int b = 0; b < bsz; b++) {
            // modulation params per frame: k-th chunk
            double[][][] mp = new double[t][6][c];
            for (int ti = 0; ti < t; ti++) {
                double[] r = xMask != null && xMask[b * t + ti] == 0 ? t0m[b] : tm[b];
                for (int k = 0; k < 6; k++) {
                    for (int i = 0; i < c; i++) {
                        mp[ti][k][i] = sst[k * c + i] + r[k * c + i];
                    }
                }
            }
            // self-attention input (modulated), merged over frame groups
            double[][] xm = new double[t * s][];
            for (int ti = 0; ti < t; ti++) {
                for (int si = 0; si < s; si++) {
                    double[] v = layerNorm(tok[b][ti * s + si]);
                    for (int i = 0; i < c; i++) {
                        v[i] = v[i] * (1 + mp[ti][1][i]) + mp[ti][0][i];
                    }
                    xm[ti * s + si] = v;
                }
            }
            double[][] merged = mergeGroups(xm, t, s, c, merge);
            // q, k, v per merged token and head
            double[][][] q = new double[groups * s][heads][];
            double[][][] k = new double[groups * s][heads][];
            double[][][] v = new double[groups * s][heads][];
            for (int g = 0; g < groups; g++) {
                for (int si = 0; si < s; si++) {
                    double[] o = lin(merged[g * s + si], qkvW, qkvB, c, 3 * c);
                    for (int hh = 0; hh < heads; hh++) {
                        double[] qq = slice(o, hh * hd, hd);
                        double[] kk = slice(o, c + hh * hd, hd);
                        double[] vv = slice(o, 2 * c + hh * hd, hd);
                        if (qn != null) {
                            qq = rms(qq, qn);
                            kk = rms(kk, kn);
                        }
                        if (temporal) {
                            qq = rope(qq, g, freqs);
                            kk = rope(kk, g, freqs);
                        }
                        q[g * s + si][hh] = qq;
                        k[g * s + si][hh] = kk;
                        v[g * s + si][hh] = vv;
                    }
                }
            }
            double[][] att = new double[groups * s][c];
            List<int[]> seqs = new ArrayList<>();
            if (temporal) {
                for (int si = 0; si < s; si++) {
                    int[] sq = new int[groups];
                    for (int g = 0; g < groups; g++) {
                        sq[g] = g * s + si;
                    }
                    seqs.add(sq);
                }
            } else {
                for (int g = 0; g < groups; g++) {
                    int[] sq = new int[s];
                    for (int si = 0; si < s; si++) {
                        sq[si] = g * s + si;
                    }
                    seqs.add(sq);
                }
            }
            for (int[] sq : seqs) {
                for (int hh = 0; hh < heads; hh++) {
                    for (int a : sq) {
                        double[] sc = new double[sq.length];
                        for (int j = 0; j < sq.length; j++) {
                            sc[j] = dot(q[a][hh], k[sq[j]][hh]) / Math.sqrt(hd);
                        }
                        softmax(sc);
                        for (int j = 0; j < sq.length; j++) {
                            for (int i = 0; i < hd; i++) {
                                att[a][hh * hd + i] += sc[j] * v[sq[j]][hh][i];
                            }
                        }
                    }
                }
            }
            for (int ti = 0; ti < t; ti++) {
                int g = merge ? ti / 2 : ti;
                for (int si = 0; si < s; si++) {
                    double[] o = lin(att[g * s + si], projW, projB, c, c);
                    double[] x = tok[b][ti * s + si];
                    for (int i = 0; i < c; i++) {
                        x[i] += mp[ti][2][i] * o[i];
                    }
                }
            }

            // cross-attention of this sample's (merged) tokens to its caption tokens
            double[][] qsrc = mergeGroups(slices(tok[b]), t, s, c, merge);
            double[] qW = w(p + "cross_attn.q_linear.weight");
            double[] qB = w(p + "cross_attn.q_linear.bias");
            double[] kvW = w(p + "cross_attn.kv_linear.weight");
            double[] kvB = w(p + "cross_attn.kv_linear.bias");
            double[] cpW = w(p + "cross_attn.proj.weight");
            double[] cpB = w(p + "cross_attn.proj.bias");
            List<double[]> cap = caps.get(b);
            double[][] kv = new double[cap.size()][];
            for (int j = 0; j < cap.size(); j++) {
                kv[j] = lin(cap.get(j), kvW, kvB, c, 2 * c);
            }
            double[][] cross = new double[groups * s][];
            for (int a = 0; a < groups * s; a++) {
                double[] qq = lin(qsrc[a], qW, qB, c, c);
                double[] o = new double[c];
                for (int hh = 0; hh < heads; hh++) {
                    double[] sc = new double[cap.size()];
                    for (int j = 0; j < cap.size(); j++) {
                        sc[j] = dot(slice(qq, hh * hd, hd), slice(kv[j], hh * hd, hd)) / Math.sqrt(hd);
                    }
                    softmax(sc);
                    for (int j = 0; j < cap.size(); j++) {
                        for (int i = 0; i < hd; i++) {
                            o[hh * hd + i] += sc[j] * kv[j][c + hh * hd + i];
                        }
                    }
                }
                cross[a] = lin(o, cpW, cpB, c, c);
            }
            for (int ti = 0; ti < t; ti++) {
                int g = merge ? ti / 2 : ti;
                for (int si = 0; si < s; si++) {
                    double[] x = tok[b][ti * s + si];
                    for (int i = 0; i < c; i++) {
                        x[i] += cross[g * s + si][i];
                    }
                }
            }

            // MLP on every frame
            int m = cfg.mlpHidden();
            double[] f1 = w(p + "mlp.fc1.weight");
            double[] fb1 = w(p + "mlp.fc1.bias");
            double[] f2 = w(p + "mlp.fc2.weight");
            double[] fb2 = w(p + "mlp.fc2.bias");
            for (int ti = 0; ti < t; ti++) {
                for (int si = 0; si < s; si++) {
                    double[] x = tok[b][ti * s + si];
                    double[] u = layerNorm(x);
                    for (int i = 0; i < c; i++) {
                        u[i] = u[i] * (1 + mp[ti][4][i]) + mp[ti][3][i];
                    }
                    double[] hh = lin(u, f1, fb1, c, m);
                    for (int i = 0; i < m; i++) {
                        hh[i] = gelu(hh[i]);
                    }
                    double[] o = lin(hh, f2, fb2, m, c);
                    for (int i = 0; i < c; i++) {
                        x[i] += mp[ti][5][i] * o[i];
                    }
                }
            }
        }
    }

    private static double[][] slices(double[][] rows) {
        return rows;
    }

    /** Mean over each group's frames: [T·S] rows → [groups·S] rows. */
    private static double[][] mergeGroups(double[][] rows, int t, int s, int c, boolean merge) {
        int groups = merge ? (t + 1) / 2 : t;
        double[][] out = new double[groups * s][];
        for (int g = 0; g < groups; g++) {
            int[] mem = members(g, t, merge);
            for (int si = 0; si < s; si++) {
                double[] v = new double[c];
                for (int f : mem) {
                    for (int i = 0; i < c; i++) {
                        v[i] += rows[f * s + si][i] / mem.length;
                    }
                }
                out[g * s + si] = v;
            }
        }
        return out;
    }

    private static double[] slice(double[] a, int off, int n) {
        double[] r = new double[n];
        System.arraycopy(a, off, r, 0, n);
        return r;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    private static void softmax(double[] v) {
        double m = Double.NEGATIVE_INFINITY;
        for (double x : v) {
            m = Math.max(m, x);
        }
        double sum = 0;
        for (int i = 0; i < v.length; i++) {
            v[i] = Math.exp(v[i] - m);
            sum += v[i];
        }
        for (int i = 0; i < v.length; i++) {
            v[i] /= sum;
        }
    }

    private static double[] rms(double[] x, double[] wt) {
        double ms = 0;
        for (double v : x) {
            ms += v * v;
        }
        ms /= x.length;
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = wt[i] * x[i] / Math.sqrt(ms + 1e-6);
        }
        return y;
    }

    /** Interleaved rotary embedding at position pos. */
    private static double[] rope(double[] x, int pos, double[] freqs) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length / 2; i++) {
            double a = pos * freqs[i];
            y[2 * i] = x[2 * i] * Math.cos(a) - x[2 * i + 1] * Math.sin(a);
            y[2 * i + 1] = x[2 * i + 1] * Math.cos(a) + x[2 * i] * Math.sin(a);
        }
        return y;
    }
}
