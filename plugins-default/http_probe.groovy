// http_probe.groovy: HTTP(S) checks with the time of each phase, the status code, a body pattern and
// the TLS certificate's days left. The request is made by hand over a socket (java.net.http hides the
// phases): one GET per URL, HTTP/1.1, Connection: close, a new TLS session every time.
//
// Try it:    aegis-quartz run-plugin default/http_probe.groovy --expect 200 https://example.org/
// Schedule:  [0 * * * * ?] default/http_probe.groovy --expect 200 --match 'Example Domain' https://example.org/
//
// Arguments: [OPTION ...] URL ...   and/or   [OPTION ...] --file PATH
//   URL             http:// or https://, probed one after the other. user:password@ in the URL is sent
//                   as Basic authentication and never shown in the url tag.
//   --file PATH     more URLs from PATH (absolute; read on every run), one per line: URL [OPTION ...].
//                   Blank lines and '#' comments are skipped; quote as on a cron line ('a b', "a \" b").
//                   Options on a line override those on the cron line for that URL only.
//   --expect CODES  expected status codes, comma separated: 200, 2xx, 200,301,4xx (default 2xx,3xx).
//                   Redirects are not followed: a 3xx shows its Location in the message; probe the
//                   target URL itself, or give --expect 200 to count a redirect as a failure.
//   --match REGEX   a Java regex that must be found in the body; only the first 1 MiB is searched
//                   (the rest is still read and counted)
//   --max-ms N      critical if total_ms is above N
//   --timeout T     limit per URL, in s or with a unit: 10, 2.5, 500ms, 10s (default 10s). Never beyond
//                   the job's own time limit: URLs left when that is near get an unknown sample.
//   --cert-days N   critical if the certificate expires within N days (default 14; 0: only once expired)
//   --ca-file PEM   also trust the CA certificate(s) in this PEM file (absolute path); the JDK's
//                   default trust store is always trusted
//   --insecure      FOR TESTING ONLY: skip certificate chain and host name verification. The expiry
//                   date is still checked. Never use it to silence a real certificate problem.
//
// Emits one sample per URL (values a failed probe did not reach are absent):
//   http  dns_ms          name lookup (ms). The JVM caches answers for 30 s, so a host looked up again
//                         within that time shows about 0.
//         connect_ms      TCP connect (ms)
//         tls_ms          TLS handshake (ms), https only
//         first_byte_ms   from sending the request to the first byte of the response (ms)
//         total_ms        the whole probe, lookup to the last byte of the body, or to the failure (ms).
//                         dns_ms + connect_ms + tls_ms + first_byte_ms <= total_ms; the rest is the
//                         body's download.
//         size_bytes      body bytes (B), after removing chunked framing; no compression is asked for
//         code            HTTP status code
//         cert_expiry_days  days until the leaf certificate's notAfter (d), fractional, negative once
//                         expired; https only
//         tags: url (without user:password@, the fragment, and with secret-looking query values as ***)
//         status ok, or critical with every reason found: down (DNS failure, refused, timed out,
//         closed), unexpected code, body pattern missing, slower than --max-ms, certificate expired,
//         expiring within --cert-days, or not valid (untrusted, wrong host name); unknown for URLs the
//         job's time limit left no time for.

import groovy.transform.CompileStatic
import groovy.transform.Field

import javax.net.ssl.SNIHostName
import javax.net.ssl.SNIServerName
import javax.net.ssl.SSLContext
import javax.net.ssl.SSLException
import javax.net.ssl.SSLParameters
import javax.net.ssl.SSLSocket
import javax.net.ssl.TrustManager
import javax.net.ssl.TrustManagerFactory
import javax.net.ssl.X509ExtendedTrustManager
import javax.net.ssl.X509TrustManager
import java.nio.charset.Charset
import java.nio.charset.StandardCharsets
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.security.KeyStore
import java.security.cert.CertPathBuilderException
import java.security.cert.CertPathValidatorException
import java.security.cert.CertificateException
import java.security.cert.CertificateExpiredException
import java.security.cert.CertificateFactory
import java.security.cert.CertificateNotYetValidException
import java.security.cert.X509Certificate
import java.time.temporal.ChronoUnit
import java.util.concurrent.atomic.AtomicReference
import java.util.concurrent.locks.LockSupport
import java.util.regex.Matcher
import java.util.regex.Pattern
import java.util.regex.PatternSyntaxException

@Field static final String USAGE = 'usage: http_probe.groovy [--expect CODES] [--match REGEX] [--max-ms N] [--timeout T] ' +
        '[--cert-days N] [--ca-file PEM] [--insecure] URL ... | --file PATH'

// ---------------------------------------------------------------- arguments

// Kept of the job's time for reporting after the last probe: a tenth of it, from 200 ms to 1 s.
long marginMs = Math.max(200L, Math.min(1000L, timeLeft.toMillis().intdiv(10) as long))

