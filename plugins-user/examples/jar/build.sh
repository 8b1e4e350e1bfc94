#!/bin/sh
# build.sh: compiles the example sampler in src/ and packs hello-sampler.jar next to this script.
#
#   plugins-user/examples/jar/build.sh [API_JAR]
#
# API_JAR is the plugin API (aegis-quartz-api-VERSION.jar), needed only to compile. Without it, the
# script looks in lib/ of an installed agent, then in a source checkout's build output.
# Needs a JDK 17 or newer (javac and jar on PATH).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
home=${AEGIS_HOME:-$(cd "$here/../../.." && pwd)}
api=${1:-}
if [ -z "$api" ]; then
    for candidate in "$home"/lib/aegis-quartz-api-*.jar \
                     "$home"/daemon/agent/target/lib/aegis-quartz-api-*.jar \
                     "$home"/daemon/api/target/aegis-quartz-api-*.jar; do
        if [ -f "$candidate" ]; then
            api=$candidate
            break
        fi
    done
fi
if [ -z "$api" ] || [ ! -e "$api" ]; then
    echo "build.sh: plugin API jar not found; pass it: $0 /path/to/aegis-quartz-api-VERSION.jar" >&2
    exit 1
fi

classes=$(mktemp -d)
trap 'rm -rf "$classes"' EXIT
# --release 17: the agent needs Java 17, so the plugin must not use anything newer.
find "$here/src" -name '*.java' -exec javac --release 17 -cp "$api" -d "$classes" {} +
# The services file tells the agent which classes are samplers; it goes into the JAR as is.
jar --create --file "$here/hello-sampler.jar" -C "$classes" . -C "$here/src" META-INF
echo "built $here/hello-sampler.jar"
