package io.github.jsora.text;

import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;

/**
 * Minimal reader of the protobuf wire format over a byte range: varints, 32/64-bit fixed values and
 * length-delimited fields. Every read is bounds-checked; a fault throws {@link SentencePieceFormatException} naming
 * the source and the absolute byte offset. Groups (wire types 3/4) are rejected.
 */
final class ProtoReader {

    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LEN = 2;
    static final int FIXED32 = 5;

    private final String source;
    private final byte[] buf;
    private int pos;
    private final int end;

    ProtoReader(String source, byte[] buf, int from, int to) {
        this.source = source;
        this.buf = buf;
        this.pos = from;
        this.end = to;
    }

    boolean hasMore() {
        return pos < end;
    }

    int position() {
        return pos;
    }

    SentencePieceFormatException fault(String what) {
        return new SentencePieceFormatException(source + ": " + what + " at byte " + pos
                + " (not a valid SentencePiece model protobuf)");
    }

    /** Reads a field tag; returns {@code fieldNumber << 3 | wireType}. */
    int readTag() {
        long t = readVarint();
        if (t <= 0 || t > Integer.MAX_VALUE) {
            throw fault("invalid field tag " + t);
        }
        int wire = (int) (t & 7);
        if (wire != VARINT && wire != FIXED64 && wire != LEN && wire != FIXED32) {
            throw fault("unsupported wire type " + wire + " for field " + (t >>> 3));
        }
        return (int) t;
    }

    long readVarint() {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= end) {
                throw fault("truncated varint");
            }
            int b = buf[pos++] & 0xFF;
            result |= (long) (b & 0x7F) << shift;
            if ((b & 0x80) == 0) {
                return result;
            }
        }
        throw fault("varint longer than 10 bytes");
    }

    /** An int32 field (negative values are sign-extended 10-byte varints). */
    int readInt32() {
        return (int) readVarint();
    }

    boolean readBool() {
        return readVarint() != 0;
    }

    float readFloat() {
        if (end - pos < 4) {
            throw fault("truncated fixed32");
        }
        int bits = (buf[pos] & 0xFF) | (buf[pos + 1] & 0xFF) << 8 | (buf[pos + 2] & 0xFF) << 16
                | (buf[pos + 3] & 0xFF) << 24;
        pos += 4;
        return Float.intBitsToFloat(bits);
    }

    /** Reads a length prefix and returns the end offset of the field's bytes, which start at {@link #position()}. */
    int readLengthEnd() {
        long len = readVarint();
        if (len < 0 || len > end - pos) {
            throw fault("length " + len + " runs past the end of its message (" + (end - pos) + " bytes left)");
        }
        return pos + (int) len;
    }

    byte[] readBytes() {
        int e = readLengthEnd();
        byte[] out = java.util.Arrays.copyOfRange(buf, pos, e);
        pos = e;
        return out;
    }

    String readString(String field) {
        int start = pos;
        byte[] b = readBytes();
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw new SentencePieceFormatException(source + ": field " + field + " at byte " + start
                    + " is not valid UTF-8");
        }
    }

    /** A reader over the next length-delimited field (a sub-message); this reader moves past it. */
    ProtoReader subMessage() {
        int e = readLengthEnd();
        ProtoReader r = new ProtoReader(source, buf, pos, e);
        pos = e;
        return r;
    }

    void skip(int tag) {
        switch (tag & 7) {
            case VARINT -> readVarint();
            case FIXED64 -> {
                if (end - pos < 8) {
                    throw fault("truncated fixed64");
                }
                pos += 8;
            }
            case FIXED32 -> {
                if (end - pos < 4) {
                    throw fault("truncated fixed32");
                }
                pos += 4;
            }
            case LEN -> pos = readLengthEnd();
            default -> throw fault("unsupported wire type " + (tag & 7));
        }
    }

    /** Throws unless the field's wire type is {@code expected}. */
    void expect(int tag, int expected, String field) {
        if ((tag & 7) != expected) {
            throw fault("field " + field + " has wire type " + (tag & 7) + ", expected " + expected);
        }
    }
}
