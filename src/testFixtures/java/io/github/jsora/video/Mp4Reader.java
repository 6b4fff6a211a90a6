package io.github.jsora.video;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads back the MP4 files {@link Mp4Writer} makes: the box structure (top-level order, sample table), the
 * metadata, and the frames, decoding exactly the I_PCM H.264 subset the writer produces (any other stream fails).
 * A check of the container and bitstream independent of the writer's code; browsers and ffmpeg check the rest.
 */
public final class Mp4Reader {

    /** What was read. */
    public record Mp4(List<String> topLevel, DecodedVideo video, byte[] sps, byte[] pps, long timescale) {
    }

    private Mp4Reader() {
    }

    /** Reads {@code path} fully. */
    public static Mp4 read(Path path) throws IOException {
        byte[] file = Files.readAllBytes(path);
        ByteBuffer b = ByteBuffer.wrap(file);
        List<String> top = new ArrayList<>();
        Map<String, ByteBuffer> boxes = new LinkedHashMap<>();
        walk(b, "", top, boxes, path);
        ByteBuffer mdhd = need(boxes, "moov/trak/mdia/mdhd", path);
        mdhd.position(mdhd.position() + 12);
        long timescale = mdhd.getInt() & 0xffffffffL;
        ByteBuffer stts = need(boxes, "moov/trak/mdia/minf/stbl/stts", path);
        stts.position(stts.position() + 4);
        if (stts.getInt() != 1) {
            throw new IOException(path + ": stts with more than one entry");
        }
        int sttsCount = stts.getInt();
        long delta = stts.getInt() & 0xffffffffL;
        ByteBuffer stsz = need(boxes, "moov/trak/mdia/minf/stbl/stsz", path);
        stsz.position(stsz.position() + 8);
        int n = stsz.getInt();
        int[] sizes = new int[n];
        for (int i = 0; i < n; i++) {
            sizes[i] = stsz.getInt();
        }
        if (sttsCount != n) {
            throw new IOException(path + ": stts counts " + sttsCount + " samples, stsz " + n);
        }
        ByteBuffer stco = boxes.get("moov/trak/mdia/minf/stbl/stco");
        long offset;
        if (stco != null) {
            stco.position(stco.position() + 8);
            offset = stco.getInt() & 0xffffffffL;
        } else {
            ByteBuffer co64 = need(boxes, "moov/trak/mdia/minf/stbl/co64", path);
            co64.position(co64.position() + 8);
            offset = co64.getLong();
        }
        ByteBuffer avcC = need(boxes, "moov/trak/mdia/minf/stbl/stsd/avc1/avcC", path);
        avcC.position(avcC.position() + 6);
        byte[] sps = new byte[avcC.getShort() & 0xffff];
        avcC.get(sps);
        avcC.get();
        byte[] pps = new byte[avcC.getShort() & 0xffff];
        avcC.get(pps);
        Sps s = parseSps(unescape(sps), path);

        Map<String, String> metadata = Map.of();
        ByteBuffer cmt = boxes.get("moov/udta/meta/ilst/\u00a9cmt/data");
        if (cmt != null) {
            cmt.position(cmt.position() + 8);
            byte[] text = new byte[cmt.remaining()];
            cmt.get(text);
            metadata = MetadataJson.fromJson(new String(text, StandardCharsets.UTF_8));
        }

        List<Frame> frames = new ArrayList<>();
        List<Double> durations = new ArrayList<>();
        long at = offset;
        for (int i = 0; i < n; i++) {
            ByteBuffer sample = ByteBuffer.wrap(file, (int) at, sizes[i]).slice();
            int len = sample.getInt();
            if (len != sizes[i] - 4) {
                throw new IOException(path + ": sample " + i + " holds a NAL of " + len + " bytes in " + sizes[i]);
            }
            byte[] nal = new byte[len];
            sample.get(nal);
            frames.add(decodePcmSlice(unescape(nal), s, path, i));
            durations.add((double) delta / timescale);
            at += sizes[i];
        }
        DecodedVideo v = new DecodedVideo(VideoFormat.MP4, s.width, s.height, frames, durations,
                (double) timescale / delta, -1, metadata);
        return new Mp4(top, v, sps, pps, timescale);
    }

