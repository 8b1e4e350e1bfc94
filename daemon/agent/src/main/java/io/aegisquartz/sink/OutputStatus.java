package io.aegisquartz.sink;

/**
 * Where samples go, and how that is going, for {@code aegis-quartz status} and the agent's health
 * samples. Today an agent has one output: the local samples file or the uploader.
 *
 * @param name               what it is: {@code file} or {@code upload}
 * @param target             the file or the endpoint URL
 * @param pending            samples stored and not yet delivered (always 0 for the file)
 * @param oldestPendingMillis when the oldest pending sample was taken (epoch ms), -1 if none is pending
 * @param lastSuccessMillis  the last write or acknowledged request (epoch ms), 0 if none yet
 * @param failingSinceMillis start of the current run of failures (epoch ms), 0 if not failing
 * @param lastError          the last failure's reason (kept after a recovery), or null
 * @param sent               samples delivered since start (written, or accepted by the receiver)
 * @param failed             failed attempts since start (writes that lost samples, or requests that failed)
 */
public record OutputStatus(String name, String target, long pending, long oldestPendingMillis, long lastSuccessMillis,
                           long failingSinceMillis, String lastError, long sent, long failed) {
}
