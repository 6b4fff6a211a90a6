package io.github.jsora.text;

import java.util.Arrays;

/**
 * SentencePiece's normaliser, on UTF-8 bytes, following sentencepiece 0.1.97:
 * <ol>
 * <li>The input is consumed one <em>prefix</em> at a time: a user-defined symbol (longest match, copied verbatim),
 *     else the longest rule of the {@link CharsMap} (replaced by its string, possibly empty), else one UTF-8
 *     character copied as is; a malformed byte becomes U+FFFD and consumes one byte.</li>
 * <li>With {@code remove_extra_whitespaces}: leading prefixes that normalise to exactly {@code " "} are dropped;
 *     spaces at the start of a prefix's replacement are dropped while the previous output ended in a space (so
 *     runs of whitespace collapse to one); trailing space symbols are stripped at the end.</li>
 * <li>With {@code add_dummy_prefix}: a space symbol is put in front (behind, with
 *     {@code treat_whitespace_as_suffix}) of non-empty output.</li>
 * <li>With {@code escape_whitespaces}: every {@code ' '} in the output becomes U+2581 {@code "▁"}.</li>
 * </ol>
 * Linear in the input length: each step consumes at least one byte and the trie walk per step is bounded by the
 * longest rule.
 */
final class Normalizer {

    static final byte[] SPACE_SYMBOL = {(byte) 0xE2, (byte) 0x96, (byte) 0x81};
    private static final byte[] REPLACEMENT_CHAR = {(byte) 0xEF, (byte) 0xBF, (byte) 0xBD};
    private static final byte[] SPACE = {' '};

    private final CharsMap map;
    private final ByteTrie userDefined;
    private final boolean addDummyPrefix;
    private final boolean removeExtraWhitespaces;
    private final boolean escapeWhitespaces;
    private final boolean treatWhitespaceAsSuffix;

    Normalizer(SentencePieceModel.NormalizerSpec spec, boolean treatWhitespaceAsSuffix, ByteTrie userDefined,
            String source) {
        this.map = CharsMap.of(spec.charsmapNoCopy(), source);
        this.userDefined = userDefined;
        this.addDummyPrefix = spec.addDummyPrefix();
        this.removeExtraWhitespaces = spec.removeExtraWhitespaces();
        this.escapeWhitespaces = spec.escapeWhitespaces();
        this.treatWhitespaceAsSuffix = treatWhitespaceAsSuffix;
    }

    /** The result of normalising one prefix: bytes {@code buf[off..off+len)}, {@code consumed} input bytes. */
    private static final class Prefix {
        byte[] buf;
        int off;
        int len;
        int consumed;

        boolean isSingleSpace() {
            return len == 1 && buf[off] == ' ';
        }
    }

    /** Growable byte buffer. */
    static final class Bytes {
        byte[] a;
        int n;

        Bytes(int capacity) {
            a = new byte[Math.max(16, capacity)];
        }

        void add(byte b) {
            if (n == a.length) {
                a = Arrays.copyOf(a, a.length * 2);
            }
            a[n++] = b;
        }

        void add(byte[] b) {
            for (byte x : b) {
                add(x);
            }
        }

        boolean endsWith(byte[] s) {
            if (n < s.length) {
                return false;
            }
            for (int i = 0; i < s.length; i++) {
                if (a[n - s.length + i] != s[i]) {
                    return false;
                }
            }
            return true;
        }

        byte[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }

    private void prefix(byte[] in, int pos, Prefix p) {
        int end = in.length;
        if (userDefined != null) {
            int len = userDefined.longestPrefixLength(in, pos, end);
            if (len > 0) {
                p.buf = in;
                p.off = pos;
                p.len = len;
                p.consumed = len;
                return;
            }
        }
        if (map != null) {
            long m = map.longestMatch(in, pos, end);
            if (m >= 0) {
                int value = (int) m;
                p.buf = map.strings();
                p.off = value;
                p.len = map.replacementLength(value);
                p.consumed = (int) (m >>> 32);
                return;
            }
        }
        int len = Utf8.validCharLength(in, pos, end);
        if (len == 0) {
            p.buf = REPLACEMENT_CHAR;
            p.off = 0;
            p.len = 3;
            p.consumed = 1;
        } else {
            p.buf = in;
            p.off = pos;
            p.len = len;
            p.consumed = len;
        }
    }

    /** Normalises UTF-8 input (which may be malformed) to the UTF-8 string the segmenter sees. */
    byte[] normalize(byte[] in) {
        int pos = 0;
        int n = in.length;
        Prefix p = new Prefix();
        if (removeExtraWhitespaces) {
            while (pos < n) {
                prefix(in, pos, p);
                if (!p.isSingleSpace()) {
                    break;
                }
                pos += p.consumed;
            }
        }
        if (pos >= n) {
            return new byte[0];
        }
        byte[] ws = escapeWhitespaces ? SPACE_SYMBOL : SPACE;
        Bytes out = new Bytes(n + n / 2 + 3);
        if (!treatWhitespaceAsSuffix && addDummyPrefix) {
            out.add(ws);
        }
        boolean prevSpace = removeExtraWhitespaces;
        while (pos < n) {
            prefix(in, pos, p);
            int s = p.off;
            int e = p.off + p.len;
            if (prevSpace) {
                while (s < e && p.buf[s] == ' ') {
                    s++;
                }
            }
            if (s < e) {
                for (int i = s; i < e; i++) {
                    byte b = p.buf[i];
                    if (escapeWhitespaces && b == ' ') {
                        out.add(SPACE_SYMBOL);
                    } else {
                        out.add(b);
                    }
                }
                prevSpace = p.buf[e - 1] == ' ';
            }
            pos += p.consumed;
            if (!removeExtraWhitespaces) {
                prevSpace = false;
            }
        }
        if (removeExtraWhitespaces) {
            while (out.endsWith(ws)) {
                out.n -= ws.length;
            }
        }
        if (treatWhitespaceAsSuffix && addDummyPrefix) {
            out.add(ws);
        }
        return out.toArray();
    }
}
