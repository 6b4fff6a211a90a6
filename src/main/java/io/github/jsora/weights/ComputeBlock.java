package io.github.jsora.weights;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;

import io.github.jsora.tensor.PackedWeight;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.ResidentBlockSource.MaterialBlock;

/**
 * A block in the form bf16 compute uses: its <em>product weights</em> (the weights of the model's large matrix
 * products, named by the model's predicate) as bfloat16 {@link PackedWeight}s handed out by {@link #packed}, every
 * other tensor float32 (weights of rank ≥ 2 rounded to bfloat16 as in {@link WeightPrecision#BF16}, so the values are
 * those of a bf16 model). The product weights are never expanded to float32: {@link #get} of one throws.
 * Owns all its memory; {@link #free()} releases it.
 */
final class ComputeBlock implements Block {

    private final String name;
    private final Map<String, Tensor> tensors;
    private final Map<String, PackedWeight> packed;
    private final long bytes;

    ComputeBlock(String name, Map<String, Tensor> tensors, Map<String, PackedWeight> packed) {
        this.name = name;
        this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        this.packed = Collections.unmodifiableMap(new LinkedHashMap<>(packed));
        long b = 0;
        for (Tensor t : tensors.values()) {
            b += t.ownedBytes();
        }
        for (PackedWeight p : packed.values()) {
            b += p.bytes();
        }
        this.bytes = b;
    }

    /**
     * The compute form of a float32 block, taking ownership of its tensors: product weights of rank ≥ 2 packed to
     * bfloat16 (their float32 tensors freed), the other weights of rank ≥ 2 rounded to bfloat16 in place.
     */
    static ComputeBlock of(MaterialBlock block, Predicate<String> products) {
        Map<String, Tensor> f = new LinkedHashMap<>();
        Map<String, PackedWeight> p = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Tensor> e : block.tensors().entrySet()) {
                Tensor t = e.getValue();
                if (!WeightPrecision.BF16.packs(t.shape())) {
                    f.put(e.getKey(), t);
                } else if (products.test(e.getKey())) {
                    p.put(e.getKey(), PackedWeight.pack(t, PackedWeight.Format.BF16));
                } else {
                    PackedWeight.roundInPlace(t, PackedWeight.Format.BF16);
                    f.put(e.getKey(), t);
                }
            }
        } catch (RuntimeException | Error e) {
            p.values().forEach(PackedWeight::close);
            block.free();
            throw e;
        }
        for (Map.Entry<String, Tensor> e : block.tensors().entrySet()) {
            if (p.containsKey(e.getKey())) {
                e.getValue().close();
            }
        }
        return new ComputeBlock(block.name(), f, p);
    }

    /** Native bytes of a block of {@code spec} in compute form: product weights packed, the rest float32. */
    static long bytes(BlockLayout.BlockSpec spec, Predicate<String> products) {
        long b = 0;
        for (Map.Entry<String, int[]> e : spec.tensors().entrySet()) {
            b += isPacked(e.getKey(), e.getValue(), products) ? WeightPrecision.BF16.residentBytes(e.getValue())
                    : WeightPrecision.FLOAT32.residentBytes(e.getValue());
        }
        return b;
    }

    /** Whether a tensor is held packed in compute form: a product weight of rank ≥ 2 with elements. */
    static boolean isPacked(String tensorName, int[] shape, Predicate<String> products) {
        return WeightPrecision.BF16.packs(shape) && products.test(tensorName);
    }

    @Override
    public String name() {
        return name;
    }

    /** A float32 tensor of the block. @throws IllegalStateException for a product weight (use {@link #packed}) */
    @Override
    public Tensor get(String tensorName) {
        Tensor t = tensors.get(tensorName);
        if (t == null) {
            if (packed.containsKey(tensorName)) {
                throw new IllegalStateException("tensor \"" + tensorName + "\" of block " + name + " is held as "
                        + "packed bfloat16 for bf16 compute and has no float32 form: use Block.packed");
            }
            throw new WeightFormatException("block " + name + " has no tensor \"" + tensorName + "\"");
        }
        return t;
    }

    @Override
    public PackedWeight packed(String tensorName) {
        return packed.get(tensorName);
    }

    /** The float32 tensors (the packed product weights are not included). */
    @Override
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    @Override
    public long bytes() {
        return bytes;
    }

    /** Frees a block a source owns: a {@link MaterialBlock} or a {@link ComputeBlock}. */
    static void freeOwned(Block b) {
        if (b instanceof ComputeBlock c) {
            c.free();
        } else {
            ((MaterialBlock) b).free();
        }
    }

    void free() {
        tensors.values().forEach(Tensor::close);
        packed.values().forEach(PackedWeight::close);
    }
}
