package io.github.jsora.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Input;
import io.github.jsora.dit.TokenMerging;
import io.github.jsora.golden.Golden;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Json;
import io.github.jsora.weights.SafetensorsFile;

/**
 * The frame-mask sampling cases ({@code rflow_i2v}, {@code rflow_continue}; golden README section 7), run from
 * what each case file states: the latent shape, the mask strategies {@code ms} per sample and the loop index, the
 * references ({@code in.ref_z} per sample, and for a continuation {@code in.prev_z} appended the way the real
 * {@code append_generated} does with {@code cond_len} and {@code cond_edit}), the sampler settings, the global
 * seed, fps/height/width per sample. The conditioning is built with {@link FrameConditioning#fromStrategies} and
 * checked against {@code in.mask} and {@code in.z} exactly; the run is checked at every step (latent, draw,
 * timestep, model frame mask exactly, model input, raw output) and at the end.
 *
 * <p>The model is the case's STDiT3 called with the reference's per-sample arguments: fps, height and width with
 * B values for the 2B guidance batch, and the frame mask's B rows for the 2B x_mask rows (STDiT3 repeats them).
 */
final class FrameMaskGolden {

    static final double TOL = 1e-4;
    static final double TOL_T = 5e-4;
    /**
     * The draws: {@link TorchCpuRandom} evaluates PyTorch's vectorised float32 Box–Muller in double precision and
     * rounds, so its values are within an ulp or two of PyTorch's (its documented bound: 2.4e-7 absolute).
     */
    static final double TOL_DRAW = 5e-7;

    private FrameMaskGolden() {
    }

    /** What the model saw and returned at one step (copies). */
    private record Seen(float[] zIn, float[] t, boolean[] generated, float[] out, int[] outShape) {
    }

