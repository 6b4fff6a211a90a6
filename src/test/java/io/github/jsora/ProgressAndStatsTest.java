package io.github.jsora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Progress totals are the model evaluations the run makes, and Video.write counts in the stats. */
class ProgressAndStatsTest {

    @TempDir
    Path dir;

    private static List<Progress> denoiseEvents(VideoGenerator gen, GenerationRequest r, List<Video> out) {
        List<Progress> events = new ArrayList<>();
        out.add(gen.generate(r, p -> {
            if (p.stage() == Stage.DENOISE) {
                events.add(p);
            }
        }));
        return events;
    }

    @Test
    void denoiseEventsReachTheirTotalWithAndWithoutLeapAndWriteTimeIsCounted() throws Exception {
        try (VideoGenerator gen = VideoGenerator.openDefault()) {
            List<Video> videos = new ArrayList<>();
            int[][] cases = {{6, -1}, {8, 4}}; // {steps, fixed leap step or -1}
            for (int[] c : cases) {
                GenerationRequest.Builder b = gen.requestBuilder("a red circle moving left").seed(5).steps(c[0]);
                if (c[1] >= 0) {
                    b.leapAt(c[1]);
                }
                List<Progress> events = denoiseEvents(gen, b.build(), videos);
                int evaluations = videos.get(videos.size() - 1).stats().modelEvaluations();
                assertEquals(c[1] >= 0 ? c[1] + 1 : c[0], evaluations);
                assertEquals(evaluations, events.size());
                for (Progress p : events) {
                    assertEquals(evaluations, p.total(), "total of every event: " + p);
                }
                Progress last = events.get(events.size() - 1);
                assertEquals(last.total(), last.step() + 1, "the last event reaches the total");
                assertEquals(c[1] >= 0, last.leapt());
            }
            Video v = videos.get(0);
            assertEquals(0.0, v.stats().writeSeconds());
            v.write(dir.resolve("a.mp4"), false);
            double once = v.stats().writeSeconds();
            assertTrue(once > 0, "write seconds after Video.write: " + once);
            v.write(dir.resolve("a.gif"), false);
            assertTrue(v.stats().writeSeconds() > once);
            assertEquals(v.stats().textSeconds() + v.stats().denoiseSeconds() + v.stats().decodeSeconds()
                    + v.stats().writeSeconds(), v.stats().totalSeconds(), 1e-12);
        }
    }
}
