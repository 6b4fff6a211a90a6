package io.github.jsora.vae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import io.github.jsora.golden.Golden;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Json;
import io.github.jsora.weights.SafetensorsFile;

/**
 * Golden kind {@code vae_decode}: {@code VideoAutoencoderPipeline.decode(z, num_frames)} of the reference against
 * {@link VideoVae}, on the final frames and on the intermediate taps (scaled latent, every temporal chunk's output,
 * the concatenated spatial latent). Any batch size, frame count and config in the case folder.
 */
class VaeDecodeGoldenTest {

    static final String KIND = "vae_decode";
    /** README: VAE decode atol 5e-5 (fp32 vs f64 of the reference is 8.6e-6). */
    static final double TOL = 5e-5;

    @TestFactory
    Stream<DynamicTest> vaeDecode() {
        return Golden.tests(KIND, VaeDecodeGoldenTest::runCase);
    }

    static int numFrames(SafetensorsFile c) {
        String caseJson = c.metadata().get("case");
        if (caseJson != null) {
            Map<String, Object> m = Json.parseObject(caseJson);
            if (m.get("num_frames") instanceof Long n) {
                return n.intValue();
            }
        }
        return c.info("out.x").shape()[2];
    }

    static void runCase(Path file) {
        try (SafetensorsFile c = Golden.open(file);
                VideoVae vae = VideoVae.open(Golden.resource(file, c, "weights"));
                Tensor z = c.load("in.z")) {
            int numFrames = numFrames(c);
            int[] zs = z.shape();
            int batch = zs[0];
            int[] os = vae.outputShape(zs, numFrames);
            int cz = vae.config().temporal().inOutChannels();
            try (Tensor zScaled = Tensor.zeros(zs);
                    Tensor xz = Tensor.zeros(batch, cz, numFrames, zs[3], zs[4]);
                    Tensor x = Tensor.zeros(os)) {
                List<int[]> chunkFrames = new ArrayList<>(); // chunk k → {firstFrame, frames}
                long plane = (long) zs[3] * zs[4];
                long outPlane = (long) os[3] * os[4];
                vae.decode(z, numFrames, (b, f, frame) -> {
                    for (int ch = 0; ch < os[1]; ch++) {
                        copy(frame, ch * outPlane, x, (((long) b * os[1] + ch) * numFrames + f) * outPlane, outPlane);
                    }
                }, (name, xc, index) -> {
                    int b = index[0];
                    if (name.equals(VideoVae.SCALED_LATENT)) {
                        int t0 = index[2];
                        int tz = xc.dim(1);
                        for (int ch = 0; ch < zs[1]; ch++) {
                            copy(xc, ch * tz * plane, zScaled, (((long) b * zs[1] + ch) * zs[2] + t0) * plane,
                                    tz * plane);
                        }
                    } else if (name.equals(VideoVae.TEMPORAL_OUTPUT)) {
                        int f0 = index[2];
                        int nf = xc.dim(1);
                        if (b == 0) {
                            chunkFrames.add(new int[] {f0, nf});
                        }
                        for (int ch = 0; ch < cz; ch++) {
                            copy(xc, ch * nf * plane, xz, (((long) b * cz + ch) * numFrames + f0) * plane,
                                    nf * plane);
                        }
                    }
                });
                check(c, file, "act.z_scaled", zScaled);
                int checkedChunks = 0;
                for (int k = 0; c.contains("act.temporal_chunk" + k + ".out"); k++) {
                    assertTrue(k < chunkFrames.size(), "reference has more temporal chunks than jsora decoded");
                    int[] fr = chunkFrames.get(k);
                    try (Tensor expected = c.load("act.temporal_chunk" + k + ".out");
                            Tensor actual = sliceFrames(xz, fr[0], fr[1])) {
                        Golden.check(KIND, file, "act.temporal_chunk" + k + ".out", expected, actual, TOL);
                    }
                    checkedChunks++;
                }
                assertEquals(chunkFrames.size(), checkedChunks, "temporal chunks compared");
                check(c, file, "act.x_z", xz);
                check(c, file, "out.x", x);
                if (c.contains("out.x_f64ref")) {
                    check(c, file, "out.x_f64ref", x);
                }
            }
        }
    }

    private static void check(SafetensorsFile c, Path file, String name, Tensor actual) {
        try (Tensor expected = c.load(name)) {
            Golden.check(KIND, file, name, expected, actual, TOL);
        }
    }

    /** [B, C, F, h, w] frames [f0, f0 + n) as a new tensor [B, C, n, h, w]. */
    static Tensor sliceFrames(Tensor x, int f0, int n) {
        int[] s = x.shape();
        long plane = (long) s[3] * s[4];
        Tensor out = Tensor.zeros(s[0], s[1], n, s[3], s[4]);
        for (int r = 0; r < s[0] * s[1]; r++) {
            copy(x, ((long) r * s[2] + f0) * plane, out, (long) r * n * plane, n * plane);
        }
        return out;
    }

    static void copy(Tensor src, long srcOff, Tensor dst, long dstOff, long len) {
        float[] buf = new float[(int) Math.min(len, 1 << 16)];
        for (long p = 0; p < len; p += buf.length) {
            int n = (int) Math.min(buf.length, len - p);
            src.read(srcOff + p, buf, 0, n);
            dst.write(dstOff + p, buf, 0, n);
        }
    }
}
