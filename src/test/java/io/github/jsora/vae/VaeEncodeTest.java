package io.github.jsora.vae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.tensor.NativeMemory;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.WeightFormatException;

/**
 * Encoder behaviour on a small random model and the demo model: the draw calls' sizes and order, batch rows and
 * micro-batches that do not change results, partial chunks and single images, decoder-only and full checkpoints,
 * bad input, and the activation bound against the measured native peak.
 */
class VaeEncodeTest {

    private static final Path DEMO = Path.of("src/main/resources/io/github/jsora/demo-model/vae");

    private static VaeConfig cfg;
    private static BlockSource dec;
    private static BlockSource enc;

    @BeforeAll
    static void setUp() {
        cfg = VaeDecodeTest.smallConfig();
        dec = VaeDecodeTest.smallModel().source(VaeLayout.of(cfg));
        enc = VaeDecodeTest.smallModel().source(VaeLayout.encoder(cfg));
    }

    @AfterAll
    static void tearDown() {
        dec.close();
        enc.close();
    }

    /** A video [shape] of values in [−1, 1]. */
    static Tensor video(long seed, int... shape) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Tensor x = Tensor.zeros(shape);
        float[] v = new float[Math.toIntExact(x.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (2 * rnd.nextDouble() - 1);
        }
        x.write(0, v, 0, v.length);
        return x;
    }

    private static float maxAbsDiff(Tensor a, Tensor b) {
        return VaeDecodeTest.maxAbsDiff(a, b);
    }

    /**
     * Draws that are a fixed function of what they stand for: a spatial draw of (flat frame, element of the
     * frame), a temporal draw of (chunk, sample, element of the sample's part). {@code firstFrame} and
     * {@code firstSample} shift the numbering, so a sub-batch can get the draws its rows had in a larger batch.
     */
    static final class LabelledNoise implements StandardNormal {
        final long frameSize;
        final long spatialTotal;
        final int batch;
        final int firstFrame;
        final int firstSample;
        final List<Integer> calls = new ArrayList<>();
        long spatialDone;
        int chunk;

        LabelledNoise(int batch, int frames, long frameSize, int firstFrame, int firstSample) {
            this.frameSize = frameSize;
            this.spatialTotal = batch * frames * frameSize;
            this.batch = batch;
            this.firstFrame = firstFrame;
            this.firstSample = firstSample;
        }

        private static float value(long a, long b, long c) {
            return (float) new SplittableRandom(a * 1_000_003L + b * 7919L + c).nextGaussian();
        }

        @Override
        public void fill(float[] out) {
            calls.add(out.length);
            if (spatialDone < spatialTotal) {
                for (int i = 0; i < out.length; i++) {
                    long e = spatialDone + i;
                    out[i] = value(0, firstFrame + e / frameSize, e % frameSize);
                }
                spatialDone += out.length;
            } else {
                int per = out.length / batch;
                for (int i = 0; i < out.length; i++) {
                    out[i] = value(1 + chunk, firstSample + i / per, i % per);
                }
                chunk++;
            }
        }
    }

    @Test
    void drawCallsFollowTheReferenceOrderAndBatchRowsAreIndependent() {
        // B = 2, 23 frames = a full chunk of 17 and a partial chunk of 6; 18×20 px → 4×5 latent pixels (factor 4)
        int frames = 23;
        VideoVae vae = new VideoVae(cfg, dec, enc, 3);
        int[] zs = vae.encodedShape(2, frames, 18, 20);
        assertArrayEquals(new int[] {2, 4, 7, 4, 5}, zs);
        long frameSize = 4L * 4 * 5;
        try (Tensor x = video(1, 2, 3, frames, 18, 20)) {
            LabelledNoise noise = new LabelledNoise(2, frames, frameSize, 0, 0);
            try (Tensor z = vae.encode(x, noise)) {
                assertTrue(z.hasShape(zs), z.shapeString());
                // 46 frames in reference micro-batches of 4 over (sample, frame): 11 × 4 frames + 2 frames; then one
                // call per chunk for the whole batch: [2, 4, 5, 4, 5] and [2, 4, 2, 4, 5]
                List<Integer> expected = new ArrayList<>();
                for (int i = 0; i < 11; i++) {
                    expected.add((int) (4 * frameSize));
                }
                expected.add((int) (2 * frameSize));
                expected.add(2 * 4 * 5 * 20);
                expected.add(2 * 4 * 2 * 20);
                assertEquals(expected, noise.calls);
                assertEquals(0, vae.meter().currentBytes(), "activations left allocated after encode");
                // sample 1 alone, with the draws its rows had in the batch, equals row 1
                VideoVae one = new VideoVae(cfg, dec, enc, 1);
                try (Tensor x1 = x.slice(1, 2).copy();
                        Tensor z1 = one.encode(x1, new LabelledNoise(1, frames, frameSize, frames, 1))) {
                    assertTrue(maxAbsDiff(z.slice(1, 2), z1) <= 1e-5f, "row 1 differs by " + maxAbsDiff(z.slice(1, 2),
                            z1));
                }
            }
            // mode path: rows independent, micro-batch size without effect, zero draws = the mode
            try (Tensor z = vae.encode(x); Tensor x0 = x.slice(0, 1).copy();
                    Tensor z0 = new VideoVae(cfg, dec, enc, 1).encode(x0);
                    Tensor zZero = new VideoVae(cfg, dec, enc, 8).encode(x, out -> Arrays.fill(out, 0f))) {
                assertTrue(maxAbsDiff(z.slice(0, 1), z0) <= 1e-5f, "row 0 differs by " + maxAbsDiff(z.slice(0, 1), z0));
                assertTrue(maxAbsDiff(z, zZero) <= 1e-5f, "zero draws differ by " + maxAbsDiff(z, zZero));
            }
        }
    }

