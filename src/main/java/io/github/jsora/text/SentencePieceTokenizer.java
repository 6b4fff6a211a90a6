package io.github.jsora.text;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.github.jsora.text.SentencePieceModel.Piece;
import io.github.jsora.text.SentencePieceModel.PieceType;

/**
 * A SentencePiece unigram tokenizer: the encode/decode behaviour of {@code SentencePieceProcessor} (sentencepiece
 * 0.1.97, no sampling, no BOS/EOS) on a {@link SentencePieceModel}. Immutable and thread-safe.
 *
 * <p>Encoding: (1) {@link Normalizer normalise} the UTF-8 text with the model's normaliser spec (its precompiled
 * character map, whitespace rules, dummy prefix); (2) segment the normalised bytes by Viterbi over all vocabulary
 * pieces that match at each character position, maximising the sum of piece scores in float32 (ties keep the piece
 * that starts earliest, i.e. the longest); a character position where no piece of exactly one character matches
 * also gets an unknown edge of score {@code min(NORMAL scores) − 10}; USER_DEFINED pieces score
 * {@code length·maxScore − 0.1} so that they win; UNUSED pieces are never produced; CONTROL and UNKNOWN pieces are not
 * matched against text (so the text "&lt;/s&gt;" is spelled out, not turned into the EOS id); (3) a run of
 * consecutive unknown segments becomes ONE unknown piece (or, with {@code byte_fallback}, one BYTE piece per UTF-8
 * byte).
 *
 * <p>Complexity: O(n·P) time and O(n) memory for n input bytes and P the longest piece in bytes; there is no limit
 * on the input length and no super-linear step, so a 1 MB text is encoded in well under a second.
 *
 * <p>Input: a Java {@code String} with an unpaired surrogate is rejected ({@link IllegalArgumentException}: it
 * has no UTF-8 form); raw bytes through {@link #encodeUtf8} may be malformed UTF-8 and are handled like
 * sentencepiece does (each malformed byte reads as U+FFFD). Control characters are whatever the model's
 * character map makes of them ({@code nmt_nfkc} deletes most C0/C1 controls and maps tab/newline to a space).
 */
public final class SentencePieceTokenizer {

    /** Ids and the matching piece strings of one encoded text. */
    public record Encoding(int[] ids, List<String> pieces) {
        public Encoding {
            ids = ids.clone();
            pieces = List.copyOf(pieces);
        }

        @Override
        public int[] ids() {
            return ids.clone();
        }

        public int size() {
            return ids.length;
        }
    }

    private static final float UNK_PENALTY = 10f;
    private static final String SPACE_SYMBOL = "\u2581";

    private final SentencePieceModel model;
    private final Normalizer normalizer;
    private final ByteTrie pieceTrie;
    private final float[] scores;
    private final PieceType[] types;
    private final Map<String, Integer> idsByPiece;
    private final int unkId;
    private final float unkScore;
    private final float maxScore;
    private final boolean byteFallback;
    private final int[] byteIds;

    public SentencePieceTokenizer(SentencePieceModel model) {
        this.model = model;
        List<Piece> pieces = model.pieces();
        int n = pieces.size();
        scores = new float[n];
        types = new PieceType[n];
        Map<String, Integer> byPiece = new HashMap<>();
        List<byte[]> trieKeys = new ArrayList<>();
        List<Integer> trieIds = new ArrayList<>();
        List<byte[]> userKeys = new ArrayList<>();
        float min = Float.MAX_VALUE;
        float max = Float.MIN_VALUE; // sentencepiece starts from FLT_MIN (the smallest positive float)
        for (int i = 0; i < n; i++) {
            Piece p = pieces.get(i);
            scores[i] = p.score();
            types[i] = p.type();
            byPiece.putIfAbsent(p.text(), i);
            if (p.type() == PieceType.NORMAL) {
                min = Math.min(min, p.score());
                max = Math.max(max, p.score());
            }
            if (p.type() == PieceType.NORMAL || p.type() == PieceType.USER_DEFINED
                    || p.type() == PieceType.UNUSED) {
                trieKeys.add(SentencePieceModel.utf8(p.text()));
                trieIds.add(i);
            }
            if (p.type() == PieceType.USER_DEFINED) {
                userKeys.add(SentencePieceModel.utf8(p.text()));
            }
        }
        idsByPiece = Collections.unmodifiableMap(byPiece);
        pieceTrie = new ByteTrie(trieKeys.toArray(new byte[0][]), trieIds.stream().mapToInt(Integer::intValue).toArray());
        ByteTrie user = null;
        if (!userKeys.isEmpty()) {
            user = new ByteTrie(userKeys.toArray(new byte[0][]), new int[userKeys.size()]);
        }
        unkId = model.unkId();
        unkScore = min - UNK_PENALTY;
        maxScore = max;
        byteFallback = model.trainerSpec().byteFallback();
        byteIds = new int[256];
        for (int b = 0; b < 256; b++) {
            byteIds[b] = pieceToId(String.format("<0x%02X>", b));
        }
        normalizer = new Normalizer(model.normalizerSpec(), model.trainerSpec().treatWhitespaceAsSuffix(), user,
                model.source());
    }

