package io.aegisquartz.plugin.groovy;

import groovyjarjarasm.asm.ClassReader;
import groovyjarjarasm.asm.Opcodes;
import groovyjarjarasm.asm.tree.AbstractInsnNode;
import groovyjarjarasm.asm.tree.ClassNode;
import groovyjarjarasm.asm.tree.InvokeDynamicInsnNode;
import groovyjarjarasm.asm.tree.MethodInsnNode;
import groovyjarjarasm.asm.tree.MethodNode;
import groovyjarjarasm.asm.tree.TypeInsnNode;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every host runs the default jobs, every 10 s to every minute, for as long as the agent runs. A
 * dynamic Groovy call in them costs a call-site set-up (in a JVM's first dynamic call, about 0.1 s of
 * CPU spinning method-handle classes) and then more per call than a static one until the JIT compiles
 * it, which at one run a minute takes hours (docs/BENCHMARKS.md). So their plugins are classes
 * compiled statically as a whole, and make no dynamic call at all.
 */
class DefaultJobsStaticCallsTest {

    private static final Path REPO = Path.of(System.getProperty("user.dir")).resolve("../..").normalize();
    /**
     * Groovy's bootstrap method of dynamic call sites. Static code uses the same class for array access
     * ({@code staticArrayAccess}) and this method for casts (named "cast"); neither is a dynamic call.
     */
    private static final String INDY = "org/codehaus/groovy/vmplugin/v8/IndyInterface";

    @Test
    void theDefaultJobsPluginsMakeNoDynamicCalls() throws Exception {
        assertTrue(compiledDefaultJobPlugins().size() >= 3, "the default jobs' plugins: " + compiledDefaultJobPlugins().keySet());
        assertNoneFound(DefaultJobsStaticCallsTest::dynamicSites, "dynamic calls; write the plugin as a @CompileStatic class"
                + " that extends AegisScript, as sampler.groovy does");
    }

    @Test
    void theDefaultJobsPluginsDoTheirArithmeticOnPrimitives() throws Exception {
        // Static code still calls Groovy's Number math for arithmetic on boxed numbers and on chars
        // ('7' - '0' is a DefaultGroovyMethods.minus call): instanceof chains and boxing per operation,
        // in loops over every number of /proc files, run after run.
        assertNoneFound(DefaultJobsStaticCallsTest::boxedArithmetic, "arithmetic on boxed numbers or chars; unbox first"
                + " (((Long) x).longValue()) and cast chars to int");
    }

    /** Fails, naming the plugin, the class and {@code what}, if {@code finder} finds anything in a default-job plugin's classes. */
    private static void assertNoneFound(Function<byte[], List<String>> finder, String what) throws Exception {
        for (Map.Entry<String, CompiledScripts.Entry> compiled : compiledDefaultJobPlugins().entrySet()) {
            List<String> found = new ArrayList<>();
            for (Map.Entry<String, byte[]> c : compiled.getValue().classes().entrySet()) {
                for (String f : finder.apply(c.getValue())) {
                    found.add(c.getKey() + "." + f);
                }
            }
            assertEquals(List.of(), found, compiled.getKey() + ": " + what);
        }
    }

    private static Map<String, CompiledScripts.Entry> compiled;

    /** The default jobs' plugins, compiled as the agent compiles them (once for all the tests here). */
    private static synchronized Map<String, CompiledScripts.Entry> compiledDefaultJobPlugins() throws Exception {
        if (compiled == null) {
            Map<String, CompiledScripts.Entry> out = new java.util.LinkedHashMap<>();
            for (String plugin : defaultJobPlugins()) {
                Path file = REPO.resolve("plugins-default").resolve(plugin);
                out.put(plugin, GroovyPlugin.compileToBytes(file, Files.readString(file, StandardCharsets.UTF_8)));
            }
            compiled = out;
        }
        return compiled;
    }