    @Test
    void partialChunksSingleImagesAndOddSizesFollowTheReference() {
        VideoVae vae = new VideoVae(cfg, dec, enc, 2);
        // frames → latent frames (5 per 17, ⌈r/4⌉ for a remainder r); sides → ⌊n/4⌋ with this 2-downsampler config
        int[][] cases = {{1, 1}, {4, 1}, {5, 2}, {17, 5}, {18, 6}};
        for (int[] c : cases) {
            try (Tensor x = video(c[0], 1, 3, c[0], 9, 7); Tensor z = vae.encode(x)) {
                assertTrue(z.hasShape(1, 4, c[1], 2, 1), c[0] + " frames: " + z.shapeString());
                for (float v : z.toArray()) {
                    assertTrue(Float.isFinite(v));
                }
                // a chunk is encoded on its own: the first 17 frames of 18 give the first 5 latent frames of 17 alone
                if (c[0] == 18) {
                    try (Tensor x17 = VaeDecodeGoldenTest.sliceFrames(x, 0, 17); Tensor z17 = vae.encode(x17);
                            Tensor head = VaeDecodeGoldenTest.sliceFrames(z, 0, 5)) {
                        assertEquals(0f, maxAbsDiff(head, z17));
                    }
                }
            }
        }
        assertArrayEquals(new int[] {1, 4, 5, 5, 10}, vae.encodedShape(1, 17, 21, 42));
        assertEquals(0, vae.meter().currentBytes());
    }

    @Test
    void badInputIsRejectedWithAClearMessage() {
        VideoVae vae = new VideoVae(cfg, dec, enc, 1);
        try (Tensor x4 = Tensor.zeros(3, 17, 8, 8); Tensor rgba = Tensor.zeros(1, 4, 17, 8, 8);
                Tensor small = Tensor.zeros(1, 3, 17, 3, 8); Tensor noFrames = Tensor.zeros(1, 3, 0, 8, 8)) {
            String m = assertThrows(IllegalArgumentException.class, () -> vae.encode(x4)).getMessage();
            assertTrue(m.contains("[B, 3, F, H, W]"), m);
            m = assertThrows(IllegalArgumentException.class, () -> vae.encode(rgba)).getMessage();
            assertTrue(m.contains("4 channels") && m.contains("encodes 3"), m);
            m = assertThrows(IllegalArgumentException.class, () -> vae.encode(small)).getMessage();
            assertTrue(m.contains("3×8") && m.contains("smaller than the 4×4"), m);
            m = assertThrows(IllegalArgumentException.class, () -> vae.encode(noFrames)).getMessage();
            assertTrue(m.contains("frames >= 1"), m);
            assertThrows(NullPointerException.class, () -> vae.encode(rgba, null));
        }
        VideoVae decoderOnly = new VideoVae(cfg, dec);
        assertFalse(decoderOnly.canEncode());
        try (Tensor x = video(2, 1, 3, 1, 8, 8)) {
            String m = assertThrows(WeightFormatException.class, () -> decoderOnly.encode(x)).getMessage();
            assertTrue(m.contains("decoder weights only"), m);
        }
        String m = assertThrows(IllegalArgumentException.class, () -> new VideoVae(cfg, dec, dec, 1)).getMessage();
        assertTrue(m.contains("spatial_encoder.in"), m);
    }

