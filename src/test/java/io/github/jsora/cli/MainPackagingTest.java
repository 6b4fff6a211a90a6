package io.github.jsora.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.Progress;
import io.github.jsora.Stage;
import io.github.jsora.video.DecodedVideo;
import io.github.jsora.video.VideoFormat;
import io.github.jsora.video.VideoReaders;

/** The command line as a tool: --version, help naming the command, --png-dir, MP4 output, progress lines. */
class MainPackagingTest {

    @TempDir
    Path dir;

    private static MainTest.Result run(String... args) {
        return MainTest.run(args);
    }

    @Test
    void versionIsTheBuildsVersion() {
        MainTest.Result r = run("--version");
        assertEquals(Main.OK, r.code());
        assertTrue(r.out().matches("jsora \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?\\R"), r.out());
    }

    @Test
    void helpNamesTheCommandThisProcessWasStartedAs() {
        String old = System.getProperty(Main.COMMAND_PROPERTY);
        try {
            System.setProperty(Main.COMMAND_PROPERTY, "bin/jsora");
            MainTest.Result r = run("--help");
            assertTrue(r.out().contains("  bin/jsora generate PROMPT --out FILE.mp4"), r.out());
            assertTrue(r.out().contains("--png-dir DIR"), r.out());
            MainTest.Result bad = run("generate", "x", "--out", dir.resolve("a.gif").toString(), "--nope", "1");
            assertTrue(bad.err().contains("Run 'bin/jsora --help' for usage."), bad.err());
            System.setProperty(Main.COMMAND_PROPERTY, "mvn");
            assertTrue(run("--help").out().contains("  mvn -q compile exec:java -Dexec.args=\"generate PROMPT"));
        } finally {
            if (old == null) {
                System.clearProperty(Main.COMMAND_PROPERTY);
            } else {
                System.setProperty(Main.COMMAND_PROPERTY, old);
            }
        }
    }

    @Test
    void outputFormsAreRefusedOrAcceptedBeforeAnyWork() {
        assertEquals(Main.OUTPUT_ERROR, run("generate", "x", "--out", dir.resolve("a.webm").toString()).code());
        assertEquals(Main.OUTPUT_ERROR, run("generate", "x", "--out", dir.resolve("frames").toString()).code(),
                "a path without an extension is not silently a PNG directory: an output format error");
        assertEquals(Main.USAGE_ERROR, run("generate", "x", "--out", "a.gif", "--png-dir", "d").code());
        assertFalse(Files.exists(dir.resolve("frames")));
    }

    @Test
    void mp4AndPngDirectoryOutputsOfTheDemoModel() throws Exception {
        Path mp4 = dir.resolve("clip.mp4");
        MainTest.Result r = run("generate", "a red circle moving left", "--out", mp4.toString(), "--seed", "3", "--steps",
                "2", "--fps", "12");
        assertEquals(Main.OK, r.code(), r.err());
        DecodedVideo v = VideoReaders.read(mp4);
        assertEquals(VideoFormat.MP4, v.format());
        assertEquals(17, v.frameCount());
        assertEquals(12.0, v.fps(), 1e-12);
        assertEquals("3", v.metadata().get("seed"), v.metadata().toString());
        assertFalse(r.err().contains("\r"), "no carriage returns when stderr is not a terminal");
        assertTrue(r.err().contains("denoise 2/2"), r.err());

        Path frames = dir.resolve("frames");
        MainTest.Result p = run("generate", "a red circle moving left", "--png-dir", frames.toString(), "--seed", "3",
                "--steps", "2");
        assertEquals(Main.OK, p.code(), p.err());
        assertEquals(17, VideoReaders.read(frames).frameCount());
    }

    @Test
    void plainProgressPrintsStageEndsAndThrottlesTheRest() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Main.ProgressBar bar = new Main.ProgressBar(new PrintStream(bytes, true, StandardCharsets.UTF_8), false);
        for (int i = 0; i < 30; i++) {
            bar.onProgress(new Progress(Stage.DENOISE, i, 30, Duration.ofMillis(100L * i), false, () -> { }));
        }
        bar.onProgress(new Progress(Stage.DECODE, 0, 17, Duration.ofSeconds(4), false, () -> { }));
        bar.done();
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals("denoise 1/30 0.0s\ndenoise 30/30 2.9s\ndecode 1/17 4.0s\n", text.replace("\r\n", "\n"));
    }
}
