package io.aegisquartz.architecture;

import org.junit.jupiter.api.Test;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * No package cycles among the agent's packages: which package uses which is read from the compiled
 * classes' constant pools (every class a class refers to is named there), with our own small
 * reader rather than a library, and any strongly connected group of more than one package fails the
 * test, naming the classes that make each dependency.
 */
class PackageCyclesTest {

    private static final Path CLASSES = Path.of(System.getProperty("user.dir")).resolve("target/classes/io/aegisquartz");
    private static final String ROOT = "io/aegisquartz/";

    @Test
    void theAgentsPackagesFormNoCycle() throws IOException {
        Map<String, Map<String, Set<String>>> uses = dependencies(CLASSES);
        assertTrue(uses.size() > 10, "read the packages of " + CLASSES + ": " + uses.keySet());
        assertEquals(List.of(), cycles(uses).stream().map(c -> describe(c, uses)).toList());
    }

    @Test
    void theCheckFindsACycleWhereThereIsOne() {
        Map<String, Map<String, Set<String>>> g = new TreeMap<>();
        edge(g, "a", "b", "a/X");
        edge(g, "b", "c", "b/Y");
        edge(g, "c", "a", "c/Z");
        edge(g, "c", "d", "c/Z");
        List<List<String>> found = cycles(g);
        assertEquals(List.of(List.of("a", "b", "c")), found);
        assertTrue(describe(found.get(0), g).contains("c -> a (c/Z)"), describe(found.get(0), g));
    }

    private static void edge(Map<String, Map<String, Set<String>>> g, String from, String to, String cls) {
        g.computeIfAbsent(from, k -> new TreeMap<>()).computeIfAbsent(to, k -> new TreeSet<>()).add(cls);
        g.computeIfAbsent(to, k -> new TreeMap<>());
    }

    /** package -> package it uses -> the classes of the first that use the second. */
    static Map<String, Map<String, Set<String>>> dependencies(Path classes) throws IOException {
        Map<String, Map<String, Set<String>>> uses = new TreeMap<>();
        try (Stream<Path> files = Files.walk(classes)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".class")).toList()) {
                String name;
                Set<String> refs = new TreeSet<>();
                try (InputStream in = Files.newInputStream(f)) {
                    name = readClass(new DataInputStream(in), refs);
                }
                String from = pkg(name);
                if (from == null) {
                    continue;
                }
                Map<String, Set<String>> out = uses.computeIfAbsent(from, k -> new TreeMap<>());
                for (String r : refs) {
                    String to = pkg(r);
                    if (to != null && !to.equals(from)) {
                        out.computeIfAbsent(to, k -> new TreeSet<>()).add(name.substring(ROOT.length()));
                    }
                }
            }
        }
        return uses;
    }

    /** "io/aegisquartz/output/aegis/AegisOutput" -> "output.aegis"; null outside our packages or at the root. */
    private static String pkg(String internalName) {
        if (!internalName.startsWith(ROOT)) {
            return null;
        }
        int slash = internalName.lastIndexOf('/');
        return slash < ROOT.length() ? null : internalName.substring(ROOT.length(), slash).replace('/', '.');
    }

    /**
     * Reads a class file's constant pool (JVMS 4.4) and returns the class's own name; adds to
     * {@code refs} every class named in it, as a Class constant or inside a descriptor or
     * signature (a field's type, a method's parameters, a generic argument).
     */
    static String readClass(DataInputStream in, Set<String> refs) throws IOException {
        if (in.readInt() != 0xCAFEBABE) {
            throw new IOException("not a class file");
        }
        in.readUnsignedShort();
        in.readUnsignedShort();
        int count = in.readUnsignedShort();
        String[] utf8 = new String[count];
        int[] classIndex = new int[count];
        for (int i = 1; i < count; i++) {
            int tag = in.readUnsignedByte();
            switch (tag) {
                case 1 -> utf8[i] = in.readUTF();
                case 7 -> classIndex[i] = in.readUnsignedShort();
                case 8, 16, 19, 20 -> in.readUnsignedShort();
                case 3, 4, 9, 10, 11, 12, 17, 18 -> in.readInt();
                case 5, 6 -> {
                    in.readLong();
                    i++; // takes two slots
                }
                case 15 -> {
                    in.readUnsignedByte();
                    in.readUnsignedShort();
                }
                default -> throw new IOException("unknown constant pool tag " + tag);
            }
        }
        in.readUnsignedShort();
        String self = utf8[classIndex[in.readUnsignedShort()]];
        for (int i = 1; i < count; i++) {
            if (classIndex[i] != 0) {
                String n = utf8[classIndex[i]];
                refs.add(n.startsWith("[") ? n.replaceAll("^\\[+L?", "").replace(";", "") : n);
            }
            if (utf8[i] != null) {
                // Descriptors and signatures: every "L...;" names a class.
                var m = java.util.regex.Pattern.compile("L([A-Za-z0-9_$/]+)[;<]").matcher(utf8[i]);
                while (m.find()) {
                    refs.add(m.group(1));
                }
            }
        }
        return self;
    }

    /** Strongly connected components with more than one package (Tarjan), each sorted, in order. */
    static List<List<String>> cycles(Map<String, Map<String, Set<String>>> g) {
        Map<String, Integer> index = new HashMap<>();
        Map<String, Integer> low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        Set<String> onStack = new TreeSet<>();
        List<List<String>> out = new ArrayList<>();
        int[] next = {0};
        for (String v : g.keySet()) {
            if (!index.containsKey(v)) {
                strongConnect(v, g, index, low, stack, onStack, out, next);
            }
        }
        out.sort((a, b) -> a.get(0).compareTo(b.get(0)));
        return out;
    }

    private static void strongConnect(String v, Map<String, Map<String, Set<String>>> g, Map<String, Integer> index,
                                      Map<String, Integer> low, Deque<String> stack, Set<String> onStack, List<List<String>> out,
                                      int[] next) {
        index.put(v, next[0]);
        low.put(v, next[0]);
        next[0]++;
        stack.push(v);
        onStack.add(v);
        for (String w : g.getOrDefault(v, Map.of()).keySet()) {
            if (!index.containsKey(w)) {
                strongConnect(w, g, index, low, stack, onStack, out, next);
                low.put(v, Math.min(low.get(v), low.get(w)));
            } else if (onStack.contains(w)) {
                low.put(v, Math.min(low.get(v), index.get(w)));
            }
        }
        if (low.get(v).equals(index.get(v))) {
            List<String> component = new ArrayList<>();
            String w;
            do {
                w = stack.pop();
                onStack.remove(w);
                component.add(w);
            } while (!w.equals(v));
            if (component.size() > 1) {
                component.sort(null);
                out.add(component);
            }
        }
    }

    /** "a -> b (a/X, a/Y); b -> a (b/Z)": every dependency inside the cycle, with the classes that make it. */
    private static String describe(List<String> cycle, Map<String, Map<String, Set<String>>> g) {
        List<String> parts = new ArrayList<>();
        for (String from : cycle) {
            for (var e : g.getOrDefault(from, Map.of()).entrySet()) {
                if (cycle.contains(e.getKey())) {
                    parts.add(from + " -> " + e.getKey() + " (" + String.join(", ", e.getValue()) + ")");
                }
            }
        }
        return String.join("; ", parts);
    }
}
