package io.github.jsora.tensor;

import java.util.ArrayList;
import java.util.List;

/** A {@link Libc.Calls} that records the calls instead of making them, and answers with fixed results. */
final class FakeLibc implements Libc.Calls {
    final List<String> calls = new ArrayList<>();
    private final long syscallResult;
    private final int setenvResult;

    FakeLibc(long syscallResult, int setenvResult) {
        this.syscallResult = syscallResult;
        this.setenvResult = setenvResult;
    }

    @Override
    public long syscall(long number, long a, long b) {
        calls.add("syscall " + number + " 0x" + Long.toHexString(a) + " " + b);
        return syscallResult;
    }

    @Override
    public int setenv(String name, String value) {
        calls.add("setenv " + name + "=" + value);
        return setenvResult;
    }
}
