package io.github.jsora.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The MP4 writer: container layout, timing, metadata and pixels, read back by an independent parser. */
class Mp4WriterTest {

    private static final Map<String, String> META = Map.of("prompt", "a red circle \u00e9", "seed", "42");

    @TempDir
    Path dir;

    static void write(FrameSink sink, List<Frame> frames, double fps, Map<String, String> meta) throws IOException {
        try (sink) {
            sink.begin(frames.get(0).width(), frames.get(0).height(), fps, frames.size(), meta);
            for (Frame f : frames) {
                sink.accept(f);
            }
            sink.finish();
        }
    }

    @Test
    void framesTimingAndMetadataRoundTripWithTheIndexFirst() throws IOException {
        List<Frame> frames = Mp4Clips.smooth(70, 38, 9); // not a multiple of 16: cropped macroblocks
        Path out = dir.resolve("clip.mp4");
        write(VideoWriters.forPath(out, false), frames, 12, META);
        Mp4Reader.Mp4 mp4 = Mp4Reader.read(out);
        assertEquals(List.of("ftyp", "moov", "mdat"), mp4.topLevel(), "fast start: moov before mdat");
        DecodedVideo v = mp4.video();
        assertEquals(VideoFormat.MP4, v.format());
        assertEquals(70, v.width());
        assertEquals(38, v.height());
        assertEquals(9, v.frameCount());
        assertEquals(12.0, v.fps(), 1e-12);
        assertEquals(0.75, v.durationSeconds(), 1e-9);
        assertEquals(META, v.metadata());
        for (int i = 0; i < frames.size(); i++) {
            double p = Mp4Clips.psnr(frames.get(i), v.frames().get(i));
            assertTrue(p > 38, "frame " + i + " PSNR " + p + " dB after 4:2:0");
        }
        assertEquals(66, mp4.sps()[1] & 0xff, "Baseline profile");
        assertEquals(0xC0, mp4.sps()[2] & 0xff, "Constrained Baseline");
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(out), s.toList(), "no temporary file left");
        }
    }

    @Test
    void solidColoursSurviveTheConversionWithinTwoLevels() throws IOException {
        int[] colours = {0x000000, 0xffffff, 0xff0000, 0x00ff00, 0x0000ff, 0x808080, 0x28_3C_50};
        List<Frame> frames = new java.util.ArrayList<>();
        for (int c : colours) {
            frames.add(Frame.filled(32, 16, c));
        }
        Path out = dir.resolve("solid.mp4");
        write(new Mp4Writer(out, false), frames, 24, Map.of());
        DecodedVideo v = VideoReaders.read(out);
        assertEquals(Map.of(), v.metadata());
        for (int i = 0; i < colours.length; i++) {
            int diff = Clips.maxAbsDiff(frames.get(i), v.frames().get(i));
            assertTrue(diff <= 2, Integer.toHexString(colours[i]) + " comes back " + diff + " levels off");
        }
    }

    @Test
    void fractionalFrameRatesAreExactToAThousandth() throws IOException {
        Path out = dir.resolve("ntsc.mp4");
        write(VideoWriters.forPath(out, false), Clips.standard(), 23.976, META);
        DecodedVideo v = VideoReaders.read(out);
        assertEquals(23.976, v.fps(), 1e-9);
        assertEquals(Clips.standard().size(), v.frameCount());
    }

    @Test
    void oddSizesAndExistingFilesAreRefusedAndLeaveNothing() throws IOException {
        Path out = dir.resolve("odd.mp4");
        try (FrameSink sink = VideoWriters.forPath(out, false)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> sink.begin(33, 16, 24, 1, Map.of()));
            assertTrue(e.getMessage().contains("even"), e.getMessage());
        }
        assertFalse(Files.exists(out));
        Path existing = Files.writeString(dir.resolve("taken.mp4"), "x");
        assertThrows(FileAlreadyExistsException.class, () -> VideoWriters.forPath(existing, false));
        write(VideoWriters.forPath(existing, true), Clips.standard(), 12, META);
        assertEquals(12, VideoReaders.read(existing).frameCount());
    }

    @Test
    void aCancelledWriteLeavesNoFile() throws IOException {
        Path out = dir.resolve("cancelled.mp4");
        try (FrameSink sink = VideoWriters.forPath(out, false)) {
            sink.begin(48, 40, 12, 12, META);
            sink.accept(Clips.standard().get(0));
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(), s.toList());
        }
    }

    @Test
    void formatsByExtensionAndPngOnlyWhenAsked() {
        assertEquals(VideoFormat.MP4, VideoFormat.of("out/clip.MP4"));
        assertEquals(VideoFormat.MP4, VideoFormat.of("clip.m4v"));
        assertEquals(VideoFormat.PNG_SEQUENCE, VideoFormat.of("clip.mp4/"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> VideoFormat.of(dir.resolve("frames")));
        assertTrue(e.getMessage().contains(".mp4") && e.getMessage().contains("'/'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> VideoFormat.of("clip.webm"));
    }

    @Test
    void levelFollowsSizeRateAndPcmBitRate() {
        assertEquals(20, Mp4WriterH264.level(16, 24));          // 64x64 at 24 fps: 1.2 Mbit/s
        assertEquals(41, Mp4WriterH264.level(27 * 15, 24));     // 432x240 at 24 fps: 30 Mbit/s
        assertEquals(52, Mp4WriterH264.level(120 * 68, 60));    // beyond every limit: the highest
    }

    @Test
    void emulationPreventionIsUndoneByTheReader() {
        byte[] escaped = {0, 0, 3, 1, 0, 0, 3, 0, 5};
        assertArrayEquals(new byte[] {0, 0, 1, 0, 0, 0, 5}, Mp4Reader.unescape(escaped));
    }
}
