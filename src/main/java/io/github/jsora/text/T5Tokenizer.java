package io.github.jsora.text;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.github.jsora.text.SentencePieceModel.PieceType;

/**
 * The T5 tokenizer convention used by Open-Sora v1.2 (Hugging Face {@code T5Tokenizer} called with
 * {@code max_length=300, padding="max_length", truncation=True, add_special_tokens=True}) on top of a
 * {@link SentencePieceTokenizer}, with Open-Sora's prompt preparation in front. Immutable and thread-safe.
 *
 * <p>Per prompt:
 * <ol>
 * <li><b>Preparation</b> (when {@link Options#preparePrompt}, the default): a prompt longer than
 *     {@link Options#maxPromptChars} characters is first cut to that many (a warning is logged), then
 *     {@code " aesthetic score: 6.5."} is appended ({@link Options#aestheticScore}, formatted with one decimal; null
 *     appends nothing) and the result is cleaned twice by {@link CaptionCleaner} (lower-casing, URL/HTML/handle
 *     removal, punctuation normalisation — see there). This is the order of Open-Sora's inference script.</li>
 * <li><b>Special-token split</b> (when {@link Options#splitSpecialTokens}, the default, like Hugging Face): the text of
 *     a special token — the model's CONTROL and UNKNOWN pieces ({@code <pad>}, {@code </s>}, {@code <unk>} for T5)
 *     and {@code <extra_id_0>} … {@code <extra_id_{extraIds−1}>} — becomes that token's id (extra id i is
 *     {@code vocabSize + extraIds − 1 − i}, as in Hugging Face), and the text between special tokens is encoded
 *     by sentencepiece piece by piece. Raw sentencepiece (option off) spells such text out as ordinary pieces.
 *     With preparation on, the cleaner's HTML-tag removal already deletes {@code </s>}-like text.</li>
 * <li><b>Truncation</b>: the first {@code maxLength − 1} ids are kept, then EOS ({@code trainer_spec.eos_id},
 *     1 for T5) is appended, then the row is right-padded with {@code trainer_spec.pad_id} (0) to
 *     {@code maxLength}. The attention mask is 1 on the ids and the EOS, 0 on padding. An empty prompt gives
 *     {@code [eos, pad, pad, …]} with one mask entry.</li>
 * </ol>
 *
 * <p>Cost is linear in the prompt length (see {@link SentencePieceTokenizer}); preparation touches at most
 * {@code maxPromptChars} characters.
 */
public final class T5Tokenizer {

    private static final Logger LOG = LoggerFactory.getLogger(T5Tokenizer.class);

    /** Open-Sora's default sequence length. */
    public static final int DEFAULT_MAX_LENGTH = 300;

    /**
     * Tokenizer options.
     *
     * @param maxLength          padded length L including EOS (≥ 1); Open-Sora uses 300
     * @param preparePrompt      append the aesthetic score and clean the caption as Open-Sora's inference does
     * @param aestheticScore     score appended as {@code " aesthetic score: %.1f."}, or null for none (only used
     *                           when preparing)
     * @param maxPromptChars     prompts are cut to this many characters before preparation (≥ 1)
     * @param splitSpecialTokens map special-token text in the prompt to its id (Hugging Face behaviour)
     * @param extraIds           number of {@code <extra_id_N>} sentinel tokens (Hugging Face T5 default 100)
     */
    public record Options(int maxLength, boolean preparePrompt, Double aestheticScore, int maxPromptChars,
            boolean splitSpecialTokens, int extraIds) {

        public Options {
            if (maxLength < 1) {
                throw new IllegalArgumentException("maxLength must be >= 1, found " + maxLength);
            }
            if (maxPromptChars < 1) {
                throw new IllegalArgumentException("maxPromptChars must be >= 1, found " + maxPromptChars);
            }
            if (extraIds < 0) {
                throw new IllegalArgumentException("extraIds must be >= 0, found " + extraIds);
            }
            if (aestheticScore != null && !Double.isFinite(aestheticScore)) {
                throw new IllegalArgumentException("aestheticScore must be finite, found " + aestheticScore);
            }
        }

        /** Open-Sora v1.2 inference: length 300, score 6.5 appended, cleaning on, special tokens split. */
        public static Options openSora() {
            return new Options(DEFAULT_MAX_LENGTH, true, 6.5, 20_000, true, 100);
        }

        /** The plain Hugging Face tokenizer call (no preparation) with the given length. */
        public static Options huggingFace(int maxLength) {
            return new Options(maxLength, false, null, 20_000, true, 100);
        }

        public Options withMaxLength(int n) {
            return new Options(n, preparePrompt, aestheticScore, maxPromptChars, splitSpecialTokens, extraIds);
        }

        public Options withPreparePrompt(boolean on) {
            return new Options(maxLength, on, aestheticScore, maxPromptChars, splitSpecialTokens, extraIds);
        }

        public Options withAestheticScore(Double score) {
            return new Options(maxLength, preparePrompt, score, maxPromptChars, splitSpecialTokens, extraIds);
        }

        public Options withSplitSpecialTokens(boolean on) {
            return new Options(maxLength, preparePrompt, aestheticScore, maxPromptChars, on, extraIds);
        }

        public Options withExtraIds(int n) {
            return new Options(maxLength, preparePrompt, aestheticScore, maxPromptChars, splitSpecialTokens, n);
        }
    }

    private final SentencePieceTokenizer spm;
    private final Options options;
    private final int eosId;
    private final int padId;
    private final String[] specialTexts;
    private final int[] specialIds;