    /** Loads a {@code .model} file. */
    public static SentencePieceTokenizer load(Path modelFile) {
        return new SentencePieceTokenizer(SentencePieceModel.read(modelFile));
    }

    public SentencePieceModel model() {
        return model;
    }

    /** Number of pieces (ids are 0 .. size−1). */
    public int vocabSize() {
        return types.length;
    }

    public int unkId() {
        return unkId;
    }

    /** {@code trainer_spec.eos_id} (−1 when the model has none). */
    public int eosId() {
        return model.trainerSpec().eosId();
    }

    /** {@code trainer_spec.pad_id} (−1 when the model has none). */
    public int padId() {
        return model.trainerSpec().padId();
    }

    /** {@code trainer_spec.bos_id} (−1 when the model has none). */
    public int bosId() {
        return model.trainerSpec().bosId();
    }

    /** Id of a piece string; the unknown id when the vocabulary has no such piece (as sentencepiece does). */
    public int pieceToId(String piece) {
        Integer id = idsByPiece.get(piece);
        return id == null ? unkId : id;
    }

    public String idToPiece(int id) {
        checkId(id);
        return model.pieces().get(id).text();
    }

    public PieceType pieceType(int id) {
        checkId(id);
        return types[id];
    }

    private void checkId(int id) {
        if (id < 0 || id >= types.length) {
            throw new IllegalArgumentException("piece id " + id + " is out of range [0, " + types.length + ") of "
                    + model.source());
        }
    }

    /** The normalised form of a text as the segmenter sees it ("▁" marks whitespace). */
    public String normalize(String text) {
        return new String(normalizer.normalize(Utf8.encodeStrict(text)), StandardCharsets.UTF_8);
    }

    /** Piece ids of a text. @throws IllegalArgumentException for a string holding an unpaired surrogate */
    public int[] encode(String text) {
        return encodeUtf8(Utf8.encodeStrict(text)).ids;
    }

    /** Ids and pieces of a text. @throws IllegalArgumentException for a string holding an unpaired surrogate */
    public Encoding encodeWithPieces(String text) {
        return encodeUtf8(Utf8.encodeStrict(text));
    }

    /** Ids and pieces of UTF-8 bytes; malformed bytes are read as U+FFFD, one per byte. */
    public Encoding encodeUtf8(byte[] utf8) {
        byte[] norm = normalizer.normalize(utf8);
        int[] seg = viterbi(norm);   // triples (start, end, id)
        List<String> pieces = new ArrayList<>();
        int[] ids = new int[seg.length / 3 * 4];
        int count = 0;
        boolean prevUnk = false;
        for (int s = 0; s < seg.length; s += 3) {
            int start = seg[s];
            int end = seg[s + 1];
            int id = seg[s + 2];
            boolean unk = id == unkId;
            if (unk && byteFallback) {
                for (int i = start; i < end; i++) {
                    if (count == ids.length) {
                        ids = java.util.Arrays.copyOf(ids, ids.length * 2);
                    }
                    int b = norm[i] & 0xFF;
                    ids[count++] = byteIds[b];
                    pieces.add(String.format("<0x%02X>", b));
                }
            } else if (unk && prevUnk) {
                String last = pieces.remove(pieces.size() - 1);
                pieces.add(last + Utf8.decode(norm, start, end - start));
            } else {
                if (count == ids.length) {
                    ids = java.util.Arrays.copyOf(ids, ids.length * 2 + 1);
                }
                ids[count++] = id;
                pieces.add(Utf8.decode(norm, start, end - start));
            }
            prevUnk = unk;
        }
        return new Encoding(java.util.Arrays.copyOf(ids, count), pieces);
    }

