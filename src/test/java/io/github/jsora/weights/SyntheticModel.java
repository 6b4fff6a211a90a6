package io.github.jsora.weights;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Test fixture: a small random checkpoint in a model-like block layout (a small "embed" block, {@code blocks}
 * equal "blk.i" blocks of mixed F32/BF16 tensors, a tiny "final" block) written with {@link SafetensorsWriter}, and
 * a fake forward pass that walks a {@link BlockSource} in layout order and records every value it saw.
 */
final class SyntheticModel {

    final Path file;
    final BlockLayout layout;

    private SyntheticModel(Path file, BlockLayout layout) {
        this.file = file;
        this.layout = layout;
    }

    static SyntheticModel write(Path dir, int blocks, int width, long seed) throws IOException {
        Random rnd = new Random(seed);
        SafetensorsWriter w = new SafetensorsWriter();
        BlockLayout.Builder b = BlockLayout.builder();
        b.block("embed");
        add(w, b, rnd, "embed.weight", DType.F32, 16, width);
        add(w, b, rnd, "embed.bias", DType.F32, width);
        for (int i = 0; i < blocks; i++) {
            b.block("blk." + i);
            String p = "blocks." + i + ".";
            add(w, b, rnd, p + "attn.qkv.weight", DType.BF16, 3 * width, width);
            add(w, b, rnd, p + "attn.qkv.bias", DType.F32, 3 * width);
            add(w, b, rnd, p + "mlp.fc1.weight", DType.BF16, 4 * width, width);
            add(w, b, rnd, p + "mlp.fc2.weight", DType.F16, width, 4 * width);
            add(w, b, rnd, p + "norm.scale", DType.F32, width);
        }
        b.block("final");
        add(w, b, rnd, "final.weight", DType.F32, 4, width);
        Path file = dir.resolve("model.safetensors");
        w.write(file, true);
        return new SyntheticModel(file, b.build());
    }

    private static void add(SafetensorsWriter w, BlockLayout.Builder b, Random rnd, String name, DType dt,
            int... shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        w.add(name, v, shape, dt);
        b.tensor(name, shape);
    }

    /**
     * {@code passes} forward passes: each acquires every block in layout order, reads every tensor (the "compute",
     * optionally sleeping {@code computeMillis} per block) and releases it. Returns the values seen, in order.
     */
    static List<float[]> run(BlockSource src, int passes, long computeMillis) {
        List<float[]> seen = new ArrayList<>();
        for (int p = 0; p < passes; p++) {
            for (BlockLayout.BlockSpec spec : src.layout().blocks()) {
                Block blk = src.acquire(spec.name());
                try {
                    for (Map.Entry<String, int[]> e : spec.tensors().entrySet()) {
                        seen.add(blk.get(e.getKey()).toArray());
                    }
                    if (computeMillis > 0) {
                        Thread.sleep(computeMillis);
                    }
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                } finally {
                    src.release(blk);
                }
            }
        }
        return seen;
    }
}
