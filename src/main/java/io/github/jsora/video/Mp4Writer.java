package io.github.jsora.video;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams frames into an H.264 video in an MP4 (ISO base media file) container, the format browsers, phones,
 * chat apps and QuickTime play. Pure Java, no codec dependency: the stream is Constrained Baseline H.264, 4:2:0
 * 8-bit (yuv420p) made of intra-only {@code I_PCM} macroblocks (see {@link Mp4WriterH264}), so every frame is a
 * sync sample and the decoded video equals the BT.601 limited-range Y'CbCr conversion of the frames. The price is
 * size: about 1.5 bytes per pixel and frame (a 426×240, 51-frame clip is about 8 MB).
 *
 * <p>Layout written ("fast start": the index comes before the data, so playback starts before the download ends):
 * <pre>
 * ftyp  isom, compatible isom iso2 avc1 mp41
 * moov
 *   mvhd                       timescale 1000, duration
 *   trak
 *     tkhd                     track 1, width × height
 *     mdia
 *       mdhd                   timescale and sample duration from fps (whole rates exactly, others to 1/1000)
 *       hdlr 'vide'
 *       minf
 *         vmhd, dinf/dref
 *         stbl
 *           stsd/avc1/avcC     SPS and PPS
 *           stts, stsc, stsz   one chunk, one duration, every sample's size
 *           stco (co64 above 4 GiB)
 *   udta/meta/ilst             '©too' = "jsora", '©cmt' = the metadata as one ASCII JSON object
 * mdat                         one length-prefixed IDR access unit per frame
 * </pre>
 * Frames go to a temporary file beside the target as they arrive; {@link #finish()} moves them up to make room
 * for the index, then moves the file into place. Width and height must be even.
 */
public final class Mp4Writer implements FrameSink {

    private static final Logger LOG = LoggerFactory.getLogger(Mp4Writer.class);
    /** Sample-table timescale of the movie header (milliseconds). */
    private static final int MOVIE_TIMESCALE = 1000;

    private final OutputTarget out;
    private final SinkState state;
    private Path temp;
    private FileChannel ch;
    private Mp4WriterH264 h264;
    private Map<String, String> metadata;
    private long timescale;
    private long sampleDelta;
    private int[] sizes = new int[64];
    private boolean committed;

    /**
     * A writer to {@code target}; checks the output location now (see {@link VideoWriters}).
     *
     * @param target the output path
     * @param overwrite replace an existing output
     * @throws IOException if reading or writing fails
     */
    public Mp4Writer(Path target, boolean overwrite) throws IOException {
        this.out = OutputTarget.file(target, overwrite);
        this.state = new SinkState(out.target().toString());
    }

    /**
     * The file this writer produces.
     *
     * @return the file this writer produces
     */
    public Path target() {
        return out.target();
    }

    @Override
    public void begin(int width, int height, double fps, int frameCountHint, Map<String, String> metadata)
            throws IOException {
        state.begin(width, height, fps, metadata);
        int[] rs = AviMjpegWriter.rateScale(fps); // fps = rate / scale
        timescale = 1000L * rs[0];
        sampleDelta = 1000L * rs[1];
        if (timescale > 0xffffffffL) {
            throw new IllegalArgumentException("fps " + fps + " is too high for an MP4 timescale");
        }
        h264 = new Mp4WriterH264(width, height, rs[1], 2L * rs[0]);
        this.metadata = Map.copyOf(metadata);
        temp = out.createTemp();
        ch = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.READ,
                StandardOpenOption.TRUNCATE_EXISTING);
    }

    @Override
    public void accept(Frame frame) throws IOException {
        state.accept(frame);
        int n = state.frames() - 1;
        byte[] nal = h264.encode(frame, n);
        ByteBuffer b = ByteBuffer.allocate(4 + nal.length);
        b.putInt(nal.length).put(nal).flip();
        writeFully(b);
        if (n == sizes.length) {
            sizes = Arrays.copyOf(sizes, 2 * n);
        }
        sizes[n] = b.capacity();
    }

    @Override
    public void finish() throws IOException {
        state.finish();
        long dataSize = ch.size();
        boolean large = dataSize + 16 > 0xffffffffL;
        int mdatHeader = large ? 16 : 8;
        // The moov size does not depend on the chunk offset's value, only on stco vs co64: build it twice.
        byte[] ftyp = ftyp();
        byte[] moov = moov(0, large);
        long dataStart = ftyp.length + moov.length + mdatHeader;
        moov = moov(dataStart, large);
        ByteBuffer mdat = ByteBuffer.allocate(mdatHeader);
        if (large) {
            mdat.putInt(1).put(ascii("mdat")).putLong(dataSize + 16);
        } else {
            mdat.putInt((int) (dataSize + 8)).put(ascii("mdat"));
        }
        mdat.flip();
        shiftUp(dataSize, dataStart);
        ByteBuffer head = ByteBuffer.allocate((int) dataStart);
        head.put(ftyp).put(moov).put(mdat).flip();
        while (head.hasRemaining()) {
            ch.write(head, head.position());
        }
        ch.force(false);
        ch.close();
        ch = null;
        out.commit(temp);
        committed = true;
    }

    /** Moves bytes [0, size) of the temporary file to [by, by + size), last block first. */
    private void shiftUp(long size, long by) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        long end = size;
        while (end > 0) {
            long start = Math.max(0, end - buf.capacity());
            buf.clear().limit((int) (end - start));
            while (buf.hasRemaining()) {
                if (ch.read(buf, start + buf.position()) < 0) {
                    throw new IOException(temp + ": temporary file shrank while writing");
                }
            }
            buf.flip();
            while (buf.hasRemaining()) {
                ch.write(buf, start + by + buf.position());
            }
            end = start;
        }
    }

    @Override
    public void close() {
        if (!state.close()) {
            return;
        }
        try (FileChannel open = ch) { // null after finish()
            ch = null;
        } catch (IOException e) {
            LOG.debug("closing {}", temp, e);
        } finally {
            if (!committed) {
                out.discard(temp);
            }
        }
    }

    private void writeFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    // ------------------------------------------------------------------------------------------------ boxes

    private static byte[] ftyp() {
        Box b = new Box("ftyp");
        b.fourcc("isom").u32(0x200).fourcc("isom").fourcc("iso2").fourcc("avc1").fourcc("mp41");
        return b.bytes();
    }

    private byte[] moov(long chunkOffset, boolean large) {
        int frames = state.frames();
        int w = state.width();
        int h = state.height();
        long mediaDuration = sampleDelta * frames;
        long movieDuration = Math.round((double) mediaDuration * MOVIE_TIMESCALE / timescale);

        Box mvhd = new Box("mvhd").fullBox(0, 0);
        mvhd.u32(0).u32(0).u32(MOVIE_TIMESCALE).u32(movieDuration);
        mvhd.u32(0x00010000).u16(0x0100).zeros(10).matrix().zeros(24).u32(2); // rate, volume, ..., next_track_ID

        Box tkhd = new Box("tkhd").fullBox(0, 3); // enabled, in movie
        tkhd.u32(0).u32(0).u32(1).u32(0).u32(movieDuration).zeros(8);
        tkhd.u16(0).u16(0).u16(0).u16(0).matrix().u32((long) w << 16).u32((long) h << 16);

        Box mdhd = new Box("mdhd").fullBox(0, 0);
        mdhd.u32(0).u32(0).u32(timescale).u32(mediaDuration).u16(0x55C4).u16(0); // language "und"

        Box hdlr = new Box("hdlr").fullBox(0, 0);
        hdlr.u32(0).fourcc("vide").zeros(12).cstring("jsora video");

        Box vmhd = new Box("vmhd").fullBox(0, 1).zeros(8);
        Box dref = new Box("dref").fullBox(0, 0).u32(1).add(new Box("url ").fullBox(0, 1));
        Box dinf = new Box("dinf").add(dref);

        byte[] sps = h264.sps();
        byte[] pps = h264.pps();
        Box avcC = new Box("avcC");
        avcC.u8(1).u8(Mp4WriterH264.PROFILE_BASELINE).u8(Mp4WriterH264.CONSTRAINTS).u8(h264.level());
        avcC.u8(0xFF).u8(0xE1).u16(sps.length).raw(sps).u8(1).u16(pps.length).raw(pps);
        Box avc1 = new Box("avc1");
        avc1.zeros(6).u16(1).zeros(16).u16(w).u16(h).u32(0x00480000).u32(0x00480000).u32(0).u16(1);
        byte[] name = "jsora I_PCM H.264".getBytes(StandardCharsets.US_ASCII);
        avc1.u8(name.length).raw(name).zeros(31 - name.length).u16(0x18).u16(0xffff).add(avcC);
        Box stsd = new Box("stsd").fullBox(0, 0).u32(1).add(avc1);

        Box stts = new Box("stts").fullBox(0, 0).u32(1).u32(frames).u32(sampleDelta);
        Box stsc = new Box("stsc").fullBox(0, 0).u32(1).u32(1).u32(frames).u32(1);
        Box stsz = new Box("stsz").fullBox(0, 0).u32(0).u32(frames);
        for (int i = 0; i < frames; i++) {
            stsz.u32(sizes[i]);
        }
        Box stco = large ? new Box("co64").fullBox(0, 0).u32(1).u64(chunkOffset)
                : new Box("stco").fullBox(0, 0).u32(1).u32(chunkOffset);
        Box stbl = new Box("stbl").add(stsd).add(stts).add(stsc).add(stsz).add(stco);
        Box minf = new Box("minf").add(vmhd).add(dinf).add(stbl);
        Box mdia = new Box("mdia").add(mdhd).add(hdlr).add(minf);
        Box trak = new Box("trak").add(tkhd).add(mdia);

        Box ilst = new Box("ilst").add(textItem("\u00a9too", "jsora"));
        if (!metadata.isEmpty()) {
            ilst.add(textItem("\u00a9cmt", MetadataJson.toJson(metadata)));
        }
        Box metaHdlr = new Box("hdlr").fullBox(0, 0).u32(0).fourcc("mdir").fourcc("appl").zeros(8).u8(0);
        Box meta = new Box("meta").fullBox(0, 0).add(metaHdlr).add(ilst);
        Box udta = new Box("udta").add(meta);
        return new Box("moov").add(mvhd).add(trak).add(udta).bytes();
    }

    /** An iTunes-style metadata item holding one UTF-8 text 'data' atom. */
    private static Box textItem(String type, String text) {
        Box data = new Box("data").u32(1).u32(0).raw(text.getBytes(StandardCharsets.UTF_8));
        return new Box(type).add(data);
    }

    static byte[] ascii(String fourcc) {
        return fourcc.getBytes(StandardCharsets.ISO_8859_1);
    }

    /** A big-endian box under construction: 32-bit size (filled by {@link #bytes()}), type, payload. */
    private static final class Box {
        private ByteBuffer b = ByteBuffer.allocate(256);

        Box(String type) {
            u32(0);
            fourcc(type);
        }

        private ByteBuffer room(int n) {
            if (b.remaining() < n) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(2 * b.capacity(), b.position() + n));
                b.flip();
                bigger.put(b);
                b = bigger;
            }
            return b;
        }

        Box fullBox(int version, int flags) {
            return u32((long) version << 24 | flags);
        }

        Box fourcc(String s) {
            return raw(ascii(s));
        }

        Box u8(int v) {
            return unsigned(1, v);
        }

        Box u16(int v) {
            return unsigned(2, v);
        }

        Box u32(long v) {
            return unsigned(4, v);
        }

        Box u64(long v) {
            return unsigned(8, v);
        }

        /** The low {@code n} bytes of {@code v}, big-endian. */
        private Box unsigned(int n, long v) {
            ByteBuffer r = room(n);
            for (int i = n - 1; i >= 0; i--) {
                r.put((byte) (v >>> (8 * i)));
            }
            return this;
        }

        Box zeros(int n) {
            room(n).put(new byte[n]);
            return this;
        }

        Box raw(byte[] bytes) {
            room(bytes.length).put(bytes);
            return this;
        }

        Box cstring(String s) {
            return raw(s.getBytes(StandardCharsets.US_ASCII)).u8(0);
        }

        /** The identity transformation matrix of movie and track headers. */
        Box matrix() {
            return u32(0x00010000).u32(0).u32(0).u32(0).u32(0x00010000).u32(0).u32(0).u32(0).u32(0x40000000);
        }

        Box add(Box child) {
            return raw(child.bytes());
        }

        byte[] bytes() {
            byte[] a = Arrays.copyOf(b.array(), b.position());
            ByteBuffer.wrap(a).putInt(0, a.length);
            return a;
        }
    }
}