    @SuppressWarnings("unchecked")
    static void runCase(String kind, Path file) {
        List<Tensor> owned = new ArrayList<>();
        String name = file.getFileName().toString();
        try (SafetensorsFile c = Golden.open(file); Stdit3 model = Golden.stdit3(file, c)) {
            String caseJson = c.metadata().get("case");
            assertNotNull(caseJson, name + ": metadata has no \"case\"");
            Map<String, Object> cs = Json.parseObject(caseJson);
            Tensor noise = keep(owned, c.load("in.z_noise"));                     // [B, C, T, H, W]
            int[] shape = noise.shape();
            int b = shape[0];
            int frames = shape[2];
            assertEquals(((Number) cs.get("B")).intValue(), b, name + ": B");

            FrameConditioning cond = conditioning(c, cs, shape, owned, name);
            float[] wantMask = c.loadFloats("in.mask");                            // [B, T]
            assertArrayEquals(wantMask, cond.maskValues(), name + ": frame mask (apply_mask_strategy)");
            try (Tensor z = noise.copy(); Tensor want = c.load("in.z")) {
                cond.writeInto(z);
                assertArrayEquals(want.toArray(), z.toArray(), name + ": z after apply_mask_strategy");
            }

            int steps = ((Number) cs.get("steps")).intValue();
            long seed = Long.parseLong(c.metadata().get("global_seed").trim());
            SamplerOptions opts = SamplerOptions.builder()
                    .steps(steps)
                    .cfgScale(((Number) cs.get("cfg_scale")).doubleValue())
                    .videoSize(((Number) cs.get("height")).intValue(), ((Number) cs.get("width")).intValue())
                    .numFrames(((Number) cs.get("num_frames")).intValue())
                    .timestepTransform(!Boolean.FALSE.equals(cs.get("use_timestep_transform")))
                    .discreteTimesteps(Boolean.TRUE.equals(cs.get("use_discrete_timesteps")))
                    .inferenceScriptMask(seed)
                    .build();

            Tensor y2 = keep(owned, guidanceCaptions(c, model, b, name));          // [2B, 1, L, Cc]
            int[] ms = c.info("in.text_mask").shape();
            Tensor textMask = keep(owned, Stdit3Input.maskOf(c.loadLongs("in.text_mask"), ms[0], ms[1]));
            float[] fps = c.loadFloats("in.model_args.fps");                      // [B]: B values for 2B rows
            float[] height = c.loadFloats("in.model_args.height");
            float[] width = c.loadFloats("in.model_args.width");

            List<Seen> seen = new ArrayList<>();
            List<float[]> stepZ = new ArrayList<>();
            List<float[]> draws = new ArrayList<>();
            MaskedStdit3 den = new MaskedStdit3(model, y2, textMask, fps, height, width, TokenMerging.off());
            DenoisingModel recording = new DenoisingModel() {
                @Override
                public Tensor forward(Tensor x, float[] ts, int step) {
                    return seen(x, ts, null, den.forward(x, ts, step));
                }

                @Override
                public Tensor forward(Tensor x, float[] ts, boolean[] generated, int step) {
                    return seen(x, ts, generated, den.forward(x, ts, generated, step));
                }

                private Tensor seen(Tensor x, float[] ts, boolean[] generated, Tensor out) {
                    boolean[] g = generated == null ? allTrue(b * frames) : generated.clone();
                    seen.add(new Seen(x.slice(0, b).toArray(), ts.clone(), g, out.toArray(), out.shape()));
                    return out;
                }
            };
            RflowSampler.StepTap tap = (i, z, draw) -> {
                stepZ.add(z.toArray());
                draws.add(draw == null ? null : draw.clone());
            };
            try (den; SampleResult r = new RflowSampler().sample(recording, noise, opts, cond, ProgressListener.NONE,
                    CancellationToken.none(), tap)) {
                assertEquals(steps, r.modelCalls(), name + ": model calls");
                assertEquals(steps, seen.size());
                assertFalse(c.contains("step" + steps + ".z"), name + " has more steps than " + steps);
                checkDraws(kind, file, c, seed, steps, draws, stepZ);
                for (int i = 0; i < steps; i++) {
                    String p = "step" + i + ".";
                    Seen s = seen.get(i);
                    Golden.check(kind, file, p + "t", c.loadFloats(p + "t"), s.t(), TOL_T);
                    Golden.check(kind, file, p + "z", c.loadFloats(p + "z"), stepZ.get(i), TOL);
                    assertArrayEquals(c.loadLongs(p + "x_mask"), repeatedRows(s.generated(), 2), name + " " + p
                            + "x_mask");
                    Golden.check(kind, file, p + "z_model_in", c.loadFloats(p + "z_model_in"), s.zIn(), TOL);
                    try (Tensor want = c.load(p + "model_out")) {
                        assertArrayEquals(want.shape(), s.outShape(), name + " " + p + "model_out shape");
                        Golden.check(kind, file, p + "model_out", want.toArray(), s.out(), TOL);
                    }
                }
                try (Tensor want = c.load("out.final_z")) {
                    Golden.check(kind, file, "out.final_z", want, r.latent(), TOL);
                }
                if (c.contains("out.final_z_f64ref")) {
                    try (Tensor want = c.load("out.final_z_f64ref")) {
                        Golden.check(kind, file, "out.final_z_f64ref", want, r.latent(), TOL);
                    }
                }
                // conditioned frames that no edit ratio released are exactly the reference at the end
                float[] fin = r.latent().toArray();
                float[] z0 = c.loadFloats("in.z");
                float scale = opts.numTimesteps();
                float tLast = r.timesteps()[steps - 1];
                int hw = shape[3] * shape[4];
                for (int bi = 0; bi < b; bi++) {
                    for (int f = 0; f < frames; f++) {
                        if (cond.mask(bi, f) * scale >= tLast) {
                            continue;
                        }
                        for (int ch = 0; ch < shape[1]; ch++) {
                            int off = ((bi * shape[1] + ch) * frames + f) * hw;
                            for (int k = 0; k < hw; k++) {
                                assertEquals(z0[off + k], fin[off + k], name + ": conditioned frame " + f
                                        + " of sample " + bi + " moved");
                            }
                        }
                    }
                }
            }
        } finally {
            owned.forEach(Tensor::close);
        }
    }

