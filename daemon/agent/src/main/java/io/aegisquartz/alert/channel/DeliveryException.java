package io.aegisquartz.alert.channel;

/** A notification was not delivered; the message says why, without the channel's secrets. */
public final class DeliveryException extends Exception {

    private static final long serialVersionUID = 1L;

    public DeliveryException(String message) {
        super(message, null, false, false);
    }
}
