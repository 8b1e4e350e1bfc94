package io.aegisquartz.log;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.rolling.FixedWindowRollingPolicy;
import ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy;
import ch.qos.logback.core.util.FileSize;
import org.slf4j.LoggerFactory;

import io.aegisquartz.util.IoErrors;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Points the agent log where aegis_config.ini says, with size-based rotation.
 *
 * <p>Until this runs, {@link BaseLogConfigurator} sends warnings to stderr only, so CLI commands
 * that never start the agent print nothing but their own output.
 */
public final class LogSetup {

    /** One line per event, easy to tail and grep: time, level, component, message. */
    public static final String PATTERN = "%d{yyyy-MM-dd HH:mm:ss.SSS} %-5level %-7logger %msg%n";

    private static final String FILE_APPENDER = "file";

    private LogSetup() {
    }

    /**
     * Replaces the log configuration.
     *
     * @param file     the log file, or null for console only
     * @param console  also log to stderr
     * @return why the file cannot be written, in a few words for a one-line message that names the file
     *         ("its directory /var/log/x is not writable by user aegis"), or null if all is well.
     *         Logback would otherwise keep the problem to itself and the agent would run with no log.
     */
    public static String apply(Path file, String level, long maxBytes, int maxFiles, boolean console) {
        if (file != null) {
            String problem = unwritable(file);
            if (problem != null) {
                return problem;
            }
        }
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        ctx.reset();
        ctx.getStatusManager().clear();
        Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.toLevel(level, Level.INFO));
        if (file != null) {
            ReopeningFileAppender appender = new ReopeningFileAppender();
            appender.setContext(ctx);
            appender.setName(FILE_APPENDER);
            appender.setFile(file.toString());
            appender.setEncoder(encoder(ctx));
            FixedWindowRollingPolicy rolling = new FixedWindowRollingPolicy();
            rolling.setContext(ctx);
            rolling.setParent(appender);
            rolling.setFileNamePattern(file + ".%i");
            rolling.setMinIndex(1);
            rolling.setMaxIndex(maxFiles);
            rolling.start();
            SizeBasedTriggeringPolicy<ILoggingEvent> trigger = new SizeBasedTriggeringPolicy<>();
            trigger.setContext(ctx);
            trigger.setMaxFileSize(new FileSize(maxBytes));
            trigger.start();
            appender.setRollingPolicy(rolling);
            appender.setTriggeringPolicy(trigger);
            appender.start();
            root.addAppender(appender);
        }
        if (console || file == null) {
            root.addAppender(BaseLogConfigurator.stderr(ctx, PATTERN));
        }
        quietLibraries(ctx);
        for (ch.qos.logback.core.status.Status st : ctx.getStatusManager().getCopyOfStatusList()) {
            if (st.getLevel() == ch.qos.logback.core.status.Status.ERROR) {
                // Logback's own words ("openFile(...) call failed.") mean nothing to an operator: the cause does.
                return "cannot open it: " + (st.getThrowable() != null ? IoErrors.reason(st.getThrowable()) : st.getMessage());
            }
        }
        return null;
    }

    /**
     * Reopens the log file if it was moved or deleted since it was opened (or, with {@code force},
     * anyway, as on SIGHUP), creating it again at its path.
     *
     * @return true if it reopened
     * @throws IOException if the file cannot be created again
     */
    public static boolean reopen(boolean force) throws IOException {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        if (ctx.getLogger(Logger.ROOT_LOGGER_NAME).getAppender(FILE_APPENDER) instanceof ReopeningFileAppender a) {
            return a.reopen(force);
        }
        return false; // console only
    }

    /** Why {@code file} cannot be created or appended to, checked before Logback tries; null if it can. */
    private static String unwritable(Path file) {
        Path dir = file.toAbsolutePath().getParent();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            return "cannot create its directory " + dir + ": " + IoErrors.reason(e);
        }
        if (Files.isDirectory(file)) {
            return "it is a directory";
        }
        String user = System.getProperty("user.name") + " (uid " + ownUid() + ")";
        if (Files.exists(file) ? !Files.isWritable(file) : !Files.isWritable(dir)) {
            return (Files.exists(file) ? "it" : "its directory " + dir) + " is not writable by user " + user;
        }
        return null;
    }

    static PatternLayoutEncoder encoder(LoggerContext ctx) {
        PatternLayoutEncoder enc = new PatternLayoutEncoder();
        enc.setContext(ctx);
        enc.setPattern(PATTERN);
        enc.start();
        return enc;
    }

    /**
     * Quartz and Groovy narrate their start-up at INFO; operators need only their warnings. The Kafka
     * client (a kafka output) warns at every reconnect while a broker is down: the output's own lines
     * say that once, so only its errors are kept.
     */
    static void quietLibraries(LoggerContext ctx) {
        ctx.getLogger("org.apache.kafka").setLevel(Level.ERROR);
        ctx.getLogger("org.quartz").setLevel(Level.WARN);
        ctx.getLogger("org.codehaus.groovy").setLevel(Level.WARN);
        ctx.getLogger("org.apache.groovy").setLevel(Level.WARN);
    }

    /** This process's uid, for a message: the owner of /proc/self (read here, not from config, which logs through this package). */
    private static String ownUid() {
        try {
            return String.valueOf(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        } catch (IOException | UnsupportedOperationException e) {
            return "unknown";
        }
    }
}
