package io.github.jsora.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.nio.file.Paths;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Config;
import io.github.jsora.dit.TokenMerging;
import io.github.jsora.golden.Golden;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.SafetensorsFile;

/**
 * The reference semantics of a guided batch of several prompts on the golden tiny STDiT3 (config G): a two-prompt
 * run (model batch 4) takes fps, height and width with 2 values, the caption mask [2, L] and the frame mask [2, T],
 * which STDiT3 repeats to 4 rows; each of its samples equals the sampler's own single-prompt run of that prompt
 * (its slice of the batch's noise and draws). Also TDTM with reference frames.
 */
class GuidedBatchTest {

    static final Path WEIGHTS = Paths.get(Golden.DEFAULT_DIR, "stdit3_tiny_G_weights.safetensors");
    static final int L = 12;
    static Stdit3 model;

    @BeforeAll
    static void load() {
        try (SafetensorsFile wf = SafetensorsFile.open(WEIGHTS)) {
            String json = wf.metadata().get("config");
            assertNotNull(json, WEIGHTS + ": metadata has no config");
            model = Stdit3.load(Stdit3Config.parse(WEIGHTS + "#config", json), wf);
        }
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** The two prompts' captions [2, 1, L, Cc], then the model's null caption twice. */
    private static Tensor captions(int b, int[] rows) {
        int cc = model.config().captionChannels();
        try (Tensor y = TorchCpuRandom.randn(71, 2, 1, L, cc); Tensor nul = model.nullCaption()) {
            Tensor y2 = Tensor.zeros(2 * b, 1, L, cc);
            for (int i = 0; i < b; i++) {
                y2.slice(i).copyFrom(y.slice(rows[i]));
                y2.slice(b + i).copyFrom(nul.slice(0));
            }
            return y2;
        }
    }

    private static Tensor textMask(int[] rows) {
        int[] lens = {7, 4};
        float[] m = new float[rows.length * L];
        for (int i = 0; i < rows.length; i++) {
            for (int j = 0; j < lens[rows[i]]; j++) {
                m[i * L + j] = 1f;
            }
        }
        return Tensor.of(m, rows.length, L);
    }

    /** Sample 0: a reference at frame 0; sample 1: one at the last frame with edit ratio 0.5 (re-noised). */
    private static FrameConditioning conditioning(int[] shape, Tensor refs, int[] rows) {
        FrameConditioning.Builder b = FrameConditioning.builder(shape);
        for (int i = 0; i < rows.length; i++) {
            if (rows[i] == 0) {
                b.copy(i, refs.slice(0), 0, 0, 1, 0);
            } else {
                b.copy(i, refs.slice(1), 0, -1, 1, 0.5);
            }
        }
        return b.build();
    }

    private static SampleResult run(Tensor noise, int[] rows, SamplerOptions o, TokenMerging merging, Tensor refs) {
        int b = rows.length;
        float[] fps = new float[b];
        float[] h = new float[b];
        float[] w = new float[b];
        java.util.Arrays.fill(fps, 24);
        java.util.Arrays.fill(h, 240);
        java.util.Arrays.fill(w, 426);
        try (Tensor y2 = captions(b, rows); Tensor mask = textMask(rows);
                MaskedStdit3 den = new MaskedStdit3(model, y2, mask, fps, h, w, merging)) {
            return new RflowSampler().sample(den, noise, o, conditioning(noise.shape(), refs, rows),
                    ProgressListener.NONE, CancellationToken.none());
        }
    }

    @Test
    void twoPromptRunEqualsTheSingleRuns() {
        int[] shape = {2, 4, 5, 8, 8};
        SamplerOptions.Builder ob = SamplerOptions.builder().steps(6).cfgScale(7).videoSize(240, 426).numFrames(17);
        try (Tensor noise = TorchCpuRandom.randn(811, shape); Tensor refs = TorchCpuRandom.randn(821, 2, 4, 1, 8, 8);
                SampleResult both = run(noise, new int[] {0, 1}, ob.inferenceScriptMask(831).build(),
                        TokenMerging.off(), refs)) {
            for (int k = 0; k < 2; k++) {
                try (Tensor one = noise.slice(k, k + 1).copy();
                        SampleResult single = run(one, new int[] {k}, ob.inferenceScriptMask(831, k, 2).build(),
                                TokenMerging.off(), refs)) {
                    double err = Golden.maxAbsErr(both.latent().slice(k, k + 1).toArray(), single.latent().toArray());
                    System.out.println("two-prompt run vs single run of prompt " + k + ": max_abs_err=" + err);
                    assertTrue(err <= 2e-5, "sample " + k + " of the two-prompt run differs from its single run by "
                            + err);
                }
            }
        }
    }

    /** Per-sample height and width: the model reads only the first, so differing values are refused. */
    @Test
    void perSampleSizesMustAgree() {
        try (Tensor x = Tensor.zeros(4, 4, 1, 8, 8); Tensor y = Tensor.zeros(4, 1, L, 8); Tensor m = textMask(
                new int[] {0, 1})) {
            io.github.jsora.dit.Stdit3Input in = new io.github.jsora.dit.Stdit3Input(x, new float[4], y, m, null,
                    new float[] {24, 24}, new float[] {240, 240}, new float[] {426, 426});
            assertEquals(240f, in.height());
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> new io.github.jsora.dit.Stdit3Input(x, new float[4], y, m, null, new float[] {24},
                            new float[] {240, 360}, new float[] {426}));
            assertTrue(e.getMessage().contains("height must be the same for every sample"), e.getMessage());
        }
    }

    /**
     * TDTM with reference frames: merging changes the generated frames (it is applied) and a conditioned frame
     * stays exactly at the reference.
     */
    @Test
    void tokenMergingKeepsConditionedFramesAtTheReference() {
        int[] shape = {1, 4, 5, 8, 8};
        SamplerOptions o = SamplerOptions.builder().steps(6).cfgScale(7).videoSize(240, 426).numFrames(17)
                .inferenceScriptMask(3).build();
        try (Tensor noise = TorchCpuRandom.randn(5, shape); Tensor refs = TorchCpuRandom.randn(6, 2, 4, 1, 8, 8);
                SampleResult plain = run(noise, new int[] {0}, o, TokenMerging.off(), refs);
                SampleResult merged = run(noise, new int[] {0}, o, TokenMerging.firstSteps(3), refs)) {
            float[] r = refs.slice(0).toArray();                   // [C, 1, H, W]
            float[] v = merged.latent().toArray();
            int hw = 64;
            for (int c = 0; c < 4; c++) {
                for (int k = 0; k < hw; k++) {
                    assertEquals(r[c * hw + k], v[(c * 5) * hw + k], "conditioned frame 0 moved");
                }
            }
            double diff = Golden.maxAbsErr(plain.latent().toArray(), v);
            System.out.println("TDTM(3 of 6) with a reference frame vs no merging: max_abs_diff=" + diff);
            assertTrue(diff > 1e-3, "merging had no effect: " + diff);
        }
    }
}
