package io.aegisquartz.alert.channel;

/**
 * Where notifications go: one {@code [channel.NAME]} section of aegis_notify.ini. A channel formats a
 * notification its own way and delivers it, or says why it could not; it never puts its URL, token or
 * password in that reason.
 */
public interface Channel extends AutoCloseable {

    /** The section's NAME. */
    String name();

    /** wecom, dingtalk, slack, webhook, email or exec. */
    String type();

    /**
     * Delivers one message, within the channel's timeout.
     *
     * @throws DeliveryException if it was not delivered (the outbox retries it with backoff)
     */
    void send(Notification n) throws DeliveryException;

    @Override
    default void close() {
    }
}
