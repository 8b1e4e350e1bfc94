package io.aegisquartz.cli;

/** The command line is wrong; the message says how. Exit code 2. */
final class UsageException extends Exception {
    UsageException(String message) {
        super(message, null, false, false);
    }
}
