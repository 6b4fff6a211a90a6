package io.github.jsora.dit;

import io.github.jsora.tensor.Tensor;

/**
 * The checked geometry of one STDiT3 forward: sizes of x [B, C, T, H, W], of its patch grid [Tp, Hp, Wp] (S = Hp·Wp
 * patches a frame), of the captions, and the per-sample values read from the input. {@link #check} validates every
 * input against the configuration before any heavy work.
 */
final class InputGeometry {
    int b;              // B, samples in the model batch
    int t;              // T, latent frames
    int h;              // H, latent rows
    int w;              // W, latent columns
    int tp;             // Tp = ⌈T / patch_t⌉
    int hp;             // Hp = ⌈H / patch_h⌉
    int wp;             // Wp = ⌈W / patch_w⌉
    int s;              // S = Hp·Wp patches per frame
    int len;            // L (caption tokens per row of y)
    int totalLen;       // Σ valid tokens
    int[] lens;         // valid tokens per sample
    float[] mask;       // [B, L] tiled to B rows
    float[] xMask;      // [B, Tp] or null
    float[] fps;        // [B]

    /** Checks every input of a forward against the configuration; throws before any heavy work. */
    static InputGeometry check(Stdit3Config cfg, Stdit3Input in, Tensor out) {
        if (in == null) {
            throw new IllegalArgumentException("STDiT3 input is null");
        }
        Tensor x = in.x();
        if (x == null || x.rank() != 5) {
            throw new IllegalArgumentException("STDiT3 x must be [B, C, T, H, W], found "
                    + (x == null ? "null" : x.shapeString()));
        }
        InputGeometry g = new InputGeometry();
        g.b = x.dim(0);
        g.t = x.dim(2);
        g.h = x.dim(3);
        g.w = x.dim(4);
        if (g.b < 1 || g.t < 1 || g.h < 1 || g.w < 1) {
            throw new IllegalArgumentException("STDiT3 x " + x.shapeString()
                    + " must have B, T, H, W >= 1");
        }
        if (x.dim(1) != cfg.inChannels()) {
            throw new IllegalArgumentException("STDiT3 x " + x.shapeString() + " must have "
                    + cfg.inChannels() + " channels (in_channels)");
        }
        g.tp = ceilDiv(g.t, cfg.patchT());
        g.hp = ceilDiv(g.h, cfg.patchH());
        g.wp = ceilDiv(g.w, cfg.patchW());
        g.s = g.hp * g.wp;
        long tokens = (long) g.b * g.tp * g.s;
        long c = cfg.hiddenSize();
        if (tokens * Math.max(Math.max(3 * c, cfg.mlpHidden()), c) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("STDiT3 input " + x.shapeString() + " is too large: " + tokens
                    + " tokens");
        }
        float[] ts = in.timestep();
        if (ts == null || ts.length != g.b) {
            throw new IllegalArgumentException("STDiT3 timestep must have B=" + g.b + " values, found "
                    + (ts == null ? "null" : ts.length));
        }
        for (int i = 0; i < ts.length; i++) {
            if (!Float.isFinite(ts[i])) {
                throw new IllegalArgumentException("STDiT3 timestep[" + i + "] is " + ts[i]);
            }
        }
        float[] fps = in.fps();
        if (fps == null || fps.length < 1 || g.b % fps.length != 0) {
            throw new IllegalArgumentException("STDiT3 fps must have b values with B=" + g.b
                    + " a multiple of b (B, the prompt count of a guidance batch, or one), found "
                    + (fps == null ? "null" : fps.length));
        }
        g.fps = new float[g.b];
        for (int i = 0; i < g.b; i++) {
            g.fps[i] = fps[i % fps.length];            // tiled to B rows, as the reference's repeat
            if (!Float.isFinite(g.fps[i])) {
                throw new IllegalArgumentException("STDiT3 fps[" + i + "] is " + g.fps[i]);
            }
        }
        if (!(in.height() > 0) || !(in.width() > 0) || !Float.isFinite(in.height())
                || !Float.isFinite(in.width())) {
            throw new IllegalArgumentException("STDiT3 height and width (pixels) must be positive and finite, "
                    + "found " + in.height() + " x " + in.width());
        }

        Tensor y = in.y();
        if (y == null || y.rank() != 4 || y.dim(0) != g.b || y.dim(1) != 1
                || y.dim(3) != cfg.captionChannels()) {
            throw new IllegalArgumentException("STDiT3 y must be [B=" + g.b + ", 1, L, "
                    + cfg.captionChannels() + "], found " + (y == null ? "null" : y.shapeString()));
        }
        g.len = y.dim(2);
        if (g.len < 1) {
            throw new IllegalArgumentException("STDiT3 y " + y.shapeString() + " has no caption tokens");
        }
        if (g.len > cfg.modelMaxLength()) {
            throw new IllegalArgumentException("STDiT3 caption of " + g.len + " tokens is longer than "
                    + "model_max_length " + cfg.modelMaxLength());
        }
        Tensor m = in.mask();
        if (m == null || m.rank() != 2 || m.dim(1) != g.len || m.dim(0) < 1 || g.b % m.dim(0) != 0) {
            throw new IllegalArgumentException("STDiT3 mask must be [b, L=" + g.len + "] with B=" + g.b
                    + " a multiple of b, found " + (m == null ? "null" : m.shapeString()));
        }
        float[] mv = m.toArray();
        g.mask = new float[g.b * g.len];
        g.lens = new int[g.b];
        for (int i = 0; i < g.b; i++) {
            int src = i % m.dim(0);
            for (int j = 0; j < g.len; j++) {
                float v = mv[src * g.len + j];
                if (!Float.isFinite(v)) {
                    throw new IllegalArgumentException("STDiT3 mask[" + src + ", " + j + "] is " + v);
                }
                g.mask[i * g.len + j] = v;
                if (v != 0f) {
                    g.lens[i]++;
                }
            }
            if (g.lens[i] == 0) {
                throw new IllegalArgumentException("STDiT3 mask row " + src + " (sample " + i
                        + ") has no valid caption token");
            }
            g.totalLen += g.lens[i];
        }
        Tensor xm = in.xMask();
        if (xm != null) {
            if (xm.rank() != 2 || xm.dim(1) != g.tp || xm.dim(0) < 1 || g.b % xm.dim(0) != 0) {
                throw new IllegalArgumentException("STDiT3 x_mask must be [b, T=" + g.tp + "] with B=" + g.b
                        + " a multiple of b, found " + xm.shapeString());
            }
            float[] rows = xm.toArray();                 // [b, Tp], tiled to [B, Tp] like the caption mask
            g.xMask = new float[g.b * g.tp];
            for (int i = 0; i < g.b; i++) {
                System.arraycopy(rows, (i % xm.dim(0)) * g.tp, g.xMask, i * g.tp, g.tp);
            }
            for (int i = 0; i < g.xMask.length; i++) {
                if (!Float.isFinite(g.xMask[i])) {
                    throw new IllegalArgumentException("STDiT3 x_mask element " + i + " is " + g.xMask[i]);
                }
            }
        }
        if (out == null || !out.hasShape(g.b, cfg.outChannels(), g.t, g.h, g.w)) {
            throw new IllegalArgumentException("STDiT3 output must be [" + g.b + ", " + cfg.outChannels()
                    + ", " + g.t + ", " + g.h + ", " + g.w + "], found "
                    + (out == null ? "null" : out.shapeString()));
        }
        requireFinite("x", x);
        requireFinite("y", y);
        return g;
    }

    /** The geometry of forwards on x [batch, in_channels, frames, height, width] with {@code captionLen} tokens. */
    static InputGeometry forWorkspace(Stdit3Config cfg, int batch, int frames, int height, int width,
            int captionLen) {
        InputGeometry g = new InputGeometry();
        g.b = batch;
        g.t = frames;
        g.h = height;
        g.w = width;
        g.tp = ceilDiv(frames, cfg.patchT());
        g.hp = ceilDiv(height, cfg.patchH());
        g.wp = ceilDiv(width, cfg.patchW());
        g.s = g.hp * g.wp;
        g.len = captionLen;
        return g;
    }

    static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    private static void requireFinite(String what, Tensor t) {
        float[] buf = new float[(int) Math.min(t.size(), 1 << 16)];
        for (long i = 0; i < t.size(); i += buf.length) {
            int n = (int) Math.min(buf.length, t.size() - i);
            t.read(i, buf, 0, n);
            for (int j = 0; j < n; j++) {
                if (!Float.isFinite(buf[j])) {
                    throw new IllegalArgumentException("STDiT3 " + what + " " + t.shapeString()
                            + " holds a non-finite value (" + buf[j] + ") at element " + (i + j));
                }
            }
        }
    }
}
