package io.github.jsora.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import io.github.jsora.weights.Json;

/**
 * The MP4 plays in real players: headless Chromium (a {@code <video>} element, frames drawn to a canvas) and
 * ffprobe/ffmpeg, each compared with the PNG frames written from the same video. Both programs are required: CI
 * ({@code .ci/run}) installs them; where they are missing this test fails and says how to install them.
 */
class Mp4PlaybackTest {

    private static final int W = 96;
    private static final int H = 58;
    private static final int N = 8;
    private static final double FPS = 8;
    /** PSNR floor in dB against the PNG frames (4:2:0 and 8-bit limited range give 42-44 dB here; a frame off by one gives far less). */
    private static final double PSNR_FLOOR = 38;

    @TempDir
    static Path dir;
    static Path mp4;
    static List<Frame> png;

    @BeforeAll
    static void writeClip() throws IOException {
        List<Frame> frames = Mp4Clips.smooth(W, H, N);
        mp4 = dir.resolve("clip.mp4");
        Path pngDir = dir.resolve("frames");
        Mp4WriterTest.write(VideoWriters.forPath(mp4, false), frames, FPS, Map.of("prompt", "a test"));
        Mp4WriterTest.write(VideoWriters.create(VideoFormat.PNG_SEQUENCE, pngDir, false), frames, FPS, Map.of());
        png = VideoReaders.read(pngDir).frames();
    }

    static String tool(String name) {
        for (String d : List.of("/usr/bin", "/usr/local/bin", "/bin")) {
            if (Files.isExecutable(Path.of(d, name))) {
                return Path.of(d, name).toString();
            }
        }
        fail(name + " is not installed; this test needs it (apt-get install chromium ffmpeg; .ci/run does this)");
        return null;
    }