    private static ByteBuffer need(Map<String, ByteBuffer> boxes, String name, Path path) throws IOException {
        ByteBuffer b = boxes.get(name);
        if (b == null) {
            throw new IOException(path + ": no box " + name);
        }
        return b.duplicate();
    }

    private static final List<String> CONTAINERS = List.of("moov", "trak", "mdia", "minf", "stbl", "udta", "ilst",
            "dinf", "\u00a9cmt", "\u00a9too");

    private static void walk(ByteBuffer b, String prefix, List<String> top, Map<String, ByteBuffer> out, Path path)
            throws IOException {
        while (b.remaining() >= 8) {
            int start = b.position();
            long size = b.getInt() & 0xffffffffL;
            byte[] t = new byte[4];
            b.get(t);
            String type = new String(t, StandardCharsets.ISO_8859_1);
            int header = 8;
            if (size == 1) {
                size = b.getLong();
                header = 16;
            }
            if (size < header || start + size > b.limit()) {
                throw new IOException(path + ": box " + prefix + type + " of size " + size + " overruns its parent");
            }
            if (prefix.isEmpty()) {
                top.add(type);
            }
            ByteBuffer body = b.duplicate().position(start + header).limit((int) (start + size)).slice();
            out.put(prefix + type, body);
            if (CONTAINERS.contains(type)) {
                walk(body.duplicate(), prefix + type + "/", top, out, path);
            } else if (type.equals("meta")) {
                walk(body.duplicate().position(4).slice(), prefix + type + "/", top, out, path);
            } else if (type.equals("stsd")) {
                walk(body.duplicate().position(8).slice(), prefix + type + "/", top, out, path);
            } else if (type.equals("avc1")) {
                walk(body.duplicate().position(78).slice(), prefix + type + "/", top, out, path);
            }
            b.position((int) (start + size));
        }
    }

    /** Removes emulation-prevention bytes (00 00 03 → 00 00). */
    static byte[] unescape(byte[] nal) {
        byte[] out = new byte[nal.length];
        int n = 0;
        int zeros = 0;
        for (byte v : nal) {
            if (zeros == 2 && v == 3) {
                zeros = 0;
                continue;
            }
            out[n++] = v;
            zeros = v == 0 ? zeros + 1 : 0;
        }
        return java.util.Arrays.copyOf(out, n);
    }

    private record Sps(int width, int height, int mbW, int mbH) {
    }

    private static Sps parseSps(byte[] sps, Path path) throws IOException {
        Bits r = new Bits(sps, 1);
        int profile = r.u(8);
        r.u(8);
        r.u(8);
        r.ue();
        if (profile != 66) {
            throw new IOException(path + ": profile " + profile + ", not Baseline");
        }
        int log2MaxFrameNum = r.ue() + 4;
        int pocType = r.ue();
        if (log2MaxFrameNum != 4 || pocType != 2) {
            throw new IOException(path + ": unexpected SPS (frame num bits " + log2MaxFrameNum + ", POC type "
                    + pocType + ")");
        }
        r.ue();
        r.u(1);
        int mbW = r.ue() + 1;
        int mbH = r.ue() + 1;
        if (r.u(1) != 1) {
            throw new IOException(path + ": not frame_mbs_only");
        }
        r.u(1);
        int w = mbW * 16;
        int h = mbH * 16;
        if (r.u(1) == 1) {
            int left = r.ue();
            int right = r.ue();
            int top = r.ue();
            int bottom = r.ue();
            w -= 2 * (left + right);
            h -= 2 * (top + bottom);
        }
        return new Sps(w, h, mbW, mbH);
    }

