package io.github.jsora.video;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

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
 * Streams frames into a directory of PNG files {@code frame_0000.png, frame_0001.png, ...} (lossless, 8-bit RGB),
 * plus a sidecar {@value #SIDECAR} describing the sequence.
 *
 * <p>Every PNG carries {@code tEXt} chunks (written through the {@code javax_imageio_png_1.0} metadata tree):
 * {@code Software} = {@code jsora}, {@code Comment} = the metadata as one ASCII JSON object, and {@code Frame} =
 * {@code <index> @ <fps> fps}. The sidecar is a JSON object with {@code format}, {@code width}, {@code height},
 * {@code fps}, {@code frames}, {@code pattern} and {@code metadata}.
 *
 * <p>The frames are written into a temporary directory beside the target, which {@link #finish()} moves into place.
 * The number of digits is 4, or more when the frame-count hint needs more, so names sort in frame order.
 */
public final class PngSequenceWriter implements FrameSink {

    private static final Logger LOG = LoggerFactory.getLogger(PngSequenceWriter.class);
    private static final String FORMAT = "javax_imageio_png_1.0";
    /** Name of the JSON sidecar in the output directory. */
    public static final String SIDECAR = "video.json";
    /** Names this writer puts into its directory. */
    static final Pattern OWN_ENTRY = Pattern.compile("frame_\\d{4,}\\.png|" + Pattern.quote(SIDECAR));

    private final OutputTarget out;
    private final SinkState state;
    private Path temp;
    private ImageWriter writer;
    private int digits;
    private String comment;
    private Map<String, String> metadata;
    private boolean committed;

    /**
     * A writer into directory {@code target}; checks the output location now (see {@link VideoWriters}).
     *
     * @param target the output path
     * @param overwrite replace an existing output
     * @throws IOException if reading or writing fails
     */
    public PngSequenceWriter(Path target, boolean overwrite) throws IOException {
        this.out = OutputTarget.directory(target, overwrite, n -> OWN_ENTRY.matcher(n).matches());
        this.state = new SinkState(out.target().toString());
    }

    /**
     * The directory this writer produces.
     *
     * @return the directory this writer produces
     */
    public Path target() {
        return out.target();
    }

    /** The file name of frame {@code index} with {@code digits} digits. */
    static String frameName(int index, int digits) {
        return String.format(Locale.ROOT, "frame_%0" + digits + "d.png", index);
    }

    @Override
    public void begin(int width, int height, double fps, int frameCountHint, Map<String, String> metadata)
            throws IOException {
        state.begin(width, height, fps, metadata);
        Iterator<ImageWriter> it = ImageIO.getImageWritersByFormatName("png");
        if (!it.hasNext()) {
            throw new IOException("this Java runtime has no PNG image writer");
        }
        writer = it.next();
        digits = Math.max(4, Integer.toString(Math.max(0, frameCountHint - 1)).length());
        this.metadata = Map.copyOf(metadata);
        comment = MetadataJson.toJson(metadata);
        temp = out.createTemp();
    }

    @Override
    public void accept(Frame frame) throws IOException {
        state.accept(frame);
        int index = state.frames() - 1;
        var img = frame.toImage();
        ImageWriteParam param = writer.getDefaultWriteParam();
        IIOMetadata meta = writer.getDefaultImageMetadata(new ImageTypeSpecifier(img), param);
        IIOMetadataNode root = new IIOMetadataNode(FORMAT);
        IIOMetadataNode text = new IIOMetadataNode("tEXt");
        text.appendChild(entry("Software", "jsora"));
        text.appendChild(entry("Comment", comment));
        text.appendChild(entry("Frame", index + " @ " + fpsText(state.fps()) + " fps"));
        root.appendChild(text);
        try {
            meta.mergeTree(FORMAT, root);
        } catch (IIOInvalidTreeException e) {
            throw new IllegalStateException("PNG metadata rejected by the image writer", e);
        }
        Path file = temp.resolve(frameName(index, digits));
        try (ImageOutputStream s = ImageIO.createImageOutputStream(Files.newOutputStream(file))) {
            writer.setOutput(s);
            writer.write(null, new IIOImage(img, null, meta), param);
        } finally {
            writer.setOutput(null);
        }
    }

    private static IIOMetadataNode entry(String keyword, String value) {
        IIOMetadataNode e = new IIOMetadataNode("tEXtEntry");
        e.setAttribute("keyword", keyword);
        e.setAttribute("value", value);
        return e;
    }

    static String fpsText(double fps) {
        return fps == Math.rint(fps) ? Long.toString((long) fps) : Double.toString(fps);
    }

    @Override
    public void finish() throws IOException {
        state.finish();
        StringBuilder sb = new StringBuilder("{\n");
        sb.append("  \"format\": \"png-sequence\",\n");
        sb.append("  \"width\": ").append(state.width()).append(",\n");
        sb.append("  \"height\": ").append(state.height()).append(",\n");
        sb.append("  \"fps\": ").append(fpsText(state.fps())).append(",\n");
        sb.append("  \"frames\": ").append(state.frames()).append(",\n");
        sb.append("  \"pattern\": \"frame_%0").append(digits).append("d.png\",\n");
        sb.append("  \"metadata\": ").append(MetadataJson.toJson(metadata)).append("\n}\n");
        Files.writeString(temp.resolve(SIDECAR), sb, StandardCharsets.US_ASCII);
        out.commit(temp);
        committed = true;
    }

    @Override
    public void close() {
        if (!state.close()) {
            return;
        }
        if (writer != null) {
            writer.dispose();
        }
        if (!committed) {
            out.discard(temp);
        }
        LOG.debug("closed {}", out.target());
    }
}
