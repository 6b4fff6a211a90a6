package io.github.jsora.sampling;

import java.util.ArrayList;
import java.util.List;

import io.github.jsora.tensor.Tensor;

/** Fake denoisers for the sampler tests (no architecture, closed-form outputs). */
final class FakeModels {

    private FakeModels() {
    }

    /**
     * A model whose output depends on the input, the timestep and the step: cond rows {@code 0.5·x + 1e-3·t·sin(k)},
     * uncond rows {@code −0.3·x + cos(k + step)} (k = flat index within the sample); channels beyond C are NaN
     * (the sampler must ignore them). Records every input, timestep array and output.
     */
    static class Analytic implements DenoisingModel {
        final int extraChannels;
        final List<float[]> inputs = new ArrayList<>();
        final List<float[]> timesteps = new ArrayList<>();
        final List<float[]> outputs = new ArrayList<>();
        final List<Integer> steps = new ArrayList<>();

        Analytic(int extraChannels) {
            this.extraChannels = extraChannels;
        }

        @Override
        public Tensor forward(Tensor x, float[] ts, int step) {
            int[] s = x.shape();
            int twoB = s[0], c = s[1];
            int per = s[2] * s[3] * s[4];
            int cOut = c + extraChannels;
            float[] in = x.toArray();
            float[] out = new float[twoB * cOut * per];
            for (int r = 0; r < twoB; r++) {
                for (int ch = 0; ch < cOut; ch++) {
                    for (int k = 0; k < per; k++) {
                        int o = (r * cOut + ch) * per + k;
                        if (ch >= c) {
                            out[o] = Float.NaN;
                            continue;
                        }
                        int kk = ch * per + k;
                        float xv = in[(r * c + ch) * per + k];
                        out[o] = r < twoB / 2 ? 0.5f * xv + 1e-3f * ts[r] * (float) Math.sin(kk)
                                : -0.3f * xv + (float) Math.cos(kk + step);
                    }
                }
            }
            inputs.add(in);
            timesteps.add(ts.clone());
            outputs.add(out);
            steps.add(step);
            return Tensor.of(out, twoB, cOut, s[2], s[3], s[4]);
        }

        int calls() {
            return inputs.size();
        }
    }

    /**
     * A model returning scripted velocities: at step i both halves (cond and uncond, so the guided velocity is the
     * same whatever the scale) hold {@code v_i}: in the slice [b, ch, f] every row is
     * {@code cos(φ_i)·e_0 + sin(φ_i)·e_1}, elsewhere {@code noise}; so the row-wise cosine similarity of steps
     * i and i−1 is {@code cos(φ_i − φ_{i−1})}.
     */
    static final class Scripted implements DenoisingModel {
        final double[] phi;
        final int sliceB, sliceC, sliceF;
        int calls;

        Scripted(double[] similarities, int sliceB, int sliceC, int sliceF) {
            // similarities[i] = wanted cos between step i and i-1 (index 0 unused)
            phi = new double[similarities.length];
            for (int i = 1; i < phi.length; i++) {
                phi[i] = phi[i - 1] + Math.acos(similarities[i]);
            }
            this.sliceB = sliceB;
            this.sliceC = sliceC;
            this.sliceF = sliceF;
        }

        @Override
        public Tensor forward(Tensor x, float[] ts, int step) {
            calls++;
            int[] s = x.shape();
            int twoB = s[0], b = twoB / 2, c = s[1], t = s[2], h = s[3], w = s[4];
            Tensor out = Tensor.zeros(s);
            java.util.Random rnd = new java.util.Random(1000 + step);
            float[] v = new float[(int) out.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) rnd.nextGaussian();
            }
            for (int r = 0; r < h; r++) {
                int base = (((sliceB * c + sliceC) * t + sliceF) * h + r) * w;
                for (int j = 0; j < w; j++) {
                    v[base + j] = j == 0 ? (float) Math.cos(phi[step]) : j == 1 ? (float) Math.sin(phi[step]) : 0f;
                }
            }
            // cond half and uncond half identical
            int half = b * c * t * h * w;
            out.write(0, v, 0, half);
            out.write(half, v, 0, half);
            return out;
        }
    }

    /** A model that must never be called. */
    static DenoisingModel never() {
        return (x, ts, step) -> {
            throw new AssertionError("model called at step " + step + " although the input was invalid");
        };
    }
}
