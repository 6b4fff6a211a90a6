package io.github.jsora.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import io.github.jsora.golden.Golden;
import io.github.jsora.weights.Json;
import io.github.jsora.weights.SafetensorsFile;

/**
 * Golden kind {@code spm_tokenize_cases}: for every string of the case, our sentencepiece ids equal the reference
 * {@code SentencePieceProcessor.encode} ids exactly (model named by the case metadata "tokenizer_model"), and the
 * Hugging Face T5 convention rows {@code hf.input_ids}/{@code hf.attention_mask} are reproduced by
 * {@link T5Tokenizer} without preparation at the case's length.
 */
class SpmTokenizeGoldenTest {

    static final String KIND = "spm_tokenize_cases";

    @TestFactory
    Stream<DynamicTest> spmTokenizeCases() {
        return Golden.tests(KIND, SpmTokenizeGoldenTest::runCase);
    }

    static void runCase(Path file) {
        try (SafetensorsFile c = Golden.open(file)) {
            Path modelFile = Golden.resource(file, c, "tokenizer_model");
            SentencePieceTokenizer spm = SentencePieceTokenizer.load(modelFile);
            String stringsJson = c.metadata().get("strings");
            assertTrue(stringsJson != null, file.getFileName() + ": metadata has no \"strings\"");
            List<String> strings = new ArrayList<>();
            for (Object o : (List<?>) Json.parse(stringsJson)) {
                strings.add((String) o);
            }
            long[] flat = c.loadLongs("ids_flat");
            long[] offsets = c.loadLongs("offsets");
            assertEquals(strings.size() + 1, offsets.length, "offsets vs strings");
            int mismatches = 0;
            StringBuilder report = new StringBuilder();
            for (int i = 0; i < strings.size(); i++) {
                int[] expected = new int[(int) (offsets[i + 1] - offsets[i])];
                for (int j = 0; j < expected.length; j++) {
                    expected[j] = (int) flat[(int) offsets[i] + j];
                }
                int[] actual = spm.encode(strings.get(i));
                if (!Arrays.equals(expected, actual)) {
                    mismatches++;
                    report.append("\n  case ").append(i).append(' ').append(quote(strings.get(i))).append("\n    expected ").append(Arrays.toString(expected))
                            .append("\n    actual   ").append(Arrays.toString(actual))
                            .append("\n    pieces   ").append(spm.encodeWithPieces(strings.get(i)).pieces());
                }
            }
            System.out.printf("golden %s %s ids: %d/%d strings exact %s%n", KIND, file.getFileName(),
                    strings.size() - mismatches, strings.size(), mismatches == 0 ? "PASS" : "FAIL");
            if (mismatches > 0) {
                fail(file.getFileName() + ": " + mismatches + " strings differ:" + report);
            }
            // Hugging Face convention derived by rule (ids[:L-1] + eos, pad 0), when the case carries it.
            if (c.contains("hf.input_ids")) {
                int rows = c.info("hf.input_ids").shape()[0];
                int len = c.info("hf.input_ids").shape()[1];
                long[] hfIds = c.loadLongs("hf.input_ids");
                long[] hfMask = c.loadLongs("hf.attention_mask");
                assertEquals(strings.size(), rows, "hf rows");
                T5Tokenizer t5 = new T5Tokenizer(spm, T5Tokenizer.Options.huggingFace(len).withSplitSpecialTokens(false));
                TokenizedBatch batch = t5.encode(strings);
                int bad = 0;
                for (int b = 0; b < rows; b++) {
                    int[] ei = new int[len];
                    int[] em = new int[len];
                    for (int j = 0; j < len; j++) {
                        ei[j] = (int) hfIds[b * len + j];
                        em[j] = (int) hfMask[b * len + j];
                    }
                    if (!Arrays.equals(ei, batch.ids(b)) || !Arrays.equals(em, batch.mask(b))) {
                        bad++;
                        report.append("\n  hf row ").append(b).append(" expected ").append(Arrays.toString(ei))
                                .append(" actual ").append(Arrays.toString(batch.ids(b)));
                    }
                }
                System.out.printf("golden %s %s hf.input_ids+attention_mask (L=%d): %d/%d rows exact %s%n", KIND,
                        file.getFileName(), len, rows - bad, rows, bad == 0 ? "PASS" : "FAIL");
                if (bad > 0) {
                    fail(file.getFileName() + ": " + bad + " hf rows differ:" + report);
                }
            }
        }
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            if (ch < 0x20 || ch > 0x7E) {
                sb.append(String.format("\\u%04x", (int) ch));
            } else {
                sb.append(ch);
            }
        }
        return sb.append('"').toString();
    }

    /** Round trips: decode(encode(s)) equals sentencepiece's decode stored in the case's JSON twin, if present. */
    @TestFactory
    Stream<DynamicTest> decodeMatchesReference() {
        return Golden.tests(KIND, file -> {
            Path json = file.resolveSibling(file.getFileName().toString().replace(".safetensors", ".json"));
            if (!java.nio.file.Files.isRegularFile(json)) {
                System.out.println("golden " + KIND + " " + file.getFileName() + " decode: no JSON twin, nothing to compare");
                return;
            }
            try (SafetensorsFile c = Golden.open(file)) {
                SentencePieceTokenizer spm = SentencePieceTokenizer.load(Golden.resource(file, c, "tokenizer_model"));
                Object root = Json.parse(java.nio.file.Files.readString(json));
                List<?> cases = (List<?>) ((java.util.Map<?, ?>) root).get("cases");
                int ok = 0;
                for (Object o : cases) {
                    java.util.Map<?, ?> m = (java.util.Map<?, ?>) o;
                    String text = (String) m.get("text");
                    SentencePieceTokenizer.Encoding e = spm.encodeWithPieces(text);
                    List<String> pieces = new ArrayList<>();
                    for (Object p : (List<?>) m.get("pieces")) {
                        pieces.add((String) p);
                    }
                    assertEquals(pieces, e.pieces(), "pieces of " + quote(text));
                    assertEquals(m.get("sp_decode"), spm.decode(e.ids()), "decode of " + quote(text));
                    ok++;
                }
                System.out.printf("golden %s %s pieces+decode: %d/%d exact PASS%n", KIND, json.getFileName(), ok,
                        cases.size());
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }
}
