package io.github.jsora.vae;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.ResidentBlockSource;
import io.github.jsora.weights.SafetensorsWriter;

/** Randomly initialised VAE weights for tests: in memory as a {@link BlockSource}, or written as a checkpoint. */
final class RandomVae {

    private RandomVae() {
    }

    /** A small config in the compact layout: spatial [4, 8, 8] (×4 upsampling), temporal filters 4, 17 frames → 5. */
    static final String SMALL_CONFIG = "{\"sd\": {\"block_out_channels\": [4, 8, 8], \"layers_per_block\": 1, "
            + "\"norm_num_groups\": 2, \"latent_channels\": 4, \"out_channels\": 3}, \"temporal\": {\"type\": "
            + "\"VAE_Temporal\", \"filters\": 4, \"num_res_blocks\": 1, \"channel_multipliers\": [1, 2, 2, 4], "
            + "\"temporal_downsample\": [false, true, true], \"num_groups\": 2}, \"micro_frame_size\": 17}";

    static VaeConfig smallConfig() {
        return VaeConfig.parse(io.github.jsora.weights.ModelConfig.parse("small", SMALL_CONFIG));
    }

    /** Every decode-path tensor of the layout with a plausible random value. */
    static Map<String, float[]> weights(VaeConfig cfg, long seed) {
        return weights(VaeLayout.of(cfg), seed);
    }

    /** Every tensor of a layout with a plausible random value. */
    static Map<String, float[]> weights(BlockLayout layout, long seed) {
        Random rnd = new Random(seed);
        Map<String, float[]> m = new LinkedHashMap<>();
        for (BlockLayout.BlockSpec spec : layout.blocks()) {
            for (Map.Entry<String, int[]> e : spec.tensors().entrySet()) {
                int[] s = e.getValue();
                int n = 1;
                for (int d : s) {
                    n *= d;
                }
                float[] v = new float[n];
                String name = e.getKey();
                if (name.equals("scale")) {
                    double[] sc = {3.85, 2.32, 2.33, 3.06};
                    for (int i = 0; i < n; i++) {
                        v[i] = (float) sc[i % 4];
                    }
                } else if (name.equals("shift")) {
                    double[] sh = {-0.10, 0.34, 0.27, 0.98};
                    for (int i = 0; i < n; i++) {
                        v[i] = (float) sh[i % 4];
                    }
                } else if (s.length >= 2) {
                    int fanIn = n / s[0];
                    for (int i = 0; i < n; i++) {
                        v[i] = (float) (rnd.nextGaussian() / Math.sqrt(fanIn));
                    }
                } else if (name.contains("norm") && name.endsWith(".weight")) {
                    for (int i = 0; i < n; i++) {
                        v[i] = (float) (1 + 0.1 * rnd.nextGaussian());
                    }
                } else {
                    for (int i = 0; i < n; i++) {
                        v[i] = (float) (0.05 * rnd.nextGaussian());
                    }
                }
                m.put(name, v);
            }
        }
        return m;
    }

    /** An in-memory block source over random decoder weights. */
    static BlockSource source(VaeConfig cfg, long seed) {
        return source(VaeLayout.of(cfg), seed);
    }

    /** An in-memory block source over random encoder weights ({@code scale}/{@code shift} as the decoder's). */
    static BlockSource encoderSource(VaeConfig cfg, long seed) {
        return source(VaeLayout.encoder(cfg), seed);
    }

    /** An in-memory block source over random weights of a layout. */
    static BlockSource source(BlockLayout layout, long seed) {
        Map<String, float[]> w = weights(layout, seed);
        Map<String, ResidentBlockSource.MaterialBlock> blocks = new LinkedHashMap<>();
        for (BlockLayout.BlockSpec spec : layout.blocks()) {
            Map<String, Tensor> t = new LinkedHashMap<>();
            spec.tensors().forEach((name, shape) -> t.put(name, Tensor.of(w.get(name), shape)));
            blocks.put(spec.name(), new ResidentBlockSource.MaterialBlock(spec.name(), t));
        }
        return new ResidentBlockSource(layout, blocks);
    }

    /** Writes a decoder-only checkpoint with the config JSON in its metadata, plus {@code extra} tensors. */
    static void write(Path file, String configJson, long seed, Map<String, float[]> extra, String... omit) {
        write(file, configJson, seed, -1, extra, omit);
    }

    /**
     * Writes a checkpoint with the config JSON in its metadata: the decoder weights of {@link #source}{@code (seed)},
     * the encoder weights of {@link #encoderSource}{@code (encoderSeed)} unless {@code encoderSeed} is negative, plus
     * {@code extra} tensors, minus {@code omit}.
     */
    static void write(Path file, String configJson, long seed, long encoderSeed, Map<String, float[]> extra,
            String... omit) {
        VaeConfig cfg = VaeConfig.parse(io.github.jsora.weights.ModelConfig.parse("test", configJson));
        Map<String, float[]> w = new LinkedHashMap<>();
        Map<String, int[]> shapes = new LinkedHashMap<>();
        if (encoderSeed >= 0) {
            w.putAll(weights(VaeLayout.encoder(cfg), encoderSeed));
            VaeLayout.encoder(cfg).blocks().forEach(spec -> shapes.putAll(spec.tensors()));
        }
        w.putAll(weights(cfg, seed));
        for (BlockLayout.BlockSpec spec : VaeLayout.of(cfg).blocks()) {
            shapes.putAll(spec.tensors());
        }
        SafetensorsWriter sw = new SafetensorsWriter().metadata("config", configJson);
        outer:
        for (Map.Entry<String, float[]> e : w.entrySet()) {
            for (String o : omit) {
                if (e.getKey().equals(o)) {
                    continue outer;
                }
            }
            sw.add(e.getKey(), e.getValue(), shapes.get(e.getKey()), io.github.jsora.weights.DType.F32);
        }
        extra.forEach((name, v) -> sw.add(name, v, new int[] {v.length}, io.github.jsora.weights.DType.F32));
        try {
            sw.write(file, true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A latent [b, c, t, h, w] of N(0, 1) values. */
    static Tensor latent(long seed, int... shape) {
        Random rnd = new Random(seed);
        Tensor z = Tensor.zeros(shape);
        float[] v = new float[Math.toIntExact(z.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        z.write(0, v, 0, v.length);
        return z;
    }
}
