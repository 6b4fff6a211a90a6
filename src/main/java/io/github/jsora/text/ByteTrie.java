package io.github.jsora.text;

import java.util.Arrays;

/**
 * An immutable trie over byte strings with an int value per key, for prefix searches over UTF-8 text. Edges live
 * in one open-addressing hash table keyed by {@code (node, byte)}, so a step costs one or two probes.
 */
final class ByteTrie {

    static final int ROOT = 0;

    private final long[] keys;    // (node << 8 | byte) + 1, 0 = empty slot
    private final int[] targets;
    private final int[] values;   // per node, -1 = no key ends here
    private final int mask;

    /** Builds the trie of {@code keys[i] -> ids[i]}; a key given twice keeps its first id. */
    ByteTrie(byte[][] keyBytes, int[] ids) {
        int edges = 0;
        for (byte[] k : keyBytes) {
            edges += k.length;
        }
        int cap = Integer.highestOneBit(Math.max(4, edges * 2 + 1)) << 1;
        long[] tk = new long[cap];
        int[] tt = new int[cap];
        int[] vals = new int[edges + 1];
        Arrays.fill(vals, -1);
        int m = cap - 1;
        int nodes = 1;
        for (int i = 0; i < keyBytes.length; i++) {
            int node = ROOT;
            for (byte b : keyBytes[i]) {
                long key = ((long) node << 8 | (b & 0xFF)) + 1;
                int slot = (int) (mix(key) & m);
                while (tk[slot] != 0 && tk[slot] != key) {
                    slot = (slot + 1) & m;
                }
                if (tk[slot] == 0) {
                    tk[slot] = key;
                    tt[slot] = nodes++;
                }
                node = tt[slot];
            }
            if (vals[node] < 0) {
                vals[node] = ids[i];
            }
        }
        this.keys = tk;
        this.targets = tt;
        this.values = Arrays.copyOf(vals, nodes);
        this.mask = m;
    }

    private static long mix(long k) {
        k *= 0x9E3779B97F4A7C15L;
        return k ^ (k >>> 29);
    }

    /** The child of {@code node} by byte {@code b}, or -1. */
    int child(int node, byte b) {
        long key = ((long) node << 8 | (b & 0xFF)) + 1;
        int slot = (int) (mix(key) & mask);
        while (true) {
            long k = keys[slot];
            if (k == key) {
                return targets[slot];
            }
            if (k == 0) {
                return -1;
            }
            slot = (slot + 1) & mask;
        }
    }

    /** The value of the key ending at {@code node}, or -1. */
    int value(int node) {
        return values[node];
    }

    /** Length of the longest key that is a prefix of {@code in[from..to)}, 0 when none. */
    int longestPrefixLength(byte[] in, int from, int to) {
        int node = ROOT;
        int best = 0;
        for (int i = from; i < to; i++) {
            node = child(node, in[i]);
            if (node < 0) {
                break;
            }
            if (values[node] >= 0) {
                best = i + 1 - from;
            }
        }
        return best;
    }
}
