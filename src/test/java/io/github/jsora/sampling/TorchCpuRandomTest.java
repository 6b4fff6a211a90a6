package io.github.jsora.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

import io.github.jsora.golden.Golden;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.SafetensorsFile;

/**
 * {@link TorchCpuRandom} against noise PyTorch drew: the stored initial noise and per-step draws of the
 * {@code pipeline_e2e} demo cases (drawn by PyTorch 1.13 on CPU, seeds in their metadata), and the values PyTorch's
 * documentation prints for {@code torch.manual_seed(0); torch.randn(2, 3)} (its scalar path).
 */
class TorchCpuRandomTest {

    /** PyTorch's vectorised transform uses float32 log/sin/cos; jsora rounds double results. */
    private static final double TOL = 1e-6;

    private static Path golden(String name) {
        return Path.of(Golden.DEFAULT_DIR).resolve(name);
    }

    @Test
    void initialNoiseMatchesTorchRandnWithAGenerator() {
        // noise=torch.randn(1,4,5,8,8, generator=torch.Generator().manual_seed(42))
        try (SafetensorsFile c = SafetensorsFile.open(golden("pipeline_e2e_demo.safetensors"));
                Tensor mine = TorchCpuRandom.randn(42, 1, 4, 5, 8, 8)) {
            assertTrue(c.metadata().get("noise").contains("manual_seed(42)"), "case metadata names seed 42");
            float[] ref = c.loadFloats("in.z_noise");
            assertEquals(0, Golden.maxAbsErr(ref, mine.toArray()), TOL);
        }
    }

    @Test
    void consecutiveDrawsMatchTorchRandnLikeFromTheGlobalGenerator() {
        // torch.manual_seed(43) before RFLOW.sample, which draws randn_like(z) once per step
        try (SafetensorsFile c = SafetensorsFile.open(golden("pipeline_e2e_demo_inference_mask.safetensors"))) {
            assertEquals("43", c.metadata().get("torch_global_seed_before_sample").trim());
            TorchCpuRandom g = new TorchCpuRandom(43);
            int steps = 0;
            for (int i = 0; c.contains("step" + i + ".randn_like"); i++, steps++) {
                float[] ref = c.loadFloats("step" + i + ".randn_like");
                float[] mine = new float[ref.length];
                g.fillNormal(mine);
                assertEquals(0, Golden.maxAbsErr(ref, mine), TOL, "draw " + i);
            }
            assertEquals(10, steps);
        }
    }

    @Test
    void scalarPathMatchesPytorchDocumentation() {
        // torch.manual_seed(0); torch.randn(2, 3) -> [[1.5410, -0.2934, -2.1788], [0.5684, -1.0845, -1.3986]]
        float[] expected = {1.5410f, -0.2934f, -2.1788f, 0.5684f, -1.0845f, -1.3986f};
        try (Tensor t = TorchCpuRandom.randn(0, 2, 3)) {
            assertArrayEquals(expected, t.toArray(), 5e-5f);
        }
        // torch.manual_seed(0); torch.rand(1) -> 0.4963
        assertEquals(0.4963, new TorchCpuRandom(0).nextUniform(), 5e-5);
    }

    @Test
    void sameSeedSameNoiseOtherSeedOtherNoise() {
        try (Tensor a = TorchCpuRandom.randn(7, 1, 4, 5, 8, 8);
                Tensor b = TorchCpuRandom.randn(7, 1, 4, 5, 8, 8);
                Tensor c = TorchCpuRandom.randn(8, 1, 4, 5, 8, 8)) {
            assertArrayEquals(a.toArray(), b.toArray());
            assertFalse(Arrays.equals(a.toArray(), c.toArray()));
        }
    }

    @Test
    void largeDrawIsStandardNormal() {
        float[] x = new float[1 << 18];
        new TorchCpuRandom(3).fillNormal(x);
        double sum = 0;
        double sq = 0;
        for (float v : x) {
            assertTrue(Float.isFinite(v));
            sum += v;
            sq += (double) v * v;
        }
        double mean = sum / x.length;
        assertEquals(0, mean, 0.01);
        assertEquals(1, sq / x.length - mean * mean, 0.01);
    }

    /** Every slice of a draw equals that part of the whole draw, and leaves the generator in the same state. */
    @Test
    void slicesAgreeWithTheWholeDraw() {
        int[] totals = {1, 5, 15, 16, 17, 40, 47, 64, 1280 * 3, 1000};
        for (int total : totals) {
            TorchCpuRandom whole = new TorchCpuRandom(11);
            float[] all = new float[total];
            whole.fillNormal(all);
            int after = whole.nextInt();
            double afterNormal = whole.nextNormalDouble();   // covers the scalar path's cached spare
            for (int offset : new int[] {0, 1, total / 3, total / 2, Math.max(0, total - 16), total - 1}) {
                for (int len : new int[] {1, 7, 16, 33, total}) {
                    if (offset + len > total) {
                        continue;
                    }
                    TorchCpuRandom part = new TorchCpuRandom(11);
                    float[] slice = new float[len];
                    part.fillNormalSlice(slice, total, offset);
                    String what = "total " + total + " slice [" + offset + ", " + (offset + len) + ")";
                    assertArrayEquals(Arrays.copyOfRange(all, offset, offset + len), slice, what);
                    assertEquals(after, part.nextInt(), what + ": generator state after the draw");
                    assertEquals(afterNormal, part.nextNormalDouble(), what + ": cached normal after the draw");
                }
            }
        }
    }

    @Test
    void batchSliceOfMultipleOf16IsTheSkippedStream() {
        int n = 1280;
        TorchCpuRandom batch = new TorchCpuRandom(1000);
        float[] all = new float[3 * n];
        batch.fillNormal(all);
        TorchCpuRandom skipped = new TorchCpuRandom(1000);
        skipped.skip(2L * n);
        float[] third = new float[n];
        skipped.fillNormal(third);
        assertArrayEquals(Arrays.copyOfRange(all, 2 * n, 3 * n), third);
        try (Tensor t = TorchCpuRandom.randnOfBatch(1000, 2, 3, 1, 4, 5, 8, 8)) {
            assertArrayEquals(third, t.toArray(), "randnOfBatch gives the same slice");
        }
    }

    @Test
    void skipMatchesDrawing() {
        for (long k : new long[] {0, 1, 623, 624, 625, 5000}) {
            TorchCpuRandom a = new TorchCpuRandom(5);
            TorchCpuRandom b = new TorchCpuRandom(5);
            for (long i = 0; i < k; i++) {
                a.nextInt();
            }
            b.skip(k);
            assertEquals(a.nextInt(), b.nextInt(), "after " + k);
        }
    }

    @Test
    void badSlicesAreRefused() {
        TorchCpuRandom g = new TorchCpuRandom(1);
        assertThrows(IllegalArgumentException.class, () -> g.fillNormalSlice(new float[4], 3, 0));
        assertThrows(IllegalArgumentException.class, () -> g.fillNormalSlice(new float[4], 10, 7));
        assertThrows(IllegalArgumentException.class, () -> g.fillNormalSlice(new float[1], 10, -1));
        assertThrows(IllegalArgumentException.class, () -> g.skip(-1));
        assertThrows(IllegalArgumentException.class, () -> TorchCpuRandom.randnOfBatch(1, 3, 3, 16));
        assertThrows(IllegalArgumentException.class, () -> TorchCpuRandom.randnOfBatch(1, -1, 3, 16));
    }
}
