package io.github.jsora.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.github.jsora.golden.Golden;

/**
 * Bad input to the text side: corrupt, truncated or inconsistent models, malformed prompts, huge and empty prompts.
 * Each gives a clear exception or the documented behaviour; the timeouts only guard against hangs (performance is
 * measured by the JMH benchmark, not here).
 */
class TextBadInputTest {

    static final Path MODEL = Path.of(Golden.DEFAULT_DIR, "t5_spm_tiny_v800.model");

    static SentencePieceTokenizer golden() {
        return SentencePieceTokenizer.load(MODEL);
    }

    // ------------------------------------------------------------------ a tiny protobuf writer for test models

    static final class Proto {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Proto varint(int field, long v) {
            tag(field, 0);
            raw(v);
            return this;
        }

        Proto fixed32(int field, float f) {
            tag(field, 5);
            int b = Float.floatToIntBits(f);
            for (int i = 0; i < 4; i++) {
                out.write(b >>> (8 * i));
            }
            return this;
        }

        Proto bytes(int field, byte[] b) {
            tag(field, 2);
            raw(b.length);
            out.writeBytes(b);
            return this;
        }

        Proto string(int field, String s) {
            return bytes(field, s.getBytes(StandardCharsets.UTF_8));
        }

        Proto message(int field, Proto m) {
            return bytes(field, m.out.toByteArray());
        }

        private void tag(int field, int wire) {
            raw((long) field << 3 | wire);
        }

        private void raw(long v) {
            while ((v & ~0x7FL) != 0) {
                out.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }

        byte[] toBytes() {
            return out.toByteArray();
        }
    }

    static Proto piece(String text, float score, int type) {
        return new Proto().string(1, text).fixed32(2, score).varint(3, type);
    }

    /** A model with the identity normaliser: pieces (text, score, type). */
    static byte[] model(Object[][] pieces, Proto normalizer) {
        Proto m = new Proto();
        for (Object[] p : pieces) {
            m.message(1, piece((String) p[0], (Float) p[1], (Integer) p[2]));
        }
        m.message(2, new Proto().varint(3, 1).varint(40, 0).varint(41, -1).varint(42, 1).varint(43, -1));
        m.message(3, normalizer == null ? new Proto().string(1, "identity") : normalizer);
        return m.toBytes();
    }

    // ------------------------------------------------------------------ models

    @Test
    void handBuiltModelWithIdentityNormaliserSegmentsByScore() {
        byte[] bytes = model(new Object[][] {{"<unk>", 0f, 2}, {"</s>", 0f, 3}, {"\u2581", -1f, 1}, {"a", -2f, 1},
            {"b", -2f, 1}, {"\u2581ab", -1f, 1}, {"\u2581a", -1.5f, 1}}, null);
        SentencePieceTokenizer t = new SentencePieceTokenizer(SentencePieceModel.parse(bytes, "hand-built"));
        assertArrayEquals(new int[] {5, 6}, t.encode("ab  a"));          // "▁ab" + "▁a", spaces collapsed
        assertEquals(List.of("\u2581ab", "\u2581ab", "xyz"), t.encodeWithPieces("ab abxyz").pieces());
        assertArrayEquals(new int[] {5, 5, 0}, t.encode("ab abxyz"));     // one <unk> for the run "xyz"
        assertEquals("ab ab \u2047 ", t.decode(t.encode("ab abxyz")));
        assertEquals("\u2581ab\u2581a", t.normalize("  ab   a  "));
    }

    @Test
    void corruptModelsFailWithTheFileNamed(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        byte[] good = Files.readAllBytes(MODEL);
        // truncated in the middle of the piece table
        Path half = tmp.resolve("half.model");
        Files.write(half, Arrays.copyOf(good, good.length / 2));
        SentencePieceFormatException e = assertThrows(SentencePieceFormatException.class,
                () -> SentencePieceModel.read(half));
        assertTrue(e.getMessage().contains("half.model"), e.getMessage());
        // every truncation point fails cleanly (never an index error or a hang): a cut inside a field is a wire
        // error, a cut between fields leaves the model without its trainer/normalizer spec
        for (int cut = 1; cut < 4000; cut += 37) {
            byte[] b = Arrays.copyOf(good, cut);
            assertThrows(SentencePieceFormatException.class, () -> SentencePieceModel.parse(b, "cut"));
        }
        // random bytes and an empty file
        Random r = new Random(7);
        for (int i = 0; i < 200; i++) {
            byte[] b = new byte[1 + r.nextInt(300)];
            r.nextBytes(b);
            assertThrows(SentencePieceFormatException.class, () -> new SentencePieceTokenizer(SentencePieceModel.parse(
                    b, "random")));
        }
        assertThrows(SentencePieceFormatException.class, () -> SentencePieceModel.parse(new byte[0], "empty"));
        Path missing = tmp.resolve("missing.model");
        e = assertThrows(SentencePieceFormatException.class, () -> SentencePieceModel.read(missing));
        assertTrue(e.getMessage().contains("missing.model"), e.getMessage());
        // a text file
        assertThrows(SentencePieceFormatException.class,
                () -> SentencePieceModel.parse("{\"not\": \"a model\"}".getBytes(StandardCharsets.UTF_8), "json"));
    }