    /** The plugins of plugins-default/ that conf/aegis_quartz.conf.default schedules. */
    private static Set<String> defaultJobPlugins() throws Exception {
        Set<String> out = new LinkedHashSet<>();
        Matcher m = Pattern.compile("(?m)^\\[[^]]*]\\s.*?default/(\\S+\\.groovy)")
                .matcher(Files.readString(REPO.resolve("conf/aegis_quartz.conf.default"), StandardCharsets.UTF_8));
        while (m.find()) {
            out.add(m.group(1));
        }
        assertFalse(out.isEmpty(), "no Groovy plugin found in conf/aegis_quartz.conf.default");
        return out;
    }

    @Test
    void theDefaultJobsPluginsMakeNoClosures() throws Exception {
        // A closure is a Groovy object (a metaclass lookup to make one), and DGM methods that take one
        // (findAll, collect, each) call it through a call site they build anew each time: in a plugin
        // that runs every 10 s, plain loops cost a fraction. One made once, in a static initializer, is
        // no better when called: a closure given where Java wants an interface (Comparator.comparingLong
        // { ... }) becomes a proxy that calls it through its metaclass, reflectively, on every call (in
        // process_top, for every comparison of every sort). Write a loop or a class.
        assertNoneFound(DefaultJobsStaticCallsTest::closures, "closures; write a loop or a class");
    }

    /** "method makes type" for every closure the class makes. */
    private static List<String> closures(byte[] classBytes) {
        return find(classBytes, (m, insn, previous) -> insn instanceof TypeInsnNode t && t.getOpcode() == Opcodes.NEW
                && t.desc.contains("closure") ? m.name + " makes " + t.desc : null);
    }

    @Test
    void theDefaultJobsPluginsDispatchNothingThroughTheMetaClass() throws Exception {
        // Static code still hands some operations to Groovy's runtime, which looks the method up in the
        // operand's metaclass on every call: a switch on strings (ScriptBytecodeAdapter.isCase, an
        // 'isCase' call per case label) and Groovy truth on an object as an operand of || or &&
        // (`named.isEmpty() || unknown` with a list): an 'asBoolean' call. In the sampler they were 8 % of
        // a compiled run's samples (JFR, bench/plugin-cost). The same helper also unboxes `any |= x`, where
        // it finds a Boolean and only boxing is lost; the check cannot tell the two apart and refuses both.
        // A plain `if (list)` is another thing: an invokedynamic cast to boolean, linked once per class.
        assertNoneFound(DefaultJobsStaticCallsTest::metaClassDispatch, "operations dispatched through the metaclass; compare"
                + " strings with equals (if/else instead of switch) and test collections and strings with isEmpty(), objects with != null");
    }

    @Test
    void theDefaultJobsPluginsCastNoValueThatMayBeNull() throws Exception {
        // Static Groovy casts what a generic Map returns through an invokedynamic 'cast' site. Groovy's
        // call-site cache skips null, so each null that reaches such a site links it anew (method
        // handles built and discarded): in process_top, one per process group per run, 15 % of a
        // compiled run's plugin-thread samples. Take the value as Object ('(Object) map.get(k)') and
        // cast it once it is known not to be null, in an if: a ternary with a null branch
        // ('o == null ? null : (T) o') casts its result once more, null included.
        assertNoneFound(DefaultJobsStaticCallsTest::nullableCasts, "casts of a value that may be null (a map lookup, or a"
                + " ternary with a null branch)");
    }

    private static final Set<String> NULLABLE_LOOKUPS = Set.of("get", "put", "remove", "poll", "peek", "pollFirst", "pollLast");

    /**
     * "method: what" of every Groovy cast of a value that may be null: right after a map or queue
     * lookup, or where a ternary's branches meet after a null ('c ? x : null' ends in a null right
     * before the cast, 'c ? null : (T) x' in the branch's own cast).
     */
    private static List<String> nullableCasts(byte[] classBytes) {
        return find(classBytes, (m, insn, previous) -> {
            if (!(isCast(insn))) {
                return null;
            }
            if (previous instanceof MethodInsnNode call && NULLABLE_LOOKUPS.contains(call.name)
                    && (call.owner.endsWith("Map") || call.owner.endsWith("Queue") || call.owner.endsWith("Deque"))) {
                return m.name + ": " + simpleName(call.owner) + "." + call.name;
            }
            if (previous != null && (previous.getOpcode() == Opcodes.ACONST_NULL || isCast(previous))) {
                return m.name + ": a ternary with null";
            }
            return null;
        });
    }

