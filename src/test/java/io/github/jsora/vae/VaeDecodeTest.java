package io.github.jsora.vae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.DType;
import io.github.jsora.weights.ModelConfig;
import io.github.jsora.weights.RandomModel;
import io.github.jsora.weights.WeightFormatException;

/** Decoder behaviour on a small random model: bounded memory, streaming, batches, partial chunks, bad input. */
class VaeDecodeTest {

    /** A small config in the compact layout: spatial [4, 8, 8] (×4 upsampling), temporal filters 4, 17 frames → 5. */
    static final String SMALL_CONFIG = "{\"sd\": {\"block_out_channels\": [4, 8, 8], \"layers_per_block\": 1, "
            + "\"norm_num_groups\": 2, \"latent_channels\": 4, \"out_channels\": 3}, \"temporal\": {\"type\": "
            + "\"VAE_Temporal\", \"filters\": 4, \"num_res_blocks\": 1, \"channel_multipliers\": [1, 2, 2, 4], "
            + "\"temporal_downsample\": [false, true, true], \"num_groups\": 2}, \"micro_frame_size\": 17}";

    static VaeConfig smallConfig() {
        return VaeConfig.parse(ModelConfig.parse("small", SMALL_CONFIG));
    }

    /** The random weights of the small model (decoder and encoder; the config's scale and shift). */
    static RandomModel smallModel() {
        return RandomModel.vae(smallConfig(), 5);
    }

    /**
     * Writes the small model's checkpoint with the config JSON in its metadata: the decoder weights of
     * {@link #smallModel}, its encoder weights when {@code withEncoder}, plus {@code extra} vectors, minus
     * {@code omit}.
     */
    static void writeSmall(Path file, boolean withEncoder, Map<String, float[]> extra, String... omit)
            throws IOException {
        VaeConfig c = smallConfig();
        RandomModel m = smallModel();
        Map<String, int[]> tensors = withEncoder ? RandomModel.tensors(VaeLayout.of(c), VaeLayout.encoder(c))
                : RandomModel.tensors(VaeLayout.of(c));
        for (String o : omit) {
            tensors.remove(o);
        }
        for (Map.Entry<String, float[]> e : extra.entrySet()) {
            m = m.with(e.getKey(), e.getValue());
            tensors.put(e.getKey(), new int[] {e.getValue().length});
        }
        m.write(file, tensors, RandomModel.Format.of(DType.F32).metadata("config", SMALL_CONFIG));
    }

