package io.aegisquartz.config;

/**
 * Which cron file a job came from. Each file is independent: a broken user or drop-in file never
 * affects the jobs of another file.
 */
public enum JobSource {
    DEFAULT("aegis_quartz.conf.default"),
    USER("aegis_quartz.conf.user"),
    /** One of the drop-in files {@code aegis_quartz.conf.d/*.conf}, read after the user file, sorted by name. */
    DROPIN("aegis_quartz.conf.d");

    private final String fileName;

    JobSource(String fileName) {
        this.fileName = fileName;
    }

    /** The cron file's name inside the config directory; for {@link #DROPIN}, the directory's. */
    public String fileName() {
        return fileName;
    }

    /**
     * Whether a file in the drop-in directory is read: names ending in {@code .conf}, not starting with
     * a dot. So editors' backups ({@code x.conf~}, {@code .x.conf.swp}) and the package manager's
     * {@code x.conf.rpmnew} and {@code .rpmsave} are left alone.
     */
    public static boolean isDropInName(String name) {
        return name.endsWith(".conf") && !name.startsWith(".") && name.length() > ".conf".length();
    }
}
