package io.github.jsora.text;

import java.nio.charset.StandardCharsets;

/**
 * SentencePiece's precompiled character map ({@code NormalizerSpec.precompiled_charsmap}), as used by
 * {@code nmt_nfkc} and the other built-in normalisation rules: a table from UTF-8 byte strings to replacement
 * UTF-8 strings, looked up by longest prefix match.
 *
 * <p>Blob layout: {@code [u32 little-endian T][T bytes: double-array trie][normalized strings]}. The trie is a
 * darts-clone double array of little-endian 32-bit units; for a unit {@code u}: {@code hasLeaf = (u >>> 8) & 1},
 * {@code value = u & 0x7FFFFFFF}, {@code label = u & 0x800000FF}, {@code offset = (u >>> 10) << ((u & 0x200) >>> 6)}.
 * Walking byte {@code c} from node {@code p}: {@code p ^= offset(unit[p]) ^ c}; the step is valid when
 * {@code label(unit[p]) == c}; when the reached unit has a leaf, {@code value(unit[p ^ offset(unit[p])])} is the
 * byte offset in the strings area of a NUL-terminated replacement (possibly empty: the input is deleted).
 *
 * <p>Lookups are bounds-checked: a corrupt trie or string offset raises {@link SentencePieceFormatException}, never an
 * out-of-range read or an endless loop (a walk is at most as long as the input).
 */
final class CharsMap {

    private final String source;
    private final int[] units;
    private final byte[] strings;

    private CharsMap(String source, int[] units, byte[] strings) {
        this.source = source;
        this.units = units;
        this.strings = strings;
    }

    /** Validates the blob header (used while loading the model). Empty blobs are the identity map. */
    static void checkHeader(byte[] blob, String source) {
        if (blob.length == 0) {
            return;
        }
        if (blob.length < 4) {
            throw new SentencePieceFormatException(source + ": precompiled_charsmap is " + blob.length
                    + " bytes, too short for its header");
        }
        long trie = readU32(blob, 0);
        if (trie > blob.length - 4L || trie % 4 != 0 || trie == 0) {
            throw new SentencePieceFormatException(source + ": precompiled_charsmap declares a trie of " + trie
                    + " bytes, but the blob holds " + (blob.length - 4) + " bytes after the header (must be a "
                    + "non-zero multiple of 4 that fits)");
        }
    }

    /** The map of a blob, or null for an empty blob (identity normalisation). */
    static CharsMap of(byte[] blob, String source) {
        if (blob.length == 0) {
            return null;
        }
        checkHeader(blob, source);
        int trie = (int) readU32(blob, 0);
        int[] units = new int[trie / 4];
        for (int i = 0; i < units.length; i++) {
            units[i] = (int) readU32(blob, 4 + 4 * i);
        }
        byte[] strings = java.util.Arrays.copyOfRange(blob, 4 + trie, blob.length);
        return new CharsMap(source, units, strings);
    }

    private static long readU32(byte[] b, int o) {
        return (b[o] & 0xFFL) | (b[o + 1] & 0xFFL) << 8 | (b[o + 2] & 0xFFL) << 16 | (b[o + 3] & 0xFFL) << 24;
    }

    private static int offset(int u) {
        return (u >>> 10) << ((u & 0x200) >>> 6);
    }

    private SentencePieceFormatException corrupt(String what) {
        return new SentencePieceFormatException(source + ": precompiled_charsmap is corrupt: " + what);
    }

    /**
     * Longest rule matching a prefix of {@code in[from..to)}.
     *
     * @return {@code (matchedLength << 32) | stringOffset}, or -1 when no rule matches
     */
    long longestMatch(byte[] in, int from, int to) {
        int[] u = units;
        int node = offset(u[0]);
        long best = -1;
        for (int i = from; i < to; i++) {
            int c = in[i] & 0xFF;
            node ^= c;
            if (node < 0 || node >= u.length) {
                return best; // outside the array: no such transition
            }
            int unit = u[node];
            if ((unit & 0x800000FF) != c) {
                return best;
            }
            node ^= offset(unit);
            if (((unit >>> 8) & 1) != 0) {
                if (node < 0 || node >= u.length) {
                    throw corrupt("leaf unit " + node + " outside the trie of " + u.length + " units");
                }
                int value = u[node] & 0x7FFFFFFF;
                if (value >= strings.length) {
                    throw corrupt("replacement offset " + value + " outside the " + strings.length
                            + "-byte string area");
                }
                best = ((long) (i + 1 - from) << 32) | value;
            }
        }
        return best;
    }

    /** Length of the NUL-terminated replacement string at {@code offset}. */
    int replacementLength(int offset) {
        int e = offset;
        while (e < strings.length && strings[e] != 0) {
            e++;
        }
        if (e == strings.length) {
            throw corrupt("replacement at offset " + offset + " is not NUL-terminated");
        }
        return e - offset;
    }

    byte[] strings() {
        return strings;
    }

    /** Replacement text at an offset (for tests and messages). */
    String replacement(int offset) {
        return new String(strings, offset, replacementLength(offset), StandardCharsets.UTF_8);
    }
}