    private static byte[] run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.PIPE).start();
        CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(cmd + " did not finish in 60 s");
        }
        String e = new String(err.join(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), cmd + " failed: " + e);
        assertEquals("", e.strip(), cmd + " reported problems");
        return out;
    }

    private static byte[] readAll(InputStream in) {
        try {
            return in.readAllBytes();
        } catch (IOException e) {
            return e.toString().getBytes(StandardCharsets.UTF_8);
        }
    }

    @Test
    void ffprobeSeesH264Yuv420pAndFfmpegDecodesThePngFrames() throws Exception {
        String probe = new String(run(List.of(tool("ffprobe"), "-v", "error", "-count_frames", "-show_entries",
                "stream=codec_name,profile,pix_fmt,width,height,r_frame_rate,nb_read_frames,nb_frames"
                        + ":format=format_name:format_tags=comment,encoder",
                "-of", "json", mp4.toString())), StandardCharsets.UTF_8);
        Map<String, Object> json = Json.parseObject(probe);
        @SuppressWarnings("unchecked")
        Map<String, Object> s = ((List<Map<String, Object>>) json.get("streams")).get(0);
        assertEquals("h264", s.get("codec_name"), probe);
        assertEquals("Constrained Baseline", s.get("profile"), probe);
        assertEquals("yuv420p", s.get("pix_fmt"), probe);
        assertEquals(W, ((Number) s.get("width")).intValue(), probe);
        assertEquals(H, ((Number) s.get("height")).intValue(), probe);
        assertEquals("8/1", s.get("r_frame_rate"), probe);
        assertEquals(String.valueOf(N), s.get("nb_read_frames"), probe);
        assertEquals(String.valueOf(N), s.get("nb_frames"), probe);
        @SuppressWarnings("unchecked")
        Map<String, Object> format = (Map<String, Object>) json.get("format");
        assertTrue(format.get("format_name").toString().contains("mp4"), probe);
        @SuppressWarnings("unchecked")
        Map<String, Object> tags = (Map<String, Object>) format.get("tags");
        assertEquals("{\"prompt\": \"a test\"}", tags.get("comment"), probe);

        byte[] raw = run(List.of(tool("ffmpeg"), "-v", "error", "-xerror", "-i", mp4.toString(), "-f", "rawvideo",
                "-pix_fmt", "rgb24", "-"));
        assertEquals(N * W * H * 3, raw.length, "decoded bytes");
        for (int i = 0; i < N; i++) {
            double p = Mp4Clips.psnr(png.get(i).toRgbBytes(), 0, 1, raw, i * W * H * 3, 1, W * H * 3);
            assertTrue(p > PSNR_FLOOR, "ffmpeg frame " + i + ": PSNR " + p + " dB");
        }
    }

    @Test
    void playsInHeadlessChromium() throws Exception {
        String chromium = tool("chromium");
        CompletableFuture<byte[]> result = new CompletableFuture<>();
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", ex -> serve(ex, result));
        server.start();
        Path profile = Files.createTempDirectory(dir, "chromium-profile");
        String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/page.html";
        List<String> cmd = new ArrayList<>(List.of(chromium, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
                "--user-data-dir=" + profile, url));
        Process browser = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("chromium.log").toFile()).start();
        byte[] rgba;
        try {
            rgba = result.get(60, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            fail("Chromium sent no frames in 60 s; its log:\n" + Files.readString(dir.resolve("chromium.log")));
            return;
        } finally {
            browser.descendants().forEach(ProcessHandle::destroyForcibly);
            browser.destroyForcibly();
            browser.waitFor(10, TimeUnit.SECONDS);
            server.stop(0);
        }
        assertEquals(N * W * H * 4, rgba.length, "canvas bytes of " + N + " frames");
        for (int i = 0; i < N; i++) {
            byte[] ref = png.get(i).toRgbBytes();
            double[] per = new double[3];
            for (int c = 0; c < 3; c++) {
                per[c] = Mp4Clips.psnr(ref, c, 3, rgba, i * W * H * 4 + c, 4, W * H);
            }
            double mse = 0;
            for (double p : per) {
                mse += Math.pow(10, -p / 10) / 3;
            }
            double p = -10 * Math.log10(mse);
            assertTrue(p > PSNR_FLOOR, "Chromium frame " + i + ": PSNR " + p + " dB (R, G, B: "
                    + java.util.Arrays.toString(per) + ")");
        }
    }

    private static final String PAGE = """
            <!doctype html><meta charset="utf-8"><title>mp4 playback</title>
            <video id="v" muted playsinline preload="auto" src="clip.mp4"></video><canvas id="c"></canvas>
            <script>
            (async () => {
              const v = document.getElementById('v');
              const fail = (m) => fetch('error', {method: 'POST', body: String(m)});
              try {
                await new Promise((ok, no) => {
                  v.onloadeddata = ok;
                  v.onerror = () => no('video error ' + (v.error && v.error.code) + ' ' + (v.error && v.error.message));
                  if (v.readyState >= 2) ok();
                });
                const w = v.videoWidth, h = v.videoHeight, n = %d, fps = %s;
                if (w !== %d || h !== %d) throw 'video is ' + w + 'x' + h;
                const c = document.getElementById('c');
                c.width = w; c.height = h;
                const g = c.getContext('2d', {willReadFrequently: true});
                const all = new Uint8Array(n * w * h * 4);
                for (let i = 0; i < n; i++) {
                  // 'seeked' can fire before the sought frame is on screen, so a draw right then may copy the
                  // previous frame: also wait for the next presented frame, or 250 ms where none comes (a seek
                  // inside the frame already shown presents nothing new)
                  const shown = new Promise((ok) => {
                    if (v.requestVideoFrameCallback) v.requestVideoFrameCallback(() => ok());
                    setTimeout(ok, 250);
                  });
                  await new Promise((ok) => { v.onseeked = ok; v.currentTime = (i + 0.5) / fps; });
                  await shown;
                  g.drawImage(v, 0, 0, w, h);
                  all.set(g.getImageData(0, 0, w, h).data, i * w * h * 4);
                }
                await fetch('result', {method: 'POST', body: all});
              } catch (e) {
                await fail(e);
              }
            })();
            </script>
            """.formatted(N, FPS, W, H);

    private static void serve(HttpExchange ex, CompletableFuture<byte[]> result) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            if (ex.getRequestMethod().equals("POST")) {
                byte[] body = ex.getRequestBody().readAllBytes();
                if (path.equals("/result")) {
                    result.complete(body);
                } else {
                    result.completeExceptionally(new AssertionError("page: " + new String(body,
                            StandardCharsets.UTF_8)));
                }
                ex.sendResponseHeaders(204, -1);
                return;
            }
            byte[] body;
            String type;
            if (path.equals("/page.html")) {
                body = PAGE.getBytes(StandardCharsets.UTF_8);
                type = "text/html; charset=utf-8";
            } else if (path.equals("/clip.mp4")) {
                body = Files.readAllBytes(mp4);
                type = "video/mp4";
            } else {
                ex.sendResponseHeaders(404, -1);
                return;
            }
            ex.getResponseHeaders().set("Content-Type", type);
            String range = ex.getRequestHeaders().getFirst("Range");
            int from = 0;
            int to = body.length - 1;
            if (range != null && range.startsWith("bytes=")) {
                String[] r = range.substring(6).split("-", -1);
                from = Integer.parseInt(r[0]);
                if (!r[1].isEmpty()) {
                    to = Math.min(to, Integer.parseInt(r[1]));
                }
                ex.getResponseHeaders().set("Content-Range", "bytes " + from + "-" + to + "/" + body.length);
                ex.getResponseHeaders().set("Accept-Ranges", "bytes");
                ex.sendResponseHeaders(206, to - from + 1);
            } else {
                ex.getResponseHeaders().set("Accept-Ranges", "bytes");
                ex.sendResponseHeaders(200, body.length);
            }
            try (OutputStream o = ex.getResponseBody()) {
                o.write(body, from, to - from + 1);
            }
        } catch (RuntimeException e) {
            result.completeExceptionally(e);
        }
    }
}