    /**
     * Best segmentation of normalised bytes. Returns consecutive (start, end, id) triples covering the input.
     * Dynamic programme over character boundaries: {@code best[e]} is the best score of a segmentation of
     * {@code [0, e)} and {@code from[e]}/{@code id[e]} its last piece; pieces are found by walking the piece trie
     * from every character start (at most P steps).
     */
    private int[] viterbi(byte[] s) {
        int n = s.length;
        if (n == 0) {
            return new int[0];
        }
        float[] best = new float[n + 1];
        int[] from = new int[n + 1];
        int[] lastId = new int[n + 1];
        java.util.Arrays.fill(from, -1);
        int start = 0;
        while (start < n) {
            float base = best[start];
            int mblen = Math.min(Utf8.leadLength(s[start]), n - start);
            boolean hasSingle = false;
            int node = ByteTrie.ROOT;
            for (int k = start; k < n; k++) {
                node = pieceTrie.child(node, s[k]);
                if (node < 0) {
                    break;
                }
                int id = pieceTrie.value(node);
                if (id < 0 || types[id] == PieceType.UNUSED) {
                    continue;
                }
                int end = k + 1;
                int length = end - start;
                if (types[id] == PieceType.USER_DEFINED) {
                    // sentencepiece computes this bonus in double precision before storing it as float
                    double cand = ((double) (length * maxScore) - 0.1) + base;
                    if (from[end] == -1 || cand > best[end]) {
                        best[end] = (float) cand;
                        from[end] = start;
                        lastId[end] = id;
                    }
                } else {
                    float cand = scores[id] + base;
                    if (from[end] == -1 || cand > best[end]) {
                        best[end] = cand;
                        from[end] = start;
                        lastId[end] = id;
                    }
                }
                if (length == mblen) {
                    hasSingle = true;
                }
            }
            if (!hasSingle) {
                int end = start + mblen;
                float cand = unkScore + base;
                if (from[end] == -1 || cand > best[end]) {
                    best[end] = cand;
                    from[end] = start;
                    lastId[end] = unkId;
                }
            }
            start += mblen;
        }
        int segments = 0;
        for (int e = n; e > 0; e = from[e]) {
            segments++;
        }
        int[] out = new int[segments * 3];
        int i = segments;
        for (int e = n; e > 0; e = from[e]) {
            i--;
            out[3 * i] = from[e];
            out[3 * i + 1] = e;
            out[3 * i + 2] = lastId[e];
        }
        return out;
    }

    /**
     * Text of piece ids, as {@code SentencePieceProcessor.decode}: CONTROL pieces vanish, the unknown piece reads as
     * the model's unknown surface (" ⁇ "), consecutive BYTE pieces are joined and read as UTF-8, "▁" becomes a space,
     * and the leading "▁" of the first piece that yields text is dropped (the dummy prefix). Models with
     * {@code treat_whitespace_as_suffix} are normalised as such, but their trailing "▁" is kept here.
     *
     * @throws IllegalArgumentException for an id outside the vocabulary
     */
    public String decode(int[] ids) {
        StringBuilder sb = new StringBuilder();
        ByteArrayOutputStream pendingBytes = new ByteArrayOutputStream();
        boolean atStart = true;
        boolean stripPrefix = model.normalizerSpec().addDummyPrefix()
                || model.normalizerSpec().removeExtraWhitespaces();
        for (int i = 0; i <= ids.length; i++) {
            if (i < ids.length) {
                checkId(ids[i]);
            }
            if (i < ids.length && types[ids[i]] == PieceType.BYTE) {
                String p = model.pieces().get(ids[i]).text();
                pendingBytes.write(Integer.parseInt(p.substring(3, 5), 16));
                continue;
            }
            if (pendingBytes.size() > 0) {
                String text = pendingBytes.toString(StandardCharsets.UTF_8);
                pendingBytes.reset();
                sb.append(text);
                atStart = atStart && text.isEmpty();
            }
            if (i == ids.length) {
                break;
            }
            int id = ids[i];
            String surface;
            if (types[id] == PieceType.CONTROL) {
                surface = "";
            } else if (types[id] == PieceType.UNKNOWN) {
                surface = model.trainerSpec().unkSurface();
            } else {
                String piece = model.pieces().get(id).text();
                if (atStart && stripPrefix && piece.startsWith(SPACE_SYMBOL)) {
                    piece = piece.substring(1);
                }
                surface = piece.replace(SPACE_SYMBOL, " ");
            }
            sb.append(surface);
            atStart = atStart && surface.isEmpty();
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return "SentencePieceTokenizer[" + model + "]";
    }
}
