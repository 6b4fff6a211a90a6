package io.github.jsora.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.tensor.Tensor;

/** The test-fixture generator of random weights: its rules by name, determinism, and files that hold its values. */
class RandomModelTest {

    private static final BlockLayout LAYOUT = BlockLayout.builder()
            .block("embed").tensor("rope.freqs", 8).tensor("x_embedder.proj.weight", 64, 4, 1, 2, 2)
            .tensor("x_embedder.proj.bias", 64).tensor("shared.weight", 100, 64)
            .block("blk.0").tensor("blocks.0.scale_shift_table", 6, 64).tensor("blocks.0.attn.q_norm.weight", 16)
            .tensor("blocks.0.conv_norm_out.weight", 64).tensor("blocks.0.norm1.bias", 64)
            .tensor("blocks.0.mlp.fc1.weight", 256, 64)
            .block("final").tensor("scale", 1, 4, 1, 1, 1)
            .build();

    private static float[] values(RandomModel m, String name) {
        int[] shape = RandomModel.tensors(LAYOUT).get(name);
        try (Tensor t = m.tensor(name, shape)) {
            return t.toArray();
        }
    }

    private static double mean(float[] v) {
        double s = 0;
        for (float x : v) {
            s += x;
        }
        return s / v.length;
    }

    private static double std(float[] v) {
        double m = mean(v);
        double s = 0;
        for (float x : v) {
            s += (x - m) * (x - m);
        }
        return Math.sqrt(s / v.length);
    }

    @Test
    void rulesByNameGiveTheDocumentedScales() {
        RandomModel m = RandomModel.seeded(3);
        float[] rope = values(m, "rope.freqs");
        assertEquals(1f, rope[0]);
        assertEquals(1f / (float) Math.pow(10000.0, 0.125f), rope[1]);
        // sample standard deviations of thousands of uniform draws lie within a few percent of the rule
        assertEquals(1 / Math.sqrt(16), std(values(m, "x_embedder.proj.weight")), 0.05 / Math.sqrt(16));
        assertEquals(1 / Math.sqrt(64), std(values(m, "blocks.0.mlp.fc1.weight")), 0.05 / Math.sqrt(64));
        assertEquals(1.0, std(values(m, "shared.weight")), 0.05);
        assertEquals(0.1, std(values(m, "blocks.0.scale_shift_table")), 0.01);
        for (String gain : new String[] {"blocks.0.attn.q_norm.weight", "blocks.0.conv_norm_out.weight"}) {
            float[] g = values(m, gain);
            for (float x : g) {
                assertTrue(Math.abs(x - 1) <= 0.1 * Math.sqrt(3) + 1e-6, gain + ": " + x);
            }
            assertEquals(1.0, mean(g), 0.05, gain);
        }
        for (String bias : new String[] {"x_embedder.proj.bias", "blocks.0.norm1.bias"}) {
            for (float x : values(m, bias)) {
                assertTrue(Math.abs(x) <= 0.05 * Math.sqrt(3) + 1e-6, bias + ": " + x);
            }
        }
        assertArrayEquals(new float[] {1, 2, 3, 4}, values(m.with("scale", 1, 2, 3, 4), "scale"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> m.with("scale", 1, 2).tensor("scale", 1, 4, 1, 1, 1));
        assertTrue(e.getMessage().contains("\"scale\"") && e.getMessage().contains("needs 4 values"), e.getMessage());
    }

    @Test
    void valuesAreAFunctionOfSeedNameAndIndex() {
        RandomModel a = RandomModel.seeded(11).with("scale", 1, 2, 3, 4);
        float[] w = values(a, "blocks.0.mlp.fc1.weight");
        assertArrayEquals(w, values(RandomModel.seeded(11), "blocks.0.mlp.fc1.weight"), "same seed, same values");
        assertFalse(java.util.Arrays.equals(w, values(RandomModel.seeded(12), "blocks.0.mlp.fc1.weight")));
        // another layout holding the tensor under the same name and shape serves the same values
        BlockLayout other = BlockLayout.builder().block("x").tensor("blocks.0.mlp.fc1.weight", 256, 64).build();
        try (BlockSource src = a.source(other)) {
            Block b = src.acquire("x");
            assertArrayEquals(w, b.get("blocks.0.mlp.fc1.weight").toArray());
            src.release(b);
        }
    }

    @Test
    void filesHoldTheInMemoryValues(@TempDir Path dir) throws IOException {
        RandomModel m = RandomModel.seeded(5).with("scale", 1, 2, 3, 4);
        Path one = dir.resolve("one.safetensors");
        Path half = dir.resolve("half.safetensors");
        m.write(one, LAYOUT, RandomModel.Format.pretrained().metadata("config", "{}"));
        m.write(half, LAYOUT, RandomModel.Format.of(DType.BF16));
        Path sharded = Files.createDirectory(dir.resolve("sharded"));
        List<Path> shards = m.writeSharded(sharded, RandomModel.tensors(LAYOUT), RandomModel.Format.pretrained(),
                64 * 1024);
        // F32 bytes in order: embed ≈ 30 KiB + four small blk.0 tensors; fc1.weight 64 KiB fills a shard; scale
        assertEquals(3, shards.size(), shards.toString());
        try (BlockSource src = m.source(LAYOUT); Checkpoint f = Checkpoint.open(one);
                Checkpoint h = Checkpoint.open(half); Checkpoint s = Checkpoint.open(sharded)) {
            assertEquals("pt", f.metadata().get("format"));
            assertEquals("{}", f.metadata().get("config"));
            LAYOUT.validate(f);
            LAYOUT.validate(h);
            LAYOUT.validate(s);
            for (BlockLayout.BlockSpec spec : LAYOUT.blocks()) {
                Block b = src.acquire(spec.name());
                for (Map.Entry<String, int[]> e : spec.tensors().entrySet()) {
                    String n = e.getKey();
                    float[] want = b.get(n).toArray();
                    assertEquals(DType.BF16, h.info(n).dtype());
                    try (Tensor tf = f.load(n); Tensor ts = s.load(n); Tensor th = h.load(n)) {
                        assertArrayEquals(want, tf.toArray(), n + " in one F32 file");
                        assertArrayEquals(want, ts.toArray(), n + " in the shards");
                        float[] got = th.toArray();
                        for (int i = 0; i < want.length; i++) {
                            assertEquals(DType.bf16ToFloat(DType.floatToBf16(want[i])), got[i], n + " as BF16");
                        }
                    }
                }
                src.release(b);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> m.write(dir.resolve("x.safetensors"), LAYOUT,
                RandomModel.Format.of(DType.I64)));
    }
}
