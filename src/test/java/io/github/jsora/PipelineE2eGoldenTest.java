package io.github.jsora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import io.github.jsora.golden.Golden;
import io.github.jsora.tensor.Tap;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.text.TokenizedBatch;
import io.github.jsora.weights.SafetensorsFile;

/**
 * {@code pipeline_e2e_*}: end-to-end reference runs of the real pipeline on the demo model. Every case runs on the
 * embedded demo model through {@link VideoGenerator}: the prompt from its metadata is tokenised and encoded, sampled
 * from the stored noise with the stored step count and cfg, and decoded; ids are compared exactly, T5 output within
 * 1e-5, every step's latent and model output, the final latent, the temporal decoder output and the frames within
 * 1e-4. A case whose call used the inference script's mask of ones ({@code mask=ones(...)}) runs with
 * {@link GenerationRequest.Builder#inferenceScriptMask(long)} seeded from its {@code torch_global_seed_before_sample}
 * metadata, so the thrown-away first step and the re-noising draw are reproduced too.
 */
class PipelineE2eGoldenTest {

    private static final String KIND = "pipeline_e2e";
    private static final double TOL = 1e-4;
    private static final double T5_TOL = 1e-5;
    private static VideoGenerator gen;

    @BeforeAll
    static void open() {
        gen = VideoGenerator.openDefault();
    }

    @AfterAll
    static void close() {
        gen.close();
    }

    @TestFactory
    Stream<DynamicTest> cases() {
        return Golden.tests(KIND, PipelineE2eGoldenTest::run);
    }

