package io.github.jsora.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import io.github.jsora.golden.Golden;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Json;
import io.github.jsora.weights.SafetensorsFile;

/**
 * The adherence checker on the float frames of every {@code pipeline_e2e_*} case ({@code out.frames}
 * [1, 3, T, H, W] in [-1, 1]) reproduces the reference checker's verdict stored in the case's metadata
 * ({@code "checker"}: colour, direction, fg_pixels_mean, dx, dy).
 */
class AdherenceCheckGoldenTest {

    private static final String KIND = "pipeline_e2e";

    @TestFactory
    Stream<DynamicTest> checkerMatchesTheReferenceVerdict() {
        return Golden.tests(KIND, AdherenceCheckGoldenTest::runCase);
    }

    private static void runCase(Path file) {
        try (SafetensorsFile c = Golden.open(file); Tensor frames = c.load("out.frames")) {
            String json = c.metadata().get("checker");
            assertNotNull(json, file.getFileName() + ": metadata has no \"checker\"");
            Map<String, Object> ref = Json.parseObject(json);
            if (frames.rank() != 5 || frames.dim(0) < 1 || frames.dim(1) != 3) {
                throw new AssertionError(file.getFileName() + ": out.frames must be [B, 3, T, H, W], got "
                        + frames.shapeString());
            }
            AdherenceCheck.Verdict v = AdherenceCheck.checkVideoTensor(frames.slice(0)); // [3, T, H, W]
            System.out.println("adherence " + file.getFileName() + ": " + v + " (reference " + json + ")");
            double[] expected = {num(ref, "fg_pixels_mean"), num(ref, "dx"), num(ref, "dy")};
            double[] actual = {v.meanForegroundPixels(), v.dx(), v.dy()};
            float[] e = new float[3];
            float[] a = new float[3];
            for (int i = 0; i < 3; i++) {
                e[i] = (float) expected[i];
                a[i] = (float) actual[i];
            }
            Golden.check(KIND, file, "checker fg_pixels_mean,dx,dy", e, a, 1e-5);
            String[] names = {"fg_pixels_mean", "dx", "dy"};
            for (int i = 0; i < 3; i++) {
                assertEquals(expected[i], actual[i], 1e-9, names[i]);
            }
            assertEquals(ref.get("colour"), v.colour(), "colour");
            Object dir = ref.get("direction");
            assertEquals(dir == null ? "none" : dir, v.direction().word(), "direction");
        }
    }

    private static double num(Map<String, Object> ref, String key) {
        Object v = ref.get(key);
        if (!(v instanceof Number n)) {
            throw new AssertionError("checker metadata has no number \"" + key + "\": " + ref);
        }
        return n.doubleValue();
    }
}
