package io.aegisquartz.receive;

import io.aegisquartz.sample.Status;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The reference receiver accepts every status the agent can write (docs/SAMPLES.md and docs/PROTOCOL.md list the same). */
class BatchStatusesTest {

    @Test
    void everyStatusOfTheAgentIsAccepted() {
        for (Status s : Status.values()) {
            assertTrue(Batch.STATUSES.contains(s.wire()), s.wire());
        }
    }
}
