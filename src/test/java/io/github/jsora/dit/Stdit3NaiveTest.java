package io.github.jsora.dit;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import io.github.jsora.golden.Golden;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.RandomModel;
import io.github.jsora.weights.SafetensorsFile;

/**
 * The fast forward against the literal double-precision {@link Stdit3Naive} on shapes the golden set does not hold:
 * batch 1 and 3, T = 1, odd H/W, other head counts and widths, patch_t = 2, no qk_norm, no stored rope.freqs, no
 * learned sigma, non-prefix and tiled caption masks, x_mask, and TDTM merging for even and odd T. The oracle itself
 * is first checked against the golden cases.
 */
class Stdit3NaiveTest {

    static final double TOL = 1e-4;

    static final Stdit3Config A = new Stdit3Config(32, 2, 2, 4.0, 1, 2, 2, 4, 24, 10, true, true, 512, 0.1);
    static final Stdit3Config B = new Stdit3Config(48, 1, 3, 2.5, 1, 2, 2, 3, 16, 6, false, false, 512, 0.1);
    static final Stdit3Config C = new Stdit3Config(32, 1, 4, 4.0, 2, 2, 2, 4, 8, 5, true, true, 256, 0.1);

    record Case(String name, Stdit3Config cfg, boolean rope, int b, int t, int h, int w, int l, int maskRows,
            boolean xMask, boolean merge, long seed) {
    }

    static List<Case> cases() {
        return List.of(
                new Case("A b1 t3 8x8", A, true, 1, 3, 8, 8, 10, 1, false, false, 1),
                new Case("A b3 t5 5x7 xmask nonprefix-mask", A, true, 3, 5, 5, 7, 7, 3, true, false, 2),
                new Case("A b2 t1 6x6 tiled-mask merge", A, true, 2, 1, 6, 6, 4, 1, false, true, 3),
                new Case("A b2 t4 4x6 xmask merge", A, true, 2, 4, 4, 6, 10, 2, true, true, 4),
                new Case("A b1 t5 5x5 merge(odd T)", A, true, 1, 5, 5, 5, 3, 1, false, true, 5),
                new Case("B b2 t3 7x5 no-rope-stored merge", B, false, 2, 3, 7, 5, 6, 2, false, true, 6),
                new Case("B b1 t2 4x4", B, false, 1, 2, 4, 4, 2, 1, false, false, 7),
                new Case("C pt2 b2 t3 6x6 xmask", C, true, 2, 3, 6, 6, 5, 2, true, false, 8),
                new Case("C pt2 b3 t5 3x5 merge", C, true, 3, 5, 3, 5, 5, 1, false, true, 9));
    }

