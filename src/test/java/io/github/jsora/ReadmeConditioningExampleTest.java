package io.github.jsora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;


import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.cli.Main;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.video.ImageInput;

/**
 * The README's "Image to video and continuation" section: its Java example compiles against the library as it is,
 * and its command lines run on the demo model (in a temporary folder, with {@code --steps 2} appended), the loop
 * giving the frame count the section states.
 */
class ReadmeConditioningExampleTest {

    static final String SECTION = "## Image to video and continuation";
    static final Set<String> FILE_OPTIONS = Set.of("--image", "--out", "--save-latent", "--extend", "--video");

    private static String section() throws Exception {
        String readme = Files.readString(Paths.get("README.md"), StandardCharsets.UTF_8);
        int start = readme.indexOf(SECTION);
        assertTrue(start >= 0, "README has a section " + SECTION);
        int end = readme.indexOf("\n## ", start + SECTION.length());
        return readme.substring(start, end < 0 ? readme.length() : end);
    }

    @Test
    void javaExampleCompiles(@TempDir Path dir) throws Exception {
        String sec = section();
        int start = sec.indexOf("```java\n");
        assertTrue(start >= 0, "the section has a ```java block");
        String code = sec.substring(start + 8, sec.indexOf("```", start + 8));
        assertTrue(code.contains("public class ImageToVideo"), "the example is a class named ImageToVideo");
        ReadmeExampleTest.compile(dir, "ImageToVideo", code);
    }

    @Test
    void commandLinesRun(@TempDir Path dir) throws Exception {
        // the picture: a frame of a demo clip
        try (VideoGenerator gen = VideoGenerator.openDefault()) {
            Video v = gen.generate(gen.requestBuilder("a green square moving down").steps(2).seed(7).build());
            javax.imageio.ImageIO.write(v.frames().get(8).toImage(), "png", dir.resolve("cat.png").toFile());
        }
        List<String> lines = section().lines().map(String::strip).filter(l -> l.startsWith("jsora generate "))
                .toList();
        assertTrue(lines.size() >= 4, "the section shows the generate commands: " + lines);
        Path loopOut = null;
        for (String line : lines) {
            List<String> args = words(line.substring("jsora ".length()));
            for (int i = 1; i < args.size(); i++) {
                if (FILE_OPTIONS.contains(args.get(i - 1))) {
                    args.set(i, dir.resolve(args.get(i)).toString());
                }
            }
            args.add("--steps");
            args.add("2");
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int code = Main.run(args.toArray(String[]::new), new PrintStream(out, true, StandardCharsets.UTF_8),
                    new PrintStream(err, true, StandardCharsets.UTF_8));
            assertEquals(Main.OK, code, line + "\n" + err.toString(StandardCharsets.UTF_8));
            if (args.contains("--loop")) {
                loopOut = Path.of(args.get(args.indexOf("--out") + 1));
            }
        }
        assertNotNull(loopOut, "the section shows --loop");
        try (Tensor frames = ImageInput.video(loopOut, 64, 64, 1000)) {
            assertEquals(17 + 2 * (17 - GenerationRequest.overlapPixelFrames(2)), frames.dim(2), "frames of --loop 3");
        }
    }

    /** Splits a command line at spaces, keeping single-quoted words together. */
    private static List<String> words(String line) {
        List<String> w = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        boolean any = false;
        for (char c : line.toCharArray()) {
            if (c == '\'') {
                quoted = !quoted;
                any = true;
            } else if (c == ' ' && !quoted) {
                if (any) {
                    w.add(cur.toString());
                }
                cur.setLength(0);
                any = false;
            } else {
                cur.append(c);
                any = true;
            }
        }
        if (any) {
            w.add(cur.toString());
        }
        return w;
    }
}
