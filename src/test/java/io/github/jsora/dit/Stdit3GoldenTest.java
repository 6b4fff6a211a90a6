package io.github.jsora.dit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
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

    /** Model of a golden case's weights file (config from its metadata). */
    static Stdit3 model(Path caseFile, SafetensorsFile c) {
        Path weights = Golden.resource(caseFile, c, "weights");
        try (SafetensorsFile wf = SafetensorsFile.open(weights)) {
            String json = wf.metadata().get("config");
            assertTrue(json != null, weights + ": metadata has no \"config\"");
            return Stdit3.load(Stdit3Config.parse(weights + "#config", json), wf);
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
        try (SafetensorsFile c = Golden.open(file); Stdit3 model = model(file, c)) {
            Stdit3Input in = input(c, owned);
            Tensor out = keep(owned, Tensor.zeros(model.outputShape(in)));
            model.forward(in, false, out, (name, t) -> acts.put(name, t.copy()));
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