    public T5Tokenizer(SentencePieceTokenizer spm, Options options) {
        this.spm = spm;
        this.options = options;
        this.eosId = spm.eosId();
        this.padId = spm.padId();
        if (eosId < 0 || eosId >= spm.vocabSize()) {
            throw new IllegalArgumentException(spm.model().source() + ": the T5 convention needs an EOS piece, but "
                    + "trainer_spec.eos_id is " + eosId);
        }
        if (padId < 0 || padId >= spm.vocabSize()) {
            throw new IllegalArgumentException(spm.model().source() + ": the T5 convention needs a pad piece, but "
                    + "trainer_spec.pad_id is " + padId);
        }
        List<String> texts = new ArrayList<>();
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < spm.vocabSize(); i++) {
            PieceType t = spm.pieceType(i);
            if (t == PieceType.CONTROL || t == PieceType.UNKNOWN) {
                texts.add(spm.idToPiece(i));
                ids.add(i);
            }
        }
        for (int i = 0; i < options.extraIds(); i++) {
            texts.add("<extra_id_" + i + ">");
            ids.add(spm.vocabSize() + options.extraIds() - 1 - i);
        }
        specialTexts = texts.toArray(new String[0]);
        specialIds = ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /** A tokenizer for a {@code spiece.model} file with Open-Sora's options. */
    public static T5Tokenizer load(Path spieceModel) {
        return new T5Tokenizer(SentencePieceTokenizer.load(spieceModel), Options.openSora());
    }

    public Options options() {
        return options;
    }

    public SentencePieceTokenizer sentencePiece() {
        return spm;
    }

    public int eosId() {
        return eosId;
    }

    public int padId() {
        return padId;
    }

    /** Largest id this tokenizer can emit + 1 (pieces plus extra ids). */
    public int idLimit() {
        return spm.vocabSize() + options.extraIds();
    }

    /**
     * The text the tokenizer actually encodes for a prompt: cut to {@code maxPromptChars}, aesthetic score
     * appended and cleaned when {@link Options#preparePrompt} is on; the prompt unchanged otherwise.
     */
    public String preparePrompt(String prompt) {
        if (prompt == null) {
            throw new IllegalArgumentException("prompt is null");
        }
        if (!options.preparePrompt()) {
            return prompt;
        }
        String p = prompt;
        if (p.length() > options.maxPromptChars()) {
            int cut = options.maxPromptChars();
            if (Character.isHighSurrogate(p.charAt(cut - 1))) {
                cut--;
            }
            LOG.warn("prompt of {} characters cut to {} before preparation", p.length(), cut);
            p = p.substring(0, cut);
        }
        if (options.aestheticScore() != null) {
            p = p + String.format(Locale.ROOT, " aesthetic score: %.1f.", options.aestheticScore());
        }
        return CaptionCleaner.cleanTwice(p);
    }

    /**
     * Ids of a text without EOS, padding or truncation (special tokens split when enabled; no preparation).
     *
     * @throws IllegalArgumentException for a text with an unpaired surrogate
     */
    public int[] tokenize(String text) {
        if (!options.splitSpecialTokens()) {
            return spm.encode(text);
        }
        int[] out = new int[0];
        int n = 0;
        int pos = 0;
        // next occurrence of each special text at or after pos (recomputed only once passed: O(specials·n) total)
        int[] next = new int[specialTexts.length];
        Arrays.fill(next, -2);
        while (pos <= text.length()) {
            int best = -1;
            int bestAt = text.length();
            for (int s = 0; s < specialTexts.length; s++) {
                if (next[s] == -2 || (next[s] >= 0 && next[s] < pos)) {
                    next[s] = text.indexOf(specialTexts[s], pos);
                }
                int at = next[s];
                if (at >= 0 && (at < bestAt || (at == bestAt && best >= 0
                        && specialTexts[s].length() > specialTexts[best].length()))) {
                    best = s;
                    bestAt = at;
                }
            }
            int[] seg = spm.encode(text.substring(pos, bestAt));
            if (n + seg.length + 1 > out.length) {
                out = Arrays.copyOf(out, Math.max(2 * out.length, n + seg.length + 1));
            }
            System.arraycopy(seg, 0, out, n, seg.length);
            n += seg.length;
            if (best < 0) {
                break;
            }
            out[n++] = specialIds[best];
            pos = bestAt + specialTexts[best].length();
        }
        return Arrays.copyOf(out, n);
    }

    /** Tokenizes a batch of prompts to [B, maxLength] ids and mask. */
    public TokenizedBatch encode(List<String> prompts) {
        if (prompts == null) {
            throw new IllegalArgumentException("prompts is null");
        }
        int l = options.maxLength();
        int[][] ids = new int[prompts.size()][l];
        int[][] mask = new int[prompts.size()][l];
        for (int b = 0; b < prompts.size(); b++) {
            String p = prompts.get(b);
            if (p == null) {
                throw new IllegalArgumentException("prompt " + b + " is null");
            }
            int[] pieces = tokenize(preparePrompt(p));
            int keep = Math.min(pieces.length, l - 1);
            Arrays.fill(ids[b], padId);
            System.arraycopy(pieces, 0, ids[b], 0, keep);
            ids[b][keep] = eosId;
            Arrays.fill(mask[b], 0, keep + 1, 1);
        }
        return new TokenizedBatch(ids, mask);
    }

    /** Tokenizes prompts to [B, maxLength] ids and mask. */
    public TokenizedBatch encode(String... prompts) {
        return encode(Arrays.asList(prompts));
    }
}