    private static Frame decodePcmSlice(byte[] nal, Sps s, Path path, int index) throws IOException {
        if ((nal[0] & 0x1f) != 5) {
            throw new IOException(path + ": sample " + index + " is NAL type " + (nal[0] & 0x1f) + ", not IDR");
        }
        Bits r = new Bits(nal, 1);
        r.ue();                       // first_mb_in_slice
        int sliceType = r.ue();
        r.ue();                       // pps id
        r.u(4);                       // frame_num
        r.ue();                       // idr_pic_id
        r.u(2);                       // dec_ref_pic_marking
        r.se();                       // slice_qp_delta
        if (r.ue() != 1 || sliceType != 7) {
            throw new IOException(path + ": sample " + index + ": unexpected slice header");
        }
        int yStride = s.mbW * 16;
        int cStride = s.mbW * 8;
        byte[] y = new byte[yStride * s.mbH * 16];
        byte[] cb = new byte[cStride * s.mbH * 8];
        byte[] cr = new byte[cStride * s.mbH * 8];
        for (int my = 0; my < s.mbH; my++) {
            for (int mx = 0; mx < s.mbW; mx++) {
                int mbType = r.ue();
                if (mbType != 25) {
                    throw new IOException(path + ": sample " + index + ": mb_type " + mbType + ", not I_PCM");
                }
                r.align();
                for (int row = 0; row < 16; row++) {
                    r.bytes(y, (my * 16 + row) * yStride + mx * 16, 16);
                }
                for (int row = 0; row < 8; row++) {
                    r.bytes(cb, (my * 8 + row) * cStride + mx * 8, 8);
                }
                for (int row = 0; row < 8; row++) {
                    r.bytes(cr, (my * 8 + row) * cStride + mx * 8, 8);
                }
            }
        }
        if (r.u(1) != 1) {
            throw new IOException(path + ": sample " + index + ": no rbsp stop bit after the last macroblock");
        }
        byte[] rgb = new byte[3 * s.width * s.height];
        for (int py = 0; py < s.height; py++) {
            for (int px = 0; px < s.width; px++) {
                double yy = (y[py * yStride + px] & 0xff) - 16;
                double u = (cb[(py / 2) * cStride + px / 2] & 0xff) - 128;
                double v = (cr[(py / 2) * cStride + px / 2] & 0xff) - 128;
                int i = 3 * (py * s.width + px);
                rgb[i] = clamp(1.164384 * yy + 1.596027 * v);
                rgb[i + 1] = clamp(1.164384 * yy - 0.391762 * u - 0.812968 * v);
                rgb[i + 2] = clamp(1.164384 * yy + 2.017232 * u);
            }
        }
        return Frame.wrap(s.width, s.height, rgb);
    }

    private static byte clamp(double v) {
        return (byte) Math.max(0, Math.min(255, Math.round(v)));
    }

    /** MSB-first bit reader with Exp-Golomb codes. */
    private static final class Bits {
        private final byte[] a;
        private long bit;

        Bits(byte[] a, int startByte) {
            this.a = a;
            this.bit = 8L * startByte;
        }

        int u(int n) throws IOException {
            int v = 0;
            for (int i = 0; i < n; i++) {
                int byteAt = (int) (bit >> 3);
                if (byteAt >= a.length) {
                    throw new IOException("H.264 bitstream ends early");
                }
                v = v << 1 | (a[byteAt] >> (7 - (bit & 7)) & 1);
                bit++;
            }
            return v;
        }

        int ue() throws IOException {
            int zeros = 0;
            while (u(1) == 0) {
                zeros++;
                if (zeros > 31) {
                    throw new IOException("bad Exp-Golomb code");
                }
            }
            return (1 << zeros) - 1 + u(zeros);
        }

        int se() throws IOException {
            int k = ue();
            return (k & 1) == 1 ? (k + 1) / 2 : -(k / 2);
        }

        void align() throws IOException {
            while ((bit & 7) != 0) {
                if (u(1) != 0) {
                    throw new IOException("pcm_alignment_zero_bit is 1");
                }
            }
        }

        void bytes(byte[] dst, int off, int n) throws IOException {
            int at = (int) (bit >> 3);
            if (at + n > a.length) {
                throw new IOException("H.264 bitstream ends inside a PCM macroblock");
            }
            System.arraycopy(a, at, dst, off, n);
            bit += 8L * n;
        }
    }
}