Map<String, Object> global = [expect: 'expected 2xx,3xx', expectCodes: parseExpect('2xx,3xx', '--expect'), match: null,
                              maxMs: null, timeoutMs: 10_000L, certDays: 14.0d, caFile: null, insecure: false]
List<String> cronUrls = []
String file = null
for (int i = 0; i < args.size(); i++) {
    String a = args[i]
    if (a == '--file') {
        if (i + 1 >= args.size()) {
            throw new IllegalArgumentException("bad argument '--file': needs a path; $USAGE")
        }
        file = args[++i]
        if (!Paths.get(file).isAbsolute()) {
            throw new IllegalArgumentException("bad argument '--file $file': give an absolute path; $USAGE")
        }
    } else if (a.startsWith('--')) {
        i = option(args, i, global, '')
    } else {
        cronUrls << a
    }
}

// Each probe: its URL and its options (the cron line's, with a file line's own on top).
List<Map<String, Object>> probes = []
for (String u : cronUrls) {
    probes << [url: checkUrl(u, ''), opts: global]
}
if (file != null) {
    probes.addAll(readUrlFile(file, global))
}
if (probes.isEmpty()) {
    throw new IllegalArgumentException("no URL given; $USAGE")
}

/**
 * Parses the option at {@code words[i]} into {@code opts}; returns the index of its last word.
 * {@code where} is '' on the cron line, 'FILE:LINE: ' in the URL file.
 */
int option(List<String> words, int i, Map<String, Object> opts, String where) {
    String a = words[i]
    if (a == '--insecure') {
        opts.insecure = true
        return i
    }
    if (!(a in ['--expect', '--match', '--max-ms', '--timeout', '--cert-days', '--ca-file'])) {
        throw new IllegalArgumentException("${where}bad argument '$a'; $USAGE")
    }
    if (i + 1 >= words.size()) {
        throw new IllegalArgumentException("${where}bad argument '$a': needs a value; $USAGE")
    }
    String v = words[i + 1]
    String bad = "${where}bad argument '$a $v'"
    switch (a) {
        case '--expect':
            opts.expectCodes = parseExpect(v, bad)
            opts.expect = "expected $v"
            break
        case '--match':
            try {
                opts.match = Pattern.compile(v)
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException("$bad: not a Java regex: ${e.description} near index ${e.index}")
            }
            break
        case '--max-ms':
            if (!v.isDouble() || (v as double) <= 0) {
                throw new IllegalArgumentException("$bad: give a number of milliseconds above 0, e.g. --max-ms 2000")
            }
            opts.maxMs = v as double
            break
        case '--timeout':
            def m = v =~ /^([0-9]+(?:\.[0-9]+)?)(ms|s)?$/
            double t = m.matches() ? (m.group(1) as double) * (m.group(2) == 'ms' ? 1 : 1000) : 0
            if (t < 1 || t > 3_600_000) {
                throw new IllegalArgumentException("$bad: give seconds or a unit, from 1ms to 3600s: 10, 2.5, 500ms, 10s")
            }
            opts.timeoutMs = Math.round(t)
            break
        case '--cert-days':
            if (!v.isDouble() || (v as double) < 0) {
                throw new IllegalArgumentException("$bad: give a number of days, 0 or more, e.g. --cert-days 14")
            }
            opts.certDays = v as double
            break
        case '--ca-file':
            if (!Paths.get(v).isAbsolute()) {
                throw new IllegalArgumentException("$bad: give an absolute path")
            }
            opts.caFile = v
            caCertificates(v, bad)   // fail on the bad file now, not on the first https URL
            break
    }
    return i + 1
}

/** 200, 2xx, 200,301,4xx: a set of allowed codes and classes ("2xx" kept as 2). */
static Set<Integer> parseExpect(String v, String bad) {
    Set<Integer> out = new HashSet<>()
    for (String p : v.split(',', -1)) {
        if (p ==~ /[1-5][0-9][0-9]/) {
            out << (p as int)
        } else if (p ==~ /[1-5]xx/) {
            out << (p.substring(0, 1) as int)
        } else {
            throw new IllegalArgumentException("$bad: give codes or classes separated by commas, e.g. 200 or 2xx or 200,301,4xx")
        }
    }
    return out
}

static boolean expected(Set<Integer> codes, int code) {
    return codes.contains(code) || codes.contains(code.intdiv(100) as int)
}

static URI checkUrl(String u, String where) {
    URI uri
    try {
        uri = new URI(u)
    } catch (URISyntaxException e) {
        throw new IllegalArgumentException("${where}bad URL '${maskUrl(u)}': ${e.reason} at index ${e.index}")
    }
    if (!(uri.scheme?.toLowerCase() in ['http', 'https']) || !uri.host) {
        throw new IllegalArgumentException("${where}bad URL '${maskUrl(u)}': give http://HOST[:PORT]/PATH or https://...; $USAGE")
    }
    return uri
}

