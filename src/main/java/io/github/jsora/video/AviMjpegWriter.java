package io.github.jsora.video;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams frames into a Motion-JPEG video in a RIFF AVI 1.0 container, a format common players (VLC, mpv, anything
 * built on ffmpeg, Windows' built-in MJPEG decoder) open without extra codecs. Pure Java: frames are JPEG-encoded by
 * {@code javax.imageio} (baseline JFIF, YCbCr 4:2:0 as the JDK encoder does by default, quality
 * {@link #DEFAULT_QUALITY} unless given).
 *
 * <p>Layout written:
 * <pre>
 * RIFF 'AVI '
 *   LIST 'hdrl'
 *     'avih'  MainAVIHeader: dwMicroSecPerFrame = round(10^6 / fps), dwTotalFrames, dwStreams 1, size, AVIF_HASINDEX
 *     LIST 'strl'
 *       'strh'  'vids' 'MJPG', dwScale / dwRate = fps as a fraction (1 / fps for whole rates, else 1000 / round(1000 fps)),
 *               dwLength = frames
 *       'strf'  BITMAPINFOHEADER (40 bytes): width, height, 24 bits, compression 'MJPG'
 *   LIST 'INFO'
 *     'ISFT'  "jsora"
 *     'ICMT'  the metadata as one ASCII JSON object (only when there is metadata)
 *   LIST 'movi'
 *     '00dc'  one JPEG per frame (chunks padded to even size)
 *   'idx1'    one entry per frame: '00dc', AVIIF_KEYFRAME, offset from the 'movi' fourcc, size
 * </pre>
 * Counts and sizes unknown while streaming are patched in {@link #finish()}. AVI 1.0 files are limited to 1 GiB
 * here (the size many players accept without the OpenDML extension); a larger video fails with a clear exception.
 * Written to a temporary file beside the target and moved into place by {@code finish()}.
 */
public final class AviMjpegWriter implements FrameSink {

    private static final Logger LOG = LoggerFactory.getLogger(AviMjpegWriter.class);
    /** JPEG quality used unless another is given. */
    public static final float DEFAULT_QUALITY = 0.92f;
    /** Largest file written (AVI 1.0 without OpenDML). */
    static final long MAX_BYTES = 1L << 30;

    private static final int AVIF_HASINDEX = 0x10;
    private static final int AVIIF_KEYFRAME = 0x10;

    private final OutputTarget out;
    private final SinkState state;
    private final float quality;
    private Path temp;
    private FileChannel ch;
    private ImageWriter jpeg;
    private ImageWriteParam jpegParam;
    private final ByteArrayOutputStream jpegBytes = new ByteArrayOutputStream();
    // positions of fields patched at finish()
    private long posAvihTotalFrames;
    private long posAvihMaxBytesPerSec;
    private long posAvihBufferSize;
    private long posStrhLength;
    private long posStrhBufferSize;
    private long posMoviSize;
    private long moviFourcc; // file position of the 'movi' fourcc, the base of idx1 offsets
    private int[] idxOffsets = new int[64];
    private int[] idxSizes = new int[64];
    private int maxChunk;
    private boolean committed;

    /**
     * A writer to {@code target} with JPEG quality {@link #DEFAULT_QUALITY}.
     *
     * @param target the output path
     * @param overwrite replace an existing output
     * @throws IOException if reading or writing fails
     */
    public AviMjpegWriter(Path target, boolean overwrite) throws IOException {
        this(target, overwrite, DEFAULT_QUALITY);
    }

    /**
     * A writer to {@code target}; {@code quality} in (0, 1] as in {@link ImageWriteParam#setCompressionQuality}.
     *
     * @param target the output path
     * @param overwrite replace an existing output
     * @param quality JPEG quality in (0, 1]
     * @throws IOException if reading or writing fails
     */
    public AviMjpegWriter(Path target, boolean overwrite, float quality) throws IOException {
        if (!(quality > 0 && quality <= 1)) {
            throw new IllegalArgumentException("JPEG quality must be in (0, 1], got " + quality);
        }
        this.out = OutputTarget.file(target, overwrite);
        this.state = new SinkState(out.target().toString());
        this.quality = quality;
    }

    /**
     * The file this writer produces.
     *
     * @return the file this writer produces
     */
    public Path target() {
        return out.target();
    }

    /** {@code {dwRate, dwScale}} for {@code fps}: whole rates exactly, others to 1/1000 frame per second. */
    static int[] rateScale(double fps) {
        if (fps == Math.rint(fps) && fps <= Integer.MAX_VALUE) {
            return new int[] {(int) fps, 1};
        }
        long rate = Math.round(fps * 1000);
        if (rate < 1 || rate > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("fps " + fps + " cannot be written as an AVI rate");
        }
        long g = gcd(rate, 1000);
        return new int[] {(int) (rate / g), (int) (1000 / g)};
    }

    private static long gcd(long a, long b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    @Override
    public void begin(int width, int height, double fps, int frameCountHint, Map<String, String> metadata)
            throws IOException {
        if (width > 0xffff || height > 0xffff) {
            throw new IllegalArgumentException("JPEG frames are at most 65535 pixels wide and high");
        }
        state.begin(width, height, fps, metadata);
        int[] rs = rateScale(fps);
        long usPerFrame = Math.round(1e6 / fps);
        if (usPerFrame > 0xffffffffL) {
            throw new IllegalArgumentException("fps " + fps + " is too low for an AVI header");
        }
        Iterator<ImageWriter> it = ImageIO.getImageWritersByFormatName("jpeg");
        if (!it.hasNext()) {
            throw new IOException("this Java runtime has no JPEG image writer");
        }
        jpeg = it.next();
        jpegParam = jpeg.getDefaultWriteParam();
        jpegParam.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
        jpegParam.setCompressionQuality(quality);

        Chunks h = new Chunks();
        h.fourcc("RIFF").u32(0).fourcc("AVI ");                           // RIFF size patched at finish
        long hdrl = h.beginList("hdrl");
        h.fourcc("avih").u32(56);
        h.u32(usPerFrame);                                                // dwMicroSecPerFrame
        posAvihMaxBytesPerSec = h.pos();
        h.u32(0);                                                         // dwMaxBytesPerSec (patched)
        h.u32(0);                                                         // dwPaddingGranularity
        h.u32(AVIF_HASINDEX);                                             // dwFlags
        posAvihTotalFrames = h.pos();
        h.u32(0);                                                         // dwTotalFrames (patched)
        h.u32(0);                                                         // dwInitialFrames
        h.u32(1);                                                         // dwStreams
        posAvihBufferSize = h.pos();
        h.u32(0);                                                         // dwSuggestedBufferSize (patched)
        h.u32(width).u32(height);                                         // dwWidth, dwHeight
        h.u32(0).u32(0).u32(0).u32(0);                                    // dwReserved[4]
        long strl = h.beginList("strl");
        h.fourcc("strh").u32(56);
        h.fourcc("vids").fourcc("MJPG");                                  // fccType, fccHandler
        h.u32(0);                                                         // dwFlags
        h.u16(0).u16(0);                                                  // wPriority, wLanguage
        h.u32(0);                                                         // dwInitialFrames
        h.u32(rs[1]).u32(rs[0]);                                          // dwScale, dwRate: fps = rate / scale
        h.u32(0);                                                         // dwStart
        posStrhLength = h.pos();
        h.u32(0);                                                         // dwLength (patched)
        posStrhBufferSize = h.pos();
        h.u32(0);                                                         // dwSuggestedBufferSize (patched)
        h.u32(0xffffffffL);                                               // dwQuality: default
        h.u32(0);                                                         // dwSampleSize: variable-size frames
        h.u16(0).u16(0).u16(width).u16(height);                           // rcFrame
        h.fourcc("strf").u32(40);                                         // BITMAPINFOHEADER
        h.u32(40).u32(width).u32(height);                                 // biSize, biWidth, biHeight
        h.u16(1).u16(24);                                                 // biPlanes, biBitCount
        h.fourcc("MJPG");                                                 // biCompression
        h.u32(3L * width * height);                                       // biSizeImage
        h.u32(0).u32(0).u32(0).u32(0);                                    // pels per meter x/y, clr used/important
        h.endList(strl);
        h.endList(hdrl);
        long info = h.beginList("INFO");
        h.stringChunk("ISFT", "jsora");
        if (!metadata.isEmpty()) {
            h.stringChunk("ICMT", MetadataJson.toJson(metadata));
        }
        h.endList(info);
        h.fourcc("LIST");
        posMoviSize = h.pos();
        h.u32(0);                                                         // movi list size (patched)
        moviFourcc = h.pos();
        h.fourcc("movi");

        temp = out.createTemp();
        ch = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
        write(h.bytes(), h.pos());
    }

    @Override
    public void accept(Frame frame) throws IOException {
        state.accept(frame);
        jpegBytes.reset();
        try (MemoryCacheImageOutputStream s = new MemoryCacheImageOutputStream(jpegBytes)) {
            jpeg.setOutput(s);
            jpeg.write(null, new IIOImage(frame.toImage(), null, null), jpegParam);
        } finally {
            jpeg.setOutput(null);
        }
        byte[] data = jpegBytes.toByteArray();
        long at = ch.position();
        long end = at + 8 + data.length + (data.length & 1);
        long finalSize = end + 8 + 16L * (state.frames() + 1);
        if (finalSize > MAX_BYTES) {
            throw new IOException(out.target() + ": the AVI would exceed " + MAX_BYTES
                    + " bytes (AVI 1.0 limit); write fewer or smaller frames, or a PNG sequence");
        }
        ByteBuffer head = le(8);
        head.put(ascii("00dc")).putInt(data.length).flip();
        writeFully(head);
        writeFully(ByteBuffer.wrap(data));
        if ((data.length & 1) == 1) {
            writeFully(ByteBuffer.wrap(new byte[1]));
        }
        int n = state.frames() - 1;
        if (n == idxOffsets.length) {
            idxOffsets = Arrays.copyOf(idxOffsets, 2 * n);
            idxSizes = Arrays.copyOf(idxSizes, 2 * n);
        }
        idxOffsets[n] = (int) (at - moviFourcc);
        idxSizes[n] = data.length;
        maxChunk = Math.max(maxChunk, data.length);
    }

    @Override
    public void finish() throws IOException {
        state.finish();
        int frames = state.frames();
        long moviEnd = ch.position();
        ByteBuffer idx = le(8 + 16 * frames);
        idx.put(ascii("idx1")).putInt(16 * frames);
        for (int i = 0; i < frames; i++) {
            idx.put(ascii("00dc")).putInt(AVIIF_KEYFRAME).putInt(idxOffsets[i]).putInt(idxSizes[i]);
        }
        idx.flip();
        writeFully(idx);
        long fileEnd = ch.position();
        patch(4, fileEnd - 8);
        patch(posMoviSize, moviEnd - moviFourcc);
        patch(posAvihTotalFrames, frames);
        patch(posStrhLength, frames);
        patch(posAvihBufferSize, maxChunk + 8);
        patch(posStrhBufferSize, maxChunk + 8);
        patch(posAvihMaxBytesPerSec, Math.min(0xffffffffL, (long) Math.ceil((maxChunk + 8) * state.fps())));
        ch.force(false);
        ch.close();
        ch = null;
        out.commit(temp);
        committed = true;
    }

    @Override
    public void close() {
        if (!state.close()) {
            return;
        }
        if (jpeg != null) {
            jpeg.dispose();
        }
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException e) {
                LOG.debug("closing {}", temp, e);
            }
        }
        if (!committed) {
            out.discard(temp);
        }
    }

    private void patch(long pos, long value) throws IOException {
        ByteBuffer b = le(4).putInt((int) value).flip();
        while (b.hasRemaining()) {
            ch.write(b, pos + b.position());
        }
    }

    private void write(byte[] bytes, int len) throws IOException {
        writeFully(ByteBuffer.wrap(bytes, 0, len));
    }

    private void writeFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    static byte[] ascii(String fourcc) {
        return fourcc.getBytes(StandardCharsets.US_ASCII);
    }

    /** A little-endian byte builder for the header, with RIFF list bookkeeping. */
    private static final class Chunks {
        private final ByteBuffer b = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);

        private ByteBuffer room(int n) {
            if (b.remaining() < n) {
                throw new IllegalArgumentException("AVI header larger than " + b.capacity() + " bytes (metadata too long)");
            }
            return b;
        }

        Chunks fourcc(String s) {
            room(4).put(ascii(s));
            return this;
        }

        Chunks u32(long v) {
            room(4).putInt((int) v);
            return this;
        }

        Chunks u16(int v) {
            room(2).putShort((short) v);
            return this;
        }

        int pos() {
            return b.position();
        }

        /** Writes {@code LIST <size> <type>}; returns the position of the size field. */
        long beginList(String type) {
            fourcc("LIST");
            int at = b.position();
            u32(0);
            fourcc(type);
            return at;
        }

        void endList(long sizeAt) {
            b.putInt((int) sizeAt, b.position() - (int) sizeAt - 4);
        }

        /** A chunk holding a NUL-terminated ASCII string, padded to even size. */
        void stringChunk(String id, String text) {
            byte[] s = text.getBytes(StandardCharsets.US_ASCII);
            fourcc(id).u32(s.length + 1L);
            room(s.length + 2).put(s).put((byte) 0);
            if (((s.length + 1) & 1) == 1) {
                b.put((byte) 0);
            }
        }

        byte[] bytes() {
            return b.array();
        }
    }
}
