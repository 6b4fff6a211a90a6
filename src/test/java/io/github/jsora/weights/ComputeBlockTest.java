package io.github.jsora.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Config;
import io.github.jsora.golden.Golden;
import io.github.jsora.tensor.PackedWeight;
import io.github.jsora.tensor.Tensor;

/**
 * Blocks for bf16 compute ({@link BlockStore.Options#withPackedProducts}) on the golden tiny STDiT3: product weights
 * handed out packed and never as float32, the other tensors float32 with the bf16 rounding, the sizes the plan and the
 * stats count, and the same values from a checkpoint, from a store and from float32 blocks in memory.
 */
class ComputeBlockTest {

    private static final String QKV = "spatial_blocks.0.attn.qkv.weight";
    private static final String TABLE = "spatial_blocks.0.scale_shift_table";
    private static final String BIAS = "spatial_blocks.0.attn.qkv.bias";

    @Test
    void productWeightsArePackedAndAccounted() {
        Path file = Golden.dir().resolve("stdit3_tiny_G_weights.safetensors");
        try (SafetensorsFile w = SafetensorsFile.open(file)) {
            Stdit3Config cfg = Stdit3Config.parse(file + "#config", w.metadata().get("config"));
            BlockLayout layout = Stdit3.validatedLayout(cfg, w);
            long[] f32 = BlockStore.blockBytes(w, layout);
            long[] compute = BlockStore.computeBytes(layout, Stdit3.BF16_PRODUCTS);
            String pair = Stdit3.pairBlock(0);
            int pi = layout.blocks().indexOf(layout.block(pair));
            assertTrue(compute[pi] < 0.6 * f32[pi] && compute[pi] > 0.4 * f32[pi],
                    "pair block: " + compute[pi] + " bytes in compute form, " + f32[pi] + " float32");
            try (ResidentBlockSource src = new ResidentBlockSource(w, layout, Stdit3.BF16_PRODUCTS);
                    BlockStore store = new BlockStore(w, layout,
                            BlockStore.Options.unlimited().withPackedProducts(Stdit3.BF16_PRODUCTS))) {
                Block b = src.acquire(pair);
                assertEquals(compute[pi], b.bytes());
                PackedWeight qkv = b.packed(QKV);
                assertNotNull(qkv);
                assertEquals(PackedWeight.Format.BF16, qkv.format());
                assertThrows(IllegalStateException.class, () -> b.get(QKV));
                assertFalse(b.tensors().containsKey(QKV));
                assertNull(b.packed(TABLE));
                assertNull(b.packed(BIAS));
                // non-product weights of rank 2 carry the bf16 rounding; rank-1 tensors stay as stored
                try (Tensor table = w.load(TABLE); Tensor bias = w.load(BIAS)) {
                    PackedWeight.roundInPlace(table, PackedWeight.Format.BF16);
                    assertArrayEquals(table.toArray(), b.get(TABLE).toArray());
                    assertArrayEquals(bias.toArray(), b.get(BIAS).toArray());
                }
                try (Tensor expected = w.load(QKV); Tensor got = qkv.expand()) {
                    PackedWeight.roundInPlace(expected, PackedWeight.Format.BF16);
                    assertArrayEquals(expected.toArray(), got.toArray());
                }
                Block s = store.acquire(pair);
                try (Tensor a = qkv.expand(); Tensor c = s.packed(QKV).expand()) {
                    assertArrayEquals(a.toArray(), c.toArray());
                } finally {
                    store.release(s);
                }
                assertEquals(compute[pi], store.plan().blockBytes(pi));
                long total = 0;
                for (long x : compute) {
                    total += x;
                }
                assertEquals(total, new StagedBlockSource(w, layout, WeightPrecision.FLOAT32, Stdit3.BF16_PRODUCTS)
                        .totalBytes());
                src.release(b);
            }
            // float32 blocks in memory give the same values as the checkpoint
            Map<String, ResidentBlockSource.MaterialBlock> m = new LinkedHashMap<>();
            for (BlockLayout.BlockSpec spec : layout.blocks()) {
                m.put(spec.name(), ResidentBlockSource.materialise(w, spec));
            }
            try (ResidentBlockSource mem = ResidentBlockSource.bf16Compute(layout, m, Stdit3.BF16_PRODUCTS);
                    ResidentBlockSource src = new ResidentBlockSource(w, layout, Stdit3.BF16_PRODUCTS);
                    Tensor a = mem.acquire(pair).packed(QKV).expand();
                    Tensor c = src.acquire(pair).packed(QKV).expand()) {
                assertArrayEquals(c.toArray(), a.toArray());
                assertArrayEquals(src.acquire(pair).get(TABLE).toArray(), mem.acquire(pair).get(TABLE).toArray());
                assertEquals(src.bytes(), mem.bytes());
            }
        }
    }

    @Test
    void packedProductsNeedBf16Weights() {
        BlockStore.Options o = BlockStore.Options.unlimited().withPackedProducts(name -> true);
        assertEquals(WeightPrecision.BF16, o.precision());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new BlockStore.Options(1, 0, true, false, WeightPrecision.INT8, name -> true));
        assertTrue(e.getMessage().contains("bf16"), e.getMessage());
    }
}
