package io.github.jsora.video;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.awt.image.IndexColorModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOInvalidTreeException;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageOutputStream;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams frames into an animated GIF (GIF89a) with the JDK's {@code javax.imageio} GIF writer.
 *
 * <ul>
 *   <li>Loops forever: the first frame carries the {@code NETSCAPE2.0} application extension with loop count 0.</li>
 *   <li>Colours: each frame gets its own local palette of up to 256 colours by median cut ({@link MedianCut}), no
 *       dithering. A frame with at most 256 distinct colours is stored exactly.</li>
 *   <li>Timing: GIF delays are whole hundredths of a second, so frame {@code i} gets
 *       {@code round((i+1)·100/fps) − round(i·100/fps)} centiseconds: the running total never drifts more than
 *       half a centisecond from the true time. At 24 fps that is 4, 4, 5, 4, 4, 4 (25 cs per 6 frames, exactly
 *       24 fps on average). Browsers treat delays below 2 cs as 10 cs, so rates above 50 fps are written as
 *       50 fps (with a logged warning).</li>
 *   <li>Metadata: a comment extension on the first frame holding the metadata as one ASCII JSON object.</li>
 * </ul>
 *
 * <p>Written to a temporary file beside the target and moved into place by {@link #finish()}.
 */
public final class GifWriter implements FrameSink {

    private static final Logger LOG = LoggerFactory.getLogger(GifWriter.class);
    private static final String IMAGE_FORMAT = "javax_imageio_gif_image_1.0";
    /** The smallest delay that all common viewers honour, in centiseconds. */
    static final int MIN_DELAY_CS = 2;

    private final OutputTarget out;
    private final SinkState state;
    private Path temp;
    private ImageOutputStream stream;
    private ImageWriter writer;
    private double fps;
    private String comment;
    private boolean committed;

    /**
     * A writer to {@code target}; checks the output location now (see {@link VideoWriters}).
     *
     * @param target the output path
     * @param overwrite replace an existing output
     * @throws IOException if reading or writing fails
     */
    public GifWriter(Path target, boolean overwrite) throws IOException {
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

    /**
     * The delay of frame {@code index} in centiseconds at {@code fps} (see the class comment), at least
     * {@link #MIN_DELAY_CS}.
     *
     * @param index 0-based index
     * @param fps frames per second
     * @return the delay of frame {@code index} in centiseconds at {@code fps} (see the class comment), at least {@link #MIN_DELAY_CS}
     */
    public static int delayCentiseconds(int index, double fps) {
        double per = 100.0 / fps;
        long d = Math.round((index + 1) * per) - Math.round(index * per);
        return (int) Math.max(MIN_DELAY_CS, Math.min(0xffff, d));
    }

    @Override
    public void begin(int width, int height, double fps, int frameCountHint, Map<String, String> metadata)
            throws IOException {
        if (width > 0xffff || height > 0xffff) {
            throw new IllegalArgumentException("GIF frames are at most 65535 pixels wide and high");
        }
        state.begin(width, height, fps, metadata);
        if (fps < 100.0 / 0xffff) {
            throw new IllegalArgumentException("fps " + fps + " is below what a GIF delay can express ("
                    + (100.0 / 0xffff) + ")");
        }
        if (fps > 100.0 / MIN_DELAY_CS) {
            LOG.warn("{}: GIF cannot show {} fps; writing {} fps", out.target(), fps, 100.0 / MIN_DELAY_CS);
        }
        this.fps = Math.min(fps, 100.0 / MIN_DELAY_CS);
        this.comment = metadata.isEmpty() ? null : MetadataJson.toJson(metadata);
        Iterator<ImageWriter> it = ImageIO.getImageWritersByFormatName("gif");
        if (!it.hasNext()) {
            throw new IOException("this Java runtime has no GIF image writer");
        }
        temp = out.createTemp();
        writer = it.next();
        stream = ImageIO.createImageOutputStream(temp.toFile());
        if (stream == null) {
            throw new IOException("cannot open " + temp + " for writing");
        }
        writer.setOutput(stream);
        writer.prepareWriteSequence(null);
    }

    @Override
    public void accept(Frame frame) throws IOException {
        state.accept(frame);
        int index = state.frames() - 1;
        MedianCut.Result q = MedianCut.quantize(frame.data(), 256);
        BufferedImage img = indexed(frame.width(), frame.height(), q);
        ImageWriteParam param = writer.getDefaultWriteParam();
        IIOMetadata meta = writer.getDefaultImageMetadata(new ImageTypeSpecifier(img), param);
        IIOMetadataNode root = new IIOMetadataNode(IMAGE_FORMAT);
        IIOMetadataNode gce = new IIOMetadataNode("GraphicControlExtension");
        gce.setAttribute("disposalMethod", "none");
        gce.setAttribute("userInputFlag", "FALSE");
        gce.setAttribute("transparentColorFlag", "FALSE");
        gce.setAttribute("delayTime", Integer.toString(delayCentiseconds(index, fps)));
        gce.setAttribute("transparentColorIndex", "0");
        root.appendChild(gce);
        if (index == 0) {
            IIOMetadataNode apps = new IIOMetadataNode("ApplicationExtensions");
            IIOMetadataNode app = new IIOMetadataNode("ApplicationExtension");
            app.setAttribute("applicationID", "NETSCAPE");
            app.setAttribute("authenticationCode", "2.0");
            app.setUserObject(new byte[] {1, 0, 0}); // sub-block id 1, loop count 0 (little endian) = forever
            apps.appendChild(app);
            root.appendChild(apps);
            if (comment != null) {
                IIOMetadataNode comments = new IIOMetadataNode("CommentExtensions");
                IIOMetadataNode c = new IIOMetadataNode("CommentExtension");
                c.setAttribute("value", comment);
                comments.appendChild(c);
                root.appendChild(comments);
            }
        }
        try {
            meta.mergeTree(IMAGE_FORMAT, root);
        } catch (IIOInvalidTreeException e) {
            throw new IllegalStateException("GIF metadata rejected by the image writer", e);
        }
        writer.writeToSequence(new IIOImage(img, null, meta), param);
    }

    /** An indexed image over the quantised palette; the table is padded to a power of two as GIF stores it. */
    private static BufferedImage indexed(int w, int h, MedianCut.Result q) {
        int n = q.palette().length;
        int bits = 1;
        while ((1 << bits) < n) {
            bits++;
        }
        int size = 1 << bits;
        byte[] r = new byte[size];
        byte[] g = new byte[size];
        byte[] b = new byte[size];
        for (int k = 0; k < n; k++) {
            int c = q.palette()[k];
            r[k] = (byte) (c >> 16);
            g[k] = (byte) (c >> 8);
            b[k] = (byte) c;
        }
        IndexColorModel cm = new IndexColorModel(8, size, r, g, b);
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_INDEXED, cm);
        byte[] dst = ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
        System.arraycopy(q.indices(), 0, dst, 0, dst.length);
        return img;
    }

    @Override
    public void finish() throws IOException {
        state.finish();
        writer.endWriteSequence();
        stream.close();
        stream = null;
        out.commit(temp);
        committed = true;
    }

    @Override
    public void close() throws IOException {
        if (!state.close()) {
            return;
        }
        if (writer != null) {
            writer.dispose();
        }
        if (stream != null) {
            try {
                stream.close();
            } catch (IOException e) {
                LOG.debug("closing {}", temp, e);
            }
        }
        if (!committed) {
            out.discard(temp);
        }
    }
}
