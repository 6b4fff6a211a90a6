package io.github.jsora.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import io.github.jsora.video.AdherenceCheck.Direction;
import io.github.jsora.video.AdherenceCheck.Expectation;
import io.github.jsora.video.AdherenceCheck.PaletteColour;
import io.github.jsora.video.AdherenceCheck.Verdict;

class AdherenceCheckTest {

    private static int packed(PaletteColour p) {
        return p.r() << 16 | p.g() << 8 | p.b();
    }

    // ------------------------------------------------------------------ synthetic clips: exact answers

    @Test
    void everyPaletteColourAndDirectionOnSyntheticClips() {
        int[][] moves = {{-2, 0}, {2, 0}, {0, -2}, {0, 2}};
        Direction[] dirs = {Direction.LEFT, Direction.RIGHT, Direction.UP, Direction.DOWN};
        for (PaletteColour p : AdherenceCheck.DEMO_PALETTE) {
            for (int d = 0; d < 4; d++) {
                int vx = moves[d][0];
                int vy = moves[d][1];
                // 17 frames 64x64, 12 px square starting mid-frame, so it stays inside
                List<Frame> clip = Clips.movingSquare(64, 64, 17, 12, packed(p), 26 - 8 * vx, 26 - 8 * vy, vx, vy);
                Verdict v = AdherenceCheck.check(clip);
                String what = p.name() + " " + dirs[d];
                assertEquals(p.name(), v.colour(), what);
                assertEquals(dirs[d], v.direction(), what);
                // centroid moves 2 px per frame; windows are frames 0-3 and 13-16: 13 frames apart
                assertEquals(13.0 * vx, v.dx(), 1e-12, what);
                assertEquals(13.0 * vy, v.dy(), 1e-12, what);
                assertEquals(144.0, v.meanForegroundPixels(), 0, what);
                assertEquals(p.r() / 255.0, v.meanForegroundRgb()[0], 1e-6, what);
                assertEquals(p.g() / 255.0, v.meanForegroundRgb()[1], 1e-6, what);
                assertEquals(p.b() / 255.0, v.meanForegroundRgb()[2], 1e-6, what);
            }
        }
    }

    /** Frames 0-3 with the square at x = 10, 4-12 at 20 (ignored), 13-16 at {@code lastX}. */
    private static List<Frame> jump(int lastX, int lastY) {
        List<Frame> clip = new ArrayList<>();
        for (int t = 0; t < 17; t++) {
            int x = t < 4 ? 10 : t < 13 ? 20 : lastX;
            int y = t < 4 ? 10 : t < 13 ? 30 : lastY;
            clip.add(Clips.movingSquare(64, 64, 1, 8, 0xFFFF00, x, y, 0, 0).get(0));
        }
        return clip;
    }

    @Test
    void thresholdIsFourPixelsAndTiesGoHorizontal() {
        Verdict four = AdherenceCheck.check(jump(14, 10));
        assertEquals(4.0, four.dx(), 1e-12);
        assertEquals(Direction.RIGHT, four.direction(), "4 px counts");
        Verdict three = AdherenceCheck.check(jump(13, 8));
        assertEquals(Direction.NONE, three.direction(), "3 px does not");
        assertEquals(Direction.UP, AdherenceCheck.check(jump(13, 5)).direction());
        Verdict tie = AdherenceCheck.check(jump(4, 16));
        assertEquals(-6.0, tie.dx(), 1e-12);
        assertEquals(6.0, tie.dy(), 1e-12);
        assertEquals(Direction.LEFT, tie.direction(), "|dx| == |dy| is read as horizontal");
        assertEquals("yellow", tie.colour());
    }

    @Test
    void noForegroundMeansNoColourAndNoDirection() {
        List<Frame> blank = List.of(Frame.filled(16, 16, 0x808080), Frame.filled(16, 16, 0x808080));
        Verdict v = AdherenceCheck.check(blank);
        assertNull(v.colour());
        assertEquals(Direction.NONE, v.direction());
        assertTrue(Double.isNaN(v.dx()));
        assertEquals(0.0, v.meanForegroundPixels());
    }

    @Test
    void framesWithoutForegroundAreLeftOutOfTheWindowMeans() {
        List<Frame> clip = new ArrayList<>(Clips.movingSquare(64, 64, 17, 8, 0x00FF00, 5, 30, 3, 0));
        clip.set(0, Frame.filled(64, 64, Clips.BACKGROUND));
        Verdict v = AdherenceCheck.check(clip);
        // first window = frames 1-3 (x offsets 3, 6, 9 -> mean 6); last = 13-16 (mean 43.5)
        assertEquals(43.5 - 6, v.dx(), 1e-12);
        assertEquals(Direction.RIGHT, v.direction());
        assertEquals("green", v.colour());
    }