    @Test
    void inconsistentPieceTablesAreRejected() {
        SentencePieceFormatException e = assertThrows(SentencePieceFormatException.class,
                () -> SentencePieceModel.parse(model(new Object[][] {{"</s>", 0f, 3}, {"a", -1f, 1}}, null), "nounk"));
        assertTrue(e.getMessage().contains("UNKNOWN"), e.getMessage());
        e = assertThrows(SentencePieceFormatException.class, () -> SentencePieceModel.parse(
                model(new Object[][] {{"<unk>", 0f, 2}, {"a", -1f, 1}, {"a", -2f, 1}}, null), "dup"));
        assertTrue(e.getMessage().contains("defined twice"), e.getMessage());
        e = assertThrows(SentencePieceFormatException.class, () -> SentencePieceModel.parse(
                model(new Object[][] {{"<unk>", 0f, 2}, {"<unk2>", 0f, 2}}, null), "twounk"));
        assertTrue(e.getMessage().contains("two unknown"), e.getMessage());
        e = assertThrows(SentencePieceFormatException.class, () -> SentencePieceModel.parse(
                model(new Object[][] {{"<unk>", 0f, 2}, {"a", Float.NaN, 1}}, null), "nan"));
        assertTrue(e.getMessage().contains("non-finite"), e.getMessage());
        e = assertThrows(SentencePieceFormatException.class, () -> SentencePieceModel.parse(
                model(new Object[][] {{"<unk>", 0f, 2}, {"<0x41>", 0f, 6}}, null), "byte"));
        assertTrue(e.getMessage().contains("byte_fallback"), e.getMessage());
        e = assertThrows(SentencePieceFormatException.class, () -> SentencePieceModel.parse(
                model(new Object[][] {{"<unk>", 0f, 2}}, new Proto().bytes(2, new byte[] {1, 2, 3})), "map3"));
        assertTrue(e.getMessage().contains("precompiled_charsmap"), e.getMessage());
        e = assertThrows(SentencePieceFormatException.class, () -> SentencePieceModel.parse(
                model(new Object[][] {{"<unk>", 0f, 2}}, new Proto().bytes(2, new byte[] {(byte) 200, 0, 0, 0, 1})),
                "mapbig"));
        assertTrue(e.getMessage().contains("trie"), e.getMessage());
        byte[] bpe = new Proto().message(1, piece("<unk>", 0f, 2)).message(2, new Proto().varint(3, 2))
                .message(3, new Proto().string(1, "identity")).toBytes();
        e = assertThrows(SentencePieceFormatException.class, () -> SentencePieceModel.parse(bpe, "bpe"));
        assertTrue(e.getMessage().contains("model_type 2"), e.getMessage());
    }

    @Test
    void corruptCharsMapTrieFailsAtLookupNotWithAnIndexError() {
        // header says 4 bytes of trie; the root unit points to offset 0, and the unit reached by 'a' claims a leaf
        // whose value lies far outside the (1-byte) string area
        int root = 0;                                      // offset 0
        int unitA = 'a' | (1 << 8);                        // label 'a', has leaf, offset 0 → leaf read at node 'a'
        byte[] blob = new byte[4 + 4 * 98 + 1];
        putU32(blob, 0, 4 * 98);
        putU32(blob, 4, root);
        putU32(blob, 4 + 4 * 'a', unitA);
        byte[] bytes = model(new Object[][] {{"<unk>", 0f, 2}, {"a", -1f, 1}}, new Proto().bytes(2, blob));
        SentencePieceTokenizer t = new SentencePieceTokenizer(SentencePieceModel.parse(bytes, "corrupt-map"));
        SentencePieceFormatException e = assertThrows(SentencePieceFormatException.class, () -> t.encode("a"));
        assertTrue(e.getMessage().contains("corrupt"), e.getMessage());
        assertArrayEquals(new int[] {0}, t.encode("b"));   // no rule for 'b': passes through, unknown
    }

    private static void putU32(byte[] b, int o, int v) {
        for (int i = 0; i < 4; i++) {
            b[o + i] = (byte) (v >>> (8 * i));
        }
    }

