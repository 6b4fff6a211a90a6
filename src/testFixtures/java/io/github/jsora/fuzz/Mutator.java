package io.github.jsora.fuzz;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Seeded mutations of a valid input, aimed at parsers of length-prefixed binary headers, JSON and protobuf: bit
 * flips, boundary bytes and 8-byte little-endian lengths, JSON tokens and numbers past every integer width, varint
 * runs, deletions, duplications, truncations and splices. The same seed gives the same sequence of inputs.
 */
public final class Mutator {

    private static final long[] LONGS = {0, 1, 2, 7, 8, -1, -8, Integer.MAX_VALUE, Integer.MIN_VALUE,
        0xFFFFFFFFL, 1L << 32, (1L << 32) + 2, Long.MAX_VALUE, Long.MIN_VALUE, 100L * 1024 * 1024,
        100L * 1024 * 1024 + 1};
    private static final byte[] BYTES = {0, 1, 0x7f, (byte) 0x80, (byte) 0xff, '"', '{', '}', '[', ']', ',', ':', '\\',
        '-', '0', '9', 'e', (byte) 0xc3, (byte) 0xed};
    private static final String[] TOKENS = {"-1", "0", "1e999", "-1e999", "NaN", "1.5", "2147483648", "-2147483649",
        "4294967298", "9223372036854775807", "9223372036854775808", "18446744073709551615",
        "1" + "0".repeat(40), "null", "true", "[]", "{}", "[[[[[[[[", "{\"a\":", "\"\\ud800\"", "\"\\u0000\"",
        "\"__metadata__\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"F32\"", "\"BF16\"", "\"I64\"",
        "\"depth\": 2000000000", "\"num_layers\": 2000000000", "\"num_res_blocks\": 2000000000",
        "\"patch_size\": [1, 4294967298, 2]", "\"../x\"", "\"/etc/passwd\"", ",", ":", "\"", "\\"};

    private final SplittableRandom rnd;

    public Mutator(long seed) {
        this.rnd = new SplittableRandom(seed);
    }

    /** A mutation of {@code seed} (1–4 operations; the seed array is not modified). */
    public byte[] mutate(byte[] seed) {
        byte[] b = seed.clone();
        int ops = 1 + rnd.nextInt(4);
        for (int i = 0; i < ops; i++) {
            b = once(b);
        }
        return b;
    }

    private byte[] once(byte[] b) {
        if (b.length == 0) {
            return token().clone();
        }
        int at = rnd.nextInt(b.length);
        switch (rnd.nextInt(11)) {
            case 0 -> b[at] ^= (byte) (1 << rnd.nextInt(8));
            case 1 -> b[at] = BYTES[rnd.nextInt(BYTES.length)];
            case 2 -> { // an 8-byte little-endian length, often at the very start (safetensors) or a u32
                int pos = rnd.nextInt(3) == 0 ? 0 : at;
                long v = LONGS[rnd.nextInt(LONGS.length)];
                int width = rnd.nextBoolean() ? 8 : 4;
                for (int k = 0; k < width && pos + k < b.length; k++) {
                    b[pos + k] = (byte) (v >>> (8 * k));
                }
            }
            case 3 -> b = insert(b, at, token());
            case 4 -> b = delete(b, at, 1 + rnd.nextInt(Math.min(64, b.length - at)));
            case 5 -> { // duplicate a range
                int len = 1 + rnd.nextInt(Math.min(256, b.length - at));
                b = insert(b, rnd.nextInt(b.length + 1), Arrays.copyOfRange(b, at, at + len));
            }
            case 6 -> b = Arrays.copyOf(b, rnd.nextInt(b.length)); // truncate
            case 7 -> b = replaceNumber(b, at);
            case 8 -> { // random bytes
                int len = 1 + rnd.nextInt(Math.min(16, b.length - at));
                for (int k = 0; k < len; k++) {
                    b[at + k] = (byte) rnd.nextInt(256);
                }
            }
            case 9 -> { // a long varint run (protobuf lengths and tags)
                byte[] v = new byte[1 + rnd.nextInt(11)];
                Arrays.fill(v, (byte) 0xff);
                v[v.length - 1] = (byte) rnd.nextInt(128);
                b = insert(delete(b, at, Math.min(v.length, b.length - at)), at, v);
            }
            default -> { // splice: copy a range over another place
                int len = 1 + rnd.nextInt(Math.min(128, b.length - at));
                int to = rnd.nextInt(b.length);
                System.arraycopy(b, at, b, to, Math.min(len, b.length - to));
            }
        }
        return b;
    }

    private byte[] token() {
        return TOKENS[rnd.nextInt(TOKENS.length)].getBytes(StandardCharsets.UTF_8);
    }

    /** Replaces the run of digits around {@code at} (or the next one) by a boundary number. */
    private byte[] replaceNumber(byte[] b, int at) {
        int s = at;
        while (s < b.length && !(b[s] >= '0' && b[s] <= '9')) {
            s++;
        }
        if (s == b.length) {
            return insert(b, at, token());
        }
        int e = s;
        while (e < b.length && b[e] >= '0' && b[e] <= '9') {
            e++;
        }
        String[] nums = {"0", "-1", "2147483647", "2147483648", "4294967298", "9223372036854775807",
            "99999999999999999999", "2000000000", "1e300", "65"};
        return insert(delete(b, s, e - s), s, nums[rnd.nextInt(nums.length)].getBytes(StandardCharsets.US_ASCII));
    }

    private static byte[] insert(byte[] b, int at, byte[] what) {
        byte[] out = new byte[b.length + what.length];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(what, 0, out, at, what.length);
        System.arraycopy(b, at, out, at + what.length, b.length - at);
        return out;
    }

    private static byte[] delete(byte[] b, int at, int len) {
        byte[] out = new byte[b.length - len];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(b, at + len, out, at, b.length - at - len);
        return out;
    }
}