/** For error messages before the URL parsed: at least the password goes. */
static String maskUrl(String u) {
    return u.replaceAll(/(?i)^([a-z][a-z0-9+.-]*:\/\/)[^\/@]*@/, '$1')
}

List<Map<String, Object>> readUrlFile(String path, Map<String, Object> global) {
    List<String> lines
    try {
        lines = Files.readAllLines(Paths.get(path), StandardCharsets.UTF_8)
    } catch (IOException e) {
        throw new IllegalArgumentException("bad argument '--file $path': cannot read it (${e.class.simpleName}: ${e.message})")
    }
    List<Map<String, Object>> out = []
    lines.eachWithIndex { String line, int n ->
        String where = "$path:${n + 1}: "
        List<String> words = words(line, where)
        if (words.isEmpty()) {
            return
        }
        Map<String, Object> opts = new LinkedHashMap<>(global)
        URI url = null
        for (int i = 0; i < words.size(); i++) {
            String w = words[i]
            if (w.startsWith('--')) {
                i = option(words, i, opts, where)
            } else if (url == null) {
                url = checkUrl(w, where)
            } else {
                throw new IllegalArgumentException("${where}'$w' is a second URL on the line; give one URL per line")
            }
        }
        if (url == null) {
            throw new IllegalArgumentException("${where}no URL on the line; write URL [OPTION ...]")
        }
        out << [url: url, opts: opts]
    }
    return out
}

/** Splits a line as the cron file parser does: blanks, '#' comments, 'single' and "double \" quotes". */
@CompileStatic
static List<String> words(String line, String where) {
    List<String> out = []
    int i = 0
    while (i < line.length()) {
        char c = line.charAt(i)
        if (Character.isWhitespace(c)) {
            i++
            continue
        }
        if (c == ((char) '#')) {
            break
        }
        StringBuilder sb = new StringBuilder()
        while (i < line.length() && !Character.isWhitespace(line.charAt(i))) {
            char q = line.charAt(i)
            if (q == ((char) '\'') || q == ((char) '"')) {
                int open = i++
                boolean closed = false
                while (i < line.length()) {
                    char d = line.charAt(i)
                    if (d == q) {
                        closed = true
                        i++
                        break
                    }
                    if (q == ((char) '"') && d == ((char) '\\') && i + 1 < line.length()
                            && (line.charAt(i + 1) == ((char) '"') || line.charAt(i + 1) == ((char) '\\'))) {
                        sb.append(line.charAt(i + 1))
                        i += 2
                        continue
                    }
                    sb.append(d)
                    i++
                }
                if (!closed) {
                    throw new IllegalArgumentException(where + 'unclosed quote at column ' + (open + 1) + '; close it')
                }
            } else {
                sb.append(q)
                i++
            }
        }
        out.add(sb.toString())
    }
    return out
}

/** The certificates in a PEM file; a usage error if there are none. */
static List<X509Certificate> caCertificates(String path, String bad) {
    try {
        Collection<?> certs = Files.newInputStream(Paths.get(path)).withCloseable {
            CertificateFactory.getInstance('X.509').generateCertificates(it)
        }
        if (certs.isEmpty()) {
            throw new IllegalArgumentException("$bad: no certificate in the file; give a PEM file with -----BEGIN CERTIFICATE-----")
        }
        return certs.collect { it as X509Certificate }
    } catch (IOException | CertificateException e) {
        throw new IllegalArgumentException("$bad: cannot read a PEM certificate from it (${e.class.simpleName}: ${e.message})")
    }
}

// ---------------------------------------------------------------- trust

/**
 * Trust managers for a --ca-file (null: the JDK's default), kept in the job's state while the file is
 * unchanged: building them from the default trust store's anchors is the costly part of a probe.
 */
TrustManager[] trustManagers(String caFile) {
    String key = 'default'
    if (caFile != null) {
        Path p = Paths.get(caFile)
        key = "$caFile|${Files.getLastModifiedTime(p).toMillis()}|${Files.size(p)}"
    }
    Map<String, TrustManager[]> cache = (state.trust ?: (state.trust = [:])) as Map<String, TrustManager[]>
    TrustManager[] tms = cache[key]
    if (tms == null) {
        TrustManagerFactory jdk = TrustManagerFactory.getInstance(TrustManagerFactory.defaultAlgorithm)
        jdk.init((KeyStore) null)
        tms = jdk.trustManagers
        if (caFile != null) {
            // The JDK's anchors plus the file's: a PKIX trust manager takes one KeyStore of anchors.
            KeyStore ks = KeyStore.getInstance(KeyStore.defaultType)
            ks.load(null, null)
            X509TrustManager x = tms.find { it instanceof X509TrustManager } as X509TrustManager
            x.acceptedIssuers.eachWithIndex { X509Certificate c, int i -> ks.setCertificateEntry("jdk-$i", c) }
            caCertificates(caFile, "--ca-file $caFile").eachWithIndex { X509Certificate c, int i -> ks.setCertificateEntry("ca-$i", c) }
            TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.defaultAlgorithm)
            f.init(ks)
            tms = f.trustManagers
        }
        if (caFile != null) {
            cache.keySet().removeIf { it.startsWith("$caFile|") }
        }
        cache[key] = tms
    }
    return tms
}

