package io.aegisquartz.plugin.groovy;

import io.aegisquartz.plugin.RunBudget;
import org.codehaus.groovy.ast.ClassCodeVisitorSupport;
import org.codehaus.groovy.ast.ClassHelper;
import org.codehaus.groovy.ast.ClassNode;
import org.codehaus.groovy.ast.MethodNode;
import org.codehaus.groovy.ast.expr.ArgumentListExpression;
import org.codehaus.groovy.ast.expr.ClosureExpression;
import org.codehaus.groovy.ast.expr.StaticMethodCallExpression;
import org.codehaus.groovy.ast.stmt.BlockStatement;
import org.codehaus.groovy.ast.stmt.DoWhileStatement;
import org.codehaus.groovy.ast.stmt.ExpressionStatement;
import org.codehaus.groovy.ast.stmt.ForStatement;
import org.codehaus.groovy.ast.stmt.Statement;
import org.codehaus.groovy.ast.stmt.WhileStatement;
import org.codehaus.groovy.classgen.GeneratorContext;
import org.codehaus.groovy.control.CompilePhase;
import org.codehaus.groovy.control.SourceUnit;
import org.codehaus.groovy.control.customizers.CompilationCustomizer;

/**
 * Compiles a call to {@link RunBudget#check()} into the start of every loop body, method and closure.
 *
 * <p>This is what stops {@code while (true) {}} or a runaway recursion at the run's wall-time or CPU
 * limit without the script's cooperation: the check throws once a limit is passed. The same idea as
 * Groovy's own {@code @ThreadInterrupt}, but testing our deadline and the thread's CPU clock directly
 * rather than waiting for an interrupt.
 */
final class BudgetCheckCustomizer extends CompilationCustomizer {

    private static final ClassNode BUDGET = ClassHelper.make(RunBudget.class);

    BudgetCheckCustomizer() {
        super(CompilePhase.CANONICALIZATION);
    }

    @Override
    public void call(SourceUnit source, GeneratorContext context, ClassNode classNode) {
        new Inserter(source).visitClass(classNode);
    }

    private static Statement check() {
        return new ExpressionStatement(new StaticMethodCallExpression(BUDGET, "check", ArgumentListExpression.EMPTY_ARGUMENTS));
    }

    private static Statement guarded(Statement body) {
        BlockStatement b = new BlockStatement();
        b.addStatement(check());
        if (body != null) {
            b.addStatement(body);
        }
        return b;
    }

    private static final class Inserter extends ClassCodeVisitorSupport {
        private final SourceUnit source;

        Inserter(SourceUnit source) {
            this.source = source;
        }

        @Override
        protected SourceUnit getSourceUnit() {
            return source;
        }

        @Override
        public void visitForLoop(ForStatement loop) {
            loop.setLoopBlock(guarded(loop.getLoopBlock()));
            super.visitForLoop(loop);
        }

        @Override
        public void visitWhileLoop(WhileStatement loop) {
            loop.setLoopBlock(guarded(loop.getLoopBlock()));
            super.visitWhileLoop(loop);
        }

        @Override
        public void visitDoWhileLoop(DoWhileStatement loop) {
            loop.setLoopBlock(guarded(loop.getLoopBlock()));
            super.visitDoWhileLoop(loop);
        }

        @Override
        public void visitClosureExpression(ClosureExpression closure) {
            closure.setCode(guarded(closure.getCode()));
            super.visitClosureExpression(closure);
        }

        @Override
        protected void visitConstructorOrMethod(MethodNode node, boolean isConstructor) {
            // Constructors are left alone: a statement before this()/super() would not compile.
            if (!isConstructor && !node.isAbstract() && node.getCode() != null && !node.isSynthetic()) {
                node.setCode(guarded(node.getCode()));
            }
            super.visitConstructorOrMethod(node, isConstructor);
        }
    }
}
