package io.github.jsora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Config;
import io.github.jsora.dit.Stdit3Input;
import io.github.jsora.tensor.Bf16Gemm;
import io.github.jsora.tensor.NativeMemory;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.text.T5Encoder;
import io.github.jsora.text.T5TextEncoder;
import io.github.jsora.text.T5Tokenizer;
import io.github.jsora.text.TextEmbedding;
import io.github.jsora.vae.VideoVae;
import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.ResidentBlockSource;

/**
 * The activation bounds the memory plan uses are bounds: each stage of the demo model allocates at most its
 * estimate besides the weights (measured with {@link NativeMemory}'s peak), and the STDiT3 workspace estimate is
 * exact.
 */
class ActivationEstimateTest {

    private static final Path DEMO = Path.of("src/main/resources/io/github/jsora/demo-model");

    /** Peak tensor bytes above the level before {@code work} (what the estimates bound; slabs are the slack's). */
    private static long peakDuring(Runnable work) {
        long base = NativeMemory.tensorBytes();
        NativeMemory.resetPeak();
        work.run();
        return NativeMemory.tensorPeakBytes() - base;
    }

    @Test
    void stdit3WorkspaceEstimateEqualsTheWorkspace() {
        try (Stdit3 dit = Stdit3.load(DEMO.resolve("stdit"))) {
            int[][] geometries = {{2, 5, 8, 8, 300}, {1, 1, 3, 5, 7}, {2, 13, 30, 53, 300}, {2, 4, 9, 16, 20}};
            for (int[] g : geometries) {
                for (boolean merging : new boolean[] {false, true}) {
                    long est = Stdit3.workspaceBytes(dit.config(), g[0], g[1], g[2], g[3], g[4], merging);
                    long got = dit.reserveWorkspace(g[0], g[1], g[2], g[3], g[4], merging);
                    assertEquals(got, est, java.util.Arrays.toString(g) + " merging " + merging);
                    dit.releaseWorkspace();
                }
            }
        }
    }

    /** bf16 compute (every product native): the estimates count the product scratch, and still bound the peak. */
    @Test
    void bf16ComputeEstimatesCountTheProductScratch() {
        Bf16Gemm.setRoute(Bf16Gemm.Route.NATIVE);
        Bf16Gemm.setMinNativeMacs(0);
        try (T5TextEncoder t5 = T5TextEncoder.open(DEMO.resolve("t5"), T5Tokenizer.Options.openSora(),
                (c, layout) -> new ResidentBlockSource(c, layout, T5Encoder.BF16_PRODUCTS));
                Checkpoint ckpt = Checkpoint.open(DEMO.resolve("stdit"));
                Stdit3 fp32 = Stdit3.load(DEMO.resolve("stdit"))) {
            TextEmbedding[] out = new TextEmbedding[1];
            long peak = peakDuring(() -> out[0] = t5.encode(new String[] {"a red circle", "blurry"}));
            int len = out[0].y().dim(2);
            out[0].close();
            long bound = T5Encoder.activationBytes(t5.config(), 2, len, true);
            assertTrue(peak <= bound, "bf16 T5: measured " + peak + " > bound " + bound);
            assertTrue(bound > T5Encoder.activationBytes(t5.config(), 2, len, false), "the scratch is counted");

            Stdit3Config cfg = fp32.config();
            try (ResidentBlockSource src = new ResidentBlockSource(ckpt, Stdit3.validatedLayout(cfg, ckpt),
                    Stdit3.BF16_PRODUCTS);
                    Stdit3 dit = Stdit3.withSource(cfg, src);
                    Tensor x = Tensor.zeros(2, cfg.inChannels(), 5, 8, 8);
                    Tensor y = Tensor.zeros(2, 1, 16, cfg.captionChannels());
                    Tensor mask = Tensor.of(new float[] {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 1, 16)) {
                Stdit3Input in = new Stdit3Input(x, new float[] {900f, 900f}, y, mask, null, new float[] {24f, 24f},
                        new float[] {64f}, new float[] {64f});
                dit.forward(in).close();
                long est = Stdit3.workspaceBytes(cfg, 2, 5, 8, 8, 16, false, true);
                assertEquals(est, dit.workspaceBytes(), "bf16 workspace with its product scratch");
                assertTrue(est > Stdit3.workspaceBytes(cfg, 2, 5, 8, 8, 16, false), "the scratch is counted");
            }
        } finally {
            Bf16Gemm.setMinNativeMacs(Bf16Gemm.MIN_NATIVE_MACS);
            Bf16Gemm.setRoute(null);
        }
    }

    @Test
    void t5ActivationBoundHoldsForOneAndTwoPrompts() {
        try (T5TextEncoder t5 = T5TextEncoder.open(DEMO.resolve("t5"))) {
            for (String[] prompts : new String[][] {{"a red circle moving left"}, {"a red circle", "blurry"}}) {
                TextEmbedding[] out = new TextEmbedding[1];
                long peak = peakDuring(() -> out[0] = t5.encode(prompts));
                int len = out[0].y().dim(2);
                out[0].close();
                long bound = T5Encoder.activationBytes(t5.config(), prompts.length, len);
                assertTrue(peak <= bound, prompts.length + " prompts: measured " + peak + " > bound " + bound);
                assertTrue(bound <= 4 * Math.max(peak, 1), "bound " + bound + " far above measured " + peak);
            }
        }
    }

    @Test
    void vaeActivationBoundHoldsForOneAndTwoChunks() {
        try (VideoVae vae = VideoVae.open(DEMO.resolve("vae"))) {
            for (int frames : new int[] {17, 34, 1}) {
                int[] shape = vae.latentShape(1, frames, 64, 48);
                SplittableRandom rnd = new SplittableRandom(frames);
                float[] data = new float[shape[0] * shape[1] * shape[2] * shape[3] * shape[4]];
                for (int i = 0; i < data.length; i++) {
                    data[i] = (float) rnd.nextGaussian();
                }
                try (Tensor z = Tensor.of(data, shape)) {
                    long peak = peakDuring(() -> vae.decode(z, frames, (s, f, frame) -> { }));
                    long bound = vae.activationBytes(shape, frames);
                    assertTrue(peak <= bound, frames + " frames: measured " + peak + " > bound " + bound);
                }
            }
        }
    }
}
