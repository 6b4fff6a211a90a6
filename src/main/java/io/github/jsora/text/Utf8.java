package io.github.jsora.text;

import java.nio.charset.StandardCharsets;

/** UTF-8 helpers with sentencepiece's notion of validity. */
final class Utf8 {

    private Utf8() {
    }

    /**
     * Byte length of the character at {@code in[pos]} if it is a well-formed UTF-8 encoding of a Unicode scalar
     * value (no overlong forms, no surrogates, at most U+10FFFF), else 0. Like sentencepiece, a literal U+FFFD
     * counts as valid.
     */
    static int validCharLength(byte[] in, int pos, int end) {
        int b0 = in[pos] & 0xFF;
        int len = end - pos;
        if (b0 < 0x80) {
            return 1;
        }
        if (len >= 2 && (b0 & 0xE0) == 0xC0) {
            int cp = (b0 & 0x1F) << 6 | (in[pos + 1] & 0x3F);
            return trail(in[pos + 1]) && cp >= 0x80 ? 2 : 0;
        }
        if (len >= 3 && (b0 & 0xF0) == 0xE0) {
            int cp = (b0 & 0x0F) << 12 | (in[pos + 1] & 0x3F) << 6 | (in[pos + 2] & 0x3F);
            return trail(in[pos + 1]) && trail(in[pos + 2]) && cp >= 0x800 && scalar(cp) ? 3 : 0;
        }
        if (len >= 4 && (b0 & 0xF8) == 0xF0) {
            int cp = (b0 & 0x07) << 18 | (in[pos + 1] & 0x3F) << 12 | (in[pos + 2] & 0x3F) << 6
                    | (in[pos + 3] & 0x3F);
            return trail(in[pos + 1]) && trail(in[pos + 2]) && trail(in[pos + 3]) && cp >= 0x10000 && scalar(cp)
                    ? 4 : 0;
        }
        return 0;
    }

    private static boolean trail(byte b) {
        return (b & 0xC0) == 0x80;
    }

    private static boolean scalar(int cp) {
        return cp < 0xD800 || (cp >= 0xE000 && cp <= 0x10FFFF);
    }

    /** Byte length of the character starting with {@code b} by its lead byte alone (sentencepiece's OneCharLen). */
    static int leadLength(byte b) {
        int hi = (b & 0xFF) >>> 4;
        return hi < 12 ? 1 : hi < 14 ? 2 : hi == 14 ? 3 : 4;
    }

    /**
     * UTF-8 bytes of a Java string.
     *
     * @throws IllegalArgumentException naming the position when the string holds an unpaired surrogate (it has no
     *                                  UTF-8 encoding)
     */
    static byte[] encodeStrict(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i++;
                    continue;
                }
                throw new IllegalArgumentException("text has an unpaired high surrogate U+"
                        + Integer.toHexString(c).toUpperCase() + " at index " + i + " (not valid Unicode)");
            }
            if (Character.isLowSurrogate(c)) {
                throw new IllegalArgumentException("text has an unpaired low surrogate U+"
                        + Integer.toHexString(c).toUpperCase() + " at index " + i + " (not valid Unicode)");
            }
        }
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Decodes UTF-8, replacing malformed bytes by U+FFFD. */
    static String decode(byte[] b, int off, int len) {
        return new String(b, off, len, StandardCharsets.UTF_8);
    }
}
