package io.aegisquartz.output.aegis;

/**
 * A credentials file that cannot be used. The message names the file, what is wrong and the fix, and
 * never contains the secret, so it can go to the log and the terminal as it is.
 */
public final class CredentialsException extends Exception {

    private static final long serialVersionUID = 1L;

    public CredentialsException(String message) {
        super(message);
    }
}
