package io.github.jsora.text;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The contents of a SentencePiece {@code .model} file (a serialised {@code ModelProto}), parsed with a small
 * protobuf wire reader of our own. Immutable.
 *
 * <p>Fields read (field numbers of {@code sentencepiece_model.proto}); every other field is skipped:
 * <ul>
 * <li>{@code ModelProto}: 1 {@code pieces} (repeated), 2 {@code trainer_spec}, 3 {@code normalizer_spec},
 *     5 {@code denormalizer_spec} (read, not applied when decoding).</li>
 * <li>{@code SentencePiece}: 1 {@code piece} (UTF-8 string), 2 {@code score} (float), 3 {@code type}
 *     (1 NORMAL default, 2 UNKNOWN, 3 CONTROL, 4 USER_DEFINED, 5 UNUSED, 6 BYTE).</li>
 * <li>{@code TrainerSpec}: 3 {@code model_type} (1 UNIGRAM default; 2 BPE, 3 WORD, 4 CHAR are rejected),
 *     4 {@code vocab_size}, 24 {@code treat_whitespace_as_suffix}, 35 {@code byte_fallback}, 40 {@code unk_id},
 *     41 {@code bos_id}, 42 {@code eos_id}, 43 {@code pad_id}, 44 {@code unk_surface}, 45–48 {@code unk/bos/eos/
 *     pad_piece}. Defaults when absent are the proto's: unk 0, bos 1, eos 2, pad −1, unk surface " ⁇ ".</li>
 * <li>{@code NormalizerSpec}: 1 {@code name}, 2 {@code precompiled_charsmap} (bytes; see {@link CharsMap}),
 *     3 {@code add_dummy_prefix}, 4 {@code remove_extra_whitespaces}, 5 {@code escape_whitespaces} (all three
 *     default true).</li>
 * </ul>
 *
 * <p>Checks made when loading (each fails with {@link SentencePieceFormatException} naming the file): wire format
 * well formed and not truncated; pieces, {@code trainer_spec} and {@code normalizer_spec} all present (a cut
 * between fields shows as a missing spec); at least one piece; no empty piece; no piece text defined twice; exactly one
 * UNKNOWN piece (the id used for unknown text is that piece's index, as in sentencepiece, not
 * {@code trainer_spec.unk_id}); BYTE pieces only with {@code byte_fallback}; finite
 * scores; a unigram model; a well-formed character map header.
 */
public final class SentencePieceModel {

    /** Piece types of {@code ModelProto.SentencePiece.Type}. */
    public enum PieceType {
        NORMAL(1), UNKNOWN(2), CONTROL(3), USER_DEFINED(4), UNUSED(5), BYTE(6);

        final int code;

        PieceType(int code) {
            this.code = code;
        }

        static PieceType of(int code) {
            for (PieceType t : values()) {
                if (t.code == code) {
                    return t;
                }
            }
            return null;
        }
    }

    /** One vocabulary entry; its id is its index in {@link #pieces()}. */
    public record Piece(String text, float score, PieceType type) {
    }

    /** The trainer settings that matter at encode time. */
    public record TrainerSpec(int modelType, int vocabSize, boolean treatWhitespaceAsSuffix, boolean byteFallback,
            int unkId, int bosId, int eosId, int padId, String unkSurface, String unkPiece, String bosPiece,
            String eosPiece, String padPiece) {
    }

    /** Normalisation settings; {@code precompiledCharsmap} is empty for the identity normaliser. */
    public record NormalizerSpec(String name, byte[] precompiledCharsmap, boolean addDummyPrefix,
            boolean removeExtraWhitespaces, boolean escapeWhitespaces) {

        public NormalizerSpec {
            precompiledCharsmap = precompiledCharsmap.clone();
        }

        @Override
        public byte[] precompiledCharsmap() {
            return precompiledCharsmap.clone();
        }

        byte[] charsmapNoCopy() {
            return precompiledCharsmap;
        }
    }

    private final String source;
    private final List<Piece> pieces;
    private final TrainerSpec trainerSpec;
    private final NormalizerSpec normalizerSpec;
    private final NormalizerSpec denormalizerSpec;
    private final int unkId;

    private SentencePieceModel(String source, List<Piece> pieces, TrainerSpec trainerSpec,
            NormalizerSpec normalizerSpec, NormalizerSpec denormalizerSpec) {
        this.source = source;
        this.pieces = Collections.unmodifiableList(pieces);
        this.trainerSpec = trainerSpec;
        this.normalizerSpec = normalizerSpec;
        this.denormalizerSpec = denormalizerSpec;
        this.unkId = validate();
    }

