package io.aegisquartz.plugin.host;

import java.io.IOException;

/** The other side of the plugin host protocol sent something the protocol does not allow. */
final class ProtocolException extends IOException {

    ProtocolException(String message) {
        super(message);
    }

    ProtocolException(String message, Throwable cause) {
        super(message, cause);
    }
}
