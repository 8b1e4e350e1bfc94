package io.aegisquartz.api;

/** Builds one sample; see {@link SampleContext#sample(String)}. Not thread-safe. */
public interface SampleBuilder {

    /** Adds a numeric value. NaN and infinities are rejected when the sample is emitted. */
    SampleBuilder value(String name, double value);

    /** Adds a numeric value with its unit ({@code s}, {@code B}, {@code %}, {@code B/s} ...). */
    SampleBuilder value(String name, double value, String unit);

    /** Adds a string tag. */
    SampleBuilder tag(String name, String value);

    /** Sets the status (default {@link Status#OK}). */
    SampleBuilder status(Status status);

    /** Sets a short human-readable message. */
    SampleBuilder message(String message);

    /** Records the sample. Invalid names or values make the run report an {@code error} sample instead. */
    void emit();
}