    private static boolean isCast(AbstractInsnNode insn) {
        return insn instanceof InvokeDynamicInsnNode indy && indy.name.equals("cast") && indy.bsm.getOwner().equals(INDY);
    }

    /** What a finder reports for one instruction of a method (null: nothing); {@code previous} is the instruction before it. */
    private interface Finder {
        String check(MethodNode method, AbstractInsnNode insn, AbstractInsnNode previous);
    }

    /** What {@code finder} reports over every instruction of every method of the class (labels and line numbers skipped). */
    private static List<String> find(byte[] classBytes, Finder finder) {
        List<String> found = new ArrayList<>();
        ClassNode node = new ClassNode();
        new ClassReader(classBytes).accept(node, 0);
        for (MethodNode m : node.methods) {
            AbstractInsnNode previous = null;
            for (AbstractInsnNode insn : m.instructions) {
                if (insn.getOpcode() < 0) {
                    continue;
                }
                String f = finder.check(m, insn, previous);
                if (f != null) {
                    found.add(f);
                }
                previous = insn;
            }
        }
        return found;
    }

    private static String simpleName(String internalName) {
        return internalName.substring(internalName.lastIndexOf('/') + 1);
    }

    /** Runtime helpers that call a method by name through the operand's metaclass, whatever the static types. */
    private static final Map<String, Set<String>> DISPATCHING = Map.of(
            "org/codehaus/groovy/runtime/ScriptBytecodeAdapter", Set.of("isCase", "invokeMethodN", "invokeMethod0", "invokeMethod",
                    "getProperty", "setProperty", "invokeClosure"),
            "org/codehaus/groovy/runtime/typehandling/DefaultTypeTransformation", Set.of("castToBoolean", "booleanUnbox"),
            "org/codehaus/groovy/runtime/InvokerHelper", Set.of("invokeMethod", "getProperty", "setProperty"));

    /** "method -> owner.name" of every call of a {@link #DISPATCHING} helper in the class. */
    private static List<String> metaClassDispatch(byte[] classBytes) {
        return find(classBytes, (m, insn, previous) -> insn instanceof MethodInsnNode c
                && DISPATCHING.getOrDefault(c.owner, Set.of()).contains(c.name) ? m.name + " -> " + simpleName(c.owner) + "." + c.name : null);
    }

    private static final Set<String> ARITHMETIC = Set.of("plus", "minus", "multiply", "div", "intdiv", "mod", "power",
            "next", "previous", "and", "or", "xor", "leftShift", "rightShift");

    /** "method -> owner.name" of every call of Groovy's Number math in the class. */
    private static List<String> boxedArithmetic(byte[] classBytes) {
        return find(classBytes, (m, insn, previous) -> insn instanceof MethodInsnNode c
                && (c.owner.startsWith("org/codehaus/groovy/runtime/dgmimpl/Number")
                || c.owner.equals("org/codehaus/groovy/runtime/typehandling/NumberMath")
                || (c.owner.equals("org/codehaus/groovy/runtime/DefaultGroovyMethods") && ARITHMETIC.contains(c.name)
                && (c.desc.contains("Ljava/lang/Number;") || c.desc.contains("Ljava/lang/Character;"))))
                ? m.name + " -> " + simpleName(c.owner) + "." + c.name : null);
    }

    /** "method kind name" of every dynamic Groovy call site in the class ("run invoke parseArgs": a call of parseArgs in run()). */
    private static List<String> dynamicSites(byte[] classBytes) {
        return find(classBytes, (m, insn, previous) -> insn instanceof InvokeDynamicInsnNode indy && indy.bsm.getOwner().equals(INDY)
                && indy.bsm.getName().equals("bootstrap") && !indy.name.equals("cast")
                ? m.name + " " + indy.name + (indy.bsmArgs.length > 0 ? " " + indy.bsmArgs[0] : "") : null);
    }
}
