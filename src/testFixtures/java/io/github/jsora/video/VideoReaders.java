package io.github.jsora.video;

import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;

import org.w3c.dom.Node;

import io.github.jsora.weights.Json;

/**
 * Reads back the videos the writers produce (and, for GIF, any GIF), to check frame count, size, timing, pixels
 * and metadata. Everything is decoded into memory: meant for tests, tools and modest clip sizes.
 *
 * <p>Malformed input fails with an {@link IOException} naming the file and the fault.
 */
public final class VideoReaders {

    private VideoReaders() {
    }

    /** Reads a {@code .gif}, a {@code .avi} or a PNG-frame directory (format chosen like {@link VideoFormat#of(Path)}). */
    public static DecodedVideo read(Path path) throws IOException {
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString(), null, "no such video file or directory");
        }
        return switch (VideoFormat.of(path)) {
            case GIF -> readGif(path);
            case AVI_MJPEG -> readAvi(path);
            case MP4 -> Mp4Reader.read(path).video();
            case PNG_SEQUENCE -> readPngSequence(path);
        };
    }

    // ------------------------------------------------------------------------------------------------ GIF

    /**
     * Reads an animated GIF: frames composed on the logical screen (frame offsets, transparency and the disposal
     * methods honoured), per-frame delays, the NETSCAPE2.0 loop count and the first comment extension parsed as
     * jsora metadata (a comment that is not a JSON object is returned under the key {@code "comment"}).
     */
    public static DecodedVideo readGif(Path file) throws IOException {
        ImageReader reader = reader("gif", file);
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            reader.setInput(in, false, false);
            int n = reader.getNumImages(true);
            if (n < 1) {
                throw new IOException(file + ": GIF has no frames");
            }
            IIOMetadataNode screen = child(tree(reader.getStreamMetadata(), "javax_imageio_gif_stream_1.0"),
                    "LogicalScreenDescriptor");
            int w = screen == null ? reader.getWidth(0) : intAttr(screen, "logicalScreenWidth");
            int h = screen == null ? reader.getHeight(0) : intAttr(screen, "logicalScreenHeight");
            Frame.checkSize(w, h);
            BufferedImage canvas = new BufferedImage(w, h, BufferedImage.TYPE_INT_ARGB);
            List<Frame> frames = new ArrayList<>(n);
            List<Double> durations = new ArrayList<>(n);
            int loop = -1;
            Map<String, String> metadata = Map.of();
            for (int i = 0; i < n; i++) {
                IIOMetadataNode root = tree(reader.getImageMetadata(i), "javax_imageio_gif_image_1.0");
                IIOMetadataNode desc = child(root, "ImageDescriptor");
                IIOMetadataNode gce = child(root, "GraphicControlExtension");
                int x0 = desc == null ? 0 : intAttr(desc, "imageLeftPosition");
                int y0 = desc == null ? 0 : intAttr(desc, "imageTopPosition");
                String disposal = gce == null ? "none" : gce.getAttribute("disposalMethod");
                durations.add(gce == null ? 0.0 : intAttr(gce, "delayTime") / 100.0);
                if (loop < 0) {
                    loop = loopCount(root);
                }
                if (metadata.isEmpty()) {
                    metadata = comment(root);
                }
                BufferedImage sub = reader.read(i);
                BufferedImage before = "restoreToPrevious".equals(disposal) ? copy(canvas) : null;
                Graphics2D g = canvas.createGraphics();
                g.drawImage(sub, x0, y0, null); // source-over: transparent pixels keep what is below
                g.dispose();
                frames.add(Frame.fromImage(canvas));
                if ("restoreToBackgroundColor".equals(disposal)) {
                    Graphics2D c = canvas.createGraphics();
                    c.setComposite(java.awt.AlphaComposite.Clear);
                    c.fillRect(x0, y0, sub.getWidth(), sub.getHeight());
                    c.dispose();
                } else if (before != null) {
                    canvas = before;
                }
            }
            double total = durations.stream().mapToDouble(Double::doubleValue).sum();
            double fps = total > 0 ? n / total : 0;
            return new DecodedVideo(VideoFormat.GIF, w, h, frames, durations, fps, loop, metadata);
        } catch (IOException | RuntimeException e) {
            throw e instanceof IOException io && io.getMessage() != null && io.getMessage().contains(file.toString())
                    ? io : new IOException(file + ": cannot read GIF: " + e, e);
        } finally {
            reader.dispose();
        }
    }

    private static int loopCount(IIOMetadataNode root) {
        IIOMetadataNode apps = child(root, "ApplicationExtensions");
        if (apps == null) {
            return -1;
        }
        for (Node a = apps.getFirstChild(); a != null; a = a.getNextSibling()) {
            IIOMetadataNode app = (IIOMetadataNode) a;
            if ("NETSCAPE".equals(app.getAttribute("applicationID")) && app.getUserObject() instanceof byte[] b
                    && b.length >= 3 && b[0] == 1) {
                return (b[1] & 0xff) | (b[2] & 0xff) << 8;
            }
        }
        return -1;
    }

    private static Map<String, String> comment(IIOMetadataNode root) {
        IIOMetadataNode comments = child(root, "CommentExtensions");
        if (comments == null || comments.getFirstChild() == null) {
            return Map.of();
        }
        String text = ((IIOMetadataNode) comments.getFirstChild()).getAttribute("value");
        return parseMetadata(text);
    }

    private static BufferedImage copy(BufferedImage img) {
        BufferedImage c = new BufferedImage(img.getWidth(), img.getHeight(), BufferedImage.TYPE_INT_ARGB);
        Graphics2D g = c.createGraphics();
        g.drawImage(img, 0, 0, null);
        g.dispose();
        return c;
    }

    // ------------------------------------------------------------------------------------------------ PNG

    private static final Pattern FRAME_NAME = Pattern.compile("frame_(\\d+)\\.png");

    /**
     * Reads a directory of {@code frame_NNNN.png} files (numbered 0..n-1 without gaps). Frame rate and metadata
     * come from the {@value PngSequenceWriter#SIDECAR} sidecar when present (fps 0 and no metadata otherwise).
     */
    public static DecodedVideo readPngSequence(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new NoSuchFileException(dir.toString(), null, "not a directory of PNG frames");
        }
        TreeMap<Integer, Path> files = new TreeMap<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) {
                Matcher m = FRAME_NAME.matcher(p.getFileName().toString());
                if (m.matches()) {
                    int idx;
                    try {
                        idx = Integer.parseInt(m.group(1));
                    } catch (NumberFormatException e) {
                        throw new IOException(p + ": frame number out of range");
                    }
                    if (files.put(idx, p) != null) {
                        throw new IOException(dir + ": two files for frame " + idx);
                    }
                }
            }
        }
        if (files.isEmpty()) {
            throw new IOException(dir + ": no frame_NNNN.png files");
        }
        if (files.firstKey() != 0 || files.lastKey() != files.size() - 1) {
            throw new IOException(dir + ": frame numbers are not 0.." + (files.size() - 1) + " without gaps");
        }
        List<Frame> frames = new ArrayList<>(files.size());
        for (Path p : files.values()) {
            BufferedImage img = ImageIO.read(p.toFile());
            if (img == null) {
                throw new IOException(p + ": not a readable PNG");
            }
            Frame f = Frame.fromImage(img);
            if (!frames.isEmpty() && (f.width() != frames.get(0).width() || f.height() != frames.get(0).height())) {
                throw new IOException(p + ": size " + f.width() + "x" + f.height() + " differs from frame 0");
            }
            frames.add(f);
        }
        double fps = 0;
        Map<String, String> metadata = Map.of();
        Path sidecar = dir.resolve(PngSequenceWriter.SIDECAR);
        if (Files.isRegularFile(sidecar)) {
            Map<String, Object> json;
            try {
                json = Json.parseObject(Files.readString(sidecar, StandardCharsets.UTF_8));
            } catch (Json.JsonException e) {
                throw new IOException(sidecar + ": invalid JSON: " + e.getMessage(), e);
            }
            if (json.get("fps") instanceof Number num) {
                fps = num.doubleValue();
            }
            if (json.get("metadata") instanceof Map<?, ?> m) {
                Map<String, String> md = new LinkedHashMap<>();
                m.forEach((k, v) -> md.put(String.valueOf(k), String.valueOf(v)));
                metadata = md;
            }
        }
        List<Double> durations = Collections.nCopies(frames.size(), fps > 0 ? 1 / fps : 0.0);
        return new DecodedVideo(VideoFormat.PNG_SEQUENCE, frames.get(0).width(), frames.get(0).height(), frames,
                durations, fps, -1, metadata);
    }

    /** The {@code tEXt} entries (keyword to text) of one PNG file. */
    public static Map<String, String> pngText(Path png) throws IOException {
        ImageReader reader = reader("png", png);
        try (ImageInputStream in = ImageIO.createImageInputStream(png.toFile())) {
            reader.setInput(in, true, false);
            IIOMetadataNode root = tree(reader.getImageMetadata(0), "javax_imageio_png_1.0");
            Map<String, String> out = new LinkedHashMap<>();
            IIOMetadataNode text = child(root, "tEXt");
            if (text != null) {
                for (Node e = text.getFirstChild(); e != null; e = e.getNextSibling()) {
                    IIOMetadataNode entry = (IIOMetadataNode) e;
                    out.put(entry.getAttribute("keyword"), entry.getAttribute("value"));
                }
            }
            return out;
        } finally {
            reader.dispose();
        }
    }

    // ------------------------------------------------------------------------------------------------ AVI

    /**
     * Reads a Motion-JPEG AVI 1.0 file: the main and stream headers (size, frame count, fps = dwRate / dwScale),
     * the INFO list (ICMT parsed as jsora metadata), and the frames listed in {@code idx1} (or, without an index,
     * the {@code ##dc} chunks of {@code movi} in order), each decoded with {@code javax.imageio}.
     */
    public static DecodedVideo readAvi(Path file) throws IOException {
        long fileSize = Files.size(file);
        if (fileSize > Integer.MAX_VALUE - 64) {
            throw new IOException(file + ": " + fileSize + " bytes is too large for this reader (AVI 1.0 files are "
                    + "at most a few GiB; this reader holds the file in memory)");
        }
        byte[] all = Files.readAllBytes(file);
        ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        if (all.length < 12 || !"RIFF".equals(fourcc(b, 0)) || !"AVI ".equals(fourcc(b, 8))) {
            throw new IOException(file + ": not a RIFF AVI file");
        }
        long riffEnd = Math.min(all.length, 8 + (b.getInt(4) & 0xffffffffL));
        AviParse p = new AviParse(file, b);
        p.walk(12, riffEnd, "", 0);
        if (!p.sawAvih || !p.sawStrh || !p.sawStrf) {
            throw new IOException(file + ": missing " + (!p.sawAvih ? "avih" : !p.sawStrh ? "strh" : "strf")
                    + " header");
        }
        if (!"MJPG".equals(p.compression)) {
            throw new IOException(file + ": video compression is '" + p.compression + "', not MJPG");
        }
        if (p.moviData < 0) {
            throw new IOException(file + ": no movi list");
        }
        List<long[]> chunks = new ArrayList<>(); // {absolute data position, size}
        if (!p.index.isEmpty()) {
            for (long[] e : p.index) {
                long pos = p.moviFourcc + e[0];
                if (pos < 0 || pos + 8 > all.length || !fourcc(b, (int) pos).endsWith("dc")
                        || (b.getInt((int) pos + 4) & 0xffffffffL) != e[1] || pos + 8 + e[1] > all.length) {
                    throw new IOException(file + ": idx1 entry at movi offset " + e[0] + " does not point to a "
                            + e[1] + "-byte frame chunk");
                }
                chunks.add(new long[] {pos + 8, e[1]});
            }
        } else {
            chunks.addAll(p.moviChunks);
        }
        if (chunks.isEmpty()) {
            throw new IOException(file + ": no video frames");
        }
        List<Frame> frames = new ArrayList<>(chunks.size());
        for (int i = 0; i < chunks.size(); i++) {
            long[] c = chunks.get(i);
            BufferedImage img = ImageIO.read(new ByteArrayInputStream(all, (int) c[0], (int) c[1]));
            if (img == null) {
                throw new IOException(file + ": frame " + i + " is not a decodable JPEG");
            }
            if (img.getWidth() != p.width || img.getHeight() != p.height) {
                throw new IOException(file + ": frame " + i + " is " + img.getWidth() + "x" + img.getHeight()
                        + ", headers say " + p.width + "x" + p.height);
            }
            frames.add(Frame.fromImage(img));
        }
        if (p.scale == 0 || p.rate == 0) {
            throw new IOException(file + ": stream header has dwRate " + p.rate + " / dwScale " + p.scale);
        }
        double fps = (double) p.rate / p.scale;
        return new DecodedVideo(VideoFormat.AVI_MJPEG, p.width, p.height, frames,
                Collections.nCopies(frames.size(), 1 / fps), fps, -1, p.metadata);
    }

    /** The facts an AVI walk collects. */
    private static final class AviParse {
        final Path file;
        final ByteBuffer b;
        boolean sawAvih;
        boolean sawStrh;
        boolean sawStrf;
        int width;
        int height;
        long totalFrames;
        long microSecPerFrame;
        long rate;
        long scale;
        long length;
        String compression = "";
        long moviFourcc = -1;
        long moviData = -1;
        final List<long[]> moviChunks = new ArrayList<>();
        final List<long[]> index = new ArrayList<>(); // {offset from movi fourcc, size}
        Map<String, String> metadata = Map.of();
        boolean videoStream;

        AviParse(Path file, ByteBuffer b) {
            this.file = file;
            this.b = b;
        }

        void walk(long from, long to, String inList, int depth) throws IOException {
            if (depth > 8) {
                throw new IOException(file + ": LIST nesting deeper than 8 levels");
            }
            long pos = from;
            while (pos + 8 <= to) {
                String id = fourcc(b, (int) pos);
                long size = b.getInt((int) pos + 4) & 0xffffffffL;
                long data = pos + 8;
                if (data + size > to) {
                    throw new IOException(file + ": chunk '" + id + "' at offset " + pos + " (size " + size
                            + ") runs past its container");
                }
                if ("LIST".equals(id)) {
                    if (size < 4) {
                        throw new IOException(file + ": LIST at offset " + pos + " too short");
                    }
                    String type = fourcc(b, (int) data);
                    if ("movi".equals(type)) {
                        moviFourcc = data;
                        moviData = data + 4;
                    }
                    walk(data + 4, data + size, type, depth + 1);
                } else if ("avih".equals(id) && size >= 40) {
                    sawAvih = true;
                    microSecPerFrame = u32(data);
                    totalFrames = u32(data + 16);
                    width = (int) u32(data + 32);
                    height = (int) u32(data + 36);
                } else if ("strh".equals(id) && size >= 36) {
                    videoStream = "vids".equals(fourcc(b, (int) data));
                    if (videoStream && !sawStrh) {
                        sawStrh = true;
                        scale = u32(data + 20);
                        rate = u32(data + 24);
                        length = u32(data + 32);
                    }
                } else if ("strf".equals(id) && videoStream && !sawStrf && size >= 20) {
                    sawStrf = true;
                    compression = fourcc(b, (int) data + 16);
                } else if ("ICMT".equals(id) && "INFO".equals(inList)) {
                    int n = (int) size;
                    while (n > 0 && b.get((int) data + n - 1) == 0) {
                        n--;
                    }
                    metadata = parseMetadata(new String(b.array(), (int) data, n, StandardCharsets.ISO_8859_1));
                } else if ("idx1".equals(id)) {
                    for (long e = data; e + 16 <= data + size; e += 16) {
                        if (fourcc(b, (int) e).endsWith("dc")) {
                            index.add(new long[] {u32(e + 8), u32(e + 12)});
                        }
                    }
                } else if ("movi".equals(inList) && id.endsWith("dc")) {
                    moviChunks.add(new long[] {data, size});
                }
                pos = data + size + (size & 1);
            }
        }

        long u32(long at) {
            return b.getInt((int) at) & 0xffffffffL;
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static String fourcc(ByteBuffer b, int at) {
        return new String(b.array(), at, 4, StandardCharsets.ISO_8859_1);
    }

    /** jsora metadata from a comment text: a JSON object of strings, else the raw text under "comment". */
    static Map<String, String> parseMetadata(String text) {
        if (text == null || text.isEmpty()) {
            return Map.of();
        }
        try {
            return MetadataJson.fromJson(text);
        } catch (Json.JsonException e) {
            return Map.of("comment", text);
        }
    }

    private static ImageReader reader(String format, Path file) throws IOException {
        Iterator<ImageReader> it = ImageIO.getImageReadersByFormatName(format);
        if (!it.hasNext()) {
            throw new IOException("this Java runtime has no " + format + " reader (reading " + file + ")");
        }
        return it.next();
    }

    private static IIOMetadataNode tree(IIOMetadata meta, String format) {
        return meta == null ? null : (IIOMetadataNode) meta.getAsTree(format);
    }

    private static IIOMetadataNode child(IIOMetadataNode node, String name) {
        if (node == null) {
            return null;
        }
        for (Node c = node.getFirstChild(); c != null; c = c.getNextSibling()) {
            if (name.equals(c.getNodeName())) {
                return (IIOMetadataNode) c;
            }
        }
        return null;
    }

    private static int intAttr(IIOMetadataNode node, String name) throws IOException {
        try {
            return Integer.parseInt(node.getAttribute(name));
        } catch (NumberFormatException e) {
            throw new IOException("GIF metadata " + node.getNodeName() + "." + name + " is not a number");
        }
    }
}