    /** A latent [b, c, t, h, w] of N(0, 1) values. */
    static Tensor latent(long seed, int... shape) {
        Random rnd = new Random(seed);
        Tensor z = Tensor.zeros(shape);
        float[] v = new float[Math.toIntExact(z.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        z.write(0, v, 0, v.length);
        return z;
    }

    private static VaeConfig cfg;
    private static BlockSource weights;

    @BeforeAll
    static void setUp() {
        cfg = smallConfig();
        weights = smallModel().source(VaeLayout.of(cfg));
    }

    @AfterAll
    static void tearDown() {
        weights.close();
    }

    static float maxAbsDiff(Tensor a, Tensor b) {
        assertTrue(a.hasShape(b.shape()), a.shapeString() + " vs " + b.shapeString());
        float[] x = a.toArray();
        float[] y = b.toArray();
        float m = 0;
        for (int i = 0; i < x.length; i++) {
            m = Math.max(m, Math.abs(x[i] - y[i]));
        }
        return m;
    }

    @Test
    void peakActivationBytesDoNotGrowWithFrameCount() {
        VideoVae vae = new VideoVae(cfg, weights);
        long[] peaks = new long[2];
        int[] frames = {17, 34};
        for (int i = 0; i < 2; i++) {
            try (Tensor z = latent(1, 1, 4, cfg.latentFrames(frames[i]), 6, 5)) {
                vae.meter().resetPeak();
                int[] count = {0};
                vae.decode(z, frames[i], (b, f, frame) -> count[0]++);
                assertEquals(frames[i], count[0], "frames streamed");
                peaks[i] = vae.meter().peakBytes();
                assertEquals(0, vae.meter().currentBytes(), "activations left allocated after decode");
            }
        }
        System.out.printf("vae activation peak: %d frames %d bytes, %d frames %d bytes%n", frames[0], peaks[0],
                frames[1], peaks[1]);
        assertTrue(peaks[0] > 0);
        assertTrue(peaks[1] <= peaks[0], "peak grew from " + peaks[0] + " to " + peaks[1] + " bytes");
    }

    @Test
    void streamedFramesEqualTheWholeTensorAndBatchRowsAreIndependent() {
        // batch 2, 23 frames = one full chunk + a partial chunk of 6 frames (5 + 2 latent frames)
        int frames = 23;
        assertEquals(7, cfg.latentFrames(frames));
        VideoVae vae = new VideoVae(cfg, weights);
        try (Tensor z = latent(2, 2, 4, 7, 3, 4); Tensor x = vae.decode(z, frames)) {
            assertTrue(x.hasShape(2, 3, frames, 12, 16), x.shapeString());
            List<int[]> order = new ArrayList<>();
            vae.decode(z, frames, (b, f, frame) -> {
                order.add(new int[] {b, f});
                assertTrue(frame.hasShape(3, 12, 16));
                float[] got = frame.toArray();
                for (int c = 0; c < 3; c++) {
                    for (int p = 0; p < 12 * 16; p++) {
                        assertEquals(x.get((((long) b * 3 + c) * frames + f) * 192 + p), got[c * 192 + p]);
                    }
                }
            });
            assertEquals(2 * frames, order.size());
            for (int i = 0; i < order.size(); i++) {
                assertEquals(i / frames, order.get(i)[0]);
                assertEquals(i % frames, order.get(i)[1]);
            }
            // sample 1 decoded alone equals row 1 of the batch
            try (Tensor z1 = z.slice(1, 2).copy(); Tensor x1 = vae.decode(z1, frames)) {
                assertTrue(maxAbsDiff(x.slice(1, 2), x1) <= 1e-5f);
            }
            // micro-batches of 4 frames: same frames
            VideoVae vae4 = new VideoVae(cfg, weights, 4);
            try (Tensor x4 = vae4.decode(z, frames)) {
                assertTrue(maxAbsDiff(x, x4) <= 1e-5f, "micro-batch 4 differs by " + maxAbsDiff(x, x4));
            }
        }
    }

    @Test
    void partialChunksFollowTheFrameCountRule() {
        VideoVae vae = new VideoVae(cfg, weights);
        int[][] cases = {{1, 1}, {4, 1}, {5, 2}, {16, 4}, {17, 5}, {18, 6}, {40, 12}, {51, 15}};
        for (int[] c : cases) {
            assertEquals(c[1], cfg.latentFrames(c[0]), "latent frames for " + c[0]);
        }
        for (int frames : new int[] {1, 5, 18}) {
            List<Integer> chunkFrames = new ArrayList<>();
            try (Tensor z = latent(3, 1, 4, cfg.latentFrames(frames), 2, 3);
                    Tensor x = vae.decode(z, frames)) {
                assertTrue(x.hasShape(1, 3, frames, 8, 12), x.shapeString());
            }
            try (Tensor z = latent(3, 1, 4, cfg.latentFrames(frames), 2, 3)) {
                vae.decode(z, frames, (b, f, frame) -> {
                }, (name, xc, index) -> {
                    if (name.equals(VideoVae.TEMPORAL_OUTPUT)) {
                        chunkFrames.add(xc.dim(1));
                    }
                });
            }
            assertEquals(frames, chunkFrames.stream().mapToInt(Integer::intValue).sum());
        }
    }

    @Test
    void badInputIsRejectedWithAClearMessage() {
        VideoVae vae = new VideoVae(cfg, weights);
        try (Tensor z3 = Tensor.zeros(1, 3, 5, 2, 2); Tensor z = Tensor.zeros(1, 4, 10, 2, 2);
                Tensor z4 = Tensor.zeros(4, 10, 2, 2); Tensor empty = Tensor.zeros(1, 4, 5, 0, 2)) {
            String m = assertThrows(IllegalArgumentException.class, () -> vae.decode(z3, 17)).getMessage();
            assertTrue(m.contains("3 channels") && m.contains("decodes 4"), m);
            m = assertThrows(IllegalArgumentException.class, () -> vae.decode(z, 0)).getMessage();
            assertTrue(m.contains("frames must be >= 1"), m);
            m = assertThrows(IllegalArgumentException.class, () -> vae.decode(z, 17)).getMessage();
            assertTrue(m.contains("10 latent frames") && m.contains("17 frames need 5"), m);
            m = assertThrows(IllegalArgumentException.class, () -> vae.decode(z, 35, (b, f, x) -> {
            })).getMessage();
            assertTrue(m.contains("35 frames need 11"), m);
            m = assertThrows(IllegalArgumentException.class, () -> vae.decode(z4, 34)).getMessage();
            assertTrue(m.contains("[B, C, T, H, W]"), m);
            m = assertThrows(IllegalArgumentException.class, () -> vae.decode(empty, 17)).getMessage();
            assertTrue(m.contains("empty"), m);
            assertEquals(0, vae.meter().currentBytes());
        }
        assertThrows(IllegalArgumentException.class, () -> new VideoVae(cfg, weights, 0));
        VaeConfig other = VaeConfig.openSoraV12();
        String m = assertThrows(IllegalArgumentException.class, () -> new VideoVae(other, weights)).getMessage();
        assertTrue(m.contains("expected"), m);
    }

    @Test
    void openChecksTheCheckpointAndIgnoresEncoderWeights(@TempDir Path dir) throws IOException {
        Path ok = dir.resolve("ok.safetensors");
        writeSmall(ok, false, Map.of("temporal_vae.encoder.conv_in.conv.weight",
                new float[] {1, 2}, "spatial_vae.module.quant_conv.bias", new float[8]));
        try (VideoVae vae = VideoVae.open(ok); Tensor z = latent(4, 1, 4, 5, 2, 2);
                Tensor x = vae.decode(z, 17)) {
            // same weights (same seed) as the in-memory source
            try (Tensor y = new VideoVae(cfg, weights).decode(z, 17)) {
                assertEquals(0f, maxAbsDiff(x, y));
            }
        }
        Path extra = dir.resolve("extra.safetensors");
        writeSmall(extra, false, Map.of("temporal_vae.decoder.surprise", new float[3]));
        String m = assertThrows(WeightFormatException.class, () -> VideoVae.open(extra)).getMessage();
        assertTrue(m.contains("temporal_vae.decoder.surprise"), m);
        Path missing = dir.resolve("missing.safetensors");
        writeSmall(missing, false, Map.of(), "spatial_vae.module.decoder.conv_out.bias");
        m = assertThrows(WeightFormatException.class, () -> VideoVae.open(missing)).getMessage();
        assertTrue(m.contains("spatial_vae.module.decoder.conv_out.bias") && m.contains("missing"), m);
    }
}