/** Accepts any certificate: for --insecure, and to read the dates of a certificate that failed verification. */
@CompileStatic
final class TrustAll extends X509ExtendedTrustManager {
    void checkClientTrusted(X509Certificate[] chain, String authType) {}
    void checkServerTrusted(X509Certificate[] chain, String authType) {}
    void checkClientTrusted(X509Certificate[] chain, String authType, Socket s) {}
    void checkServerTrusted(X509Certificate[] chain, String authType, Socket s) {}
    void checkClientTrusted(X509Certificate[] chain, String authType, javax.net.ssl.SSLEngine e) {}
    void checkServerTrusted(X509Certificate[] chain, String authType, javax.net.ssl.SSLEngine e) {}
    X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0] }
}

// ---------------------------------------------------------------- one probe

/** What one probe saw. Times in ms; null where the probe did not get that far. */
@CompileStatic
final class Seen {
    Double dnsMs, connectMs, tlsMs, firstByteMs, totalMs
    Long size
    Integer code
    String location, contentType
    X509Certificate cert
    byte[] head = new byte[0]
    int headLength
    /** Why the probe failed before a complete response, or null. */
    String failure
    /** The handshake failed over the certificate (expired, untrusted, wrong name). */
    boolean certFailure
    /** The failure was the probe's time running out. */
    boolean timedOut
}

/** The probe ran out of time; the message says doing what ("connecting", "reading the body"). */
@CompileStatic
final class TimedOut extends IOException {
    TimedOut(String doing) { super(doing) }
}

/** A failure whose message is the whole reason, as the sample shows it. */
@CompileStatic
final class Failure extends IOException {
    Failure(CharSequence message) { super(message.toString()) }
}

/** Reads the response through one buffer, each read bounded by the probe's deadline. */
@CompileStatic
final class ResponseReader {
    final Socket socket
    final InputStream input
    final long deadline
    /** What --match searches; the rest of the body is counted, not kept. */
    static final int KEEP = 1 << 20
    final byte[] buf = new byte[16384]
    int pos, limit
    long firstByteNanos
    /** What the last read was for. */
    String doing

    ResponseReader(Socket socket, long deadline) {
        this.socket = socket
        this.input = socket.getInputStream()
        this.deadline = deadline
    }

    /** Refills the buffer; false at the end of the stream. */
    boolean fill(String doing) {
        this.doing = doing
        long left = deadline - System.nanoTime()
        if (left <= 0) {
            throw new TimedOut(doing)
        }
        socket.setSoTimeout((int) Math.max(1L, Math.min((long) Integer.MAX_VALUE, Math.floorDiv(left, 1_000_000L))))
        int n
        try {
            n = input.read(buf, 0, buf.length)
        } catch (SocketTimeoutException e) {
            throw new TimedOut(doing)
        }
        if (n < 0) {
            return false
        }
        if (firstByteNanos == 0) {
            firstByteNanos = System.nanoTime()
        }
        pos = 0
        limit = n
        return true
    }

    /** A status, header or chunk-size line without its CRLF; null at the end of the stream. */
    String line(String doing, int max) {
        StringBuilder sb = new StringBuilder()
        while (true) {
            if (pos >= limit && !fill(doing)) {
                return sb.length() == 0 ? null : sb.toString()
            }
            int b = buf[pos++] & 0xff
            if (b == 10) {
                int n = sb.length()
                return n > 0 && sb.charAt(n - 1) == ((char) '\r') ? sb.substring(0, n - 1) : sb.toString()
            }
            if (sb.length() >= max) {
                throw new Failure("bad response: a line longer than $max bytes $doing")
            }
            sb.append((char) b)
        }
    }

    /**
     * Reads {@code n} body bytes (to the end of the stream if n < 0) and counts them in {@code seen};
     * keeps the first MiB if {@code keep}. Returns how many were read.
     */
    long body(long n, Seen seen, boolean keep) {
        long got = 0
        while (n < 0 || got < n) {
            if (pos >= limit && !fill('reading the body')) {
                break
            }
            int take = (int) (n < 0 ? limit - pos : Math.min((long) (limit - pos), n - got))
            if (keep && seen.headLength < KEEP) {
                int k = Math.min(take, KEEP - seen.headLength)
                if (seen.headLength + k > seen.head.length) {
                    seen.head = Arrays.copyOf(seen.head, Math.min(KEEP, Math.max(seen.headLength + k, seen.head.length * 2)))
                }
                System.arraycopy(buf, pos, seen.head, seen.headLength, k)
                seen.headLength += k
            }
            pos += take
            got += take
        }
        seen.size = (seen.size ?: 0L) + got
        return got
    }
}