    /**
     * The conditioning of a case: per sample its references ({@code in.ref_z}, then for a continuation
     * {@code in.prev_z} as {@code append_generated} appends it, with its strategy group), then
     * {@code apply_mask_strategy} at the case's loop index. The strategies must end as the case's
     * {@code mask_strategy_final}.
     */
    @SuppressWarnings("unchecked")
    static FrameConditioning conditioning(SafetensorsFile c, Map<String, Object> cs, int[] shape, List<Tensor> owned,
            String name) {
        int b = shape[0];
        int loop = ((Number) cs.get("loop_i")).intValue();
        List<Object> msIn = (List<Object>) cs.get("ms");
        assertNotNull(msIn, name + ": case has no \"ms\"");
        assertEquals(b, msIn.size(), name + ": one mask strategy per sample");
        for (String k : c.names()) {
            assertTrue(!k.startsWith("in.ref") || k.equals("in.ref_z"), name + ": unknown reference tensor " + k);
        }
        Tensor ref = c.contains("in.ref_z") ? keep(owned, c.load("in.ref_z")) : null;      // [B, C, Tr, H, W]
        Tensor prev = c.contains("in.prev_z") ? keep(owned, c.load("in.prev_z")) : null;   // [B, C, Tp, H, W]
        boolean continuation = cs.containsKey("cond_len");
        assertEquals(continuation, prev != null, name + ": in.prev_z goes with cond_len");
        List<MaskStrategy> strategies = new ArrayList<>();
        List<List<Tensor>> refs = new ArrayList<>();
        for (int i = 0; i < b; i++) {
            List<Tensor> r = new ArrayList<>();
            if (ref != null) {
                r.add(ref.slice(i));                                                   // [C, Tr, H, W]
            }
            MaskStrategy s = MaskStrategy.parse(msIn.get(i) == null ? "" : (String) msIn.get(i));
            if (continuation) {
                r.add(prev.slice(i));
                s = s.with(MaskStrategy.continuation(loop, r.size() - 1, ((Number) cs.get("cond_len")).intValue(),
                        ((Number) cs.get("cond_edit")).doubleValue()));
            }
            strategies.add(s);
            refs.add(r);
        }
        List<Object> fin = (List<Object>) cs.get("mask_strategy_final");
        if (fin != null) {
            for (int i = 0; i < b; i++) {
                assertEquals(MaskStrategy.parse((String) fin.get(i)), strategies.get(i),
                        name + ": mask strategy of sample " + i + " after append_generated");
            }
        }
        int align = cs.get("align") instanceof Number n ? n.intValue() : 0;
        return FrameConditioning.fromStrategies(shape, strategies, refs, loop, align);
    }

    /**
     * The stored draws: the reference generator from the global seed gives every step's {@code randn_like} (one
     * per step, used or not); the sampler took its draws at the first steps, exactly those values, and at least up
     * to the last step whose model input differs from its latent (a re-noise).
     */
    private static void checkDraws(String kind, Path file, SafetensorsFile c, long seed, int steps,
            List<float[]> draws, List<float[]> stepZ) {
        String name = file.getFileName().toString();
        TorchCpuRandom g = new TorchCpuRandom(seed);
        int lastRenoise = -1;
        boolean drawing = true;
        for (int i = 0; i < steps; i++) {
            String p = "step" + i + ".";
            float[] stored = c.loadFloats(p + "randn_like");
            float[] own = new float[stored.length];
            g.fillNormal(own);
            Golden.check(kind, file, p + "randn_like (global seed)", stored, own, TOL_DRAW);
            float[] d = draws.get(i);
            if (d != null) {
                assertTrue(drawing, name + ": the sampler skipped a draw before step " + i);
                assertArrayEquals(own, d, name + " " + p + "randn_like taken by the sampler");
            }
            drawing &= d != null;
            if (!java.util.Arrays.equals(c.loadFloats(p + "z"), c.loadFloats(p + "z_model_in"))) {
                lastRenoise = i;
            }
        }
        if (lastRenoise >= 0) {
            assertNotNull(draws.get(lastRenoise), name + ": no draw taken at the re-noise step " + lastRenoise);
        }
        System.out.println("golden " + kind + " " + name + " randn_like: " + steps + " draws within " + TOL_DRAW + ", last re-noise at step "
                + lastRenoise);
    }

    /** cat([y, null_y]) with the model's own null caption, checked against the stored one. */
    private static Tensor guidanceCaptions(SafetensorsFile c, Stdit3 model, int b, String name) {
        try (Tensor y = c.load("in.y"); Tensor nul = model.nullCaption()) {             // [B,1,L,Cc], [1,1,L,Cc]
            int per = (int) nul.size();
            float[] nullRep = new float[b * per];
            for (int i = 0; i < b; i++) {
                nul.read(0, nullRep, i * per, per);
            }
            assertArrayEquals(c.loadFloats("null_y"), nullRep, name + ": null caption");
            int[] ys = y.shape();
            Tensor y2 = Tensor.zeros(2 * b, ys[1], ys[2], ys[3]);
            y2.slice(0, b).copyFrom(y);
            y2.write(y.size(), nullRep, 0, nullRep.length);
            if (c.contains("step0.model_y")) {
                assertArrayEquals(c.loadFloats("step0.model_y"), y2.toArray(), name + ": model y");
            }
            return y2;
        }
    }

    private static boolean[] allTrue(int n) {
        boolean[] a = new boolean[n];
        java.util.Arrays.fill(a, true);
        return a;
    }

    /** rows [B·T] repeated {@code times} along dim 0, as 0/1 longs (the reference's {@code repeat(times, 1)}). */
    private static long[] repeatedRows(boolean[] rows, int times) {
        long[] out = new long[rows.length * times];
        for (int k = 0; k < out.length; k++) {
            out[k] = rows[k % rows.length] ? 1 : 0;
        }
        return out;
    }

    private static Tensor keep(List<Tensor> owned, Tensor t) {
        owned.add(t);
        return t;
    }
}
