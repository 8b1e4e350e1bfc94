# Shared by the Java benchmarks in bench/ (sourced, not run): builds the bench jar if it
# is missing or older than any source it is built from, then runs MAIN_CLASS with the arguments.
set -eu
bench=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$bench")
jar="$bench/target/aegis-quartz-bench.jar"
if [ ! -f "$jar" ] || [ -n "$(find "$root/pom.xml" "$bench/pom.xml" "$bench/src" "$root/daemon/api/src/main" \
        "$root/daemon/api/pom.xml" "$root/daemon/agent/src/main" "$root/daemon/agent/pom.xml" -newer "$jar" 2>/dev/null | head -n 1)" ]; then
    echo "building the benchmarks (mvn -B -q -Dstyle.color=never -DskipTests -pl bench -am package) ..." >&2
    (cd "$root" && mvn -B -q -Dstyle.color=never -DskipTests -pl bench -am package) >&2
fi
# --baseline-ref REF (spool-append, drain-backlog): the agent jar of git revision REF, built once into
# bench/target/baseline-COMMIT from 'git archive' (nothing in the checkout changes), is passed on as
# --baseline JAR, so that the benchmark runs both versions in one run.
baseline_ref=
n=$#
while [ "$n" -gt 0 ]; do
    a=$1
    shift
    n=$((n - 1))
    if [ "$a" = --baseline-ref ] && [ "$n" -gt 0 ]; then
        baseline_ref=$1
        shift
        n=$((n - 1))
        continue
    fi
    set -- "$@" "$a"
done
if [ -n "$baseline_ref" ]; then
    commit=$(git -C "$root" rev-parse --verify "$baseline_ref^{commit}")
    base="$bench/target/baseline-$commit"
    if [ ! -f "$base/daemon/agent/target/aegis-quartz.jar" ]; then
        echo "building the baseline $baseline_ref ($commit) in $base ..." >&2
        rm -rf "$base"
        mkdir -p "$base"
        git -C "$root" archive "$commit" | tar -x -C "$base"
        (cd "$base" && mvn -B -q -Dstyle.color=never -DskipTests -pl daemon/agent -am package) >&2
    fi
    set -- "$@" --baseline "$base/daemon/agent/target/aegis-quartz.jar"
fi
java=java
if [ -n "${JAVA_HOME:-}" ]; then
    java="$JAVA_HOME/bin/java"
fi
# The agent's own JVM options (daemon/bin/aegis-quartz): the spool and the uploader run in that JVM,
# so they are measured with its C1-only JIT and serial GC. The heap is set per benchmark.
# BENCH_JAVA_OPTS is appended, so any of these can be overridden.
jvm_opts="-XX:+UseSerialGC -Xms8m -XX:MaxMetaspaceSize=128m -XX:TieredStopAtLevel=1 -XX:-UsePerfData"
cd "$root"
# shellcheck disable=SC2086
exec "$java" $jvm_opts $HEAP ${BENCH_JAVA_OPTS:-} -cp "$jar:$bench/target/lib/*" "$MAIN_CLASS" "$@"