/**
 * Closes the probe's socket at its deadline. Socket reads and the TLS handshake cannot be interrupted,
 * and a socket timeout bounds each read rather than the whole: without this, a server that trickles
 * bytes could hold the probe past the job's limit and get the plugin's thread abandoned.
 */
@CompileStatic
final class Watchdog implements Runnable {
    final long deadline
    final Thread thread
    volatile Socket socket
    volatile boolean fired, done

    Watchdog(long deadline) {
        this.deadline = deadline
        this.thread = new Thread(this, 'http_probe watchdog')
        thread.setDaemon(true)
        thread.start()
    }

    void run() {
        while (!done) {
            long left = deadline - System.nanoTime()
            if (left <= 0) {
                fired = true
                try {
                    socket?.close()
                } catch (IOException ignored) {
                    // closed already
                }
                return
            }
            LockSupport.parkNanos(left)
        }
    }

    void stop() {
        done = true
        LockSupport.unpark(thread)
    }
}

@CompileStatic
final class Probe {
    final URI uri
    final String host
    final int port
    final boolean https
    final long start = System.nanoTime()
    final long deadline
    final Seen seen = new Seen()
    Watchdog watchdog
    /** What the probe is doing, for the message if time runs out. */
    String doing = 'in the DNS lookup'

    Probe(URI uri, long timeoutMs) {
        this.uri = uri
        String h = uri.getHost()
        this.host = h.startsWith('[') ? h.substring(1, h.length() - 1) : h
        this.https = uri.getScheme().equalsIgnoreCase('https')
        this.port = uri.getPort() > 0 ? uri.getPort() : (https ? 443 : 80)
        this.deadline = start + timeoutMs * 1_000_000L
    }

    static double ms(long nanos) {
        return Math.round(nanos / 1000.0d) / 1000.0d
    }

    int leftMs(String doing) {
        long left = deadline - System.nanoTime()
        if (left <= 0) {
            throw new TimedOut(doing)
        }
        return (int) Math.max(1L, Math.min((long) Integer.MAX_VALUE, Math.floorDiv(left, 1_000_000L)))
    }

    boolean literal() {
        return host.contains(':') || host ==~ /[0-9.]+/
    }

    /**
     * The lookup runs on its own thread: getAllByName takes no timeout, and a resolver that does not
     * answer would hold the probe far beyond --timeout. A thread left waiting ends with the resolver's
     * own timeout and holds nothing.
     */
    InetAddress[] lookup() {
        if (literal()) {
            return InetAddress.getAllByName(host)
        }
        AtomicReference<Object> answer = new AtomicReference<>()
        String name = host
        Thread t = new Thread({ ->
            try {
                answer.set(InetAddress.getAllByName(name))
            } catch (Throwable e) {
                answer.set(e)
            }
        } as Runnable, 'http_probe lookup ' + name)
        t.setDaemon(true)
        t.start()
        t.join(leftMs('in the DNS lookup'))
        Object a = answer.get()
        if (a == null) {
            throw new TimedOut('in the DNS lookup')
        }
        if (a instanceof UnknownHostException) {
            throw new Failure("down: cannot resolve $host")
        }
        if (a instanceof Throwable) {
            throw new Failure("down: DNS lookup of $host failed: $a")
        }
        return (InetAddress[]) a
    }

    Socket connect(InetAddress[] addresses) {
        Failure last = null
        for (InetAddress a : addresses) {
            Socket s = new Socket()
            watchdog.socket = s
            try {
                s.setTcpNoDelay(true)
                s.connect(new InetSocketAddress(a, port), leftMs('connecting'))
                return s
            } catch (TimedOut | SocketTimeoutException e) {
                s.close()
                throw new TimedOut('connecting')
            } catch (ConnectException e) {
                // Another address of the name may well answer: try it (IPv6 and IPv4, several servers).
                s.close()
                last = new Failure("down: connection refused by ${a.getHostAddress()} port $port")
            } catch (IOException e) {
                s.close()
                last = new Failure("down: cannot connect to ${a.getHostAddress()} port $port: ${e.getMessage()}")
            }
        }
        throw last
    }

    SSLSocket handshake(Socket plain, SSLContext ctx, boolean verify) {
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(plain, host, port, true)
        SSLParameters p = s.getSSLParameters()
        if (!literal()) {
            try {
                List<SNIServerName> names = [(SNIServerName) new SNIHostName(host)]
                p.setServerNames(names)
            } catch (IllegalArgumentException ignored) {
                // not a name SNI can carry (an underscore): the server gets no name, as with an address
            }
        }
        if (verify) {
            // The trust manager then also checks the host name against the certificate, as browsers do.
            p.setEndpointIdentificationAlgorithm('HTTPS')
        }
        s.setSSLParameters(p)
        try {
            s.setSoTimeout(leftMs('in the TLS handshake'))
            s.startHandshake()
        } catch (TimedOut | SocketTimeoutException e) {
            s.close()
            throw new TimedOut('in the TLS handshake')
        } catch (IOException e) {
            s.close()
            throw e
        }
        return s
    }

