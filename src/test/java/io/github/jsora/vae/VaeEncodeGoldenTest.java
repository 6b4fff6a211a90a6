package io.github.jsora.vae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import io.github.jsora.golden.Golden;
import io.github.jsora.sampling.TorchCpuRandom;
import io.github.jsora.tensor.Tap;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Json;
import io.github.jsora.weights.SafetensorsFile;

/**
 * Golden kind {@code vae_encode}: {@code VideoAutoencoderPipeline.encode(x)} of the reference against
 * {@link VideoVae#encode}. Per case: the mode path (both posteriors' means and clamped log-variances, the spatial
 * latent, the normalised z), the sampled path fed with the stored raw draws (spatial latent and z), the sampled path
 * with {@link TorchCpuRandom} seeded with the case's global seed (its draws compared exactly with the stored ones,
 * then z), and the decoded round trip of the mode-path z where stored. Shapes, batch size, frame count, seed, call
 * shapes of the draws and chunks come from the case file.
 */
class VaeEncodeGoldenTest {

    static final String KIND = "vae_encode";
    /** README: VAE encode out.z, out.z_mode, means atol 2e-5 (also used for the log-variances and the spatial latent). */
    static final double TOL = 2e-5;
    /**
     * The stored draws are torch's output; {@link TorchCpuRandom} reproduces them to an ulp or two (its documented
     * limit, PyTorch evaluating Box–Muller with vectorised float32 log/sin/cos): 2 ulps of the largest |draw| (≈5).
     */
    static final double TOL_DRAWS = 2 * Math.ulp(5f);
    /** README: out.decoded atol 5e-5, as for the decoder. */
    static final double TOL_DECODED = 5e-5;

    @TestFactory
    Stream<DynamicTest> vaeEncode() {
        return Golden.tests(KIND, VaeEncodeGoldenTest::runCase);
    }

    static void runCase(Path file) {
        try (SafetensorsFile c = Golden.open(file);
                VideoVae vae = VideoVae.open(Golden.resource(file, c, "weights"));
                Tensor x = c.load("in.x")) {
            int[] xs = x.shape();
            assertArrayEquals(c.info("out.z").shape(), vae.encodedShape(xs[0], xs[2], xs[3], xs[4]),
                    "encodedShape");
            List<float[]> draws = storedDraws(c);

            // mode path, with every tap
            try (Taps mode = new Taps(c); Tensor zMode = vae.encode(x, null, mode)) {
                check(c, file, "out.z_mode", zMode, TOL);
                check(c, file, "out.spatial_mean", mode.spatialMean, TOL);
                check(c, file, "out.spatial_logvar", mode.spatialLogvar, TOL);
                check(c, file, "out.temporal_mean", mode.temporalMean, TOL);
                check(c, file, "out.temporal_logvar", mode.temporalLogvar, TOL);
                check(c, file, "out.spatial_mean (mode x_z)", "out.spatial_mean", mode.xz, TOL);
                if (c.contains("out.z_mode_f64ref")) {
                    check(c, file, "out.z_mode_f64ref", zMode, TOL);
                }
                if (c.contains("out.decoded")) {
                    try (Tensor decoded = vae.decode(zMode, xs[2])) {
                        check(c, file, "out.decoded", decoded, TOL_DECODED);
                        if (c.contains("out.decoded_f64ref")) {
                            check(c, file, "out.decoded_f64ref", decoded, TOL_DECODED);
                        }
                    }
                }
            }

            // sampled path, consuming the stored draws call by call
            Replay replay = new Replay(draws);
            try (Taps sampled = new Taps(c); Tensor z = vae.encode(x, replay, sampled)) {
                replay.assertAllConsumed();
                check(c, file, "out.z (stored draws)", "out.z", z, TOL);
                check(c, file, "act.x_z (stored draws)", "act.x_z", sampled.xz, TOL);
                check(c, file, "out.spatial_logvar (sampled path)", "out.spatial_logvar", sampled.spatialLogvar,
                        TOL);
                if (c.contains("out.z_f64ref")) {
                    check(c, file, "out.z_f64ref", z, TOL);
                }
            }

            // sampled path drawing from torch's CPU generator: call by call, the draws are the stored ones (to the
            // ulps TorchCpuRandom documents: PyTorch's vectorised float log/sin/cos vs its StrictMath)
            long seed = Long.parseLong(c.metadata().get("global_seed"));
            TorchCpuRandom check = new TorchCpuRandom(seed);
            List<Float> expected = new ArrayList<>();
            List<Float> actual = new ArrayList<>();
            for (float[] call : draws) {
                float[] got = new float[call.length];
                check.fillNormal(got);
                for (int i = 0; i < call.length; i++) {
                    expected.add(call[i]);
                    actual.add(got[i]);
                }
            }
            Golden.check(KIND, file, "draws (" + draws.size() + " calls, TorchCpuRandom seed " + seed + ")",
                    toArray(expected), toArray(actual), TOL_DRAWS);
            TorchCpuRandom rng = new TorchCpuRandom(seed);
            try (Tensor z = vae.encode(x, rng::fillNormal)) {
                check(c, file, "out.z (TorchCpuRandom seed " + seed + ")", "out.z", z, TOL);
            }
        }
    }

