package io.github.jsora.sampling;

import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Input;
import io.github.jsora.dit.TokenMerging;
import io.github.jsora.tensor.Tensor;

/**
 * Test glue with the reference's per-sample arguments: an {@link Stdit3} as a {@link DenoisingModel} for a guidance
 * batch of B prompts (model batch 2B), given {@code fps}, {@code height} and {@code width} with B values (or one),
 * the caption mask {@code [B, L]} and, for a masked step, the sampler's frame mask rows {@code [B, T]}: all passed
 * to STDiT3 as they are, which repeats them to 2B rows as the reference does. Reuses one output buffer (returned as
 * a view); {@link #close()} frees it.
 */
class MaskedStdit3 implements DenoisingModel, AutoCloseable {

    private final Stdit3 model;
    private final Tensor y2;          // [2B, 1, L, Cc]
    private final Tensor textMask;    // [B, L]
    private final float[] fps;        // [B] or [1]
    private final float[] height;     // [B] or [1]
    private final float[] width;      // [B] or [1]
    private final TokenMerging merging;
    private Tensor out;               // [2B, C_out, T, H, W]

    MaskedStdit3(Stdit3 model, Tensor y2, Tensor textMask, float[] fps, float[] height, float[] width,
            TokenMerging merging) {
        this.model = model;
        this.y2 = y2;
        this.textMask = textMask;
        this.fps = fps.clone();
        this.height = height.clone();
        this.width = width.clone();
        this.merging = merging;
    }

    @Override
    public Tensor forward(Tensor x, float[] ts, int step) {
        return run(x, ts, null, step);
    }

    @Override
    public Tensor forward(Tensor x, float[] ts, boolean[] generated, int step) {
        float[] rows = new float[generated.length];
        for (int k = 0; k < rows.length; k++) {
            rows[k] = generated[k] ? 1f : 0f;
        }
        try (Tensor xMask = Tensor.of(rows, x.dim(0) / 2, x.dim(2))) {          // [B, T], tiled to 2B by STDiT3
            return run(x, ts, xMask, step);
        }
    }

    private Tensor run(Tensor x, float[] ts, Tensor xMask, int step) {
        Stdit3Input in = new Stdit3Input(x, ts, y2, textMask, xMask, fps, height, width);
        int[] shape = model.outputShape(in);
        if (out == null || !out.hasShape(shape)) {
            if (out != null) {
                out.close();
            }
            out = Tensor.zeros(shape);
        }
        model.forward(in, merging.mergeAt(step), out);
        return out.reshape(shape);
    }

    @Override
    public void close() {
        if (out != null) {
            out.close();
            out = null;
        }
    }
}
