package io.aegisquartz.receive;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;

/**
 * Decompresses a gzip body into memory, stopping as soon as the output passes a limit. A few KiB of
 * gzip can inflate to gigabytes; reading in fixed chunks and counting is what keeps a "zip bomb" to
 * {@code limit + 1} bytes of memory and the CPU time to inflate that much.
 */
final class BoundedGunzip {

    /** The decompressed body exceeds the limit; nothing beyond limit + 1 bytes was inflated. */
    static final class TooLargeException extends IOException {
        private static final long serialVersionUID = 1L;

        TooLargeException(long limit) {
            super("decompressed body exceeds " + limit + " bytes");
        }
    }

    private BoundedGunzip() {
    }

    /**
     * @throws TooLargeException if the decompressed data is longer than {@code limit}
     * @throws IOException       if the data is not valid gzip
     */
    static byte[] gunzip(InputStream compressed, int limit) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(Math.min(limit, 64 * 1024));
        // A small inflater buffer: the input is read in steps of this size, so a bomb is cut short early.
        try (GZIPInputStream in = new GZIPInputStream(compressed, 4096)) {
            byte[] buf = new byte[8192];
            long total = 0;
            int n;
            while ((n = in.read(buf)) > 0) {
                total += n;
                if (total > limit) {
                    throw new TooLargeException(limit);
                }
                out.write(buf, 0, n);
            }
        }
        return out.toByteArray();
    }
}