    /**
     * The stored draws as the reference's calls, in call order: {@code draw.spatial} cut by the metadata's spatial
     * call shapes, then per temporal call shape the chunk's frames of {@code draw.temporal} (which holds the calls
     * concatenated along T), checked against {@code draw.temporal.chunk{k}} where stored.
     */
    static List<float[]> storedDraws(SafetensorsFile c) {
        String json = c.metadata().get("draws");
        assertTrue(json != null, "case metadata has no \"draws\"");
        Map<String, Object> meta = Json.parseObject(json);
        List<float[]> calls = new ArrayList<>();
        float[] spatial = c.load("draw.spatial").toArray();
        int at = 0;
        for (int[] shape : shapes(meta.get("spatial_call_shapes"))) {
            int n = size(shape);
            calls.add(java.util.Arrays.copyOfRange(spatial, at, at + n));
            at += n;
        }
        assertEquals(spatial.length, at, "spatial call shapes cover draw.spatial");
        try (Tensor temporal = c.load("draw.temporal")) {
            int[] ts = temporal.shape();                           // [B, C, T, h, w]
            int t0 = 0;
            int k = 0;
            for (int[] shape : shapes(meta.get("temporal_call_shapes"))) {
                int tz = shape[2];
                try (Tensor call = VaeDecodeGoldenTest.sliceFrames(temporal, t0, tz)) {
                    assertArrayEquals(shape, call.shape(), "temporal call " + k);
                    float[] v = call.toArray();
                    if (c.contains("draw.temporal.chunk" + k)) {
                        try (Tensor raw = c.load("draw.temporal.chunk" + k)) {
                            assertArrayEquals(raw.toArray(), v, "draw.temporal.chunk" + k + " vs draw.temporal");
                        }
                    }
                    calls.add(v);
                }
                t0 += tz;
                k++;
            }
            assertEquals(ts[2], t0, "temporal call shapes cover draw.temporal");
        }
        return calls;
    }

    private static List<int[]> shapes(Object o) {
        if (!(o instanceof List<?> l)) {
            throw new AssertionError("draw call shapes missing in the case metadata: " + o);
        }
        List<int[]> out = new ArrayList<>();
        for (Object e : l) {
            List<?> dims = (List<?>) e;
            int[] s = new int[dims.size()];
            for (int i = 0; i < s.length; i++) {
                s[i] = ((Number) dims.get(i)).intValue();
            }
            out.add(s);
        }
        return out;
    }

    private static float[] toArray(List<Float> l) {
        float[] a = new float[l.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = l.get(i);
        }
        return a;
    }