    /** A new context per probe: no session resumption, so every probe pays for and checks a full handshake. */
    static SSLContext context(TrustManager[] tms) {
        SSLContext c = SSLContext.getInstance('TLS')
        c.init(null, tms, null)
        return c
    }

    String request() {
        String path = uri.getRawPath() ?: '/'
        if (uri.getRawQuery() != null) {
            path += '?' + uri.getRawQuery()
        }
        String hostHeader = (host.contains(':') ? '[' + host + ']' : host) + (uri.getPort() > 0 ? ':' + port : '')
        StringBuilder r = new StringBuilder()
        r.append('GET ').append(path).append(' HTTP/1.1\r\n')
        r.append('Host: ').append(hostHeader).append('\r\n')
        r.append('User-Agent: aegis-quartz\r\n')
        r.append('Accept: */*\r\n')
        if (uri.getRawUserInfo() != null) {
            String user = URLDecoder.decode(uri.getRawUserInfo(), StandardCharsets.UTF_8)
            r.append('Authorization: Basic ').append(Base64.getEncoder().encodeToString(user.getBytes(StandardCharsets.UTF_8))).append('\r\n')
        }
        r.append('Connection: close\r\n\r\n')
        return r.toString()
    }

    /** Runs the probe; a failure ends up in {@code seen.failure}, never as an exception. */
    Seen run(TrustManager[] tms, boolean insecure, boolean keepBody) {
        watchdog = new Watchdog(deadline)
        try {
            probe(tms, insecure, keepBody)
            if (seen.certFailure) {
                seen.cert = peekCertificate()
            }
        } finally {
            watchdog.stop()
        }
        return seen
    }

    private void probe(TrustManager[] tms, boolean insecure, boolean keepBody) {
        Socket socket = null
        ResponseReader rd = null
        long sent = 0
        try {
            long t = System.nanoTime()
            InetAddress[] addresses = lookup()
            long t2 = System.nanoTime()
            seen.dnsMs = ms(t2 - t)
            doing = 'connecting'
            socket = connect(addresses)
            long t3 = System.nanoTime()
            seen.connectMs = ms(t3 - t2)
            if (https) {
                doing = 'in the TLS handshake'
                try {
                    socket = handshake(socket, context(insecure ? [new TrustAll()] as TrustManager[] : tms), !insecure)
                } catch (SSLException e) {
                    String why = certProblem(e)
                    seen.certFailure = why != null
                    throw new Failure(why ?: "TLS handshake failed: ${e.getMessage()}")
                }
                seen.tlsMs = ms(System.nanoTime() - t3)
                seen.cert = (X509Certificate) ((SSLSocket) socket).getSession().getPeerCertificates()[0]
            }
            doing = 'waiting for the response'
            sent = System.nanoTime()
            OutputStream out = socket.getOutputStream()
            out.write(request().getBytes(StandardCharsets.ISO_8859_1))
            out.flush()
            rd = new ResponseReader(socket, deadline)
            response(rd, keepBody)
        } catch (TimedOut e) {
            timedOut(e.getMessage())
        } catch (IOException e) {
            if (watchdog.fired) {
                // The watchdog closed the socket under a blocked read or handshake.
                timedOut(rd != null && rd.doing != null ? rd.doing : doing)
                return
            }
            if (e instanceof Failure) {
                seen.failure = e.getMessage()
                return
            }
            String m = e.getMessage() ?: e.getClass().getSimpleName()
            seen.failure = (seen.code == null ? 'down: ' : 'bad response: ') + m.substring(0, 1).toLowerCase() + m.substring(1)
        } finally {
            seen.totalMs = ms(System.nanoTime() - start)
            if (rd != null && rd.firstByteNanos != 0) {
                seen.firstByteMs = ms(rd.firstByteNanos - sent)
            }
            socket?.close()
        }
    }

    private void timedOut(String what) {
        seen.timedOut = true
        seen.certFailure = false
        seen.failure = (seen.connectMs == null ? 'down: ' : '') + 'timed out ' + what
    }

