package io.github.jsora.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import io.github.jsora.GenerationRequest;
import io.github.jsora.GenerationStats;
import io.github.jsora.ModelInfo;
import io.github.jsora.Video;
import io.github.jsora.VideoGenerator;

/**
 * Seconds and transformer FLOPs per video of step caching and the guidance interval on {@link EndToEndBench}'s
 * {@code mid} model (random weights in the real layout: hidden 384, depth 4, 6 heads; 128×128, 17 frames, a 5×16×16
 * latent, 30 steps, cfg 7), the settings alternated in one JVM round by round (one warm-up round), so that the drift
 * of a shared machine hits them alike. Settings are {@link StepCachingQualityRun}'s ({@code off}, {@code lpl},
 * {@code lpl+input:0.1+cfg:0,800}, ...).
 *
 * <p>FLOPs: the block stack's work in guided-step units ({@link StepCachingQualityRun#work}) times an analytic count
 * of one guided step (batch 2) of the block stack: per sample and block, {@code N·14·C²} multiply-adds of the
 * projections and MLP (self-attention q, k, v, out; cross-attention q, out; MLP 4C), {@code 2·N·S_attn·C} of the
 * self-attention ({@code S_attn} = tokens per frame for a spatial block, frames for a temporal one) and
 * {@code 2·N·L·C} of the cross-attention ({@code L} caption tokens); two FLOPs a multiply-add.
 *
 * <p>Usage: {@code java -cp ... io.github.jsora.bench.StepCachingTimeRun [rounds] [SETTING...]} (default 3 rounds of
 * off, lpl, lpl+input:0.1, lpl+input:0.1+cfg:0,800).
 */
public final class StepCachingTimeRun {

    private StepCachingTimeRun() {
    }

    public static void main(String[] args) throws IOException {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        List<String> specs = args.length > 1 ? Arrays.asList(args).subList(1, args.length)
                : List.of("off", "lpl", "lpl+input:0.1", "lpl+input:0.1+cfg:0,800");
        List<StepCachingQualityRun.Setting> settings = new ArrayList<>();
        for (String s : specs) {
            settings.add(StepCachingQualityRun.Setting.parse(s));
        }
        Path dir = Files.createTempDirectory("jsora-step-cache-time");
        try {
            Path m = dir.resolve("model");
            EndToEndBench.writeMidModel(m);
            try (VideoGenerator gen = VideoGenerator.open(m)) {
                ModelInfo info = gen.modelInfo();
                double stepFlops = guidedStepFlops(info.hiddenSize(), info.depth(), 16 * 16, 5, info.captionTokens());
                double[][] total = new double[settings.size()][rounds];
                double[][] denoise = new double[settings.size()][rounds];
                double[] work = new double[settings.size()];
                String[] reused = new String[settings.size()];
                for (int round = -1; round < rounds; round++) {
                    StringBuilder line = new StringBuilder(round < 0 ? "warm-up" : "round " + (round + 1));
                    for (int k = 0; k < settings.size(); k++) {
                        GenerationRequest r = settings.get(k).apply(gen.requestBuilder("a red circle moving left")
                                .seed(1000).steps(30).size(128, 128).frames(17).preparePrompt(false)).build();
                        long t0 = System.nanoTime();
                        Video v = gen.generate(r);
                        double sec = (System.nanoTime() - t0) / 1e9;
                        GenerationStats st = v.stats();
                        work[k] = StepCachingQualityRun.work(st, r, info.depth(), 128, 128, 17);
                        reused[k] = st.reusedSteps().toString();
                        if (round >= 0) {
                            total[k][round] = sec;
                            denoise[k][round] = st.denoiseSeconds();
                        }
                        line.append(String.format(Locale.ROOT, " | %s %.2f s (denoise %.2f)", specs.get(k), sec,
                                st.denoiseSeconds()));
                    }
                    System.out.println(line);
                }
                System.out.printf(Locale.ROOT, "%-28s %10s %10s %9s %9s %8s %8s  %s%n", "setting", "s/video",
                        "denoise s", "x vs off", "x vs lpl", "steps", "GFLOP", "reused steps");
                double offT = Medians.of(total[0]);
                double lplT = specs.indexOf("lpl") >= 0 ? Medians.of(total[specs.indexOf("lpl")]) : Double.NaN;
                double lplW = specs.indexOf("lpl") >= 0 ? work[specs.indexOf("lpl")] : Double.NaN;
                for (int k = 0; k < settings.size(); k++) {
                    double t = Medians.of(total[k]);
                    System.out.printf(Locale.ROOT, "%-28s %10.2f %10.2f %8.2fx %8.2fx %8.2f %8.1f  %s  (FLOPs %.2fx "
                            + "vs off, %.2fx vs lpl)%n", specs.get(k), t, Medians.of(denoise[k]), offT / t, lplT / t,
                            work[k], work[k] * stepFlops / 1e9, reused[k], work[0] / work[k], lplW / work[k]);
                }
                System.out.printf(Locale.ROOT, "medians of %d rounds; one guided step of the block stack = %.1f GFLOP "
                        + "(analytic); first setting is the base of 'x vs off'%n", rounds, stepFlops / 1e9);
            }
        } finally {
            TempDirs.deleteTree(dir);
        }
    }

    /** FLOPs of one guided step (batch 2) of the block stack, see the class comment. */
    static double guidedStepFlops(int c, int depth, int tokensPerFrame, int frames, int captionTokens) {
        double n = (double) tokensPerFrame * frames;
        double perBlock = n * 14.0 * c * c + 2.0 * n * captionTokens * c;
        double pair = 2 * perBlock + 2.0 * n * tokensPerFrame * c + 2.0 * n * frames * c;
        return 2 * 2 * depth * pair;
    }

}