    @Test
    void fullAndDecoderOnlyCheckpoints(@TempDir Path dir) throws IOException {
        Path full = dir.resolve("full.safetensors");
        VaeDecodeTest.writeSmall(full, true, Map.of());
        try (VideoVae vae = VideoVae.open(full); Tensor x = video(3, 1, 3, 5, 8, 12);
                Tensor z = VaeDecodeTest.latent(4, 1, 4, 5, 2, 2); Tensor d = vae.decode(z, 17)) {
            assertTrue(vae.canEncode());
            VideoVae mem = new VideoVae(cfg, dec, enc, 1);
            try (Tensor d2 = mem.decode(z, 17)) {
                assertEquals(0f, maxAbsDiff(d, d2), "decoding a full checkpoint");
            }
            try (Tensor e = vae.encode(x); Tensor e2 = mem.encode(x)) {
                assertEquals(0f, maxAbsDiff(e, e2), "encoding a full checkpoint");
            }
            vae.releaseEncoderWeights();
            try (Tensor e = vae.encode(x); Tensor e2 = mem.encode(x)) {
                assertEquals(0f, maxAbsDiff(e, e2), "encoding after releasing the encoder weights");
            }
        }
        Path decoderOnly = dir.resolve("decoder.safetensors");
        VaeDecodeTest.writeSmall(decoderOnly, false, Map.of());
        Path oneMissing = dir.resolve("one-missing.safetensors");
        VaeDecodeTest.writeSmall(oneMissing, true, Map.of(), "temporal_vae.quant_conv.conv.bias");
        Path golden = Path.of("testdata/golden/vae_v12_tiny_G_decoder_weights.safetensors");
        for (Path p : new Path[] {decoderOnly, oneMissing, golden}) {
            try (VideoVae vae = VideoVae.open(p); Tensor x = video(3, 1, 3, 5, 16, 16)) {
                assertFalse(vae.canEncode(), p.toString());
                String m = assertThrows(WeightFormatException.class, () -> vae.encode(x)).getMessage();
                assertTrue(m.contains("missing") && m.contains(p.getFileName().toString()), m);
                if (p == oneMissing) {
                    assertTrue(m.contains("1 of its") && m.contains("temporal_vae.quant_conv.conv.bias [8]"), m);
                } else {
                    assertTrue(m.contains("spatial_vae.module.encoder.conv_in.weight"), m);
                }
                assertEquals(0, vae.meter().currentBytes());
            }
        }
        try (VideoVae vae = VideoVae.open(golden); Tensor z = VaeDecodeTest.latent(4, 1, 4, 5, 2, 2);
                Tensor d = vae.decode(z, 17)) {
            assertTrue(d.hasShape(1, 3, 17, 16, 16), "a decoder-only checkpoint still decodes");
        }
    }

    /** Peak tensor bytes above the level before {@code work} (what the bound covers besides the weights). */
    private static long peakDuring(Runnable work) {
        long base = NativeMemory.tensorBytes();
        NativeMemory.resetPeak();
        work.run();
        return NativeMemory.tensorPeakBytes() - base;
    }

    @Test
    void activationBoundHoldsOnTheDemoModel() {
        try (VideoVae vae = VideoVae.open(DEMO, 1); VideoVae vae4 = VideoVae.open(DEMO, 4)) {
            int[][] shapes = {{1, 3, 17, 64, 48}, {1, 3, 40, 32, 32}, {1, 3, 1, 64, 64}, {2, 3, 18, 24, 42}};
            for (VideoVae v : new VideoVae[] {vae, vae4}) {
                try (Tensor warm = video(0, 1, 3, 1, 8, 8); Tensor zw = v.encode(warm)) {
                    assertTrue(zw.hasShape(1, 4, 1, 1, 1));   // loads the encoder weights before measuring
                }
                for (int[] s : shapes) {
                    try (Tensor x = video(s[2], s)) {
                        long bound = v.encodeActivationBytes(s);
                        long peak = peakDuring(() -> v.encode(x, new LabelledNoise(
                                s[0], s[2], 4L * (s[3] / 8) * (s[4] / 8), 0, 0)).close());
                        System.out.printf("vae encode %s frameBatch %d: peak %d bytes, bound %d bytes (%.2f×)%n",
                                Arrays.toString(s), v.frameBatch(), peak, bound, bound / (double) peak);
                        assertTrue(peak <= bound, Arrays.toString(s) + ": measured " + peak + " > bound " + bound);
                        assertTrue(bound <= 3 * peak, Arrays.toString(s) + ": bound " + bound + " far above " + peak);
                    }
                }
            }
        }
    }
}
