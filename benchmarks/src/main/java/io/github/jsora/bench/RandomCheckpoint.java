package io.github.jsora.bench;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.DType;

/**
 * Writes a safetensors file of random BF16 weights for every tensor of a {@link BlockLayout}, streaming (the
 * multi-GB benchmark checkpoints never sit on the heap). Values: uniform with standard deviation {@code std};
 * tensors whose name ends in {@code norm.weight} or {@code layer_norm.weight} are 1 (RMS-norm gains).
 */
final class RandomCheckpoint {

    private RandomCheckpoint() {
    }

    /** Writes {@code file}; returns its size in bytes. */
    static long write(Path file, BlockLayout layout, long seed, float std) throws IOException {
        StringBuilder h = new StringBuilder("{");
        long off = 0;
        for (BlockLayout.BlockSpec b : layout.blocks()) {
            for (Map.Entry<String, int[]> e : b.tensors().entrySet()) {
                long n = count(e.getValue());
                h.append(h.length() > 1 ? "," : "").append('"').append(e.getKey()).append("\":{\"dtype\":\"BF16\","
                        + "\"shape\":[");
                int[] s = e.getValue();
                for (int i = 0; i < s.length; i++) {
                    h.append(i > 0 ? "," : "").append(s[i]);
                }
                h.append("],\"data_offsets\":[").append(off).append(',').append(off + 2 * n).append("]}");
                off += 2 * n;
            }
        }
        h.append('}');
        while (h.toString().getBytes(StandardCharsets.UTF_8).length % 8 != 0) {
            h.append(' ');
        }
        byte[] hb = h.toString().getBytes(StandardCharsets.UTF_8);
        SplittableRandom rnd = new SplittableRandom(seed);
        float amp = (float) (std * Math.sqrt(3.0)); // uniform [-a, a] has std a / sqrt(3)
        ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hb.length).array());
            out.write(hb);
            for (BlockLayout.BlockSpec b : layout.blocks()) {
                for (Map.Entry<String, int[]> e : b.tensors().entrySet()) {
                    boolean gain = e.getKey().endsWith("norm.weight");
                    long n = count(e.getValue());
                    for (long i = 0; i < n; i++) {
                        float v = gain ? 1f : (float) (rnd.nextDouble() * 2 - 1) * amp;
                        buf.putShort(DType.floatToBf16(v));
                        if (!buf.hasRemaining()) {
                            out.write(buf.array(), 0, buf.position());
                            buf.clear();
                        }
                    }
                }
            }
            out.write(buf.array(), 0, buf.position());
        }
        return Files.size(file);
    }

    private static long count(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    /** Deletes a directory tree of files (best effort). */
    static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    System.err.println("cannot delete " + p + ": " + e.getMessage());
                }
            });
        } catch (IOException e) {
            System.err.println("cannot delete " + dir + ": " + e.getMessage());
        }
    }
}
