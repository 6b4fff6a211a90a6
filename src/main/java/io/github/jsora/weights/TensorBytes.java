package io.github.jsora.weights;

import java.nio.ByteBuffer;

/**
 * The stored bytes of a checkpoint's tensors, unconverted: what packing needs to keep bfloat16 or int8 data as it
 * is in the file. Safetensors files and sharded checkpoints are read with positional reads (see
 * {@link PositionalTensorReader}) or through their mapping; a {@link ConvertedCheckpoint} through the file it
 * wraps. Other checkpoint kinds have none ({@link #of} returns null).
 */
interface TensorBytes extends AutoCloseable {

    /** Fills {@code dst} with {@code dst.remaining()} bytes of tensor {@code name} from byte {@code offset} of its data. */
    void read(String name, long offset, ByteBuffer dst);

    @Override
    void close();

    /** Stored bytes of {@code ckpt}'s tensors, read positionally or through the mapping; null for other kinds. */
    static TensorBytes of(Checkpoint ckpt, boolean positional) {
        if (ckpt instanceof ConvertedCheckpoint cc) {
            return of(cc.file(), positional);
        }
        if (positional) {
            PositionalTensorReader r = PositionalTensorReader.forCheckpoint(ckpt);
            if (r == null) {
                return null;
            }
            return new TensorBytes() {
                @Override
                public void read(String name, long offset, ByteBuffer dst) {
                    r.readRaw(name, offset, dst);
                }

                @Override
                public void close() {
                    r.close();
                }
            };
        }
        if (ckpt instanceof SafetensorsFile f) {
            return new TensorBytes() {
                @Override
                public void read(String name, long offset, ByteBuffer dst) {
                    f.readRaw(name, offset, dst);
                }

                @Override
                public void close() {
                }
            };
        }
        if (ckpt instanceof ShardedCheckpoint sc) {
            return new TensorBytes() {
                @Override
                public void read(String name, long offset, ByteBuffer dst) {
                    sc.shardFor(name).readRaw(name, offset, dst);
                }

                @Override
                public void close() {
                }
            };
        }
        return null;
    }
}
