/**
 * The jsora tensor core: native float32 tensors on ND4J, the matrix products and convolutions, the project's own
 * kernels, the native memory arena and its accounting.
 *
 * <p><b>Internal.</b> Not part of jsora's API: public only so that the stages and the benchmarks can reach each
 * other; it may change in any release. The exceptions are {@link io.github.jsora.tensor.Tensor} and {@link
 * io.github.jsora.tensor.MemoryBudgetExceededException}, which the facade's signatures use (see the README's "Public
 * API").
 */
package io.github.jsora.tensor;