    /** A short reason if the handshake failed over the server's certificate, else null. */
    String certProblem(Throwable e) {
        // The most specific cause wins: the JDK wraps them all in a CertificateException (ValidatorException).
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof CertificateExpiredException) {
                return 'certificate expired'
            }
            if (c instanceof CertificateNotYetValidException) {
                return 'certificate not valid yet'
            }
        }
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof CertPathBuilderException || c instanceof CertPathValidatorException) {
                return 'certificate not trusted: ' + shortReason(c)
            }
        }
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof CertificateException) {
                String m = c.getMessage() ?: ''
                if (m.contains('No subject alternative') || m.contains('No name matching')) {
                    return "certificate does not match the host name $host"
                }
                return 'certificate not valid: ' + shortReason(c)
            }
        }
        return null
    }

    /** The innermost part of a JDK message ("PKIX path building failed: ...: unable to find ..."). */
    static String shortReason(Throwable c) {
        String m = c.getMessage() ?: c.getClass().getSimpleName()
        int colon = m.lastIndexOf(': ')
        return colon > 0 && colon < m.length() - 2 ? m.substring(colon + 2) : m
    }

    /**
     * The certificate of a server whose certificate failed verification, only to report its dates: a
     * second handshake that accepts anything, after which nothing is sent.
     */
    X509Certificate peekCertificate() {
        Socket s = null
        try {
            s = connect(lookup())
            s = handshake(s, context([new TrustAll()] as TrustManager[]), false)
            return (X509Certificate) ((SSLSocket) s).getSession().getPeerCertificates()[0]
        } catch (IOException e) {
            return null
        } finally {
            s?.close()
        }
    }

    void response(ResponseReader rd, boolean keepBody) {
        int code
        Map<String, String> headers
        while (true) {
            String status = rd.line('waiting for the response', 8192)
            if (status == null) {
                throw new Failure('down: connection closed before a response')
            }
            Matcher m = status =~ /^HTTP\/\d(?:\.\d)? (\d{3})(?: .*)?$/
            if (!m.matches()) {
                throw new Failure("bad response: status line '${status.take(80)}'")
            }
            code = Integer.parseInt(m.group(1))
            headers = new HashMap<String, String>()
            int total = 0
            while (true) {
                String h = rd.line('reading the headers', 65536)
                if (h == null) {
                    throw new Failure('bad response: connection closed in the headers')
                }
                if (h.isEmpty()) {
                    break
                }
                total += h.length()
                if (total > 262144) {
                    throw new Failure('bad response: headers longer than 256 KiB')
                }
                int colon = h.indexOf(':')
                if (colon > 0) {
                    String k = h.substring(0, colon).trim().toLowerCase()
                    String v = h.substring(colon + 1).trim()
                    headers.put(k, headers.containsKey(k) ? headers.get(k) + ',' + v : v)
                }
            }
            // 1xx other than 101 are interim (103 Early Hints): the real response follows.
            if (code >= 200 || code == 101) {
                break
            }
        }
        seen.code = code
        seen.location = headers.get('location')
        seen.contentType = headers.get('content-type')
        seen.size = 0L
        if (code == 204 || code == 304 || code == 101) {
            return
        }
        String te = headers.get('transfer-encoding')
        if (te != null && te.toLowerCase().trim().endsWith('chunked')) {
            while (true) {
                String sizeLine = rd.line('reading the body', 4096)
                if (sizeLine == null) {
                    throw new Failure("bad response: body cut short after ${seen.size} bytes (chunked)")
                }
                String hex = sizeLine.split(';', 2)[0].trim()
                if (!(hex ==~ /[0-9A-Fa-f]{1,15}/)) {
                    throw new Failure("bad response: chunk size '${hex.take(20)}'")
                }
                long n = Long.parseLong(hex, 16)
                if (n == 0) {
                    while (rd.line('reading the trailers', 65536)) {
                        // trailer fields: not used
                    }
                    return
                }
                if (rd.body(n, seen, keepBody) < n) {
                    throw new Failure("bad response: body cut short after ${seen.size} bytes (chunked)")
                }
                rd.line('reading the body', 2)
            }
        }
        String cl = headers.get('content-length')
        if (cl != null) {
            // Repeated identical values (a proxy's doing) are allowed; different ones are an error (RFC 9110 8.6).
            Set<String> lengths = new HashSet<String>()
            for (String v : cl.split(',')) {
                lengths.add(v.trim())
            }
            String only = lengths.iterator().next()
            if (lengths.size() != 1 || !(only ==~ /[0-9]{1,18}/)) {
                throw new Failure("bad response: Content-Length '${cl.take(40)}'")
            }
            long n = Long.parseLong(only)
            long got = rd.body(n, seen, keepBody)
            if (got < n) {
                throw new Failure("bad response: body cut short at $got of $n bytes")
            }
            return
        }
        rd.body(-1, seen, keepBody)
    }
}

// ---------------------------------------------------------------- the url tag

/** scheme://host[:port]/path?query without user:password@ or the fragment, secret-looking values as ***. */
static String urlTag(URI u) {
    StringBuilder sb = new StringBuilder()
    sb << u.scheme.toLowerCase() << '://' << u.host
    if (u.port > 0) {
        sb << ':' << u.port
    }
    sb << (u.rawPath ?: '/')
    if (u.rawQuery != null) {
        sb << '?' << u.rawQuery.split('&', -1).collect {
            it.replaceAll(/(?i)^([^=]*(?:pass|pwd|secret|token|key|auth|credential|sig)[^=]*=).+$/, '$1***')
        }.join('&')
    }
    String s = sb.toString()
    return s.length() > 1024 ? s.substring(0, 1021) + '...' : s
}