    @Test
    void backgroundIsTheBorderMedianNotAFixedColour() {
        // a noisy border (a third of it bright) does not move the median; a bright shape is still found
        List<Frame> clip = new ArrayList<>();
        for (Frame f : Clips.movingSquare(32, 32, 8, 6, 0xFF0000, 4, 12, 2, 0)) {
            byte[] a = f.toRgbBytes();
            for (int x = 0; x < 32; x += 3) {
                a[3 * x] = (byte) 255; // top row, every third pixel red-ish
            }
            clip.add(Frame.wrap(32, 32, a));
        }
        Verdict v = AdherenceCheck.check(clip);
        assertEquals("red", v.colour());
        assertEquals(Direction.RIGHT, v.direction());
        float[] bg = AdherenceCheck.borderMedian(new float[] {0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3}, 2, 2);
        assertEquals(1.5f, bg[0], "even count: mean of the two middle values");
    }

    @Test
    void badInputIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> AdherenceCheck.check(List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> AdherenceCheck.check(List.of(Frame.filled(4, 4, 0), Frame.filled(5, 4, 0))));
        assertThrows(IllegalArgumentException.class,
                () -> AdherenceCheck.check(4, 4, List.of(new float[10])));
    }

    // ------------------------------------------------------------------ prompts

    @Test
    void promptsParse() {
        assertEquals(new Expectation("red", "circle", Direction.LEFT),
                AdherenceCheck.parsePrompt("a red circle moving left"));
        assertEquals(new Expectation("purple", "triangle", Direction.UP),
                AdherenceCheck.parsePrompt("  A Purple Triangle moving UP. "));
        assertEquals(new Expectation("white", "square", Direction.DOWN),
                AdherenceCheck.parsePrompt("white square moving down"));
        for (String bad : new String[] {"a pink circle moving left", "a red circle", "a red circle moving sideways",
                "", "a red circle moving left quickly"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> AdherenceCheck.parsePrompt(bad), bad);
            assertTrue(e.getMessage().contains(bad), e.getMessage());
        }
        assertFalse(AdherenceCheck.tryParsePrompt(null).isPresent());
    }

    @Test
    void evaluateScoresAPrompt() {
        List<Frame> clip = Clips.movingSquare(64, 64, 17, 10, 0x0000FF, 40, 20, -2, 0);
        AdherenceCheck.Result r = AdherenceCheck.evaluate("a blue square moving left", clip);
        assertTrue(r.colourCorrect());
        assertTrue(r.directionCorrect());
        AdherenceCheck.Result wrong = AdherenceCheck.evaluate("a red square moving up", clip);
        assertFalse(wrong.colourCorrect());
        assertFalse(wrong.directionCorrect());
    }

    // ------------------------------------------------------------------ the demo model's sample GIFs

    /** File, then the colour and direction the demo README (or the e2e case's metadata) states for it. */
    private static final String[][] SAMPLES = {
        {"a_red_circle_moving_left.gif", "red", "down"},
        {"a_red_circle_moving_left_lpl15.gif", "red", "down"},
        {"a_blue_square_moving_up.gif", "purple", "up"},
        {"a_blue_square_moving_up_lpl15.gif", "purple", "up"},
        {"a_yellow_triangle_moving_right.gif", "yellow", "right"},
        {"a_yellow_triangle_moving_right_lpl15.gif", "yellow", "right"},
        {"a_green_circle_moving_down.gif", "green", "left"},
        {"a_green_circle_moving_down_lpl15.gif", "green", "left"},
        {"e2e_case_inference_mask.gif", "red", "down"},
    };

    static Path sample(String name) {
        URL u = AdherenceCheckTest.class.getResource("demo-samples/" + name);
        assertTrue(u != null, "test resource demo-samples/" + name + " is missing");
        try {
            return Path.of(u.toURI());
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    @TestFactory
    Stream<DynamicTest> sampleGifsGetTheReadmeVerdicts() {
        return Stream.of(SAMPLES).map(s -> DynamicTest.dynamicTest(s[0], () -> {
            DecodedVideo v = VideoReaders.readGif(sample(s[0]));
            assertEquals(17, v.frameCount());
            assertEquals(64, v.width());
            Verdict verdict = AdherenceCheck.check(v.frames());
            System.out.println("adherence " + s[0] + ": " + verdict + " (README: " + s[1] + ", " + s[2] + ")");
            assertEquals(s[1], verdict.colour(), s[0] + " colour");
            assertEquals(s[2], verdict.direction().word(), s[0] + " direction");
        }));
    }


    @Test
    void demoPromptListsFollowTheReadme() {
        assertEquals(72, AdherenceCheck.DEMO_PROMPTS.size());
        assertEquals(72, new java.util.HashSet<>(AdherenceCheck.DEMO_PROMPTS).size());
        assertEquals("a red circle moving left", AdherenceCheck.DEMO_PROMPTS.get(0));
        assertEquals("a purple triangle moving down", AdherenceCheck.DEMO_PROMPTS.get(71));
        assertEquals("a blue circle moving up", AdherenceCheck.DEMO_PROMPTS.get(26));
        AdherenceCheck.DEMO_PROMPTS.forEach(AdherenceCheck::parsePrompt);
        assertEquals(8, AdherenceCheck.DEMO_HELD_OUT.size());
        assertTrue(AdherenceCheck.DEMO_PROMPTS.containsAll(AdherenceCheck.DEMO_HELD_OUT));
    }
}
