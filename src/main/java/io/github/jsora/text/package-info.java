/**
 * The text side of Open-Sora v1.2: prompt → T5 v1.1 embedding.
 *
 * <ul>
 * <li>{@link io.github.jsora.text.SentencePieceModel} / {@link io.github.jsora.text.SentencePieceTokenizer}: the
 *     {@code .model} file (own protobuf reader) and unigram encoding/decoding with the model's nmt_nfkc character
 *     map, bit-compatible with sentencepiece 0.1.97.</li>
 * <li>{@link io.github.jsora.text.T5Tokenizer}: Open-Sora's prompt preparation ({@link
 *     io.github.jsora.text.CaptionCleaner}, aesthetic score) and the Hugging Face T5 convention (EOS, truncation,
 *     padding, attention mask) → {@link io.github.jsora.text.TokenizedBatch}.</li>
 * <li>{@link io.github.jsora.text.T5Encoder}: the encoder stack over a {@link io.github.jsora.weights.BlockSource}
 *     (block loop: embedding, block.0 … block.{n−1}, final_norm).</li>
 * <li>{@link io.github.jsora.text.T5TextEncoder}: a checkpoint directory (config.json, spiece.model, sharded
 *     safetensors) → {@link io.github.jsora.text.TextEmbedding} (y [B, 1, L, d], mask [B, L]).</li>
 * </ul>
 *
 * <p><b>Internal.</b> Not part of jsora's API: public only so that the stages and the benchmarks can reach each
 * other; it may change in any release. The exceptions are {@link io.github.jsora.text.SentencePieceFormatException},
 * which the facade's signatures use (see the README's "Public API").
 */
package io.github.jsora.text;