// ---------------------------------------------------------------- run

static String when(X509Certificate c) {
    return c.notAfter.toInstant().truncatedTo(ChronoUnit.SECONDS).toString()
}

static String days(double d) {
    return String.format(Locale.ROOT, '%.1f', Math.abs(d))
}

/** 14 rather than 14.0. */
static String num(double d) {
    return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d)
}

for (Map<String, Object> p : probes) {
    URI url = (URI) p.url
    Map<String, Object> o = (Map<String, Object>) p.opts
    def b = sample('http').tag('url', urlTag(url))
    boolean https = url.scheme.equalsIgnoreCase('https')
    TrustManager[] tms = https && !o.insecure ? trustManagers((String) o.caFile) : null
    long left = timeLeft.toMillis() - marginMs
    if (left < 1) {
        b.status(Status.UNKNOWN).message("not probed: the job's time limit was reached before this URL " +
                "(give the job a longer timeout= or fewer URLs)").emit()
        continue
    }
    long timeoutMs = o.timeoutMs as long
    boolean byJob = left < timeoutMs
    Seen s = new Probe(url, Math.min(left, timeoutMs)).run(tms, o.insecure as boolean, o.match != null)

    List<String> problems = []
    Double certDays = null
    if (s.cert != null) {
        certDays = (s.cert.notAfter.time - System.currentTimeMillis()) / 86_400_000.0d
    }
    if (s.failure != null) {
        String f = s.failure
        if (s.timedOut) {
            f += " after ${Math.round(s.totalMs)} ms (${byJob ? "the job's time limit" : "--timeout ${timeoutMs} ms"})"
        }
        if (s.certFailure && s.cert != null) {
            if (f == 'certificate expired') {
                f = "certificate expired on ${when(s.cert)}, ${days(certDays)} days ago"
            } else if (f == 'certificate not valid yet') {
                f = "certificate not valid until ${s.cert.notBefore.toInstant().truncatedTo(ChronoUnit.SECONDS)}"
            }
        }
        problems << f
    }
    if (s.code != null && !expected((Set<Integer>) o.expectCodes, s.code)) {
        problems << "unexpected code ${s.code} (${o.expect})"
    }
    if (o.match != null && s.failure == null) {
        Charset cs = StandardCharsets.UTF_8
        def m = s.contentType =~ /(?i)charset="?([A-Za-z0-9._:-]+)/
        if (m.find()) {
            try {
                cs = Charset.forName(m.group(1))
            } catch (IllegalArgumentException ignored) {
                // an unknown charset: UTF-8 it is
            }
        }
        String text = new String(s.head, 0, s.headLength, cs)
        if (!((Pattern) o.match).matcher(text).find()) {
            problems << "body does not match '${((Pattern) o.match).pattern().take(200)}'" + (s.size > ResponseReader.KEEP ? ' in its first 1 MiB' : '')
        }
    }
    if (o.maxMs != null && s.failure == null && s.totalMs > (o.maxMs as double)) {
        problems << "slow: ${Math.round(s.totalMs)} ms, more than --max-ms ${num(o.maxMs as double)}"
    }
    if (certDays != null && !s.certFailure) {
        if (certDays < 0) {
            problems << "certificate expired on ${when(s.cert)}, ${days(certDays)} days ago"
        } else if (certDays < (o.certDays as double)) {
            problems << "certificate expires on ${when(s.cert)}, in ${days(certDays)} days (--cert-days ${num(o.certDays as double)})"
        }
    }

    if (s.dnsMs != null) b.value('dns_ms', s.dnsMs, 'ms')
    if (s.connectMs != null) b.value('connect_ms', s.connectMs, 'ms')
    if (s.tlsMs != null) b.value('tls_ms', s.tlsMs, 'ms')
    if (s.firstByteMs != null) b.value('first_byte_ms', s.firstByteMs, 'ms')
    b.value('total_ms', s.totalMs, 'ms')
    if (s.failure == null) b.value('size_bytes', s.size, 'B')
    if (s.code != null) b.value('code', s.code)
    if (certDays != null) b.value('cert_expiry_days', Math.round(certDays * 1000) / 1000.0d, 'd')

    if (problems) {
        b.status(Status.CRITICAL).message(problems.join('; '))
    } else {
        String msg = "HTTP ${s.code} in ${Math.round(s.totalMs)} ms, ${s.size} B"
        if (s.location != null && s.code.intdiv(100) == 3) {
            msg += ", to ${s.location.take(200)}"
        }
        if (certDays != null) {
            msg += "; certificate valid for ${days(certDays)} more days"
        }
        b.status(Status.OK).message(msg)
    }
    b.emit()
}