    @TestFactory
    Stream<DynamicTest> fastMatchesNaive() {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> run(c)));
    }

    static void run(Case c) {
        try (BlockSource src = RandomModel.seeded(c.seed()).source(Stdit3.layout(c.cfg(), c.rope()));
                Stdit3 model = Stdit3.withSource(c.cfg(), src)) {
            Stdit3Naive naive = new Stdit3Naive(c.cfg(), src);
            Inputs in = Inputs.random(c.cfg(), c.b(), c.t(), c.h(), c.w(), c.l(), c.maskRows(), c.xMask(),
                    new Random(c.seed()));
            try (in; Tensor out = Tensor.zeros(model.outputShape(in.input()))) {
                model.forward(in.input(), c.merge(), out);
                float[] want = naive.forward(in.x, c.b(), c.t(), c.h(), c.w(), in.timestep, in.y, c.l(), in.mask,
                        c.maskRows(), in.xMaskValues, in.fps, in.height, in.width, c.merge());
                double err = maxAbs(want, out.toArray());
                System.out.printf("stdit3 fast vs naive [%s]: max_abs_err=%.3e%n", c.name(), err);
                assertTrue(err <= TOL, c.name() + ": fast vs naive max_abs_err=" + err);
            }
        }
    }

    @TestFactory
    Stream<DynamicTest> naiveMatchesGolden() {
        return Golden.tests(Stdit3GoldenTest.KIND, Stdit3NaiveTest::naiveCase);
    }

    static void naiveCase(Path file) {
        try (SafetensorsFile c = Golden.open(file)) {
            Path wPath = Golden.resource(file, c, "weights");
            try (SafetensorsFile wf = SafetensorsFile.open(wPath)) {
                Stdit3Config cfg = Stdit3Config.parse(wPath.toString(), wf.metadata().get("config"));
                Stdit3Naive naive = new Stdit3Naive(cfg, wf);
                int[] xs = c.info("in.x").shape();
                int[] ms = c.info("in.mask").shape();
                long[] ml = c.loadLongs("in.mask");
                float[] mask = new float[ml.length];
                for (int i = 0; i < ml.length; i++) {
                    mask[i] = ml[i];
                }
                float[] xMask = null;
                if (c.contains("in.x_mask")) {
                    long[] xl = c.loadLongs("in.x_mask");
                    xMask = new float[xl.length];
                    for (int i = 0; i < xl.length; i++) {
                        xMask[i] = xl[i];
                    }
                }
                float[] got = naive.forward(c.loadFloats("in.x"), xs[0], xs[2], xs[3], xs[4],
                        c.loadFloats("in.timestep"), c.loadFloats("in.y"), ms[1], mask, ms[0], xMask,
                        c.loadFloats("in.fps"), c.loadFloats("in.height")[0], c.loadFloats("in.width")[0], false);
                double err = maxAbs(c.loadFloats("out.output"), got);
                System.out.printf("stdit3 naive vs golden %s: max_abs_err=%.3e%n", file.getFileName(), err);
                assertTrue(err <= TOL, file.getFileName() + ": naive oracle vs golden max_abs_err=" + err);
            }
        }
    }

    static double maxAbs(float[] a, float[] b) {
        if (a.length != b.length) {
            return Double.POSITIVE_INFINITY;
        }
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs((double) a[i] - b[i]);
            if (Double.isNaN(d)) {
                return Double.POSITIVE_INFINITY;
            }
            m = Math.max(m, d);
        }
        return m;
    }

    /** Random forward inputs as heap arrays and as tensors. */
    static final class Inputs implements AutoCloseable {
        float[] x;
        float[] timestep;
        float[] y;
        float[] mask;
        float[] xMaskValues;
        float[] fps;
        float height;
        float width;
        final List<Tensor> owned = new ArrayList<>();
        Stdit3Input input;

        Stdit3Input input() {
            return input;
        }

        static Inputs random(Stdit3Config cfg, int b, int t, int h, int w, int l, int maskRows, boolean xMask,
                Random rnd) {
            Inputs in = new Inputs();
            in.x = gaussian(rnd, b * cfg.inChannels() * t * h * w);
            in.timestep = new float[b];
            in.fps = new float[b];
            for (int i = 0; i < b; i++) {
                in.timestep[i] = (float) (rnd.nextDouble() * 1000);
                in.fps[i] = rnd.nextBoolean() ? 24f : 12f;
            }
            in.y = gaussian(rnd, b * l * cfg.captionChannels());
            in.mask = new float[maskRows * l];
            for (int r = 0; r < maskRows; r++) {
                int valid = 0;
                for (int j = 0; j < l; j++) {
                    boolean v = rnd.nextDouble() < 0.7;
                    in.mask[r * l + j] = v ? 1f : 0f;
                    valid += v ? 1 : 0;
                }
                if (valid == 0) {
                    in.mask[r * l + rnd.nextInt(l)] = 1f;
                }
            }
            int tp = (t + cfg.patchT() - 1) / cfg.patchT();
            if (xMask) {
                in.xMaskValues = new float[b * tp];
                for (int i = 0; i < in.xMaskValues.length; i++) {
                    in.xMaskValues[i] = rnd.nextDouble() < 0.6 ? 1f : 0f;
                }
            }
            in.height = 8f * h;
            in.width = 8f * w;
            Tensor xt = in.keep(Tensor.of(in.x, b, cfg.inChannels(), t, h, w));
            Tensor yt = in.keep(Tensor.of(in.y, b, 1, l, cfg.captionChannels()));
            Tensor mt = in.keep(Tensor.of(in.mask, maskRows, l));
            Tensor xm = xMask ? in.keep(Tensor.of(in.xMaskValues, b, tp)) : null;
            in.input = new Stdit3Input(xt, in.timestep, yt, mt, xm, in.fps, in.height, in.width);
            return in;
        }

        private Tensor keep(Tensor t) {
            owned.add(t);
            return t;
        }

        static float[] gaussian(Random rnd, int n) {
            float[] f = new float[n];
            for (int i = 0; i < n; i++) {
                f[i] = (float) rnd.nextGaussian();
            }
            return f;
        }

        @Override
        public void close() {
            owned.forEach(Tensor::close);
        }
    }
}