    private static void run(Path file) {
        try (SafetensorsFile c = Golden.open(file)) {
            String prompt = c.metadata().get("prompt");
            String call = c.metadata().get("call");
            assertTrue(prompt != null && call != null, file + ": metadata needs prompt and call");
            int steps = 0;
            while (c.contains("step" + steps + ".z")) {
                steps++;
            }
            assertTrue(steps > 0, file + ": no step tensors");
            Matcher cfgM = Pattern.compile("cfg_scale=([0-9.]+)").matcher(call);
            assertTrue(cfgM.find(), file + ": no cfg_scale in call metadata");
            double cfg = Double.parseDouble(cfgM.group(1));
            int height = (int) c.loadFloats("in.model_args.height")[0];
            int width = (int) c.loadFloats("in.model_args.width")[0];
            int frames = (int) c.loadFloats("in.model_args.num_frames")[0];
            double fps = c.loadFloats("in.model_args.fps")[0];
            GenerationRequest.Builder rb = gen.requestBuilder(prompt).size(width, height).frames(frames).fps(fps)
                    .steps(steps).cfgScale(cfg).seed(0);
            // the inference script's mask of ones: the sampler's own draws come from the torch global generator
            if (Pattern.compile("mask=ones\\(").matcher(call).find()) {
                String globalSeed = c.metadata().get("torch_global_seed_before_sample");
                assertTrue(globalSeed != null, file + ": a mask=ones case needs torch_global_seed_before_sample");
                rb.inferenceScriptMask(Long.parseLong(globalSeed.trim()));
            } else {
                assertTrue(call.contains("mask=None"), file + ": call is neither mask=None nor mask=ones(...)");
            }
            GenerationRequest req = rb.build();

            List<float[]> stepZ = new ArrayList<>();
            List<float[]> stepT = new ArrayList<>();
            List<float[]> stepOut = new ArrayList<>();
            List<float[]> temporal = new ArrayList<>();
            float[][] captions = new float[2][];
            int[][] tokenIds = new int[1][];
            int[][] tokenMask = new int[1][];
            Tap probe = (name, v, index) -> {
                switch (name) {
                    case VideoGenerator.TAP_TOKENS -> tokenIds[0] = firstRow(v);
                    case VideoGenerator.TAP_TOKEN_MASK -> tokenMask[0] = firstRow(v);
                    case VideoGenerator.TAP_CAPTIONS -> {
                        captions[0] = v.slice(0, 1).toArray();
                        captions[1] = v.slice(1, 2).toArray();
                    }
                    case VideoGenerator.TAP_STEP_X -> stepZ.add(v.slice(0, 1).toArray());
                    case VideoGenerator.TAP_STEP_T -> stepT.add(v.toArray());
                    case VideoGenerator.TAP_STEP_OUT -> stepOut.add(v.toArray());
                    case io.github.jsora.vae.VideoVae.TEMPORAL_OUTPUT -> temporal.add(v.toArray());
                    default -> {
                    }
                }
            };
            Tensor noise = c.load("in.z_noise");
            try (Latent latent = gen.denoise(req, noise, GenerationListener.NONE, probe)) {
                long[] ids = c.loadLongs("in.input_ids");
                long[] mask = c.loadLongs("in.attention_mask");
                int[] expIds = new int[ids.length];
                int[] expMask = new int[mask.length];
                for (int i = 0; i < ids.length; i++) {
                    expIds[i] = (int) ids[i];
                    expMask[i] = (int) mask[i];
                }
                assertArrayEquals(expIds, tokenIds[0], "token ids of \"" + prompt + "\"");
                assertArrayEquals(expMask, tokenMask[0], "attention mask");
                System.out.println("golden " + KIND + " " + file.getFileName() + " input_ids: exact PASS");
                Golden.check(KIND, file, "t5.last_hidden_state", c.loadFloats("t5.last_hidden_state"), captions[0],
                        T5_TOL);
                Golden.check(KIND, file, "null_y", c.loadFloats("null_y"), captions[1], 0);
                assertEquals(steps, stepZ.size(), "model evaluations");
                for (int i = 0; i < steps; i++) {
                    Golden.check(KIND, file, "step" + i + ".t", c.loadFloats("step" + i + ".t"), stepT.get(i), 5e-4);
                    Golden.check(KIND, file, "step" + i + ".z", c.loadFloats("step" + i + ".z"), stepZ.get(i), TOL);
                    Golden.check(KIND, file, "step" + i + ".model_out", c.loadFloats("step" + i + ".model_out"),
                            stepOut.get(i), TOL);
                }
                Golden.check(KIND, file, "out.final_z", c.loadFloats("out.final_z"), latent.tensor().toArray(), TOL);

                // decode the reference's final latent, so the decoder is checked on its own input
                float[] expFrames = c.loadFloats("out.frames");       // [1, 3, F, H, W]
                int fh = height;
                int fw = width;
                float[] got = new float[expFrames.length];
                Tap frameProbe = (name, v, index) -> {
                    if (name.equals(VideoGenerator.TAP_FRAME)) {
                        float[] f = v.toArray();                        // [3, H, W]
                        for (int ch = 0; ch < 3; ch++) {
                            System.arraycopy(f, ch * fh * fw, got, ((ch * frames) + index[0]) * fh * fw, fh * fw);
                        }
                    } else if (name.equals(io.github.jsora.vae.VideoVae.TEMPORAL_OUTPUT)) {
                        temporal.add(v.toArray());
                    }
                };
                try (Latent ref = new Latent(c.load("out.final_z"), frames, fps, "reference final latent")) {
                    Video v = gen.decode(ref, GenerationListener.NONE, frameProbe);
                    assertEquals(frames, v.frames().size());
                }
                float[] xz = concatTemporal(temporal, c.info("out.x_z").shape());
                Golden.check(KIND, file, "out.x_z", c.loadFloats("out.x_z"), xz, TOL);
                Golden.check(KIND, file, "out.frames", expFrames, got, TOL);
            }
            noise.close();
        }
    }

    /** The first row of a [P, L] tensor of integers stored as floats. */
    private static int[] firstRow(Tensor t) {
        float[] v = t.slice(0, 1).toArray();
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (int) v[i];
        }
        return out;
    }

    /** Chunks [1, C, Fi, H, W] concatenated along frames into [1, C, F, H, W]. */
    private static float[] concatTemporal(List<float[]> chunks, int[] shape) {
        int ch = shape[1];
        int f = shape[2];
        int hw = shape[3] * shape[4];
        float[] out = new float[ch * f * hw];
        int first = 0;
        for (float[] x : chunks) {
            int fi = x.length / (ch * hw);
            if (first + fi > f) {
                fail("temporal decoder produced more than " + f + " frames");
            }
            for (int c = 0; c < ch; c++) {
                System.arraycopy(x, c * fi * hw, out, (c * f + first) * hw, fi * hw);
            }
            first += fi;
        }
        return out;
    }
}
