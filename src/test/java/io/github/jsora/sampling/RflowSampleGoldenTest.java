package io.github.jsora.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Input;
import io.github.jsora.dit.TokenMerging;
import io.github.jsora.golden.Golden;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Json;
import io.github.jsora.weights.SafetensorsFile;
import io.github.jsora.weights.TensorInfo;

/**
 * Golden kind {@code rflow_sample}: a full guided sampling run of the reference RFLOW sampler with the case's STDiT3
 * (weights named by the metadata), reproduced step by step: the latent fed to the model at every step
 * ({@code step{i}.z}), the timesteps ({@code step{i}.t}), the raw model output ({@code step{i}.model_out}) and the
 * final latent ({@code out.final_z}). The conditioning is bound by {@link MaskedStdit3}: {@code y = cat(in.y,
 * null caption)} with the model's own null caption (checked against the stored {@code null_y}), the case's mask,
 * fps, height and width. Nothing here assumes the golden shapes.
 */
class RflowSampleGoldenTest {

    static final String KIND = "rflow_sample";
    static final double TOL = 1e-4;
    static final double TOL_T = 5e-4;

    @TestFactory
    Stream<DynamicTest> sampling() {
        return Golden.tests(KIND, RflowSampleGoldenTest::runCase);
    }

    /** What the model saw and returned at one step (copies). */
    private record Seen(float[] z, float[] t, float[] out, int[] outShape) {
    }

    @SuppressWarnings("unchecked")
    static void runCase(Path file) {
        List<Tensor> owned = new ArrayList<>();
        try (SafetensorsFile c = Golden.open(file); Stdit3 model = Golden.stdit3(file, c)) {
            String caseJson = c.metadata().get("case");
            assertTrue(caseJson != null, file.getFileName() + ": metadata has no \"case\"");
            Map<String, Object> cs = Json.parseObject(caseJson);
            int steps = ((Number) cs.get("steps")).intValue();
            SamplerOptions opts = SamplerOptions.builder()
                    .steps(steps)
                    .cfgScale(((Number) cs.get("cfg_scale")).doubleValue())
                    .videoSize(((Number) cs.get("height")).intValue(), ((Number) cs.get("width")).intValue())
                    .numFrames(((Number) cs.get("num_frames")).intValue())
                    .timestepTransform(!Boolean.FALSE.equals(cs.get("use_timestep_transform")))
                    .discreteTimesteps(Boolean.TRUE.equals(cs.get("use_discrete_timesteps")))
                    .build();

            Tensor noise = keep(owned, c.load("in.z_noise"));                    // [B, C, T, H, W]
            Tensor y = keep(owned, c.load("in.y"));                              // [B, 1, L, Cc]
            int b = noise.dim(0);
            TensorInfo mi = c.info("in.mask");
            Tensor mask = keep(owned, Stdit3Input.maskOf(c.loadLongs("in.mask"), mi.shape()[0], mi.shape()[1]));
            // the real null caption of the model, repeated B times, must be the stored one
            Tensor nul = keep(owned, model.nullCaption());                       // [1, 1, L, Cc]
            int per = (int) nul.size();
            float[] nullRep = new float[b * per];
            for (int i = 0; i < b; i++) {
                nul.read(0, nullRep, i * per, per);
            }
            assertArrayEquals(c.loadFloats("null_y"), nullRep, file.getFileName() + ": null caption");
            int[] ys = y.shape();
            Tensor y2 = keep(owned, Tensor.zeros(2 * b, ys[1], ys[2], ys[3]));    // [2B, 1, L, Cc]
            y2.slice(0, b).copyFrom(y);
            y2.write(y.size(), nullRep, 0, nullRep.length);
            if (c.contains("step0.model_y")) {
                assertArrayEquals(c.loadFloats("step0.model_y"), y2.toArray(), file.getFileName() + ": model y");
            }
            float[] fps = c.loadFloats("in.model_args.fps");
            float[] height = c.loadFloats("in.model_args.height");
            float[] width = c.loadFloats("in.model_args.width");

            List<Seen> seen = new ArrayList<>();
            try (MaskedStdit3 den = new MaskedStdit3(model, y2, mask, fps, height, width, TokenMerging.off())) {
                DenoisingModel recording = (x, ts, step) -> {
                    Tensor o = den.forward(x, ts, step);
                    seen.add(new Seen(x.slice(0, b).toArray(), ts.clone(), o.toArray(), o.shape()));
                    return o;
                };
                try (SampleResult r = new RflowSampler().sample(recording, noise, opts)) {
                    assertEquals(steps, r.modelCalls(), "model calls");
                    assertEquals(steps, seen.size());
                    for (int i = 0; i < steps; i++) {
                        assertTrue(c.contains("step" + i + ".z"), file.getFileName() + " has no step" + i + ".z");
                        Seen s = seen.get(i);
                        Golden.check(KIND, file, "step" + i + ".t", c.loadFloats("step" + i + ".t"), s.t(), TOL_T);
                        Golden.check(KIND, file, "step" + i + ".z", c.loadFloats("step" + i + ".z"), s.z(), TOL);
                        try (Tensor want = c.load("step" + i + ".model_out")) {
                            assertArrayEquals(want.shape(), s.outShape(), "step" + i + ".model_out shape");
                            Golden.check(KIND, file, "step" + i + ".model_out", want.toArray(), s.out(), TOL);
                        }
                    }
                    assertTrue(!c.contains("step" + steps + ".z"), file.getFileName() + " has more steps than "
                            + steps);
                    try (Tensor want = c.load("out.final_z")) {
                        Golden.check(KIND, file, "out.final_z", want, r.latent(), TOL);
                    }
                    if (c.contains("out.final_z_f64ref")) {
                        try (Tensor want = c.load("out.final_z_f64ref")) {
                            Golden.check(KIND, file, "out.final_z_f64ref", want, r.latent(), TOL);
                        }
                    }
                }
            }
        } finally {
            owned.forEach(Tensor::close);
        }
    }

    private static Tensor keep(List<Tensor> owned, Tensor t) {
        owned.add(t);
        return t;
    }
}
