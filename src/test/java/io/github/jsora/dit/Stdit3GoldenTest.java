package io.github.jsora.dit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import io.github.jsora.golden.Golden;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.SafetensorsFile;
import io.github.jsora.weights.TensorInfo;

/**
 * Every {@code stdit3_fwd*} golden case: the forward of the reference STDiT3 (weights and config named by the case's
 * metadata) reproduced to 1e-4, and every stored intermediate {@code act.*} compared in forward order, so a failure
 * names the first stage that diverges. Nothing here assumes the golden shapes.
 */
class Stdit3GoldenTest {

    static final String KIND = "stdit3_fwd";
    static final double TOL = 1e-4;

    @TestFactory
    Stream<DynamicTest> goldenForward() {
        return Golden.tests(KIND, Stdit3GoldenTest::runCase);
    }

    /**
     * The model evaluations inside the golden 5-step guided sampling run ({@code rflow_sample*}): for every step the
     * forward of cat([z, z]) with cat([prompt, null caption]), the prompt's mask and the all-true x_mask the
     * inference script passes, against the stored raw model output; and the model's null caption against the stored
     * {@code null_y}. (The sampler itself is tested in its own package.)
     */
    @TestFactory
    Stream<DynamicTest> goldenSamplingModelOutputs() {
        return Golden.tests("rflow_sample", Stdit3GoldenTest::runSamplingCase);
    }

    static void runSamplingCase(Path file) {
        String kind = "rflow_sample";
        List<Tensor> owned = new ArrayList<>();
        try (SafetensorsFile c = Golden.open(file); Stdit3 model = Golden.stdit3(file, c)) {
            Tensor y = keep(owned, c.load("in.y"));                 // [B, 1, L, Cc]
            int b = y.dim(0);
            int l = y.dim(2);
            Tensor nul = keep(owned, model.nullCaption());          // [1, 1, Lmax, Cc]
            Tensor storedNull = keep(owned, c.load("null_y"));      // [B, 1, L, Cc]
            for (int i = 0; i < b; i++) {
                Golden.check(kind, file, "null_y[" + i + "]", storedNull.slice(i),
                        nul.view(0, 1, l, nul.dim(3)), 0.0);
            }
            Tensor yy = keep(owned, Tensor.zeros(2 * b, 1, l, y.dim(3)));
            yy.slice(0, b).copyFrom(y);
            yy.slice(b, 2 * b).copyFrom(storedNull);
            if (c.contains("step0.model_y")) {
                try (Tensor want = c.load("step0.model_y")) {
                    Golden.check(kind, file, "step0.model_y", want, yy, 0.0);
                }
            }
            TensorInfo mi = c.info("in.mask");
            Tensor mask = keep(owned, Stdit3Input.maskOf(c.loadLongs("in.mask"), mi.shape()[0], mi.shape()[1]));
            float h = c.loadFloats("in.model_args.height")[0];
            float w = c.loadFloats("in.model_args.width")[0];
            float fps = c.loadFloats("in.model_args.fps")[0];
            for (int step = 0; c.contains("step" + step + ".model_out"); step++) {
                try (Tensor z = c.load("step" + step + ".z"); Tensor want = c.load("step" + step + ".model_out")) {
                    int[] zs = z.shape();
                    zs[0] *= 2;
                    try (Tensor zz = Tensor.zeros(zs); Tensor xMask = Tensor.zeros(zs[0], zs[2]);
                            Tensor out = Tensor.zeros(want.shape())) {
                        zz.slice(0, b).copyFrom(z);
                        zz.slice(b, 2 * b).copyFrom(z);
                        xMask.fill(1f);
                        float[] fpsB = new float[2 * b];
                        java.util.Arrays.fill(fpsB, fps);
                        Stdit3Input in = new Stdit3Input(zz, c.loadFloats("step" + step + ".t"), yy, mask, xMask,
                                fpsB, h, w);
                        model.forward(in, out);
                        Golden.check(kind, file, "step" + step + ".model_out", want, out, TOL);
                    }
                }
            }
        } finally {
            owned.forEach(Tensor::close);
        }
    }

    /** The case's inputs as a forward input (tensors owned by the returned list). */
    static Stdit3Input input(SafetensorsFile c, List<Tensor> owned) {
        Tensor x = keep(owned, c.load("in.x"));
        Tensor y = keep(owned, c.load("in.y"));
        TensorInfo mi = c.info("in.mask");
        Tensor mask = keep(owned, Stdit3Input.maskOf(c.loadLongs("in.mask"), mi.shape()[0], mi.shape()[1]));
        Tensor xMask = null;
        if (c.contains("in.x_mask")) {
            TensorInfo xi = c.info("in.x_mask");
            xMask = keep(owned, Stdit3Input.maskOf(c.loadLongs("in.x_mask"), xi.shape()[0], xi.shape()[1]));
        }
        float[] timestep = c.loadFloats("in.timestep");
        float[] fps = c.loadFloats("in.fps");
        float height = c.loadFloats("in.height")[0];
        float width = c.loadFloats("in.width")[0];
        return new Stdit3Input(x, timestep, y, mask, xMask, fps, height, width);
    }

    private static Tensor keep(List<Tensor> owned, Tensor t) {
        owned.add(t);
        return t;
    }

    static void runCase(Path file) {
        List<Tensor> owned = new ArrayList<>();
        Map<String, Tensor> acts = new LinkedHashMap<>();
        try (SafetensorsFile c = Golden.open(file); Stdit3 model = Golden.stdit3(file, c)) {
            Stdit3Input in = input(c, owned);
            Tensor out = keep(owned, Tensor.zeros(model.outputShape(in)));
            model.forward(in, false, out, (name, t, index) -> acts.put(name, t.copy()));
            acts.values().forEach(owned::add);

            // every stored activation, in the order the forward produced them
            List<String> stored = new ArrayList<>();
            for (TensorInfo info : c.tensors()) {
                if (info.name().startsWith("act.")) {
                    stored.add(info.name().substring(4));
                }
            }
            for (String name : acts.keySet()) {
                if (!stored.remove(name)) {
                    continue;
                }
                if (name.equals("y_lens")) {
                    long[] want = c.loadLongs("act.y_lens");
                    float[] got = acts.get(name).toArray();
                    long[] gotL = new long[got.length];
                    for (int i = 0; i < got.length; i++) {
                        gotL[i] = (long) got[i];
                    }
                    assertArrayEquals(want, gotL, file.getFileName() + " act.y_lens");
                    System.out.println("golden " + KIND + " " + file.getFileName() + " act.y_lens: exact PASS");
                    continue;
                }
                try (Tensor want = c.load("act." + name)) {
                    Golden.check(KIND, file, "act." + name, want, acts.get(name), TOL);
                }
            }
            if (!stored.isEmpty()) {
                fail(file.getFileName() + ": stored activations the forward did not produce: " + stored);
            }
            try (Tensor want = c.load("out.output")) {
                Golden.check(KIND, file, "out.output", want, out, TOL);
            }
            if (c.contains("out.output_f64ref")) {
                try (Tensor want = c.load("out.output_f64ref")) {
                    Golden.check(KIND, file, "out.output_f64ref", want, out, TOL);
                }
            }
        } finally {
            owned.forEach(Tensor::close);
        }
    }
}
