package io.github.jsora.dit;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.ResidentBlockSource;
import io.github.jsora.weights.ResidentBlockSource.MaterialBlock;

/**
 * Randomly initialised STDiT3 weights in the exact layout of a configuration, for tests and benchmarks that need
 * no real checkpoint (the same scheme the golden vectors used): linear and conv weights N(0, 1/fan_in), biases
 * N(0, 0.05²), {@code scale_shift_table} N(0, 0.1²), q/k norm weights 1 + N(0, 0.1²), null caption
 * N(0, 1/caption_channels), rotary frequencies at their reference values. Deterministic for a seed.
 */
public final class RandomWeights {

    private RandomWeights() {
    }

    /** A resident block source of random weights for {@code cfg} (closing it frees them). */
    public static BlockSource source(Stdit3Config cfg, boolean withRopeFreqs, long seed) {
        BlockLayout layout = Stdit3.layout(cfg, withRopeFreqs);
        Map<String, MaterialBlock> blocks = new LinkedHashMap<>();
        SplittableRandom rnd = new SplittableRandom(seed);
        for (BlockLayout.BlockSpec spec : layout.blocks()) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            for (Map.Entry<String, int[]> e : spec.tensors().entrySet()) {
                m.put(e.getKey(), tensor(cfg, e.getKey(), e.getValue(), rnd));
            }
            blocks.put(spec.name(), new MaterialBlock(spec.name(), m));
        }
        return new ResidentBlockSource(layout, blocks);
    }

    /** One random tensor of the scheme above for a state_dict name. */
    public static Tensor tensor(Stdit3Config cfg, String name, int[] shape, SplittableRandom rnd) {
        Tensor t = Tensor.zeros(shape);
        if (name.equals(Stdit3.ROPE_FREQS)) {
            float[] f = Embedders.defaultRopeFreqs(cfg.headDim());
            t.write(0, f, 0, f.length);
            return t;
        }
        double mean = 0;
        double std;
        if (name.endsWith("scale_shift_table")) {
            std = 0.1;
        } else if (name.endsWith("norm.weight")) {
            mean = 1;
            std = 0.1;
        } else if (name.endsWith("y_embedding")) {
            std = 1 / Math.sqrt(cfg.captionChannels());
        } else if (name.endsWith(".bias")) {
            std = 0.05;
        } else {
            long fanIn = 1;
            for (int i = 1; i < shape.length; i++) {
                fanIn *= shape[i];
            }
            std = 1 / Math.sqrt(fanIn);
        }
        float[] buf = new float[(int) Math.min(t.size(), 1 << 16)];
        for (long off = 0; off < t.size(); off += buf.length) {
            int n = (int) Math.min(buf.length, t.size() - off);
            for (int i = 0; i < n; i++) {
                buf[i] = (float) (mean + std * gaussian(rnd));
            }
            t.write(off, buf, 0, n);
        }
        return t;
    }

    private static double gaussian(SplittableRandom rnd) {
        // Box-Muller; one value per call keeps the stream simple and deterministic
        double u = 1.0 - rnd.nextDouble();
        double v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
