package io.aegisquartz.testing;

import io.aegisquartz.agent.Agent;
import io.aegisquartz.config.AgentSettings;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.ArrayList;
import java.util.List;

/**
 * Agents a test started in its own JVM, stopped after each test whatever its outcome, so that no
 * agent's threads or plugins outlive the test that made it. Register with
 * {@code @RegisterExtension final StartedAgents agents = new StartedAgents();}.
 */
public final class StartedAgents implements AfterEachCallback {

    private final List<Agent> agents = new ArrayList<>();

    /** Starts an agent on {@code settings}; it is stopped after the test. */
    public Agent start(AgentSettings settings) throws Agent.StartException {
        Agent a = new Agent(settings);
        agents.add(a);
        a.start();
        return a;
    }

    @Override
    public void afterEach(ExtensionContext context) {
        for (int i = agents.size() - 1; i >= 0; i--) {
            agents.get(i).stop();
        }
        agents.clear();
    }

    /** The state of {@code agent}'s output {@code name}. */
    public static io.aegisquartz.output.OutputState outputState(Agent agent, String name) {
        return agent.outputStates().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }
}