    /** Reads a {@code .model} file. */
    public static SentencePieceModel read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new SentencePieceFormatException(file + ": cannot read SentencePiece model: " + e);
        }
        return parse(bytes, file.toString());
    }

    /** Parses the bytes of a {@code .model} file; {@code source} names it in messages. */
    public static SentencePieceModel parse(byte[] bytes, String source) {
        if (bytes.length == 0) {
            throw new SentencePieceFormatException(source + ": empty SentencePiece model file");
        }
        ProtoReader r = new ProtoReader(source, bytes, 0, bytes.length);
        List<Piece> pieces = new ArrayList<>();
        TrainerSpec trainer = null;
        NormalizerSpec normalizer = null;
        NormalizerSpec denormalizer = null;
        while (r.hasMore()) {
            int tag = r.readTag();
            switch (tag >>> 3) {
                case 1 -> {
                    r.expect(tag, ProtoReader.LEN, "pieces");
                    pieces.add(readPiece(r.subMessage(), pieces.size()));
                }
                case 2 -> {
                    r.expect(tag, ProtoReader.LEN, "trainer_spec");
                    trainer = readTrainer(r.subMessage());
                }
                case 3 -> {
                    r.expect(tag, ProtoReader.LEN, "normalizer_spec");
                    normalizer = readNormalizer(r.subMessage());
                }
                case 5 -> {
                    r.expect(tag, ProtoReader.LEN, "denormalizer_spec");
                    denormalizer = readNormalizer(r.subMessage());
                }
                default -> r.skip(tag);
            }
        }
        // Pieces, trainer spec and normalizer spec are written in this order by every trainer; a file that ends
        // without the specs is truncated (protobuf has no end marker, so this is how a cut between fields shows).
        if (pieces.isEmpty() || trainer == null || normalizer == null) {
            throw new SentencePieceFormatException(source + ": not a complete SentencePiece model (" + pieces.size()
                    + " pieces, trainer_spec " + (trainer == null ? "missing" : "present") + ", normalizer_spec "
                    + (normalizer == null ? "missing" : "present") + "); the file is truncated or of another kind");
        }
        return new SentencePieceModel(source, pieces, trainer, normalizer, denormalizer);
    }

    private static Piece readPiece(ProtoReader r, int index) {
        String text = null;
        float score = 0f;
        int type = 1;
        while (r.hasMore()) {
            int tag = r.readTag();
            switch (tag >>> 3) {
                case 1 -> {
                    r.expect(tag, ProtoReader.LEN, "piece");
                    text = r.readString("pieces[" + index + "].piece");
                }
                case 2 -> {
                    r.expect(tag, ProtoReader.FIXED32, "score");
                    score = r.readFloat();
                }
                case 3 -> {
                    r.expect(tag, ProtoReader.VARINT, "type");
                    type = r.readInt32();
                }
                default -> r.skip(tag);
            }
        }
        PieceType t = PieceType.of(type);
        if (t == null) {
            throw r.fault("piece " + index + " has unknown type " + type);
        }
        return new Piece(text == null ? "" : text, score, t);
    }

    private static TrainerSpec readTrainer(ProtoReader r) {
        int modelType = 1;
        int vocabSize = 8000;
        boolean suffix = false;
        boolean byteFallback = false;
        int unk = 0;
        int bos = 1;
        int eos = 2;
        int pad = -1;
        String unkSurface = " \u2047 ";
        String unkPiece = "<unk>";
        String bosPiece = "<s>";
        String eosPiece = "</s>";
        String padPiece = "<pad>";
        while (r.hasMore()) {
            int tag = r.readTag();
            int field = tag >>> 3;
            switch (field) {
                case 3, 4, 24, 35, 40, 41, 42, 43 -> {
                    r.expect(tag, ProtoReader.VARINT, "trainer_spec." + field);
                    long v = r.readVarint();
                    switch (field) {
                        case 3 -> modelType = (int) v;
                        case 4 -> vocabSize = (int) v;
                        case 24 -> suffix = v != 0;
                        case 35 -> byteFallback = v != 0;
                        case 40 -> unk = (int) v;
                        case 41 -> bos = (int) v;
                        case 42 -> eos = (int) v;
                        default -> pad = (int) v;
                    }
                }
                case 44, 45, 46, 47, 48 -> {
                    r.expect(tag, ProtoReader.LEN, "trainer_spec." + field);
                    String s = r.readString("trainer_spec." + field);
                    switch (field) {
                        case 44 -> unkSurface = s;
                        case 45 -> unkPiece = s;
                        case 46 -> bosPiece = s;
                        case 47 -> eosPiece = s;
                        default -> padPiece = s;
                    }
                }
                default -> r.skip(tag);
            }
        }
        return new TrainerSpec(modelType, vocabSize, suffix, byteFallback, unk, bos, eos, pad, unkSurface, unkPiece,
                bosPiece, eosPiece, padPiece);
    }

    private static NormalizerSpec readNormalizer(ProtoReader r) {
        String name = "";
        byte[] charsmap = new byte[0];
        boolean dummy = true;
        boolean removeWs = true;
        boolean escape = true;
        while (r.hasMore()) {
            int tag = r.readTag();
            switch (tag >>> 3) {
                case 1 -> {
                    r.expect(tag, ProtoReader.LEN, "normalizer_spec.name");
                    name = r.readString("normalizer_spec.name");
                }
                case 2 -> {
                    r.expect(tag, ProtoReader.LEN, "normalizer_spec.precompiled_charsmap");
                    charsmap = r.readBytes();
                }
                case 3 -> {
                    r.expect(tag, ProtoReader.VARINT, "normalizer_spec.add_dummy_prefix");
                    dummy = r.readBool();
                }
                case 4 -> {
                    r.expect(tag, ProtoReader.VARINT, "normalizer_spec.remove_extra_whitespaces");
                    removeWs = r.readBool();
                }
                case 5 -> {
                    r.expect(tag, ProtoReader.VARINT, "normalizer_spec.escape_whitespaces");
                    escape = r.readBool();
                }
                default -> r.skip(tag);
            }
        }
        return new NormalizerSpec(name, charsmap, dummy, removeWs, escape);
    }

    private SentencePieceFormatException invalid(String what) {
        return new SentencePieceFormatException(source + ": " + what);
    }

    /** Checks the model's consistency; returns the id of the unknown piece. */
    private int validate() {
        if (trainerSpec.modelType() != 1) {
            throw invalid("model_type " + trainerSpec.modelType()
                    + " is not supported (only UNIGRAM = 1; BPE, WORD and CHAR models are not implemented)");
        }
        if (pieces.isEmpty()) {
            throw invalid("the model has no pieces");
        }
        Map<String, Integer> normal = new HashMap<>();
        Map<String, Integer> reserved = new HashMap<>();
        int unk = -1;
        for (int i = 0; i < pieces.size(); i++) {
            Piece p = pieces.get(i);
            if (p.text().isEmpty()) {
                throw invalid("piece " + i + " is empty");
            }
            if (!Float.isFinite(p.score())) {
                throw invalid("piece " + i + " \"" + p.text() + "\" has a non-finite score " + p.score());
            }
            boolean isNormal = p.type() == PieceType.NORMAL || p.type() == PieceType.USER_DEFINED
                    || p.type() == PieceType.UNUSED;
            Integer prev = (isNormal ? normal : reserved).putIfAbsent(p.text(), i);
            if (prev != null) {
                throw invalid("piece \"" + p.text() + "\" is defined twice (ids " + prev + " and " + i + ")");
            }
            if (p.type() == PieceType.UNKNOWN) {
                if (unk >= 0) {
                    throw invalid("two unknown pieces (ids " + unk + " and " + i + ")");
                }
                unk = i;
            }
            if (p.type() == PieceType.BYTE) {
                if (!trainerSpec.byteFallback()) {
                    throw invalid("byte piece \"" + p.text() + "\" (id " + i + ") found although byte_fallback is false");
                }
            }
        }
        if (unk < 0) {
            throw invalid("the piece table has no UNKNOWN piece (sentencepiece requires one to encode unknown text)");
        }
        CharsMap.checkHeader(normalizerSpec.charsmapNoCopy(), source);
        return unk;
    }

    /** Where the model was read from. */
    public String source() {
        return source;
    }

    /** All pieces; a piece's id is its index. */
    public List<Piece> pieces() {
        return pieces;
    }

    public int size() {
        return pieces.size();
    }

    public TrainerSpec trainerSpec() {
        return trainerSpec;
    }

    public NormalizerSpec normalizerSpec() {
        return normalizerSpec;
    }

    /** The denormaliser spec, or null when the model has none (it is not applied by this implementation). */
    public NormalizerSpec denormalizerSpec() {
        return denormalizerSpec;
    }

    /** Id of the (single) UNKNOWN piece. */
    public int unkId() {
        return unkId;
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return "SentencePieceModel[" + source + ", " + pieces.size() + " pieces, normalizer "
                + (normalizerSpec.name().isEmpty() ? "identity" : normalizerSpec.name()) + "]";
    }
}
