package io.github.jsora.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every writer: written, read back, compared; plus the output-safety rules. */
class VideoWritersTest {

    @TempDir
    Path dir;

    static final Map<String, String> META = meta();

    private static Map<String, String> meta() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("prompt", "a red \"circle\" moving left, caf\u00e9 \u2713");
        m.put("seed", "42");
        m.put("steps", "30");
        return m;
    }

    static void write(FrameSink sink, List<Frame> frames, double fps) throws IOException {
        try (sink) {
            sink.begin(frames.get(0).width(), frames.get(0).height(), fps, frames.size(), META);
            for (Frame f : frames) {
                sink.accept(f);
            }
            sink.finish();
        }
    }

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    // ------------------------------------------------------------------ GIF

    @Test
    void gifRoundTripIsExactWithTimingLoopAndComment() throws IOException {
        List<Frame> clip = Clips.standard();
        Path out = dir.resolve("clip.gif");
        write(VideoWriters.forPath(out, false), clip, 24);
        DecodedVideo v = VideoReaders.read(out);
        assertEquals(VideoFormat.GIF, v.format());
        assertEquals(12, v.frameCount());
        assertEquals(48, v.width());
        assertEquals(40, v.height());
        // 24 fps in centiseconds: 4,4,5,4,4,4 repeating, 25 cs per 6 frames
        double[] expected = {.04, .04, .05, .04, .04, .04, .04, .04, .05, .04, .04, .04};
        for (int i = 0; i < 12; i++) {
            assertEquals(expected[i], v.frameDurations().get(i), 1e-12, "delay of frame " + i);
        }
        assertEquals(0.5, v.durationSeconds(), 1e-12);
        assertEquals(24.0, v.fps(), 1e-9);
        assertEquals(0, v.loopCount(), "NETSCAPE2.0 loop count 0 = forever");
        assertEquals(META, v.metadata());
        // two colours per frame, far below 256: median cut must reproduce them exactly
        for (int i = 0; i < 12; i++) {
            assertEquals(clip.get(i), v.frames().get(i), "frame " + i);
        }
    }

    @Test
    void gifDelaysKeepTheAverageRate() {
        int[] at24 = new int[12];
        for (int i = 0; i < 12; i++) {
            at24[i] = GifWriter.delayCentiseconds(i, 24);
        }
        assertArrayEquals(new int[] {4, 4, 5, 4, 4, 4, 4, 4, 5, 4, 4, 4}, at24);
        for (double fps : new double[] {1, 7, 10, 12, 15, 23.976, 24, 25, 29.97, 30, 48, 50}) {
            long total = 0;
            for (int i = 0; i < 1000; i++) {
                total += GifWriter.delayCentiseconds(i, fps);
            }
            assertEquals(1000 * 100 / fps, total, 0.5 + 1e-9, "1000 frames at " + fps + " fps");
        }
        assertEquals(2, GifWriter.delayCentiseconds(0, 60), "60 fps is written as 50 fps");
    }

    @Test
    void gifMedianCutErrorIsBoundedOnManyColours() throws IOException {
        Frame g = Clips.gradient(64, 64); // 4096 distinct colours
        Path out = dir.resolve("gradient.gif");
        write(new GifWriter(out, false), List.of(g, g), 10);
        DecodedVideo v = VideoReaders.readGif(out);
        // The GIF stores exactly what the quantiser produced (LZW is lossless and the palette is written as is);
        // the quantiser's own error bound (each pixel within its box) is tested in MedianCutTest.
        assertEquals(MedianCutTest.apply(g, 256), v.frames().get(0));
        assertEquals(MedianCutTest.apply(g, 256), v.frames().get(1));
        System.out.printf("gif median cut on 4096 colours: max abs err %d, mean %.2f levels%n",
                Clips.maxAbsDiff(g, v.frames().get(0)), Clips.meanAbsDiff(g, v.frames().get(0)));
    }

    // ------------------------------------------------------------------ PNG

    @Test
    void pngSequenceRoundTripIsExactWithTextChunksAndSidecar() throws IOException {
        List<Frame> clip = Clips.standard();
        Path out = dir.resolve("frames");
        write(VideoWriters.forPath(out.toString() + "/", false), clip, 24);
        try (Stream<Path> s = Files.list(out)) {
            assertEquals(13, s.count(), "12 frames + sidecar");
        }
        assertTrue(Files.isRegularFile(out.resolve("frame_0000.png")));
        assertTrue(Files.isRegularFile(out.resolve("frame_0011.png")));
        DecodedVideo v = VideoReaders.read(out);
        assertEquals(VideoFormat.PNG_SEQUENCE, v.format());
        assertEquals(12, v.frameCount());
        assertEquals(24.0, v.fps());
        assertEquals(META, v.metadata());
        for (int i = 0; i < 12; i++) {
            assertEquals(clip.get(i), v.frames().get(i), "PNG is lossless: frame " + i);
        }
        Map<String, String> text = VideoReaders.pngText(out.resolve("frame_0003.png"));
        assertEquals("jsora", text.get("Software"));
        assertEquals("3 @ 24 fps", text.get("Frame"));
        assertEquals(META, MetadataJson.fromJson(text.get("Comment")));
        assertTrue(text.get("Comment").chars().allMatch(c -> c < 0x80), "tEXt is Latin-1: written as ASCII JSON");
        String sidecar = Files.readString(out.resolve(PngSequenceWriter.SIDECAR));
        assertTrue(sidecar.contains("\"frames\": 12"), sidecar);
        assertTrue(sidecar.contains("\"pattern\": \"frame_%04d.png\""), sidecar);
    }

    @Test
    void pngDirectoryIsReplacedOnlyWhenItHoldsOnlyFrames() throws IOException {
        Path out = dir.resolve("frames");
        write(new PngSequenceWriter(out, false), Clips.standard(), 24);
        assertThrows(FileAlreadyExistsException.class, () -> new PngSequenceWriter(out, false));
        write(new PngSequenceWriter(out, true), Clips.standard().subList(0, 3), 8);
        DecodedVideo v = VideoReaders.readPngSequence(out);
        assertEquals(3, v.frameCount(), "old frames 3..11 are gone");
        assertEquals(8.0, v.fps());

        Files.writeString(out.resolve("notes.txt"), "mine");
        FileSystemException e = assertThrows(FileSystemException.class, () -> new PngSequenceWriter(out, true));
        assertTrue(e.getMessage().contains("notes.txt"), e.getMessage());

        Path empty = Files.createDirectory(dir.resolve("empty"));
        write(VideoWriters.forPath(empty, false), Clips.standard(), 24);
        assertEquals(12, VideoReaders.read(empty).frameCount());
    }

    // ------------------------------------------------------------------ AVI

    @Test
    void aviRoundTripHeadersTimingAndPixels() throws IOException {
        List<Frame> clip = Clips.standard();
        Path out = dir.resolve("clip.avi");
        write(VideoWriters.forPath(out, false), clip, 24);
        DecodedVideo v = VideoReaders.read(out);
        assertEquals(VideoFormat.AVI_MJPEG, v.format());
        assertEquals(12, v.frameCount());
        assertEquals(48, v.width());
        assertEquals(40, v.height());
        assertEquals(24.0, v.fps());
        assertEquals(0.5, v.durationSeconds(), 1e-12);
        assertEquals(META, v.metadata());

        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals("RIFF", ascii(b, 0));
        assertEquals(Files.size(out) - 8, b.getInt(4) & 0xffffffffL, "RIFF size");
        assertEquals("AVI ", ascii(b, 8));
        assertEquals("LIST", ascii(b, 12));
        assertEquals("hdrl", ascii(b, 20));
        assertEquals("avih", ascii(b, 24));
        int avih = 32;
        assertEquals(41667, b.getInt(avih), "dwMicroSecPerFrame = round(1e6 / 24)");
        assertEquals(0x10, b.getInt(avih + 12) & 0x10, "AVIF_HASINDEX");
        assertEquals(12, b.getInt(avih + 16), "dwTotalFrames");
        assertEquals(1, b.getInt(avih + 24), "dwStreams");
        assertEquals(48, b.getInt(avih + 32));
        assertEquals(40, b.getInt(avih + 36));
        int strh = avih + 56 + 12 + 8; // LIST size strl, then 'strh' size
        assertEquals("strh", ascii(b, strh - 8));
        assertEquals("vids", ascii(b, strh));
        assertEquals("MJPG", ascii(b, strh + 4));
        assertEquals(1, b.getInt(strh + 20), "dwScale");
        assertEquals(24, b.getInt(strh + 24), "dwRate");
        assertEquals(12, b.getInt(strh + 32), "dwLength");
        int strf = strh + 56 + 8;
        assertEquals("strf", ascii(b, strf - 8));
        assertEquals(40, b.getInt(strf), "BITMAPINFOHEADER.biSize");
        assertEquals("MJPG", ascii(b, strf + 16));
        String file = new String(b.array(), StandardCharsets.ISO_8859_1);
        assertTrue(file.contains("INFO") && file.contains("ICMT") && file.contains("idx1"));

        // JPEG (quality 0.92, 4:2:0 chroma as the JDK encoder does) is lossy. A chroma 8x8 block covers 16x16
        // pixels, so quantisation ringing from the square's edge (a saturated red on grey-blue: a large chroma step)
        // reaches up to 15 px away (measured: up to ~20 levels at 5-11 px, ~100 right at the edge). Pixels 16 px or
        // more from any edge lie in blocks whose coefficients are pure DC, so only the DC quantisation (step ~3 at
        // this quality) and the YCbCr<->RGB rounding remain: within 3 levels. Over the whole frame the mean error
        // stays small (<= 4 levels per channel).
        for (int i = 0; i < 12; i++) {
            Frame src = clip.get(i);
            Frame got = v.frames().get(i);
            int worstFar = 0;
            for (int y = 0; y < 40; y++) {
                for (int x = 0; x < 48; x++) {
                    if (edgeDistance(src, x, y) >= 16) {
                        for (int c = 0; c < 3; c++) {
                            worstFar = Math.max(worstFar, Math.abs(src.channel(x, y, c) - got.channel(x, y, c)));
                        }
                    }
                }
            }
            double mean = Clips.meanAbsDiff(src, got);
            assertTrue(worstFar <= 3, "frame " + i + ": error 16+ px from an edge " + worstFar);
            assertTrue(mean <= 4, "frame " + i + ": mean abs error " + mean);
        }
        // and the motion survives: the checker sees the same displacement within a pixel
        AdherenceCheck.Verdict a = AdherenceCheck.check(clip);
        AdherenceCheck.Verdict c = AdherenceCheck.check(v.frames());
        assertEquals(a.direction(), c.direction());
        assertEquals(a.dx(), c.dx(), 1.0);
        assertEquals(a.dy(), c.dy(), 1.0);
    }

    /** Chebyshev distance from (x, y) to the nearest pixel of another colour (capped at 99). */
    private static int edgeDistance(Frame f, int x, int y) {
        int d = 99;
        int c = f.rgb(x, y);
        for (int yy = 0; yy < f.height(); yy++) {
            for (int xx = 0; xx < f.width(); xx++) {
                if (f.rgb(xx, yy) != c) {
                    d = Math.min(d, Math.max(Math.abs(xx - x), Math.abs(yy - y)));
                }
            }
        }
        return d;
    }

    private static String ascii(ByteBuffer b, int at) {
        return new String(b.array(), at, 4, StandardCharsets.ISO_8859_1);
    }

    @Test
    void aviFractionalFrameRate() throws IOException {
        Path out = dir.resolve("ntsc.avi");
        write(new AviMjpegWriter(out, false), Clips.standard().subList(0, 3), 23.976);
        DecodedVideo v = VideoReaders.readAvi(out);
        assertEquals(23.976, v.fps(), 1e-12, "dwRate/dwScale = 2997/125");
        assertArrayEquals(new int[] {2997, 125}, AviMjpegWriter.rateScale(23.976));
        assertArrayEquals(new int[] {24, 1}, AviMjpegWriter.rateScale(24));
    }

    // ------------------------------------------------------------------ safety

    @Test
    void existingFileIsNotOverwrittenUnlessAsked() throws IOException {
        for (String name : new String[] {"a.gif", "a.avi"}) {
            Path out = dir.resolve(name);
            Files.writeString(out, "keep me");
            FileAlreadyExistsException e = assertThrows(FileAlreadyExistsException.class,
                    () -> VideoWriters.forPath(out, false));
            assertTrue(e.getMessage().contains(out.toString()), e.getMessage());
            assertEquals("keep me", Files.readString(out));
            write(VideoWriters.forPath(out, true), Clips.standard(), 24);
            assertEquals(12, VideoReaders.read(out).frameCount(), "replaced when asked");
        }
        assertEquals(List.of("a.avi", "a.gif"), listing(), "no temporary files left");
    }

    @Test
    void fileCreatedWhileWritingIsNotOverwritten() throws IOException {
        Path out = dir.resolve("race.gif");
        FrameSink sink = VideoWriters.forPath(out, false);
        sink.begin(48, 40, 24, 12, META);
        sink.accept(Clips.standard().get(0));
        Files.writeString(out, "someone else's");
        assertThrows(FileAlreadyExistsException.class, sink::finish);
        sink.close();
        assertEquals("someone else's", Files.readString(out));
        assertEquals(List.of("race.gif"), listing(), "temporary file removed");
    }

    @Test
    void failedWriteLeavesNothingUnderTheTargetName() throws IOException {
        for (String name : new String[] {"f.gif", "f.avi", "f"}) {
            Path out = dir.resolve(name);
            FrameSink sink = name.equals("f") ? new PngSequenceWriter(out, false) : VideoWriters.forPath(out, false);
            sink.begin(48, 40, 24, 12, META);
            sink.accept(Clips.standard().get(0));
            assertFalse(Files.exists(out), "nothing under the target name before finish()");
            assertEquals(1, listing().size(), "one hidden temporary while writing: " + listing());
            assertTrue(listing().get(0).startsWith("." + name + "."), listing().toString());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> sink.accept(Frame.filled(10, 10, 0)));
            assertTrue(e.getMessage().contains("10x10"), e.getMessage());
            sink.close(); // without finish(): discard
            assertEquals(List.of(), listing(), name);
        }
    }

    @Test
    void lifecycleMisuseIsRejected() throws IOException {
        try (FrameSink s = VideoWriters.forPath(dir.resolve("x.gif"), false)) {
            assertThrows(IllegalStateException.class, () -> s.accept(Clips.standard().get(0)));
            assertThrows(IllegalArgumentException.class, () -> s.begin(48, 40, 0, 1, Map.of()));
            s.begin(48, 40, 24, 1, Map.of());
            assertThrows(IllegalStateException.class, s::finish, "no frames");
        }
        assertEquals(List.of(), listing());
    }

    @Test
    void missingDirectoryIsAClearError() {
        Path out = dir.resolve("no-such-dir").resolve("out.gif");
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> VideoWriters.forPath(out, false));
        assertTrue(e.getMessage().contains("no-such-dir"), e.getMessage());
        assertThrows(NoSuchFileException.class, () -> VideoWriters.forPath(dir + "/no-such-dir/frames/", false));
    }

    @Test
    void pathThroughARegularFileIsAClearError() throws IOException {
        // Provokes a write error even as root, for whom permission bits do not stop writes.
        Path file = Files.writeString(dir.resolve("plain.txt"), "x");
        NotDirectoryException e = assertThrows(NotDirectoryException.class,
                () -> VideoWriters.forPath(file.resolve("out.avi"), false));
        assertTrue(e.getMessage().contains("plain.txt"), e.getMessage());
        assertThrows(NotDirectoryException.class,
                () -> VideoWriters.forPath(file.resolve("sub").resolve("out.gif"), false));
    }

    @Test
    void readOnlyDirectoryIsAClearErrorUnlessTheUserMayWriteAnyway() throws IOException {
        Path ro = Files.createDirectory(dir.resolve("ro"));
        Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            Path out = ro.resolve("out.gif");
            if (Files.isWritable(ro)) {
                // Running as root (as CI does): the directory is writable despite its mode, so writing must work.
                System.out.println("read-only directory test: process may write to r-x directories (root); "
                        + "checking the write succeeds instead");
                write(VideoWriters.forPath(out, false), Clips.standard(), 24);
                assertEquals(12, VideoReaders.read(out).frameCount());
            } else {
                AccessDeniedException e = assertThrows(AccessDeniedException.class,
                        () -> VideoWriters.forPath(out, false));
                assertTrue(e.getMessage().contains(ro.toString()), e.getMessage());
            }
        } finally {
            Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @Test
    void formatIsChosenByExtensionOrTrailingSlash() throws IOException {
        assertEquals(VideoFormat.GIF, VideoFormat.of("out/clip.GIF"));
        assertEquals(VideoFormat.AVI_MJPEG, VideoFormat.of("clip.avi"));
        assertEquals(VideoFormat.PNG_SEQUENCE, VideoFormat.of("frames/"));
        assertEquals(VideoFormat.PNG_SEQUENCE, VideoFormat.of(dir));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> VideoFormat.of("clip.webm"));
        assertTrue(e.getMessage().contains("clip.webm") && e.getMessage().contains(".gif"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> VideoFormat.of(""));
    }

    @Test
    void teeFeedsACollectorAndAFile() throws IOException {
        FrameCollector mem = new FrameCollector();
        Path out = dir.resolve("tee.gif");
        write(FrameSinks.tee(mem, VideoWriters.forPath(out, false)), Clips.standard(), 12);
        assertEquals(Clips.standard(), mem.frames());
        assertEquals(12.0, mem.fps());
        assertEquals(META, mem.metadata());
        assertEquals(Clips.standard(), VideoReaders.read(out).frames());
    }
}
