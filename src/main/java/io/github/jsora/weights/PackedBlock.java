package io.github.jsora.weights;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

import io.github.jsora.tensor.PackedWeight;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.ResidentBlockSource.MaterialBlock;

/**
 * The resident form of a block in a lighter {@link WeightPrecision}: weights of rank ≥ 2 as {@link PackedWeight}s,
 * the other tensors float32. {@link #expand()} makes the float32 working copy a model computes with.
 * Not thread-safe for {@link #free()} racing {@link #expand()}; expansions may run concurrently.
 */
final class PackedBlock {

    private final String name;
    private final Map<String, Object> entries; // full name → PackedWeight or Tensor, layout order
    private final long bytes;
    private final long expandedBytes;

    PackedBlock(String name, Map<String, Object> entries) {
        this.name = name;
        this.entries = Collections.unmodifiableMap(new LinkedHashMap<>(entries));
        long b = 0;
        long e = 0;
        for (Object o : entries.values()) {
            if (o instanceof PackedWeight p) {
                b += p.bytes();
                e += p.size() * Float.BYTES;
            } else {
                long t = ((Tensor) o).ownedBytes();
                b += t;
                e += t;
            }
        }
        this.bytes = b;
        this.expandedBytes = e;
    }

    String name() {
        return name;
    }

    /** Native bytes held resident. */
    long bytes() {
        return bytes;
    }

    /** Native bytes of a working copy ({@link #expand()}). */
    long expandedBytes() {
        return expandedBytes;
    }

    /** A new float32 block with the expanded weights (the caller frees it). */
    MaterialBlock expand() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Object> e : entries.entrySet()) {
                Tensor t = e.getValue() instanceof PackedWeight p ? p.expand() : ((Tensor) e.getValue()).copy();
                m.put(e.getKey(), t);
            }
        } catch (RuntimeException | Error e) {
            m.values().forEach(Tensor::close);
            throw e;
        }
        return new MaterialBlock(name, m);
    }

    /** The packed weight or float32 tensor of a tensor (for the cache writer and tests). */
    Object entry(String tensorName) {
        Object o = entries.get(tensorName);
        if (o == null) {
            throw new WeightFormatException("block " + name + " has no tensor \"" + tensorName + "\"");
        }
        return o;
    }

    void free() {
        for (Object o : entries.values()) {
            if (o instanceof PackedWeight p) {
                p.close();
            } else {
                ((Tensor) o).close();
            }
        }
    }
}
