package io.github.jsora.bench;

import java.util.List;
import java.util.Locale;

import io.github.jsora.ComputePrecision;
import io.github.jsora.GeneratorOptions;
import io.github.jsora.Video;
import io.github.jsora.VideoGenerator;
import io.github.jsora.tensor.Bf16Gemm;
import io.github.jsora.video.AdherenceCheck;

/**
 * bf16 compute against float32 on the embedded demo model's 72 prompts (30 steps, cfg 7, the reference's batch
 * noise of seed 1000): colour and direction adherence of each precision, and the PSNR of the bf16 frames against the
 * float32 frames of the same prompt (mean of the per-prompt MSE, and the worst prompt).
 *
 * <p>The demo's products are far below {@link Bf16Gemm#MIN_NATIVE_MACS}; with {@code native} (the default) the
 * bound is lowered to 0 so that every STDiT3 and T5 product runs on the native bf16 route, as on a real-size model;
 * {@code expand} keeps the route on the float32 expansion of the bf16 weights.
 *
 * <p>Usage: {@code java -cp ... io.github.jsora.bench.PrecisionQualityRun [native|expand] [prompts]}
 */
public final class PrecisionQualityRun {

    private PrecisionQualityRun() {
    }

    public static void main(String[] args) {
        String route = args.length > 0 ? args[0] : "native";
        int n = args.length > 1 ? Integer.parseInt(args[1]) : AdherenceCheck.DEMO_PROMPTS.size();
        switch (route) {
            case "native" -> {
                Bf16Gemm.setRoute(Bf16Gemm.Route.NATIVE);
                Bf16Gemm.setMinNativeMacs(0);
            }
            case "expand" -> Bf16Gemm.setRoute(Bf16Gemm.Route.EXPAND);
            default -> throw new IllegalArgumentException("route must be native or expand, found " + route);
        }
        List<String> prompts = AdherenceCheck.DEMO_PROMPTS.subList(0, n);
        int[] colour = new int[2];
        int[] direction = new int[2];
        int sameVerdict = 0;
        double mseSum = 0;
        double worstPsnr = Double.POSITIVE_INFINITY;
        String worstPrompt = "";
        long t0 = System.nanoTime();
        try (VideoGenerator fp32 = VideoGenerator.openDefault(GeneratorOptions.builder()
                .computePrecision(ComputePrecision.FP32).build());
                VideoGenerator bf16 = VideoGenerator.openDefault(GeneratorOptions.builder()
                        .computePrecision(ComputePrecision.BF16).build())) {
            for (int i = 0; i < prompts.size(); i++) {
                String p = prompts.get(i);
                Video a = fp32.generate(fp32.requestBuilder(p).seed(1000).referenceBatch(i, prompts.size()).build());
                Video b = bf16.generate(bf16.requestBuilder(p).seed(1000).referenceBatch(i, prompts.size()).build());
                AdherenceCheck.Result qa = AdherenceCheck.evaluate(p, a.frames());
                AdherenceCheck.Result qb = AdherenceCheck.evaluate(p, b.frames());
                colour[0] += qa.colourCorrect() ? 1 : 0;
                colour[1] += qb.colourCorrect() ? 1 : 0;
                direction[0] += qa.directionCorrect() ? 1 : 0;
                direction[1] += qb.directionCorrect() ? 1 : 0;
                sameVerdict += qa.colourCorrect() == qb.colourCorrect()
                        && qa.directionCorrect() == qb.directionCorrect() ? 1 : 0;
                double mse = StepCachingQualityRun.mse(a.frames(), b.frames());
                double db = StepCachingQualityRun.psnr(mse);
                mseSum += mse;
                if (db < worstPsnr) {
                    worstPsnr = db;
                    worstPrompt = p;
                }
                System.out.printf(Locale.ROOT, "%2d %-32s fp32 %s%s bf16 %s%s PSNR %.1f dB%n", i, p,
                        qa.colourCorrect() ? "C" : "c", qa.directionCorrect() ? "D" : "d",
                        qb.colourCorrect() ? "C" : "c", qb.directionCorrect() ? "D" : "d", db);
            }
        }
        System.out.printf(Locale.ROOT, "%nroute %s, %d prompts, %.0f s: colour fp32 %d bf16 %d; direction fp32 %d "
                + "bf16 %d; same verdicts %d; PSNR bf16 vs fp32 %.1f dB (mean MSE), worst %.1f dB (%s)%n", route,
                prompts.size(), (System.nanoTime() - t0) / 1e9, colour[0], colour[1], direction[0], direction[1],
                sameVerdict, StepCachingQualityRun.psnr(mseSum / prompts.size()), worstPsnr, worstPrompt);
    }
}