    // ------------------------------------------------------------------ prompts

    @Test
    void unpairedSurrogatesAreRejectedWithThePosition() {
        SentencePieceTokenizer t = golden();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.encode("a\uD800b"));
        assertTrue(e.getMessage().contains("surrogate") && e.getMessage().contains("index 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> t.encode("x\uDC00"));
        assertThrows(IllegalArgumentException.class, () -> t.encode("end\uD83D"));
        T5Tokenizer t5 = new T5Tokenizer(t, T5Tokenizer.Options.openSora());
        assertThrows(IllegalArgumentException.class, () -> t5.encode("a cat \uD800"));
        assertArrayEquals(t.encode("\uD83D\uDE00"), t.encode("\uD83D\uDE00")); // a proper pair is fine
    }

    @Test
    void malformedUtf8BytesReadAsReplacementCharacters() {
        SentencePieceTokenizer t = golden();
        byte[] bad = {(byte) 0xFF, 'a', (byte) 0xC3, ' ', 'c', 'a', 't', (byte) 0xE2, (byte) 0x96};
        SentencePieceTokenizer.Encoding e = t.encodeUtf8(bad);
        // sentencepiece 0.1.97 gives [3, 2, 23, 2, 112, 77, 2]: each malformed byte is one U+FFFD that bypasses the
        // character map (unlike a literal U+FFFD, which nmt_nfkc maps to a space), and unknown runs merge
        assertEquals(List.of("\u2581", "\uFFFD", "a", "\uFFFD", "\u2581c", "at", "\uFFFD\uFFFD"), e.pieces());
        assertEquals(t.unkId(), e.ids()[1]);
        assertEquals(t.unkId(), e.ids()[6]);
        assertArrayEquals(t.encode(" a cat"), t.encode("\uFFFDa\uFFFD cat\uFFFD\uFFFD"));
    }

    @Test
    void controlCharactersAreDeletedByTheModelsNormaliser() {
        SentencePieceTokenizer t = golden();
        assertArrayEquals(t.encode("ab"), t.encode("a\u0001\u0002b\u007f"));
        assertArrayEquals(t.encode("a b"), t.encode("a\tb"));
        assertArrayEquals(t.encode("a b"), t.encode("a\r\n\u000b b"));
    }

    @Test
    void emptyPrompts() {
        SentencePieceTokenizer t = golden();
        assertArrayEquals(new int[0], t.encode(""));
        assertArrayEquals(new int[0], t.encode(" \t\n "));
        T5Tokenizer hf = new T5Tokenizer(t, T5Tokenizer.Options.huggingFace(8));
        TokenizedBatch b = hf.encode("");
        assertArrayEquals(new int[] {1, 0, 0, 0, 0, 0, 0, 0}, b.ids(0));
        assertArrayEquals(new int[] {1, 0, 0, 0, 0, 0, 0, 0}, b.mask(0));
        // Open-Sora preparation: an empty prompt still carries the aesthetic score sentence
        T5Tokenizer os = new T5Tokenizer(t, T5Tokenizer.Options.openSora().withMaxLength(32));
        assertEquals("aesthetic score: 6.5.", os.preparePrompt(""));
        assertArrayEquals(hf.tokenize("aesthetic score: 6.5."),
                Arrays.copyOf(os.encode("").ids(0), os.encode("").lengths()[0] - 1));
        assertThrows(IllegalArgumentException.class, () -> hf.encode((String) null));
        assertThrows(IllegalArgumentException.class, () -> hf.encode((List<String>) null));
        assertEquals(0, hf.encode(List.of()).batch());
    }

    @Test
    void specialTokenTextIsSplitLikeHuggingFace() {
        SentencePieceTokenizer t = golden();
        T5Tokenizer hf = new T5Tokenizer(t, T5Tokenizer.Options.huggingFace(16));
        int[] a = t.encode("a cat");
        int[] expected = new int[a.length * 2 + 1];
        System.arraycopy(a, 0, expected, 0, a.length);
        expected[a.length] = 1;
        System.arraycopy(a, 0, expected, a.length + 1, a.length);
        assertArrayEquals(expected, hf.tokenize("a cat</s>a cat"));
        assertArrayEquals(new int[] {0, 1, 2}, hf.tokenize("<pad> </s> <unk>"));
        assertArrayEquals(new int[] {t.vocabSize() + 99}, hf.tokenize("<extra_id_0>"));
        // raw sentencepiece spells the same text out (golden case 22)
        assertArrayEquals(new int[] {60, 22, 193, 53, 60, 41, 4, 53, 60, 161, 39, 53}, t.encode("<pad> </s> <unk>"));
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void oneMegabytePromptIsTruncatedWithoutBlowUp() {
        SentencePieceTokenizer t = golden();
        StringBuilder sb = new StringBuilder();
        Random r = new Random(3);
        String[] words = {"a", "cinematic", "drone", "shot", "over", "snowy", "mountains", "at", "sunrise,", "with",
            "golden", "light.", "https://example.com/x", "<b>", "@someone", "#12", "file.png", "C++", "\u00e9t\u00e9"};
        while (sb.length() < 1 << 20) {
            sb.append(words[r.nextInt(words.length)]).append(' ');
        }
        String huge = sb.toString();
        // raw sentencepiece on the whole megabyte: linear time
        int[] all = t.encode(huge);
        assertTrue(all.length > 100_000, "pieces: " + all.length);
        // T5 convention: 299 pieces + EOS, whatever the length (Open-Sora preparation cuts the prompt first)
        TokenizedBatch hf = new T5Tokenizer(t, T5Tokenizer.Options.huggingFace(300)).encode(huge);
        TokenizedBatch os = new T5Tokenizer(t, T5Tokenizer.Options.openSora()).encode(huge);
        for (TokenizedBatch b : List.of(hf, os)) {
            assertEquals(300, b.lengths()[0]);
            assertEquals(1, b.ids(0)[299]);
        }
        assertArrayEquals(Arrays.copyOf(all, 299), Arrays.copyOf(hf.ids(0), 299));
        // one megabyte without any space and with many special tokens
        String dense = "x".repeat(1 << 20);
        assertTrue(t.encode(dense).length > 0);
        String specials = "</s>a".repeat(200_000);
        int[] ids = new T5Tokenizer(t, T5Tokenizer.Options.huggingFace(300)).encode(specials).ids(0);
        assertEquals(1, ids[0]);
        assertEquals(t.encode("a")[0], ids[1]);
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void adversarialCaptionsCleanInLinearTime() {
        String[] patterns = {"a.", "a1", "1a", "<", "%4", "&#", "a-", "..", "@a", "aa.com", "\"'", " .", "x.pngx",
            "1.1.", "a1a1b", "\u00e9a1"};
        for (String p : patterns) {
            String s = p.repeat(10_000 / p.length());
            String cleaned = CaptionCleaner.cleanTwice(s);
            assertTrue(cleaned.length() <= s.length() * 3, p);
        }
        T5Tokenizer os = new T5Tokenizer(golden(), T5Tokenizer.Options.openSora());
        TokenizedBatch b = os.encode("a.".repeat(1 << 19));
        assertTrue(b.lengths()[0] >= 1);
    }

    // ------------------------------------------------------------------ encoder input checks

    @Test
    void encoderRejectsBadIdsAndMasks() throws Exception {
        try (var c = io.github.jsora.weights.SafetensorsFile.open(T5CheckpointDirectoryTest.CASE);
                var w = io.github.jsora.weights.Checkpoint.open(T5CheckpointDirectoryTest.GOLDEN.resolve(
                        c.metadata().get("weights")))) {
            T5Config cfg = T5Config.from(io.github.jsora.weights.ModelConfig.parse("cfg", c.metadata().get("config")));
            try (var src = new io.github.jsora.weights.ResidentBlockSource(w, T5Encoder.layoutFor(cfg, w))) {
                T5Encoder enc = new T5Encoder(cfg, src);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> enc.forward(new int[][] {{1, 800}}, new int[][] {{1, 1}}));
                assertTrue(e.getMessage().contains("800"), e.getMessage());
                assertThrows(IllegalArgumentException.class, () -> enc.forward(new int[][] {{1, -1}},
                        new int[][] {{1, 1}}));
                e = assertThrows(IllegalArgumentException.class, () -> enc.forward(new int[][] {{1, 2}},
                        new int[][] {{1, 2}}));
                assertTrue(e.getMessage().contains("mask"), e.getMessage());
                assertThrows(IllegalArgumentException.class, () -> enc.forward(new int[][] {{1, 2}, {1}},
                        new int[][] {{1, 1}, {1}}));
                assertThrows(IllegalArgumentException.class, () -> enc.forward(new int[0][], new int[0][]));
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new T5Config(800, 48, 12, 4, 96, 2, 32, 128, 1e-6,
                "gelu"));
        assertThrows(IllegalArgumentException.class, () -> new T5Config(800, 0, 12, 4, 96, 2, 32, 128, 1e-6,
                "gated-gelu"));
        assertThrows(IllegalArgumentException.class, () -> T5Tokenizer.Options.openSora().withMaxLength(0));
    }
}