    private static int size(int[] shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    /** Serves the stored draws, one reference call per {@link #fill}, failing on a call of another size. */
    static final class Replay implements StandardNormal {
        private final List<float[]> calls;
        private int next;

        Replay(List<float[]> calls) {
            this.calls = calls;
        }

        @Override
        public void fill(float[] out) {
            if (next >= calls.size()) {
                fail("draw call " + next + " of " + out.length + " values, but the reference made only "
                        + calls.size() + " calls");
            }
            float[] v = calls.get(next);
            assertEquals(v.length, out.length, "size of draw call " + next);
            System.arraycopy(v, 0, out, 0, v.length);
            next++;
        }

        void assertAllConsumed() {
            assertEquals(calls.size(), next, "draw calls made");
        }
    }

    /** The encode taps gathered into tensors of the stored shapes ([B, C, F, h, w] and [B, C, T, h, w]). */
    static final class Taps implements Tap, AutoCloseable {
        final Tensor spatialMean;    // 0.18215 · mean, as out.spatial_mean
        final Tensor spatialLogvar;
        final Tensor xz;
        final Tensor temporalMean;
        final Tensor temporalLogvar;

        Taps(SafetensorsFile c) {
            spatialMean = Tensor.zeros(c.info("out.spatial_mean").shape());
            spatialLogvar = Tensor.zeros(c.info("out.spatial_logvar").shape());
            xz = Tensor.zeros(c.info("out.spatial_mean").shape());
            temporalMean = Tensor.zeros(c.info("out.temporal_mean").shape());
            temporalLogvar = Tensor.zeros(c.info("out.temporal_logvar").shape());
        }

        @Override
        public void capture(String name, Tensor value, int... index) {
            int half = value.dim(0) / 2;
            switch (name) {
                case VideoVae.SPATIAL_MOMENTS -> spatialPosterior(index[0], index[1], value.slice(0, half),
                        value.slice(half, 2 * half));
                case VideoVae.SPATIAL_LATENT -> spatialLatent(index[0], value);
                case VideoVae.TEMPORAL_MOMENTS -> temporalPosterior(index[0], index[1], index[2],
                        value.slice(0, half), value.slice(half, 2 * half));
                default -> throw new AssertionError("unexpected tap " + name);
            }
        }

        private void spatialPosterior(int sample, int frame, Tensor mean, Tensor logvar) {
            int[] s = spatialMean.shape();
            long plane = (long) s[3] * s[4];
            float[] m = mean.toArray();
            for (int i = 0; i < m.length; i++) {
                m[i] *= (float) VaeConfig.SPATIAL_LATENT_SCALE;
            }
            float[] lv = logvar.toArray();
            for (int ch = 0; ch < s[1]; ch++) {
                long dst = (((long) sample * s[1] + ch) * s[2] + frame) * plane;
                spatialMean.write(dst, m, (int) (ch * plane), (int) plane);
                spatialLogvar.write(dst, lv, (int) (ch * plane), (int) plane);
            }
        }

        private void spatialLatent(int sample, Tensor x) {
            float[] v = x.toArray();
            xz.write(sample * (long) v.length, v, 0, v.length);
        }

        private void temporalPosterior(int sample, int chunk, int firstLatentFrame, Tensor mean, Tensor logvar) {
            int[] s = temporalMean.shape();
            int tz = mean.dim(1);
            long plane = (long) s[3] * s[4];
            for (int ch = 0; ch < s[1]; ch++) {
                long dst = (((long) sample * s[1] + ch) * s[2] + firstLatentFrame) * plane;
                VaeDecodeGoldenTest.copy(mean, ch * tz * plane, temporalMean, dst, tz * plane);
                VaeDecodeGoldenTest.copy(logvar, ch * tz * plane, temporalLogvar, dst, tz * plane);
            }
        }

        @Override
        public void close() {
            spatialMean.close();
            spatialLogvar.close();
            xz.close();
            temporalMean.close();
            temporalLogvar.close();
        }
    }

    private static void check(SafetensorsFile c, Path file, String name, Tensor actual, double tol) {
        check(c, file, name, name, actual, tol);
    }

    private static void check(SafetensorsFile c, Path file, String what, String name, Tensor actual, double tol) {
        try (Tensor expected = c.load(name)) {
            Golden.check(KIND, file, what, expected, actual, tol);
        }
    }
}
