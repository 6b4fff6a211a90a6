package io.github.jsora.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import io.github.jsora.golden.Golden;
import io.github.jsora.weights.Json;
import io.github.jsora.weights.SafetensorsFile;

/**
 * Golden kind {@code rflow_schedules}: every combo of the metadata "combos" gives the reference timesteps within
 * 5e-4. Where the reference schedule is not finite (2–16 pixel frames: the reference's ratio is 0), jsora's
 * documented schedule (frame factor ⌈F/4⌉) is asserted instead, against an independent double-precision formula.
 */
class RflowSchedulesGoldenTest {

    static final String KIND = "rflow_schedules";
    static final double TOL = 5e-4;

    @TestFactory
    Stream<DynamicTest> schedules() {
        return Golden.tests(KIND, RflowSchedulesGoldenTest::runCase);
    }

    @SuppressWarnings("unchecked")
    static void runCase(Path file) {
        try (SafetensorsFile f = Golden.open(file)) {
            String combosJson = f.metadata().get("combos");
            assertTrue(combosJson != null, file.getFileName() + ": metadata has no \"combos\"");
            List<Object> combos = (List<Object>) Json.parse(combosJson);
            assertFalse(combos.isEmpty(), file.getFileName() + ": no combos");
            for (Object o : combos) {
                Map<String, Object> c = (Map<String, Object>) o;
                String key = (String) c.get("key");
                int steps = num(c, "num_sampling_steps");
                int n = num(c, "num_timesteps");
                int h = num(c, "height");
                int w = num(c, "width");
                int frames = num(c, "num_frames");
                boolean transform = (Boolean) c.get("use_timestep_transform");
                boolean discrete = (Boolean) c.get("use_discrete_timesteps");
                SamplerOptions opts = SamplerOptions.builder().steps(steps).numTimesteps(n).videoSize(h, w)
                        .numFrames(frames).timestepTransform(transform).discreteTimesteps(discrete).build();
                float[] ours = RflowSchedule.of(opts).timesteps();
                float[] ref = f.loadFloats(key + ".timesteps");
                assertEquals(ref.length, ours.length, key + ": number of timesteps");
                boolean refFinite = true;
                for (float v : ref) {
                    refFinite &= Float.isFinite(v);
                }
                // independent double-precision twin with jsora's frame factor rule
                double[] twin = twin(steps, n, discrete, transform, h, w, frames);
                if (refFinite) {
                    Golden.check(KIND, file, key + ".timesteps", ref, ours, TOL);
                    for (int i = 0; i < ours.length; i++) {
                        assertEquals(twin[i], ours[i], TOL, key + ": t[" + i + "] vs the double-precision formula");
                    }
                    if (ref[0] > n) {
                        // float32 overshoot of the first step (e.g. 1000.0001220703125): fed to the model as is
                        assertEquals(Float.floatToIntBits(ref[0]), Float.floatToIntBits(ours[0]),
                                key + ": first timestep " + ours[0] + " must equal the reference's " + ref[0]);
                    }
                } else {
                    // the reference is undefined here (NaN/0 schedule): check jsora's documented behaviour
                    assertTrue(frames >= 2 && frames <= 16 && transform,
                            key + ": non-finite reference schedule outside the documented 2..16-frame case");
                    assertEquals((frames + 3) / 4, RflowSchedule.of(opts).frameFactor(), key + ": frame factor");
                    for (int i = 0; i < ours.length; i++) {
                        assertTrue(Float.isFinite(ours[i]) && ours[i] > 0, key + ": t[" + i + "]=" + ours[i]);
                        assertTrue(i == 0 || ours[i] < ours[i - 1], key + ": not decreasing at " + i);
                    }
                    double err = 0;
                    for (int i = 0; i < ours.length; i++) {
                        err = Math.max(err, Math.abs(ours[i] - twin[i]));
                    }
                    System.out.println(String.format(Locale.ROOT,
                            "golden %s %s %s.timesteps: reference non-finite (NaN/0, %d frames); jsora F_t=%d "
                                    + "schedule vs double twin max_abs_err=%.3e tol=%.1e %s",
                            KIND, file.getFileName(), key, frames, (frames + 3) / 4, err, TOL,
                            err <= TOL ? "PASS" : "FAIL"));
                    assertTrue(err <= TOL, key + ": jsora schedule differs from its formula by " + err);
                }
            }
        }
    }

    private static int num(Map<String, Object> c, String k) {
        Object v = c.get(k);
        assertTrue(v instanceof Number, "combo field " + k + " missing or not a number: " + v);
        return ((Number) v).intValue();
    }

    /** The schedule in double precision, written from the formula (test-side oracle). */
    static double[] twin(int steps, int n, boolean discrete, boolean transform, int h, int w, int frames) {
        double[] t = new double[steps];
        double ft = frames == 1 ? 1 : frames >= 17 ? Math.floor(frames / 17.0) * 5 : Math.ceil(frames / 4.0);
        double r = Math.sqrt((double) h * w / (512.0 * 512.0)) * Math.sqrt(ft);
        for (int i = 0; i < steps; i++) {
            double base = (1.0 - (double) i / steps) * n;
            if (discrete) {
                base = Math.rint(base);
            }
            double s = base / n;
            t[i] = transform ? n * r * s / (1 + (r - 1) * s) : base;
        }
        return t;
    }
}
