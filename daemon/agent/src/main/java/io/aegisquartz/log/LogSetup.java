package io.aegisquartz.log;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.rolling.FixedWindowRollingPolicy;
import ch.qos.logback.core.rolling.RollingFileAppender;
import ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy;
import ch.qos.logback.core.util.FileSize;
import org.slf4j.LoggerFactory;

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

    private LogSetup() {
    }

    /**
     * Replaces the log configuration.
     *
     * @param file     the log file, or null for console only
     * @param console  also log to stderr
     * @return problems setting it up (e.g. the file cannot be opened); empty if none. Logback would
     *         otherwise keep them to itself and the agent would run with no log at all.
     */
    public static java.util.List<String> apply(Path file, String level, long maxBytes, int maxFiles, boolean console) {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        ctx.reset();
        ctx.getStatusManager().clear();
        Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.toLevel(level, Level.INFO));
        if (file != null) {
            RollingFileAppender<ILoggingEvent> appender = new RollingFileAppender<>();
            appender.setContext(ctx);
            appender.setName("file");
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
        java.util.List<String> problems = new java.util.ArrayList<>();
        for (ch.qos.logback.core.status.Status st : ctx.getStatusManager().getCopyOfStatusList()) {
            if (st.getLevel() == ch.qos.logback.core.status.Status.ERROR) {
                problems.add(st.getMessage() + (st.getThrowable() != null ? ": " + st.getThrowable().getMessage() : ""));
            }
        }
        return problems;
    }

    static PatternLayoutEncoder encoder(LoggerContext ctx) {
        PatternLayoutEncoder enc = new PatternLayoutEncoder();
        enc.setContext(ctx);
        enc.setPattern(PATTERN);
        enc.start();
        return enc;
    }

    /** Quartz and Groovy narrate their start-up at INFO; operators need only their warnings. */
    static void quietLibraries(LoggerContext ctx) {
        ctx.getLogger("org.quartz").setLevel(Level.WARN);
        ctx.getLogger("org.codehaus.groovy").setLevel(Level.WARN);
        ctx.getLogger("org.apache.groovy").setLevel(Level.WARN);
    }
}
